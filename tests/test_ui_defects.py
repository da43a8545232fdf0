"""Defects a new user hit (issue 14 item 6): each test failed before its fix."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from PySide6.QtCore import QEvent, QPoint, QRect, QSettings, QSize, Qt
from PySide6.QtGui import QImage, QKeyEvent, QRegion
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget
from test_ui_support import (
    OPS,
    close_session,
    on_a_640x480_screen,
    open_session,
    run,
    running_app,
    start_server,
    until,
)

from app import __version__
from app.audio.backend import AudioDeviceError
from app.client import ConnectionState, InterphoneClient
from app.ui.audio_link import open_audio
from app.ui.elided_note import ElidedStatusBar
from app.ui.floor_widgets import ReplayItem, ReplayList
from app.ui.i18n import LanguageSwitcher
from app.ui.main import run as main_run
from app.ui.main_window import MainWindow
from app.ui.preferences import PreferencesController
from app.ui.runtime import Options, Runtime
from app.ui.settings import Settings, TokenStore
from app.ui.settings_dialog import SettingsDialog
from app.ui.view_types import InterphoneRow, LinkState, Preferences, RowKind, TalkState
from app.ui.window_geometry import initial_geometry, minimum_size

pytest_plugins = ["test_ui_support"]

ROOT = Path(__file__).resolve().parent.parent
OPS_ROW = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True)


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict (a real backend of the library)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("me")
    window.set_rows([OPS_ROW])
    window.show_interphone(OPS_ROW)
    yield window
    window.talk_key.detach()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- first window on a small screen -----------------------------------------------------------
@pytest.mark.parametrize("available", [QRect(0, 0, 1280, 800), QRect(0, 27, 1280, 773),
                                       QRect(1280, 0, 1024, 600), QRect(0, 0, 1920, 1080)])
def test_first_window_fits_the_available_screen(available: QRect) -> None:
    frame = QSize(16, 48)
    client = initial_geometry(available, QSize(1280, 800), frame)
    outer = client.adjusted(-frame.width() // 2, -(frame.height() - frame.width() // 2),
                            frame.width() // 2, frame.width() // 2)
    assert available.contains(outer), (client, outer)
    assert client.width() <= 1280 and client.height() <= 800


def test_window_fit_to_screen_keeps_the_status_bar_on_screen(window) -> None:
    window.fit_to_screen()
    window.show()
    available = window.screen().availableGeometry()
    assert window.geometry().bottom() <= available.bottom()
    assert window.geometry().size() != QSize(1280, 800) or available.height() > 848


SMALL_SCREEN_WINDOW = """
import json, sys
from PySide6.QtWidgets import QApplication
from app.ui.main_window import MainWindow
app = QApplication(sys.argv)
window = MainWindow()
window.fit_to_screen()  # (as the app's start does)
window.show()
app.processEvents()
window.resize(1, 1)  # as small as it gets
app.processEvents()
panel, bar = window.panel, window.statusBar()
print(json.dumps({"available": app.primaryScreen().availableGeometry().getRect(),
                  "minimum": [window.minimumWidth(), window.minimumHeight()],
                  "size": [window.width(), window.height()],
                  "button_whole": panel.contentsRect().contains(panel.talk_button.geometry()),
                  "bar_bottom": bar.geometry().bottom()}))
