"""Defects a new user met in the running app (three instances against one server): the
start at login before the network is up, feedback while offline, stale status messages,
the keyboard and the Chinese wording. Each test failed before its fix. Real Qt
(offscreen), the real compiled .qm, a real server where one is needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_ui_support import (
    UiSession,
    close_session,
    open_session,
    remembered_start,
    run,
    until,
)

from app.client import InterphoneClient
from app.server import Directory, InterphoneServer, ServerSettings
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


def test_settings_has_a_key_where_the_platform_names_none(qtbot) -> None:
    """Qt's Preferences key is empty on X11 outside KDE and on Windows (and offscreen), so
    Settings could only be reached through the menu: Ctrl+, (GNOME's key) stands in."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    opened: list[bool] = []
    window.settings_requested.connect(lambda: opened.append(True))
    platform_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
    expected = platform_keys or [QKeySequence("Ctrl+,")]
    assert window.settings_action.shortcuts() == expected
    if not platform_keys:  # (as here, offscreen) the key opens Settings
        window.interphones.tree.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.interphones.tree)
        qtbot.keyClick(window.interphones.tree, Qt.Key.Key_Comma,
                       Qt.KeyboardModifier.ControlModifier)
        assert opened == [True]


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


# --- a start at login before the network is up -------------------------------------------------

def test_a_background_start_waits_in_the_tray_until_the_server_answers(
        qloop, qapp, settings, switcher, monkeypatch) -> None:
    """Started at login before the network was up, "remember me" could not reach the
    server and the sign-in dialog popped up on the desktop. It now stays in the tray,
    retrying, and signs in (still in the tray) once the server answers."""
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None
                    and runtime.offline_tray.status == "Offline — retrying (attempt 3)",
                    what="retrying in the tray", timeout=10)
        tray = runtime.offline_tray
        assert tray is not None and tray.icon.isVisible()
        assert tray.icon.toolTip().startswith("Interphone\nOffline — retrying (attempt 3)\n")
        assert runtime.sign_in_dialog is None
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                  settings=ServerSettings(auth="open"))
        await server.start()
        try:
            await asyncio.wait_for(runtime.ready.wait(), 10)
            assert runtime.offline_tray is None
            window = runtime.window
            assert window is not None and not window.isVisible()  # still in the tray
            assert runtime.client is not None and runtime.client.connected
            assert runtime.sign_in_dialog is None
            runtime.quit()
            return await asyncio.wait_for(main, 5)
        finally:
            await server.stop()

    assert run(qloop, scenario(), timeout=30) == 0


def test_a_refused_token_during_the_retries_opens_the_sign_in_dialog(
        qloop, qapp, settings, switcher, monkeypatch) -> None:
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None, what="retrying", timeout=10)
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                  settings=ServerSettings(auth="token"))
        await server.start()
        try:
            await until(lambda: runtime.sign_in_dialog is not None
                        and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=10)
            assert runtime.offline_tray is None
            dialog = runtime.sign_in_dialog
            assert dialog is not None and dialog.error.isVisible() and dialog.error.text()
            dialog.reject()
            return await asyncio.wait_for(main, 5)
        finally:
            await server.stop()

    assert run(qloop, scenario(), timeout=30) == 0


@pytest.mark.parametrize("choice", ["sign_in", "quit"])
def test_the_offline_tray_offers_to_sign_in_now_or_to_quit(qloop, qapp, settings, switcher,
                                                           monkeypatch, choice: str) -> None:
    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None, what="retrying", timeout=10)
        tray = runtime.offline_tray
        assert tray is not None
        if choice == "quit":
            tray.quit_action.trigger()
            return await asyncio.wait_for(main, 5)
        tray.sign_in_action.trigger()
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=5)
        assert runtime.offline_tray is None
        runtime.sign_in_dialog.reject()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0


def test_a_foreground_start_still_asks_at_once(qloop, qapp, settings, switcher,
                                               monkeypatch) -> None:
    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch, background=False)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=10)
        assert runtime.offline_tray is None
        runtime.sign_in_dialog.reject()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0


def test_the_offline_tray_speaks_chinese(switcher) -> None:
    from app.ui.offline_start import retrying_text

    switcher.apply("zh_CN")
    assert (retrying_text(1), retrying_text(4)) == ("离线，正在重试", "离线，正在重试（第 4 次）")


def test_without_a_tray_the_background_start_asks_once_the_grace_is_over(
        qloop, qapp, settings, switcher, monkeypatch) -> None:
    """With no tray to wait in (none came up after the login), the retries do not go on
    unseen: the sign-in dialog says why."""
    import app.ui.runtime as runtime_module

    monkeypatch.setattr(runtime_module, "TRAY_GRACE_S", 0.5)
    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch, tray=lambda: False)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None, what="retrying", timeout=5)
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=10)
        runtime.sign_in_dialog.reject()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0


