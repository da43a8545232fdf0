"""The panel while the server cannot reach its database: Leave leaves at once (the server
hears of it once its database is back) and must not go on listing the user among the
members; a press refused in a narrow window must still be read whole somewhere."""

from __future__ import annotations

import logging

import pytest
from outage_ui import outage_noticed, signed_in_window, started_node
from PySide6.QtCore import QEvent
from test_ui_floor import space
from test_ui_support import OPS, close_session, run, until

from app.client import InterphoneClient
from app.server.replica import UNAVAILABLE
from app.ui.floor_text import refusal_text
from app.ui.view_types import TalkState
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
)

pytest_plugins = ["test_ui_support"]


def test_a_leave_during_the_outage_no_longer_lists_you_among_the_members(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """After Leave, with Redis stopped, the panel still read "Members (3)" with "Me (you)"
    in it (and the row "3 members") until the database came back: the refused quit left
    the member list as it was before the leave."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)

    async def scenario() -> None:
        other = InterphoneClient("127.0.0.1", server.port, "alice", "x")
        await other.connect()
        ui = await signed_in_window(server.port, settings, store_probe=(0.3, 1.0))
        window, client = ui.window, ui.client
        try:
            await other.join(OPS)
            await client.join(OPS)
            panel = window.panel
            await until(lambda: panel.talk_button.state is TalkState.IDLE, what="idle")
            await until(lambda: any("(you)" in text for text in panel.member_texts()),
                        what="listed")
            redis_server.stop()
            await outage_noticed(caplog)
            ui.presenter.leave(OPS)
            await until(lambda: not client.model.is_joined(OPS), what="left here")
            await until(lambda: not any("(you)" in text for text in panel.member_texts()),
                        timeout=5, what="no longer listed")
            info = client.model.interphone(OPS)
            assert info is None or info.members is None or "me" not in info.members
            redis_server.start()
            await until(lambda: not any("(you)" in text for text in panel.member_texts()),
                        timeout=10, what="still not listed")
        finally:
            await other.close()
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=60)
    finally:
        run(qloop, server.stop())


def test_a_press_refused_in_a_640_px_window_is_read_whole_in_the_status_bar(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """At 640 px the disc said "Try again" over "The server cannot reach it…": the rest of
    the reason was nowhere (the status bar kept the link). A refusal the disc cannot show
    whole is said whole in the status bar."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)

    async def scenario() -> None:
        ui = await signed_in_window(server.port, settings, size=(640, 480),
                                    store_probe=(0.3, 1.0))
        window, client = ui.window, ui.client
        try:
            await client.join(OPS)
            button = window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            redis_server.stop()
            await outage_noticed(caplog)
            space(window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.DENIED, timeout=10, what="refused")
            whole = refusal_text(500, UNAVAILABLE)
            assert button.texts()[1] == whole
            assert button.detail_lines(whole)[-1].endswith("…")  # (cut on the disc)
            await until(lambda: window.statusBar().currentMessage() == whole,
                        what="the refusal whole in the status bar")
            space(window, QEvent.Type.KeyRelease)
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=60)
    finally:
        run(qloop, server.stop())