"""


def test_on_a_640x480_screen_the_smallest_window_fits_with_its_frame(tmp_path) -> None:
    """The minimum of 640x480 could not fit a 640x480 screen once a frame was added: the
    status bar ended off the screen (a screen of its own: a process of its own)."""
    shown = on_a_640x480_screen(tmp_path, SMALL_SCREEN_WINDOW)
    assert shown["available"] == [0, 0, 640, 480]
    frame = QSize(16, 48)  # what initial_geometry allows for a title bar and frame
    width, height = shown["minimum"]
    assert width + frame.width() <= 640 and height + frame.height() <= 480, shown
    assert shown["size"] == shown["minimum"]
    assert shown["button_whole"] and shown["bar_bottom"] < height, shown


@pytest.mark.parametrize(("available", "minimum"), [
    (QRect(0, 0, 1280, 800), QSize(640, 480)), (QRect(0, 0, 640, 480), QSize(624, 432)),
    (QRect(0, 27, 800, 573), QSize(640, 480)), (QRect(0, 0, 100, 40), QSize(84, 1))])
def test_the_minimum_size_is_640x480_or_what_the_screen_holds(available: QRect,
                                                              minimum: QSize) -> None:
    assert minimum_size(available) == minimum


# --- names and "you" ---------------------------------------------------------------------------
def test_members_and_speakers_show_roster_names_and_you(window) -> None:
    panel = window.panel
    window.set_names({"alice": "Alice Liddell", "wxb": "王小波"})
    panel.set_members(["me", "alice", "wxb"])
    panel.set_speaker("wxb", time.monotonic())
    assert panel.member_texts() == ["me (you)", "Alice Liddell", "王小波 · speaking"]
    assert panel.speaking.text().startswith("王小波 is speaking")
    panel.set_speaker("me", time.monotonic())
    panel.set_speaker("", None)
    assert panel.last_spoke.text().startswith("Last spoke: you at ")
    window.set_rows([InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "alice", True)])
    subtitle = window.interphones.tree.topLevelItem(0).child(0).data(0, Qt.ItemDataRole.UserRole
                                                                      + 2)
    assert "Alice Liddell speaking" in subtitle


# --- offline: stale state is greyed -------------------------------------------------------------
def test_offline_greys_the_speaker_and_stops_the_timer(window) -> None:
    panel = window.panel
    panel.set_members(["me", "alice"])
    panel.set_speaker("alice", time.monotonic() - 2)
    assert "is speaking · 0:02" in panel.speaking.text()
    panel.set_offline(True)
    assert "alice is speaking" not in panel.speaking.text()
    assert "#9e9e9e" in panel.speaking.styleSheet()
    assert not panel.ticker.subscribed(panel._on_clock)
    assert panel.member_texts() == ["Offline: members unknown"]
    assert "alice" in panel.last_spoke.text()
    panel.set_offline(False)
    assert panel.speaking.text().startswith("alice is speaking")


def test_offline_the_header_does_not_keep_the_member_count(window) -> None:
    """Offline, the header still said "Group · 3 members" above "Offline: members
    unknown" (and the list's "Offline")."""
    panel = window.panel
    assert panel.subtitle.text() == "Group · 3 members"
    panel.set_offline(True)
    assert panel.subtitle.text() == "Group · Offline"
    panel.set_offline(False)
    assert panel.subtitle.text() == "Group · 3 members"


# --- signed in elsewhere ------------------------------------------------------------------------
def test_signed_in_elsewhere_offers_reconnect_and_explains_join(qloop, server, settings) -> None:
    async def scenario() -> None:
        session = await open_session(server, settings)
        window = session.window
        try:
            await session.other("alice")
            await until(lambda: len(window.panel.member_texts()) == 2, what="alice listed")
            assert not window.reconnect_button.isVisibleTo(window)
            second = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
            session.others.append(second)
            await second.connect()  # "me" signs in elsewhere: this session is kicked
            await until(lambda: window.reconnect_button.isVisibleTo(window), what="reconnect")
            assert "signed in elsewhere" in window.link_text()
            assert window.panel.member_texts() == ["Offline: members unknown"]
            assert window.panel.talk_button.state is TalkState.OFFLINE
            ops = window.interphones.tree.topLevelItem(0).child(0)
            assert ops.data(0, Qt.ItemDataRole.UserRole + 2) == "Offline"  # not "alice speaking"
            window.join_requested.emit("discuss_12")
            await asyncio.sleep(0.1)
            message = window.statusBar().currentMessage()
            assert "Reconnect" in message and "state" not in message
            with_signal: list[int] = []
            window.reconnect_requested.connect(lambda: with_signal.append(1))
            window.reconnect_button.click()
            assert with_signal == [1]
        finally:
            await close_session(session)

    run(qloop, scenario())


def test_leave_while_reconnecting_says_so_without_a_traceback(qloop, settings,
                                                             caplog) -> None:
    """The server went away and the client is reconnecting; Leave is pressed: the status
    bar says why nothing happens, and no failed task (with its traceback) is logged."""
    server = start_server(qloop)

    async def scenario() -> None:
        session = await open_session(server, settings)
        window = session.window
        try:
            await server.stop()
            await until(lambda: session.client.model.connection is
                        ConnectionState.RECONNECTING, what="reconnecting")
            caplog.clear()
            window.leave_requested.emit(OPS)
            await asyncio.sleep(0.2)
            assert window.statusBar().currentMessage().startswith("Not connected yet")
            assert not [r for r in caplog.records if r.exc_info or r.levelname == "WARNING"]
        finally:
            await close_session(session)

    run(qloop, scenario())


