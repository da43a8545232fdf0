"""Defects a new user met in the running app (three instances against one server): the
start at login before the network is up, feedback while offline, stale status messages,
the keyboard and the Chinese wording. Each test failed before its fix. Real Qt
(offscreen), the real compiled .qm, a real server where one is needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_ui_support import UiSession, close_session, open_session, run, until

from app.client import InterphoneClient
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.talk_button import TalkButton
from app.ui.view_types import InterphoneRow, RowKind, TalkState

pytest_plugins = ["test_ui_support"]

OPS_ROW = InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "", True)
ROWS = [OPS_ROW, InterphoneRow("group_59", RowKind.GROUP, "Maintenance"),
        InterphoneRow("chat_bob:sung", RowKind.CHAT, "Bob")]


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


# --- Chinese wording ---------------------------------------------------------------------------

def test_the_chinese_talk_button_has_no_space_before_the_key(qtbot, switcher) -> None:
    """It read "或按住 空格": Chinese puts no space between the verb and the key's name."""
    switcher.apply("zh_CN")
    button = TalkButton()
    qtbot.addWidget(button)
    button.set_state(TalkState.IDLE)
    button.set_key_name("空格")
    assert button.texts()[1] == "或按住空格"
    assert button.toolTip() == "按住即可讲话（或按住空格）"


