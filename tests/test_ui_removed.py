"""Removed from a group by a directory reload (user testing): the window says so in the
status bar, in the user's language, and no longer lists the group (it was kept as not
joined, and joining it again was refused with 403) nor has it as the talk target (pressing
talk said "Denied" before).

Real server on 127.0.0.1, real clients, the clocked (virtual) audio device.
"""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QApplication
from test_ui_support import OPS, UiSession, close_session, open_session, run, until

from app.client.asked_features import asked_features
from app.server import Directory, InterphoneServer
from app.server.directory import Circle
from app.ui.i18n import LanguageSwitcher
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]

NIGHT = "discuss_12"


def without_me_in_ops() -> Directory:
    demo = Directory.demo()
    ops = demo.groups["58"]
    groups = {**demo.groups, "58": Circle(ops.id, ops.name, ops.members - {"me"})}
    return Directory(demo.users, groups, demo.discussions, demo.settings)


def test_the_status_bar_says_we_were_removed_and_the_group_is_no_longer_joined(
        qloop, ui, server: InterphoneServer) -> None:
    async def scenario() -> None:
        window = ui.window
        alice = await ui.other("alice")
        await until(lambda: window.interphones.row(OPS).member_count == 2, what="alice in")
        server.replace_directory(without_me_in_ops())
        await until(lambda: "removed" in window.statusBar().currentMessage(),
                    what="the removal said")
        assert window.statusBar().currentMessage() == "You were removed from Ops"
        # we may no longer see Ops: it leaves the list (with the roster notice, which may
        # be read after the removal), and nothing stays selected
        await until(lambda: window.interphones.row(OPS) is None, what="Ops leaves the list")
        assert window.panel.interphone_id == "" and window.interphones.selected_id() == ""
        assert ui.client.talk_target is None
        assert window.panel.talk_button.state is TalkState.NOT_JOINED
        ui.presenter.press_talk()  # nothing to talk into: no request, no "Denied"
        ui.presenter.release_talk()
        assert window.panel.talk_button.state is TalkState.NOT_JOINED
        assert ui.presenter.talk.requests == 0
        await until(lambda: alice.model.members == ("alice",), what="alice told too")

    run(qloop, scenario())


def test_removed_from_the_talk_target_the_next_joined_one_takes_over_in_chinese(
        qloop, server: InterphoneServer, settings, qapp: QApplication) -> None:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)

    async def scenario() -> None:
        session = await open_session(server, settings, join=NIGHT)
        window = session.window
        try:
            await session.client.join(OPS)  # the talk target
            languages.apply("zh_CN")
            server.replace_directory(without_me_in_ops())
            await until(lambda: session.client.talk_target is not None
                        and str(session.client.talk_target) == NIGHT, what="night takes over")
            await until(lambda: window.statusBar().currentMessage(), what="the removal said")
            assert window.statusBar().currentMessage() == "你已被移出 Ops：现在发言至 Night shift"
            await until(lambda: window.interphones.row(OPS) is None,
                        what="no longer in the roster")
            night = window.interphones.row(NIGHT)
            assert night is not None and night.talk_target
            assert window.panel.talk_button.state is TalkState.IDLE
        finally:
            languages.apply("en")
            await close_session(session)

    run(qloop, scenario())


def test_removed_while_talking_the_transmission_stops(qloop, ui, server: InterphoneServer) -> None:
    async def scenario() -> None:
        window = ui.window
        ui.presenter.press_talk()
        await until(lambda: window.panel.talk_button.state is TalkState.TALKING, what="talking")
        assert ui.presenter.talk.machine.transmitting
        server.replace_directory(without_me_in_ops())
        await until(lambda: window.panel.talk_button.state is TalkState.NOT_JOINED,
                    what="not joined")
        assert not ui.presenter.talk.machine.transmitting  # the key is still down
        assert window.statusBar().currentMessage() == "You were removed from Ops"
        ui.presenter.release_talk()
        assert window.panel.talk_button.state is TalkState.NOT_JOINED

    run(qloop, scenario())


@pytest.mark.parametrize("others", [False, True], ids=["alone", "with-alice"])
@pytest.mark.parametrize("features", [(), asked_features(tls=False, presence=True)],
                         ids=["base", "as-the-app"])
def test_removed_from_the_group_on_screen_says_so_whether_alone_in_it_or_not(
        qloop, server: InterphoneServer, settings, features: tuple[str, ...],
        others: bool) -> None:
    """Alone in Ops, shown, with the app's extensions (roster): the removal was said, then
    replaced by "Ops is no longer available to you" when the roster notice followed."""
    async def scenario() -> None:
        ui = await open_session(server, settings, features=features)
        try:
            await removed(ui, server)
        finally:
            await close_session(ui)

    async def removed(ui: UiSession, server: InterphoneServer) -> None:
        window = ui.window
        assert window.interphones.selected_id() == OPS
        if others:
            await ui.other("alice")
        await until(lambda: window.interphones.row(OPS).member_count == 1 + others,
                    what="who is in Ops")
        server.replace_directory(without_me_in_ops())
        await until(lambda: window.interphones.row(OPS) is None, what="Ops leaves the list")
        await until(lambda: window.statusBar().currentMessage(), what="something said")
        assert window.statusBar().currentMessage() == "You were removed from Ops"
        assert window.panel.interphone_id == "" and ui.client.talk_target is None
        await asyncio.sleep(0.3)  # nothing that follows says otherwise
        assert window.statusBar().currentMessage() == "You were removed from Ops"

    run(qloop, scenario())