def test_a_refused_request_is_worded_in_the_users_language(qloop, server, settings,
                                                           qapp) -> None:
    """The server refuses a join (a group "me" is not a member of): the status bar says
    what the code means in the window's language, not the client's English line."""
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)

    async def scenario() -> None:
        session = await open_session(server, settings)
        window = session.window
        try:
            window.join_requested.emit("group_nosuch")
            await until(lambda: window.statusBar().currentMessage(), what="the refusal")
            english = window.statusBar().currentMessage()
            assert english.startswith("Request failed: ") and "(error 4" in english
            assert "ServerError" not in english and "JoinRequest" not in english
            window.statusBar().clearMessage()
            languages.apply("zh_CN")
            window.join_requested.emit("group_nosuch")
            await until(lambda: window.statusBar().currentMessage(), what="the refusal")
            chinese = window.statusBar().currentMessage()
            assert chinese.startswith("请求失败") and "（错误 4" in chinese, chinese
        finally:
            languages.apply("en")
            await close_session(session)

    run(qloop, scenario())


def test_pressing_the_talk_key_while_busy_is_shown(qloop, ui) -> None:
    async def scenario() -> None:
        alice = await ui.other("alice")
        assert await alice.talk_start()
        button = ui.window.panel.talk_button
        await until(lambda: button.state is TalkState.BUSY, what="busy")
        assert not button.refused
        target = ui.window.windowHandle()  # Qt hands the keys to the focused widget
        QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space,
                                                 Qt.KeyboardModifier.NoModifier, " "))
        assert button.refused and button.texts()[0] == "Wait"
        QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Space,
                                                 Qt.KeyboardModifier.NoModifier, " "))
        await alice.talk_stop()

    run(qloop, scenario())


# --- the remembered token -------------------------------------------------------------------
def test_token_goes_to_the_keyring_and_sign_out_deletes_it(tmp_path: Path) -> None:
    ini = tmp_path / "s.ini"
    backend = MemoryKeyring()
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "s.token", backend))
    settings.uid, settings.server_address, settings.remember = "me", "h:1", True
    settings.token = "secret"
    settings.sync()
    assert "secret" not in ini.read_text()
    assert backend.passwords == {("Interphone", "me@h:1"): "secret"}
    assert mode(ini) == 0o600
    assert settings.token == "secret"
    settings.forget_credentials()
    assert backend.passwords == {} and settings.token == "" and not settings.remember


def test_without_a_keyring_the_token_file_is_private_and_the_ui_says_so(qloop, tmp_path,
                                                                       qtbot) -> None:
    from app.ui.sign_in import SignInDialog
    from app.ui.sign_in_flow import SignInFlow

    token_file = tmp_path / "s.token"
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        TokenStore(token_file, None))
    settings.remember = True
    settings.token = "secret"
    assert mode(token_file) == 0o600
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings)

    async def opened() -> None:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible)
        assert dialog.storage_note.isVisibleTo(dialog)
        assert str(token_file) in dialog.storage_note.text()
        assert dialog.token.text() == "secret"
        dialog.reject()
        await task

    run(qloop, opened())


def test_the_token_file_note_shows_only_while_remember_me_is_ticked(qloop, tmp_path,
                                                                     qtbot) -> None:
    """"No system keyring was found: a remembered token is kept in …" showed with
    "Remember me" unticked, when no token is kept at all; it follows the box."""
    from app.ui.sign_in import SignInDialog
    from app.ui.sign_in_flow import SignInFlow

    token_file = tmp_path / "s.token"
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        TokenStore(token_file, None))
    settings.remember = False
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings)

    async def opened() -> list[bool]:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible)
        seen = [dialog.storage_note.isVisibleTo(dialog)]
        dialog.remember.click()
        seen.append(dialog.storage_note.isVisibleTo(dialog))
        assert str(token_file) in dialog.storage_note.text()
        dialog.remember.click()
        seen.append(dialog.storage_note.isVisibleTo(dialog))
        dialog.reject()
        await task
        return seen

    assert run(qloop, opened()) == [False, True, False]