# --- keyboard ----------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_ctrl_f_goes_to_the_filter_box_with_its_text_selected(qtbot, switcher,
                                                             language: str) -> None:
    """Ctrl+F did nothing: the filter box was reached only with the mouse or Tab."""
    switcher.apply(language)
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_rows(ROWS)
    window.interphones.filter.setText("op")
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    window.interphones.tree.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.interphones.tree)
    qtbot.keyClick(window.interphones.tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.interphones.filter
    assert window.interphones.filter.selectedText() == "op"
    assert "Ctrl+F" in window.interphones.filter.toolTip()


# --- offline -----------------------------------------------------------------------------------

async def signed_in_elsewhere(session: UiSession) -> None:
    """``me`` signs in from another place: this session is kicked (offline, Reconnect)."""
    second = InterphoneClient("127.0.0.1", session.client.port, "me", "x", reconnect=False)
    session.others.append(second)
    await second.connect()
    window = session.window
    await until(lambda: window.panel.talk_button.state is TalkState.OFFLINE, what="offline")


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_a_talk_press_while_offline_says_why_nothing_happens(qloop, server, settings,
                                                             switcher, language: str) -> None:
    """Space or a click on the grey "Offline" button did nothing visible: no message, no
    refusal, as if the press was lost."""
    switcher.apply(language)
    expected = {"en": "Not connected — can't talk now", "zh_CN": "未连接，现在无法讲话"}[language]

    async def scenario() -> None:
        session = await open_session(server, settings)
        window, button = session.window, session.window.panel.talk_button
        try:
            await signed_in_elsewhere(session)
            window.statusBar().clearMessage()
            window.hold_global_key(True)  # the talk key (the same path as Space)
            window.hold_global_key(False)
            assert window.statusBar().currentMessage() == expected
            assert button.refused
            window.statusBar().clearMessage()
            await until(lambda: not button.refused, what="refusal shown a moment")
            centre = QPoint(button.width() // 2, button.height() // 2)
            QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=centre)
            assert window.statusBar().currentMessage() == expected
            assert button.refused
        finally:
            await close_session(session)

    run(qloop, scenario())


def test_join_and_leave_are_greyed_out_while_offline_and_say_why(qloop, server,
                                                                 settings) -> None:
    """After "signed in elsewhere" Join and Leave stayed clickable (a click only led to a
    status-bar message), while the talk button beside them was already grey."""
    async def scenario() -> None:
        session = await open_session(server, settings)
        window = session.window
        panel = window.panel
        try:
            window.interphones.select("discuss_12")
            await until(lambda: panel.join_button.isVisibleTo(window), what="Join shown")
            assert panel.join_button.isEnabled()
            window.interphones.select(OPS_ROW.id)
            await until(lambda: panel.leave_button.isVisibleTo(window), what="Leave shown")
            assert panel.leave_button.isEnabled()
            await signed_in_elsewhere(session)
            for row in (OPS_ROW.id, "discuss_12"):
                window.interphones.select(row)
                await until(lambda row=row: panel.interphone_id == row, what=f"{row} shown")
                shown = [button for button in (panel.join_button, panel.leave_button)
                         if button.isVisibleTo(window)]
                assert len(shown) == 1
                assert not shown[0].isEnabled()
                assert shown[0].toolTip().startswith("Not connected")
        finally:
            await close_session(session)

    run(qloop, scenario())


# --- status messages ---------------------------------------------------------------------------

def test_bob_answered_goes_from_the_status_bar_when_we_leave_the_call(qloop, server,
                                                                    settings) -> None:
    """"Bob answered" stayed up to 8 s after we had left the call ourselves."""
    async def scenario() -> None:
        session = await open_session(server, settings, join=None, features=("presence",))
        window, status = session.window, session.window.statusBar()
        try:
            bob = await session.other("bob", join=None, features=("presence",))
            await until(lambda: window.interphones.row("chat_bob:me").online, what="bob on")
            session.presenter.join("chat_bob:me")  # "Call" on the contact's row
            await until(lambda: bob.model.incoming_calls, what="bob rings")
            await bob.join("chat_bob:me")
            await until(lambda: status.currentMessage() == "Bob answered", what="answered")
            session.presenter.leave("chat_bob:me")
            await until(lambda: not session.client.model.is_joined("chat_bob:me"),
                        what="left")
            await until(lambda: status.currentMessage() == "", what="answered taken back")
        finally:
            await close_session(session)

    run(qloop, scenario())


def test_a_newer_message_stays_when_we_leave_the_call(qloop, server, settings) -> None:
    async def scenario() -> None:
        session = await open_session(server, settings, join=None, features=("presence",))
        window, status = session.window, session.window.statusBar()
        try:
            bob = await session.other("bob", join=None, features=("presence",))
            await until(lambda: window.interphones.row("chat_bob:me").online, what="bob on")
            session.presenter.join("chat_bob:me")
            await until(lambda: bob.model.incoming_calls, what="bob rings")
            await bob.join("chat_bob:me")
            await until(lambda: status.currentMessage() == "Bob answered", what="answered")
            window.show_message("something else", 8000)
            session.presenter.leave("chat_bob:me")
            await until(lambda: not session.client.model.is_joined("chat_bob:me"),
                        what="left")
            await asyncio.sleep(0.1)
            assert status.currentMessage() == "something else"
        finally:
            await close_session(session)

    run(qloop, scenario())


EMERGENCY_FEATURES = ("emergency", "floor-queue", "priority")


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_members_are_told_who_cancelled_the_emergency(qloop, server, settings, switcher,
                                                          language: str) -> None:
    """When an emergency was cancelled the others' banner just disappeared, silently."""
    switcher.apply(language)
    expected = {"en": "Emergency on Ops cancelled by Alice",
                "zh_CN": "Ops 的紧急呼叫已被 Alice 取消"}[language]

    async def scenario() -> None:
        session = await open_session(server, settings, features=EMERGENCY_FEATURES)
        window = session.window
        try:
            alice = await session.other("alice", features=EMERGENCY_FEATURES)
            await alice.raise_emergency(OPS_ROW.id)
            await until(lambda: window.emergency.interphone_id == OPS_ROW.id, what="banner")
            window.statusBar().clearMessage()
            await alice.cancel_emergency(OPS_ROW.id)
            await until(lambda: window.emergency.interphone_id == "", what="banner gone")
            await until(lambda: window.statusBar().currentMessage() == expected,
                        what="who cancelled it")
        finally:
            await close_session(session)

    run(qloop, scenario())
