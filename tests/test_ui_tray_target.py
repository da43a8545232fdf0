"""Issue 14: the talk target changed from the tray's menu, the window hidden (real Qt,
offscreen, a real server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from test_ui_support import OPS, UiSession, holder, run, until
from test_ui_tray import EVERYONE, RecordingTray, joined_everyone_too

from app.ui.settings import Settings
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


@pytest.fixture
def tray(ui: UiSession, settings: Settings) -> Iterator[RecordingTray]:
    controller = RecordingTray(ui.window, settings)
    yield controller
    controller.close()


def entries(tray: RecordingTray) -> list[tuple[str, bool]]:
    """The talk target submenu as it reads: (text, checked) in order."""
    return [(action.text(), action.isChecked()) for action in tray.target_menu.actions()]


def test_the_talk_target_is_chosen_from_the_tray_menu(
        qloop, server, ui: UiSession, tray: RecordingTray) -> None:
    """The tray's menu said "Talk target: Ops" and nothing more: with the window hidden,
    talking into another joined interphone meant showing the window for its Talk here."""
    window, client = ui.window, ui.client
    joined_everyone_too(qloop, ui)
    window.hide()
    assert tray.target_action.menu() is tray.target_menu
    assert tray.target_action.isEnabled()
    assert sorted(entries(tray)) == [("Everyone", False), ("Ops", True)]

    async def scenario() -> None:
        window.talk_pressed.emit()  # holding the floor in Ops
        await until(lambda: holder(server) == "me", what="talking in Ops")
        everyone = next(a for a in tray.target_menu.actions() if a.text() == "Everyone")
        everyone.trigger()  # as the window's Talk here: the floor in Ops is let go first
        await until(lambda: str(client.model.talk_target) == EVERYONE, what="Everyone")
        await until(lambda: holder(server) == "", what="Ops' floor released")
        assert window.panel.talk_button.state is not TalkState.TALKING
        window.talk_released.emit()
        await until(lambda: ("Everyone", True) in entries(tray), what="the check follows")
        assert sorted(entries(tray)) == [("Everyone", True), ("Ops", False)]
        window.interphones.select(OPS)
        window.panel.mix.talk_here.click()  # back to Ops from the window's Talk here
        await until(lambda: sorted(entries(tray)) == [("Everyone", False), ("Ops", True)],
                    what="the window's choice shown")
        await client.leave(EVERYONE)
        await until(lambda: entries(tray) == [("Ops", True)], what="Everyone left")
        ops = window.interphones.row(OPS)
        assert ops is not None
        window.set_rows([replace(ops, name="R&D")])  # renamed in the roster
        assert entries(tray) == [("R&&D", True)]  # (a menu's "&" marks a shortcut)
        assert tray.target_menu.actions()[0].iconText() == "R&D"
        await client.leave(OPS)
        await until(lambda: entries(tray) == [], what="nothing joined")
        assert not tray.target_action.isEnabled()

    run(qloop, scenario())
    assert not window.isVisible()


def test_the_tray_menu_follows_the_rows_without_reading_every_one(
        qloop, ui: UiSession, tray: RecordingTray, monkeypatch) -> None:
    # each change of a row (a join, a count, a speaker) had the tray read every row of the
    # list for its submenu of joined ones: a thousand contacts' rows, some 5 ms a change
    read: list[int] = []
    rows = ui.window.interphones.rows
    monkeypatch.setattr(ui.window.interphones, "rows", lambda: (read.append(1), rows())[1])
    joined_everyone_too(qloop, ui)
    assert sorted(entries(tray)) == [("Everyone", False), ("Ops", True)]
    assert read == []