def test_a_plain_text_token_of_an_older_version_is_moved_out(tmp_path: Path) -> None:
    ini = tmp_path / "s.ini"
    old = QSettings(str(ini), QSettings.Format.IniFormat)
    for key, value in (("signin/uid", "me"), ("signin/server", "h:1"), ("signin/token", "pw"),
                       ("signin/remember", True), ("meta/schema_version", 1)):
        old.setValue(key, value)
    old.sync()
    os.chmod(ini, 0o644)
    backend = MemoryKeyring()
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "s.token", backend))
    assert settings.token == "pw"
    assert "pw" not in ini.read_text().replace("schema", "")
    assert mode(ini) == 0o600


def unwritable_settings_path(tmp_path: Path, which: str) -> Path:
    """A settings file that cannot be written, even by root: one in a "directory" that is
    a file, or one that is a directory."""
    if which == "directory":
        (tmp_path / "not-a-directory").write_text("")
        return tmp_path / "not-a-directory" / "s.ini"
    (tmp_path / "s.ini").mkdir()
    return tmp_path / "s.ini"


@pytest.mark.parametrize("which", ["directory", "file"])
def test_settings_that_cannot_be_saved_are_said_once_at_start_and_logged(
        qloop, qapp, tmp_path, caplog, which: str) -> None:
    """``--settings`` in a directory that cannot be written (or a file that cannot): every
    change was lost at exit and nothing said so."""
    ini = unwritable_settings_path(tmp_path, which)
    with caplog.at_level("WARNING", logger="app.ui.settings"):
        settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                            TokenStore(tmp_path / "s.token", MemoryKeyring()))
        settings.volume = 30
        settings.sync()
    assert not settings.writable
    logged = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
    assert logged == [f"settings file {ini} cannot be written: changes will be lost at exit"]
    runtime = Runtime(qapp, Options(demo=True, simulate_audio=True), settings,
                      LanguageSwitcher(qapp))

    async def scenario() -> None:
        async with running_app(runtime):
            window = runtime.window
            assert window is not None
            assert window.statusBar().currentMessage() == (
                f"Settings cannot be saved: {ini} cannot be written. Changes will be lost "
                "at exit.")

    run(qloop, scenario(), timeout=30)


def test_settings_that_can_be_saved_say_nothing_of_it(tmp_path) -> None:
    settings = Settings(QSettings(str(tmp_path / "new" / "s.ini"), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "s.token", MemoryKeyring()))
    settings.volume = 30
    settings.sync()
    assert settings.writable and (tmp_path / "new" / "s.ini").exists()


# --- fonts and languages ------------------------------------------------------------------------
def test_without_a_cjk_font_the_app_stays_in_english_and_says_why(qapp) -> None:
    switcher = LanguageSwitcher(qapp, has_font=lambda language: False)
    try:
        assert switcher.apply("zh_CN") == "en"
        assert "font" in switcher.note and "fonts-noto-cjk" in switcher.note
        assert QApplication.translate("TalkButton", "Hold to talk") == "Hold to talk"
    finally:
        LanguageSwitcher(qapp).apply("en")


