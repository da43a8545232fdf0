"""Defects users reported in the desktop app: a refusal for a server fault or a budget
worded as a refusal of permission, a stale "Not connected" line after a reconnect, news
going from the status bar, section counts ignoring the filter, the reception line lagging
a speaker's end."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from test_ui_floor import space
from test_ui_support import close_session, open_session, run, start_server, until

from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


def test_a_floor_request_refused_by_the_budget_is_not_called_a_permission_refusal(
        qloop, settings) -> None:
    """A 429 (the floor budget, ``floor_burst``) or a 500 (the shared store unavailable)
    said "Denied — You may not talk here": only a 403 is a refusal of permission."""
    server = start_server(qloop, floor_burst=1, floor_rate=0.01)

    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            button = ui.window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            space(ui.window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.TALKING, what="granted")
            space(ui.window, QEvent.Type.KeyRelease)
            await until(lambda: ui.presenter.turn.phase.value == "idle", timeout=5.0,
                        what="released")
            space(ui.window, QEvent.Type.KeyPress)  # beyond the budget: 429
            await until(lambda: button.state is TalkState.DENIED, what="refused")
            detail = button.texts()[1]
            assert "may not talk" not in detail
            assert detail == "Too many requests; try again in a moment"
            space(ui.window, QEvent.Type.KeyRelease)
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_refusal_words_name_what_the_refusal_is(qapp) -> None:
    from app.ui.floor_text import refusal_text
    assert refusal_text(403, "not a member") == "You may not talk here"
    assert refusal_text(429) == "Too many requests; try again in a moment"
    assert refusal_text(500, "store unavailable") == (
        "The server could not take your request (store unavailable); try again")
    assert "may not talk" not in refusal_text(503)
    assert "404" in refusal_text(404, "not joined")
