"""Names where the server's directory has them (user testing): the window showed our own
uid (title, "Connected as", the tray's tooltip, our row in the members) where the
directory names us; and a group a directory reload took from us stayed in the list, where
joining it was refused with 403.

Real server on 127.0.0.1 (its directory names "me" "Sung Lee"), real clients, the clocked
(virtual) audio device.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from test_ui_support import OPS, close_session, open_session, run, until

from app.protocol.features import ROSTER
from app.server import Directory, InterphoneServer, ServerSettings
from app.server.directory import Circle, User
from app.ui.i18n import LanguageSwitcher
from app.ui.qt_loop import QtLoop
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]

NIGHT = "discuss_12"


def named_demo(*, me_in_ops: bool = True) -> Directory:
    demo = Directory.demo()
    users = {**demo.users, "me": User("me", "Sung Lee")}
    ops = demo.groups["58"]
    members = ops.members if me_in_ops else ops.members - {"me"}
    groups = {**demo.groups, "58": Circle(ops.id, ops.name, members)}
    return Directory(users, groups, demo.discussions, demo.settings)


@pytest.fixture
def named_server(qloop: QtLoop) -> Iterator[InterphoneServer]:
    server = InterphoneServer(named_demo(), host="127.0.0.1", port=0,
                              settings=ServerSettings(auth="open"))
    run(qloop, server.start())
    yield server
    run(qloop, server.stop())


def test_our_own_name_is_shown_where_our_uid_was(qloop, named_server, settings) -> None:
    async def scenario() -> None:
        session = await open_session(named_server, settings, join=None, features=(ROSTER,))
        window = session.window
        tray = QSystemTrayIcon(window)
        window.tray = tray
        try:
            session.presenter.refresh()
            assert window.windowTitle() == "Sung Lee — Interphone"
            assert window.link_text() == "Connected as Sung Lee"
            assert "Sung Lee" in tray.toolTip() and "me —" not in tray.toolTip()
            await session.client.join(OPS)
            await until(lambda: window.panel.member_texts(), what="members shown")
            assert "Sung Lee (you)" in window.panel.member_texts()
            assert window.display_name("alice") == "Alice"  # others' as before
        finally:
            window.tray = None
            await close_session(session)

    run(qloop, scenario())


def test_a_group_we_may_no_longer_see_leaves_the_list_at_the_reload(
        qloop, named_server, settings, qapp: QApplication) -> None:
    """With extension roster the server sends the new roster: the group we were looking
    at (not joined) goes at once, and nothing stale stays selected."""
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)

    async def scenario() -> None:
        session = await open_session(named_server, settings, join=NIGHT, features=(ROSTER,))
        window = session.window
        try:
            window.interphones.select(OPS)
            await until(lambda: window.panel.interphone_id == OPS, what="ops shown")
            named_server.replace_directory(named_demo(me_in_ops=False))
            await until(lambda: window.interphones.row(OPS) is None, what="ops gone")
            assert window.interphones.selected_id() == "" and window.panel.interphone_id == ""
            assert window.statusBar().currentMessage() == "Ops is no longer available to you"
            assert str(session.client.talk_target) == NIGHT  # untouched
            assert window.panel.talk_button.state is not TalkState.NOT_JOINED
            window.interphones.select(NIGHT)  # the rest still works
            await until(lambda: window.panel.interphone_id == NIGHT, what="night shown")
            named_server.replace_directory(named_demo())  # back in Ops: listed again
            await until(lambda: window.interphones.row(OPS) is not None, what="ops back")
            window.interphones.select(OPS)
            await until(lambda: window.panel.interphone_id == OPS, what="ops shown again")
            languages.apply("zh_CN")
            named_server.replace_directory(named_demo(me_in_ops=False))
            await until(lambda: window.interphones.row(OPS) is None, what="ops gone again")
            assert window.statusBar().currentMessage() == "Ops 已不再对你开放"
        finally:
            languages.apply("en")
            await close_session(session)

    run(qloop, scenario())


def test_without_the_extension_a_refused_join_takes_the_group_out_and_says_why(
        qloop, named_server, settings) -> None:
    async def scenario() -> None:
        session = await open_session(named_server, settings, join=None)
        window = session.window
        try:
            window.interphones.select(OPS)
            await until(lambda: window.panel.interphone_id == OPS, what="ops shown")
            named_server.replace_directory(named_demo(me_in_ops=False))
            assert window.interphones.row(OPS) is not None  # nothing told us yet
            session.presenter.join(OPS)
            await until(lambda: window.interphones.row(OPS) is None, what="ops gone")
            await until(lambda: len(session.presenter.tasks) == 0, what="the join ended")
            assert window.statusBar().currentMessage() == "Ops is no longer available to you"
            assert window.interphones.selected_id() == "" and window.panel.interphone_id == ""
            assert session.client.talk_target is None
            assert window.panel.talk_button.state is TalkState.NOT_JOINED
        finally:
            await close_session(session)

    run(qloop, scenario())