def test_the_deb_recommends_a_cjk_font() -> None:
    script = (ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")
    recommends = next(line for line in script.splitlines() if line.startswith("Recommends:"))
    assert "fonts-noto-cjk" in recommends


# --- settings dialog ------------------------------------------------------------------------
def test_settings_speak_the_users_language_test_the_speaker_and_rescan(qloop, settings,
                                                                        qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)

    async def scenario() -> None:
        audio = open_audio(lambda payload: None, frame_ms=20, bitrate=24000, simulate=True)
        restarts: list[int] = []
        controller = PreferencesController(window, settings, LanguageSwitcher(QApplication
                                                                              .instance()),
                                           lambda: audio, lambda: restarts.append(1),
                                           window.set_talk_key)
        try:
            dialog = controller.open()
            labels = [dialog.input_device.itemText(i) for i in range(dialog.input_device.count())]
            assert not any("Clocked" in label for label in labels), labels
            assert any("Simulated" in label for label in labels), labels
            dialog.speaker_test.click()
            await until(lambda: audio.levels()[1] > 0.01, what="test sound played")
            audio.engine._report_device_error(AudioDeviceError("USB headset unplugged"))
            assert "USB headset unplugged" in str(audio.device_error)
            dialog.refresh.click()  # rescans, and reopens the audio after a failure
            assert restarts == [1]
            assert "USB headset unplugged" in dialog.device_problem.text()
        finally:
            audio.close()
            window.talk_key.detach()

    run(qloop, scenario())


def test_a_lost_device_is_shown_in_the_window(qapp, settings, qtbot) -> None:
    runtime = Runtime(qapp, Options(), settings, LanguageSwitcher(qapp))
    window = runtime.window = MainWindow()
    qtbot.addWidget(window)
    try:
        runtime._on_device_error(AudioDeviceError("device unplugged"))
        assert window.audio_problem.isVisibleTo(window)
        assert "device unplugged" in window.audio_problem.text()
    finally:
        window.talk_key.detach()


def test_mic_test_meter_drops_its_peak_when_the_test_stops(qtbot) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.mic_test.setChecked(True)
    dialog.set_mic_level(0.9)
    assert dialog.mic_meter.peak > 0.9
    dialog.mic_test.setChecked(False)
    assert dialog.mic_meter.peak == 0 and dialog.mic_meter.fraction == 0


def test_settings_talk_key_field_round_trips_right_ctrl(qtbot) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.set_preferences(Preferences(talk_key="RightCtrl"))
    assert dialog.talk_key.text() == "Right Ctrl"
    assert dialog.preferences().talk_key == "RightCtrl"


@pytest.mark.parametrize("which", ["talk", "global"])
def test_return_after_recording_a_key_confirms_the_settings(qtbot, which: str) -> None:
    """Click the field, press F8, press Enter to close the dialog: Enter started a new
    recording instead, and the next Enter became the talk key."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.set_preferences(Preferences())
    dialog.tabs.setCurrentIndex(1)
    dialog.show()
    qtbot.waitExposed(dialog)
    field = dialog.talk_key if which == "talk" else dialog.global_key.field
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field, Qt.Key.Key_F8)
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        qtbot.keyClick(field, Qt.Key.Key_Return)
    prefs = dialog.preferences()
    assert (prefs.talk_key if which == "talk" else prefs.global_talk_key) == "F8"
    # opened again and tabbed into, Return still starts a recording
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.buttons.setFocus(Qt.FocusReason.TabFocusReason)
    field.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert field.recording


# --- about and version ------------------------------------------------------------------------
def test_about_box_shows_the_version(window, qtbot) -> None:
    window.about_action.trigger()
    boxes = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QMessageBox) and w.isVisible()]
    assert boxes and __version__ in boxes[-1].text()
    boxes[-1].close()


def test_command_line_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main_run(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


# --- narrow window ----------------------------------------------------------------------------
def test_members_fit_a_640_px_window_without_a_scrollbar(window, qtbot) -> None:
    long_name = "Maximilian Alexander von Hohenzollern-Sigmaringen"
    window.set_names({"max": long_name})
    window.panel.set_members(["me", "max"])
    window.resize(640, 480)
    window.show()
    qtbot.waitExposed(window)
    members = window.panel.members
    assert not members.horizontalScrollBar().isVisible()
    assert members.item(1).toolTip().startswith(long_name)
    assert members.width() >= 120


@pytest.mark.parametrize(("width", "beside"), [(640, False), (1280, True)])
def test_header_controls_never_overlap(window, qtbot, width: int, beside: bool) -> None:
    """A joined interphone that is not the talk target shows Talk here, its volume, Mute
    and Leave: in a 640 px window they overlapped each other ("Talk he", a slider under
    Mute); now they move under the title when they do not fit beside it."""
    listening = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 3, "", True, False)
    window.set_rows([OPS_ROW, listening])
    window.show_interphone(listening)
    panel = window.panel
    panel.mix.set_row(listening)
    window.resize(width, 480)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    widgets = [panel.title, panel.subtitle, panel.mix.talk_here, panel.mix.volume,
               panel.mix.mute, panel.leave_button]
    boxes = [QRect(w.mapTo(panel, w.rect().topLeft()), w.size()) for w in widgets]
    for index, (widget, box) in enumerate(zip(widgets, boxes, strict=True)):
        assert widget.isVisible()
        assert panel.rect().contains(box), widget
        if widget is not panel.mix.volume:
            assert box.width() >= widget.sizeHint().width(), widget  # not cut off
        for other in boxes[index + 1:]:
            assert not box.intersects(other), (widget, box, other)
    controls_top = boxes[2].top()
    assert (controls_top < boxes[1].bottom()) is beside  # beside the title, or under it


def test_replay_title_sits_on_its_list_in_a_tall_window(window, qtbot) -> None:
    """At 1280x800 the spare height went into the replay box, whose "Replay" title then
    floated about 120 px above its list; the members list takes that height instead."""
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    replay, members = window.panel.replay, window.panel.members
    title = replay.title  # its text is centred in it: the label must not grow
    assert title.height() <= title.sizeHint().height() + 4
    title_bottom = title.mapTo(window, title.rect().bottomLeft()).y()
    list_top = replay.list.mapTo(window, replay.list.rect().topLeft()).y()
    assert 0 <= list_top - title_bottom <= 12
    assert members.height() > replay.list.height()


def test_presence_dot_is_not_shown_green_while_offline(window, qtbot) -> None:
    """Disconnected, a contact's row says "Offline" while its presence is unknown: its
    dot stayed green ("online") beside that word."""
    bob = InterphoneRow("chat_bob:me", RowKind.CHAT, "Bob", 0, "", False, online=True)
    window.set_rows([OPS_ROW, bob])
    window.show()
    qtbot.waitExposed(window)
    tree = window.interphones.tree
    item = next(tree.topLevelItem(s).child(c) for s in range(tree.topLevelItemCount())
                for c in range(tree.topLevelItem(s).childCount())
                if tree.topLevelItem(s).child(c).text(0) == "Bob")
    rect = tree.visualItemRect(item)
    dot = rect.topLeft() + QPoint(25, 31)  # the dot on the icon's corner

    def dot_colour() -> str:
        QApplication.processEvents()
        return tree.viewport().grab().toImage().pixelColor(dot).name()

    assert dot_colour() == "#2e7d32"  # online
    window.interphones.set_offline(True)
    tree.viewport().update()
    assert dot_colour() != "#2e7d32"


def test_a_status_message_is_not_cut_off_in_a_640_px_window(window, qtbot) -> None:
    """Reconnecting, in a 640 px window: "Not connected yet: reconnecting…" was cut to
    "Not connected yet: re" by the link and audio notes; the audio note makes room while
    a message shows, and comes back after it."""
    window.set_link(LinkState.RECONNECTING, "attempt 7")
    window.set_audio_note(True, "no sound card")
    window.resize(640, 480)
    window.show()
    qtbot.waitExposed(window)
    text = "Not connected yet: reconnecting…"
    window.show_message(text, 60000)
    QApplication.processEvents()
    bar = window.statusBar()
    permanent = [window.reconnect_button, window.link_label, window.audio_problem,
                 window.audio_label]
    room = min(w.x() for w in permanent if w.isVisible())
    assert bar.fontMetrics().horizontalAdvance(text) + 8 <= room
    bar.clearMessage()
    assert window.audio_label.isVisible()


def test_a_message_longer_than_the_status_bar_is_cut_with_an_ellipsis(window, qtbot) -> None:
    """In an 800 px window "No installed font can show Simplified Chinese, so the interface
    stays in English. Install a CJK font (e.g. the fonts-noto-cjk package) and restart."
    was clipped after "(e.g. the", mid-sentence and with no sign of more. It is cut with
    "…" to the room it has, the whole of it in the tooltip (and for a screen reader)."""
    window.set_link(LinkState.CONNECTED, "")
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    text = ("No installed font can show Simplified Chinese, so the interface stays in "
            "English. Install a CJK font (e.g. the fonts-noto-cjk package) and restart.")
    window.show_message(text, 60000)
    QApplication.processEvents()
    bar = window.statusBar()
    assert isinstance(bar, ElidedStatusBar)
    assert bar.currentMessage() == text  # (what the rest of the window compares)
    shown = bar.shown_message()
    assert shown.endswith("…") and text.startswith(shown[:-1])
    room = bar.message_rect()
    assert bar.fontMetrics().horizontalAdvance(shown) <= room.width()
    assert room.right() < window.link_label.x()
    assert bar.toolTip() == text
    bar.clearMessage()
    assert bar.toolTip() == ""
    window.show_message("Signed out", 60000)
    assert bar.shown_message() == "Signed out"


def demo_in_640_px_with_a_global_key(qapp: QApplication, tmp_path: Path) -> Runtime:
    """The demo in a 640x480 window, F9 as the global talk key from the command line."""
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "s.token", MemoryKeyring()))
    options = Options(demo=True, simulate_audio=True, global_talk_key="F9",
                      size=QSize(640, 480))
    return Runtime(qapp, options, settings, LanguageSwitcher(qapp))


@contextlib.asynccontextmanager
async def key_status_shown(runtime: Runtime) -> AsyncIterator[tuple[MainWindow, QLabel]]:
    """``runtime`` running (as :func:`running_app`) once the global talk key's status is in
    its status bar: its window and that status's label."""
    async with running_app(runtime):
        window, label = runtime.window, runtime.global_key_label
        assert window is not None and label is not None
        await until(lambda: label.text().startswith("Global talk key"),
                    what="the key's status")
        yield window, label


def test_a_status_message_has_the_global_key_status_s_room_too(qloop, qapp,
                                                                tmp_path) -> None:
    """With a global talk key, in a 640 px window: "Bob Alexander is calling you" read
    "Bob is callin": the key's status ("Global talk key: Right Ctrl (for this run, from
    --global-talk-key)") kept its room beside the link while a message showed. It makes
    room as the audio note does, and comes back after the message."""
    runtime = demo_in_640_px_with_a_global_key(qapp, tmp_path)

    async def scenario() -> None:
        async with key_status_shown(runtime) as (window, label):
            assert label.isVisible()
            text = "Bob Alexander Whitfield is calling you"
            window.show_message(text, 60000)
            QApplication.processEvents()
            bar = window.statusBar()
            shown = [w for w in bar.findChildren(QWidget) if w.isVisible()
                     and w.parentWidget() is bar and w.x() > 0]
            room = min(w.x() for w in shown)
            assert bar.fontMetrics().horizontalAdvance(text) + 8 <= room
            assert not label.isVisible()
            bar.clearMessage()
            assert label.isVisible() and window.audio_label.isVisible()

    run(qloop, scenario(), timeout=30)


def test_a_long_global_key_status_is_cut_with_an_ellipsis_in_a_narrow_window(
        qloop, qapp, tmp_path) -> None:
    """In a 640 px window the global talk key's status was cut off anywhere ("Global
    talk key: Right Ctrl (for this run, fro"); it now ends with "…" where it is cut (the
    whole text in its tooltip)."""
    runtime = demo_in_640_px_with_a_global_key(qapp, tmp_path)

    async def scenario() -> None:
        async with key_status_shown(runtime) as (window, label):
            window.statusBar().clearMessage()
            QApplication.processEvents()
            metrics = label.fontMetrics()
            text = label.text()
            assert metrics.horizontalAdvance(text) > label.contentsRect().width()  # cut
            assert label.toolTip() == text
            assert label.geometry().right() < window.statusBar().width()
            # what it shows: the text as far as it fits, then "…"
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                       label.contentsRect().width())
            assert shown.endswith("…")
            reference = QLabel(shown)
            reference.setPalette(label.palette())
            reference.setFont(label.font())
            reference.setAlignment(label.alignment())
            reference.resize(label.size())

            def drawn(widget: QWidget) -> QImage:
                image = QImage(widget.size(), QImage.Format.Format_RGB32)
                image.fill(Qt.GlobalColor.white)
                widget.render(image, QPoint(), QRegion(),
                              QWidget.RenderFlag.DrawChildren)
                return image

            assert drawn(label) == drawn(reference)

    run(qloop, scenario(), timeout=30)