def test_without_a_tray_the_background_start_shows_the_dialog_within_seconds(
        qloop, qapp, settings, switcher, monkeypatch) -> None:
    """A desktop without a tray (or none after the login): the remembered sign-in that
    cannot reach the server retried unseen for a whole minute before anything showed up.
    It now waits a few seconds for a tray (a panel starting a moment after the app), then
    the sign-in dialog says why."""
    from app.ui.runtime import TRAY_GRACE_S

    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch, tray=lambda: False)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=15)
        waited = loop.time() - started
        dialog = runtime.sign_in_dialog
        assert dialog is not None and dialog.error.isVisible() and dialog.error.text()
        dialog.reject()
        assert await asyncio.wait_for(main, 5) == 0
        return waited

    waited = run(qloop, scenario(), timeout=30)
    assert TRAY_GRACE_S - 0.5 <= waited <= TRAY_GRACE_S + 3


def test_a_tray_that_comes_up_within_the_grace_keeps_the_retries_in_it(
        qloop, qapp, settings, switcher, monkeypatch) -> None:
    """The panel starts a moment after the app: the retries stay in the tray."""
    import app.ui.runtime as runtime_module

    tray_up = False
    monkeypatch.setattr(runtime_module, "TRAY_GRACE_S", 1.0)
    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch,
                                  tray=lambda: tray_up)

    async def scenario() -> int:
        nonlocal tray_up
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None, what="retrying", timeout=5)
        await asyncio.sleep(0.5)
        tray_up = True
        await asyncio.sleep(2.0)  # past the grace: a tray is there now
        assert runtime.offline_tray is not None and runtime.sign_in_dialog is None
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0


def test_a_talk_press_opens_the_microphone_only_while_connected(qloop, qapp, settings, switcher,
                                                                 monkeypatch) -> None:
    """Offline, a press is refused at once; it used to open the microphone until the key
    came up all the same."""
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch)

    async def scenario() -> int:
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                  settings=ServerSettings(auth="open"))
        await server.start()
        main = asyncio.ensure_future(runtime.run())
        try:
            await asyncio.wait_for(runtime.ready.wait(), 10)
            window, audio, client = runtime.window, runtime.audio, runtime.client
            assert window is not None and audio is not None and client is not None
            engine = audio.engine
            window.talk_pressed.emit()
            await until(lambda: engine.input_active, what="microphone opened by the press")
            window.talk_released.emit()
            await until(lambda: not engine.input_active, what="microphone closed")
            starts = engine.input_starts
            await server.stop()
            await until(lambda: not client.connected, what="offline")
            window.talk_pressed.emit()
            await asyncio.sleep(0.3)
            assert engine.input_starts == starts and not engine.input_active
            window.talk_released.emit()
            runtime.quit()
            return await asyncio.wait_for(main, 5)
        finally:
            await server.stop()

    assert run(qloop, scenario(), timeout=30) == 0


@pytest.mark.parametrize("same_account", [True, False])
def test_signing_in_at_the_dialog_after_remember_me_failed_rejoins(
        qloop, qapp, settings, switcher, monkeypatch, same_account: bool) -> None:
    """Started at login before the network was up, with no tray to wait in: the sign-in
    dialog came up (as it should), the user pressed Enter once the network was there,
    and the window opened in no interphone: the ones joined last time, which "remember
    me" rejoins, were not (and the next join overwrote their memory). Signing in there as
    the same account rejoins them; as another account it does not."""
    import app.ui.runtime as runtime_module

    monkeypatch.setattr(runtime_module, "TRAY_GRACE_S", 0.5)
    settings.rejoin = "group_58"
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch,
                                     tray=lambda: False)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=10)
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                  settings=ServerSettings(auth="open"))
        await server.start()
        try:
            dialog = runtime.sign_in_dialog
            assert dialog is not None
            if not same_account:
                dialog.uid.setText("someone")
            dialog.ok.click()
            await asyncio.wait_for(runtime.ready.wait(), 10)
            client = runtime.client
            assert client is not None
            if same_account:
                await until(lambda: str(client.model.talk_target) == "group_58",
                            what="rejoined", timeout=5)
            else:
                await asyncio.sleep(0.5)
                assert client.model.talk_target is None
            runtime.quit()
            return await asyncio.wait_for(main, 5)
        finally:
            await server.stop()

    assert run(qloop, scenario(), timeout=30) == 0
