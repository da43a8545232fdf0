"""Defects found trying the app as a new user would (two instances and a server under Xvfb,
driven with xdotool): each test failed before its fix."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QWidget
from test_ui_support import OPS, UiSession, until
from test_ui_tray import RecordingTray

from app.ui.call_banner import IncomingCallBanner
from app.ui.main_window import MainWindow
from app.ui.view_types import InterphoneRow, LinkState, RowKind

pytest_plugins = ["test_ui_support", "test_ui_tray"]

OPS_ROW = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True)
LISTENING = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 3, "", True, False)


@pytest.fixture
def window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("me")
    window.set_rows([OPS_ROW, LISTENING])
    yield window
    window.talk_key.detach()


def settle() -> None:
    for _ in range(4):
        QApplication.processEvents()


def test_a_window_narrowed_puts_the_header_controls_under_the_title(window, qtbot) -> None:
    """A wide window narrowed to 640 px, a listening interphone shown (Talk here, volume,
    Mute, Leave beside its title): the controls stayed beside the title, the pane kept
    their width and the whole window scrolled sideways, Mute and Leave out of sight."""
    window.show_interphone(LISTENING)
    window.panel.mix.set_row(LISTENING)
    window.resize(1100, 600)
    window.show()
    qtbot.waitExposed(window)
    settle()
    assert window.panel.controls_beside_title
    window.resize(640, 600)
    settle()
    assert not window.panel.controls_beside_title
    assert not window.scroller.horizontalScrollBar().isVisible()
    leave = window.panel.leave_button
    right = leave.mapTo(window, leave.rect().topRight()).x()
    assert right < window.width()


def test_the_call_banner_shows_the_callers_name_as_written(qtbot) -> None:
    """The banner's text is rich text (the name in bold), and the name went in as
    markup: "R&D <night>" calling read "R&D  is calling you"."""
    banner = IncomingCallBanner()
    qtbot.addWidget(banner)
    banner.show_call("chat_me_rd", "R&D <night> & co")
    shown = QTextDocument()
    shown.setHtml(banner.text.text())
    assert shown.toPlainText() == "R&D <night> & co is calling you"


def test_a_call_missed_behind_another_window_is_said_until_clicked(
        qloop, ui: UiSession, tray: RecordingTray, qtbot) -> None:
    """The window open but under another program's: the call's message went after 8 s,
    the missed call was said only in the status bar, for 8 s more, and then nowhere."""
    from test_ui_support import run

    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    run(qloop, until(lambda: not ui.window.isActiveWindow(), what="another window active"))
    assert ui.window.isVisible() and not ui.window.isMinimized()
    ui.window.notify_missed_call("chat_bob:me", "Missed call from Bob")
    assert tray.messages == [("Missed call", "Missed call from Bob")]
    assert tray.timeouts == [0]  # until clicked


def test_quit_or_reconnect_as_the_rejoin_ends_keeps_what_to_rejoin(
        qloop, server, settings, qapp) -> None:
    """Quit (the desktop session ending) or Reconnect the moment "remember me" had joined
    again: the rejoin, finishing while the session closed, saved the closing client's
    empty list, and the next start (or the new session) joined nothing."""
    from test_ui_desktop import remembered_runtime, started
    from test_ui_support import run

    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> None:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS, what="rejoined")
        runtime.reconnect()
        await until(lambda: runtime.client is not None and runtime.client is not client
                    and str(runtime.client.model.joined) == OPS, what="rejoined again")
        runtime.quit()
        assert await asyncio.wait_for(main, 5) == 0

    run(qloop, scenario(), timeout=20)
    assert settings.rejoin == OPS


def test_names_with_an_ampersand_read_as_written_in_the_menus(window, settings) -> None:
    """A menu reads "&" as the mark of a shortcut letter: with an interphone named
    "R&D <ops>" the tray menu said "Talk target: RD <ops>" (D underlined), "Answer RD",
    "Connected as me (Tom  Jerry)", and the window menu "Raise an emergency in RD"."""
    from app.ui.tray import TrayController

    window.set_link(LinkState.CONNECTED, "Tom & Jerry")
    window.notify_incoming_call("chat_me_rd", "R&D")
    window.set_emergency_action(True, where="R&D <ops>", target="R&D <ops>")
    tray = TrayController(window, settings, talk_target=lambda: "R&D <ops>", available=True)
    try:
        tray.refresh()
        assert tray.target_action.iconText() == "Talk target: R&D <ops>"
        assert tray.answer_action.iconText() == "Answer R&D"
        assert tray.status_action.iconText().endswith("(Tom & Jerry)")
    finally:
        tray.close()
    emergency = window.emergency_menu.action
    assert emergency.iconText() == "Raise an emergency in R&D <ops>"
    assert emergency.toolTip() == "Raise an emergency in R&D <ops>"


def test_a_filter_that_matches_nothing_says_so(window, qtbot) -> None:
    """"ni sh" typed for Night shift left the list blank, as if the roster were empty."""
    window.show()
    qtbot.waitExposed(window)
    pane = window.interphones
    note = pane.no_match
    pane.filter.setText("ni sh")
    assert note.isVisible()
    assert note.text() == "No group, discussion or contact matches “ni sh”"
    assert note.geometry().height() >= note.fontMetrics().height()
    assert pane.tree.viewport().rect().contains(note.geometry())
    pane.filter.setText("ever")
    assert not note.isVisible() and pane.visible_ids() == ["group_1"]
    pane.filter.setText("ni sh")
    pane.filter.clear()
    assert not note.isVisible()


LONG = "Carol Danvers-Longname-Of-The-Night-Shift"


@pytest.mark.parametrize("line", ["speaking", "last spoke"])
def test_a_long_speaker_name_does_not_widen_a_narrow_window(window, qtbot, line) -> None:
    """"Carol Danvers-Longname-Of-The-Night-Shift is speaking · 0:01" (and the "Last
    spoke" line after it) took its whole width: a 640 px window scrolled sideways, the
    talk button and Leave out of sight. The line is cut with "…" instead."""
    import time

    from app.ui.last_spoke import LastSpoke

    window.set_names({"carol": LONG})
    window.show_interphone(OPS_ROW)
    window.resize(640, 600)
    window.show()
    qtbot.waitExposed(window)
    settle()
    assert not window.scroller.horizontalScrollBar().isVisible()
    panel = window.panel
    if line == "speaking":
        panel.set_speaker("carol", time.monotonic())
        label = panel.speaking
    else:
        panel.set_last_speaker(LastSpoke("carol", "03:29:20", 1.0))
        label = panel.last_spoke
    settle()
    assert LONG in label.text()
    needed = window.scroller.widget().minimumSizeHint().width()
    assert needed <= window.scroller.viewport().width()  # else it scrolls sideways
    button = panel.talk_button
    qtbot.waitUntil(lambda: button.mapTo(window, button.rect().topRight()).x()
                    < window.width(), timeout=2000)


def test_the_settings_say_when_no_sound_card_is_in_use(qloop, settings, qtbot) -> None:
    """Without a sound card the lists read "System default" and the test sound and the
    microphone test ran in silence: nothing in the dialog said that the audio was
    simulated (only the main window's status bar did)."""
    from test_ui_support import run

    from app.ui.audio_link import open_audio
    from app.ui.i18n import LanguageSwitcher
    from app.ui.preferences import PreferencesController

    parent = MainWindow()
    qtbot.addWidget(parent)

    async def scenario() -> None:
        audio = open_audio(lambda payload: None, frame_ms=20, bitrate=24000, simulate=True)
        controller = PreferencesController(
            parent, settings, LanguageSwitcher(QApplication.instance()), lambda: audio,
            lambda: None, parent.set_talk_key)
        try:
            dialog = controller.open()
            assert audio.simulated
            assert dialog.simulated_note.isVisible()
            assert "No sound card is in use" in dialog.simulated_note.text()
            dialog.close()
        finally:
            audio.close()
            parent.talk_key.detach()

    run(qloop, scenario())


def test_the_talking_tab_has_no_blank_row_before_the_key_status_is_known(qtbot) -> None:
    """The settings opened without a word on the global key's status yet (the status
    comes from the runtime): an empty, visible line left a blank row in the Talking tab."""
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(1)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.global_key_status.isVisible()
    dialog.set_global_key_status("Global talk key: Right Ctrl")
    assert dialog.global_key_status.isVisible()
    dialog.set_global_key_status("")
    assert not dialog.global_key_status.isVisible()


def test_enter_your_user_name_and_token_goes_once_both_are_there(qtbot) -> None:
    """Sign in pressed with no token: "Enter your user name and token." stayed in red
    beside both fields filled in, until the next try."""
    from app.ui.sign_in import SignInDialog

    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_values("127.0.0.1:9400", "bob", "", False)
    dialog.ok.click()
    assert dialog.problem_text() == "Enter your user name and token."
    dialog.token.setText("pw")
    assert dialog.problem_text() == ""
    dialog.token.clear()
    dialog.uid.clear()
    dialog.ok.click()
    dialog.uid.setText("bob")  # the token still missing: it stays
    assert dialog.problem_text() == "Enter your user name and token."