@pytest.mark.parametrize("width", [138, 187])  # in 640 px windows, list wide or not
def test_replay_rows_keep_their_length_in_a_narrow_pane(qtbot, width: int) -> None:
    """In a 640 px window the replay rows were cut at the right ("Alice  07:00:15  ("):
    the name gives way first, then the time (elided; the full line in the tooltip), and
    the length always shows."""
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.resize(width, 200)
    long_name = "Maximilian Alexander von Hohenzollern"
    replay.set_items([ReplayItem(2, long_name, "07:00:15", 1.4, False),
                      ReplayItem(1, "Al", "07:00:10", 12.0, True)])
    replay.show()
    qtbot.waitExposed(replay)
    QApplication.processEvents()
    viewport = replay.list.viewport()
    for index, length in ((0, "(0:01)"), (1, "(0:12)")):
        row = replay.list.itemWidget(replay.list.item(index))
        labels = row.findChildren(QLabel)
        details = next(label for label in labels if label.text().endswith(length))
        right = details.mapTo(viewport, details.rect().topRight()).x()
        assert right < viewport.width(), (index, right, viewport.width())
        shown = details.fontMetrics().horizontalAdvance(details.text())
        assert shown <= details.width(), (index, details.text(), details.width())
        assert row.toolTip() == replay.item_texts()[index]
    name = next(label for label in
                replay.list.itemWidget(replay.list.item(0)).findChildren(QLabel)
                if label.text().startswith("●"))
    assert name.text().endswith("…") and long_name not in name.text()


def test_replay_rows_follow_the_list_width_at_once_on_a_resize(qtbot) -> None:
    """Shrinking the window (1280×800 to 640×480) left the replay rows as wide as before
    until something else laid the list out again: the length was cut at the right edge."""
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.resize(600, 200)
    replay.set_items([ReplayItem(2, "Alice", "07:00:15", 1.4, False),
                      ReplayItem(1, "Bob", "07:00:10", 12.0, True)])
    replay.show()
    qtbot.waitExposed(replay)
    QApplication.processEvents()
    viewport = replay.list.viewport()
    for width in (200, 450, 160):
        replay.resize(width, 200)
        QApplication.processEvents()  # one pass: no waiting for a delayed relayout
        for index in range(replay.list.count()):
            row = replay.list.itemWidget(replay.list.item(index))
            assert row.geometry().right() < viewport.width(), (width, index)
            assert row.width() >= viewport.width() - 4, (width, index)  # and as wide


def test_header_controls_stay_put_when_muting_or_talking_here(window, qtbot) -> None:
    """Mute becomes the wider "Unmute", and Talk here disappears once pressed: at some
    window widths either moved the controls under the title, away from the pointer."""
    listening = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 3, "", True, False)
    target = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 3, "", True, True)
    window.set_rows([OPS_ROW, listening])
    window.show_interphone(listening)
    panel = window.panel
    window.show()
    qtbot.waitExposed(window)

    def place() -> tuple[bool, int]:
        for _ in range(3):
            QApplication.processEvents()
        top = panel.leave_button.mapTo(panel, panel.leave_button.rect().topLeft()).y()
        return panel.controls_beside_title, top

    for width in range(640, 1101, 10):
        window.resize(width, 600)
        panel.mix.set_row(listening)
        before = place()
        assert before[0] == (before[1] < panel.subtitle.y()), width  # laid out as placed
        panel.mix.mute.click()  # muted: the button reads "Unmute"
        assert place() == before, width
        panel.mix.mute.click()
        panel.mix.set_row(target)  # Talk here pressed: it is the talk target now
        assert place() == before, width


def test_a_row_where_we_speak_says_you(window) -> None:
    """Talking, our row read "Talk target · me speaking" (our uid) as for anyone else."""
    talking = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "me", True, True)
    other = InterphoneRow("group_1", RowKind.GROUP, "Everyone", 2, "alice", True, False)
    window.set_names({"alice": "Alice Liddell"})
    window.set_rows([talking, other])
    tree = window.interphones.tree
    subtitles = {tree.topLevelItem(0).child(i).text(0):
                 tree.topLevelItem(0).child(i).data(0, Qt.ItemDataRole.UserRole + 2)
                 for i in range(tree.topLevelItem(0).childCount())}
    assert "you are speaking" in subtitles["Ops"] and "me speaking" not in subtitles["Ops"]
    assert "Alice Liddell speaking" in subtitles["Everyone"]


def test_no_interphone_selected_shows_no_volume_or_mute(window) -> None:
    """Leaving the talk target while the filter hid the next one: the pane said "No
    interphone selected" beside the left one's volume slider and Mute button."""
    joined = InterphoneRow("discuss_12", RowKind.DISCUSS, "Night shift", 2, "", True, True)
    window.set_rows([OPS_ROW, joined])
    window.show_interphone(joined)
    window.panel.mix.set_row(joined)
    assert window.panel.mix.isVisibleTo(window)
    window.show_interphone(None)
    assert not window.panel.mix.isVisibleTo(window)


def test_a_row_selected_while_filtered_out_is_shown_once_the_filter_clears(window) -> None:
    """Filter "ni", join Night shift, leave it: the talk target moves to Ops, hidden by
    the filter ("No interphone selected"); clearing the filter then highlighted Ops while
    the pane still said nothing was selected."""
    ops = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, False)
    night = InterphoneRow("discuss_12", RowKind.DISCUSS, "Night shift", 2, "", True, True)
    lists = window.interphones
    lists.set_rows([ops, night])
    lists.select("discuss_12")
    lists.filter.setText("ni")
    selected: list[str] = []
    window.selection_changed.connect(selected.append)
    lists.set_rows([replace(ops, talk_target=True), replace(night, joined=False,
                                                            talk_target=False)])
    lists.select(OPS)  # the new talk target, hidden by the filter
    assert selected[-1:] == [""]
    lists.filter.clear()
    assert selected[-1] == OPS and lists.selected_id() == OPS
