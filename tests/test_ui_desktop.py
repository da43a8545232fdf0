"""Issue 14 (items 1, 2): the global talk key in the window, the tray, start at login,
"remember me" that signs in and rejoins. Real Qt (offscreen), a real server on 127.0.0.1,
a real X server (Xvfb) for the global key's grab."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QVBoxLayout, QWidget
from test_ui_support import OPS, UiSession, holder, run, running_app, start_server, until

from app.client import InterphoneClient
from app.ui.assets import icon
from app.ui.audio_link import Tone
from app.ui.autostart import desktop_entry, set_start_at_login
from app.ui.global_key import GlobalTalkKeyService
from app.ui.global_key_edit import GlobalTalkKeyEdit
from app.ui.preferences import preferences_of, store_preferences
from app.ui.settings_dialog import SettingsDialog
from app.ui.talk_button import format_length
from app.ui.tray import TrayController
from app.ui.view_types import TalkState

if TYPE_CHECKING:
    from app.server import InterphoneServer
    from app.ui.i18n import LanguageSwitcher
    from app.ui.main_window import MainWindow
    from app.ui.runtime import Options, Runtime
    from app.ui.settings import Settings

pytest_plugins = ["test_ui_support"]


# --- the settings field ------------------------------------------------------------------------
def test_global_key_field_refuses_caps_lock_and_letters_with_the_reason(qtbot) -> None:
    edit = GlobalTalkKeyEdit()
    qtbot.addWidget(edit)
    refused: list[str] = []
    changed: list[str] = []
    edit.refused.connect(refused.append)
    edit.key_changed.connect(changed.append)
    edit.field.recording = True
    for key, text in ((Qt.Key.Key_CapsLock, ""), (Qt.Key.Key_A, "a")):
        event = QKeyEvent(QKeyEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, text)
        QApplication.sendEvent(edit.field, event)
    assert len(refused) == 2 and changed == []
    assert "Caps Lock" in refused[0]
    assert "types in every other program" in refused[1]
    assert edit.key_name() == ""
    QApplication.sendEvent(edit.field, QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_F9,
                                                 Qt.KeyboardModifier.NoModifier))
    assert changed == ["F9"] and edit.key_name() == "F9"
    edit.off.click()
    assert changed == ["F9", ""] and edit.key_name() == ""
    assert edit.field.text() == "Off"


def test_global_key_field_records_a_mouse_side_button_and_right_ctrl(qtbot) -> None:
    edit = GlobalTalkKeyEdit()
    qtbot.addWidget(edit)
    assert edit.offer("Control_R") and edit.key_name() == "RightCtrl"
    assert edit.field.text() == "Right Ctrl"
    edit.field.recording = True
    qtbot.mouseClick(edit.field, Qt.MouseButton.BackButton)
    assert edit.key_name() == "Mouse4"
    assert not edit.offer("MiddleButton") and edit.key_name() == "Mouse4"


def test_global_key_and_background_settings_round_trip_through_the_dialog(qtbot,
                                                                          settings) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert settings.global_talk_key == "" and settings.close_to_tray  # off / on by default
    dialog.set_preferences(preferences_of(settings))
    dialog.global_key.offer("RightCtrl")
    dialog.start_at_login.setChecked(True)
    dialog.close_to_tray.setChecked(False)
    changed = store_preferences(settings, dialog.preferences())
    assert set(changed) == {"global_talk_key", "start_at_login", "close_to_tray"}
    assert settings.global_talk_key == "RightCtrl" and settings.start_at_login
    assert not settings.close_to_tray
    dialog.set_global_key_status("Global talk key: Right Ctrl")
    assert dialog.global_key_status.text() == "Global talk key: Right Ctrl"


# --- the service ---------------------------------------------------------------------------------
def test_service_reports_a_refused_key_and_a_session_without_global_keys(
        qloop, monkeypatch) -> None:
    service = GlobalTalkKeyService()
    status = run(qloop, service.apply("CapsLock"))
    assert status.startswith("Global talk key refused:") and "Caps Lock" in status
    assert not service.active
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    status = run(qloop, service.apply("F9"))
    assert status.startswith("Global talk key unavailable:")
    assert "only while Interphone has focus" in status
    assert run(qloop, service.apply("")) == "" and not service.active


def demo_with_a_command_line_key(qapp: QApplication, settings: Settings, key: str,
                                 switcher: LanguageSwitcher | None = None) -> Runtime:
    """The demo (its audio simulated) with ``settings`` and ``--global-talk-key key``, in
    ``switcher``'s language (English by default)."""
    from app.ui.i18n import LanguageSwitcher
    from app.ui.runtime import Options, Runtime

    return Runtime(qapp, Options(demo=True, simulate_audio=True, global_talk_key=key),
                   settings, switcher or LanguageSwitcher(qapp))


def test_settings_show_the_command_line_s_global_key_and_a_change_there_replaces_it(
        qloop, qapp, settings) -> None:
    """Started with --global-talk-key F9 and F8 saved: Settings › Talking showed F8 (the
    setting) while F9 talked; choosing F8 there (the setting's already) or turning the
    key off changed nothing for the run, F9 went on talking until a restart."""
    settings.global_talk_key = "F8"
    runtime = demo_with_a_command_line_key(qapp, settings, "f9")

    async def scenario() -> None:
        async with running_app(runtime):
            window, preferences = runtime.window, runtime.preferences
            assert window is not None and preferences is not None
            await until(lambda: runtime.global_key.name == "f9" and runtime.global_key.status,
                        what="the command line's key")
            window.settings_requested.emit()
            dialog = preferences.dialog
            assert dialog is not None
            assert dialog.global_key.key_name() == "F9"  # the key in effect
            note = dialog.global_key_status.text()
            assert "--global-talk-key" in note and "takes effect at once" in note
            apply = dialog.buttons.button(QDialogButtonBox.StandardButton.Apply)
            apply.click()  # nothing changed: the setting stays, F9 goes on
            await asyncio.sleep(0.2)
            assert settings.global_talk_key == "F8" and runtime.global_key.name == "f9"
            assert dialog.global_key.offer("F8") and dialog.global_key.key_name() == "F8"
            apply.click()
            await until(lambda: runtime.global_key.name == "F8", what="F8 in effect")
            assert settings.global_talk_key == "F8"
            await until(lambda: "--global-talk-key" not in dialog.global_key_status.text()
                        and "--global-talk-key" not in (runtime.global_key_label.text()
                                                        if runtime.global_key_label else ""),
                        what="no longer from the command line")
            dialog.global_key.off.click()
            apply.click()
            await until(lambda: runtime.global_key.name == "", what="turned off")
            assert settings.global_talk_key == ""
            dialog.reject()
            window.settings_requested.emit()  # opened again: the setting, in effect
            assert dialog.global_key.key_name() == ""

    run(qloop, scenario(), timeout=30)


def test_the_command_line_s_key_is_said_in_chinese_punctuation(qloop, qapp, settings) -> None:
    """The status bar and the tray said "全局通话键：F9 （仅本次运行，…）": the note in
    brackets was added after a space. It is worded as one text, in full-width brackets."""
    from app.ui.i18n import LanguageSwitcher

    switcher = LanguageSwitcher(qapp, has_font=lambda language: True)
    switcher.apply("zh_CN")
    runtime = demo_with_a_command_line_key(qapp, settings, "f9", switcher)

    async def scenario() -> tuple[str, str]:
        async with running_app(runtime):
            label = runtime.global_key_label
            assert label is not None
            await until(lambda: "--global-talk-key" in label.text(), what="the key's status")
            return label.text(), runtime.global_key.status

    try:
        text, status = run(qloop, scenario(), timeout=30)
    finally:
        switcher.apply("en")
    assert text == f"{status}（仅本次运行，来自 --global-talk-key）", text


def test_settings_say_the_command_line_turned_the_global_key_off(qloop, qapp,
                                                                settings) -> None:
    """--global-talk-key "" with F8 saved: the field shows Off, the key in effect, and says
    why; a key chosen there talks at once."""
    settings.global_talk_key = "F8"
    runtime = demo_with_a_command_line_key(qapp, settings, "")

    async def scenario() -> None:
        async with running_app(runtime):
            window, preferences = runtime.window, runtime.preferences
            assert window is not None and preferences is not None
            window.settings_requested.emit()
            dialog = preferences.dialog
            assert dialog is not None
            assert dialog.global_key.key_name() == "" and runtime.global_key.name == ""
            assert dialog.global_key_status.text() == (
                'The command line (--global-talk-key "") turned the global talk key off for '
                "this run. A key chosen here takes effect at once and is saved.")
            assert dialog.global_key.offer("F8")
            dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
            await until(lambda: runtime.global_key.name == "F8", what="F8 in effect")
            assert settings.global_talk_key == "F8"

    run(qloop, scenario(), timeout=30)


def test_a_refused_command_line_key_does_not_turn_off_the_saved_one(qtbot, settings) -> None:
    """--global-talk-key CapsLock (refused: no key works) and F8 saved: the field shows
    "Off", what is in effect; OK for another change must not store "Off" over F8."""
    from PySide6.QtWidgets import QMainWindow

    from app.ui.i18n import LanguageSwitcher
    from app.ui.preferences import PreferencesController

    settings.global_talk_key = "F8"
    parent = QMainWindow()
    qtbot.addWidget(parent)
    changes: list[list[str]] = []
    controller = PreferencesController(
        parent, settings, LanguageSwitcher(QApplication.instance()), lambda: None,
        lambda: None, lambda _key: None, changes.append, global_key_for_run=lambda: "CapsLock")
    dialog = controller.open()
    assert dialog.global_key.key_name() == ""
    dialog.tones.setChecked(not settings.tones)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert changes == [["tones"]] and settings.global_talk_key == "F8"
    dialog.close()


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    from tests.xvfb_fixtures import run_xvfb

    yield from run_xvfb()


def in_x11_session(monkeypatch: pytest.MonkeyPatch, display: str) -> None:
    """The environment of an X11 session on ``display`` (no Wayland)."""
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")


def talk_key_service(window: MainWindow) -> GlobalTalkKeyService:
    """A global talk key service that holds ``window``'s talk key, as the runtime wires it."""
    service = GlobalTalkKeyService()
    service.pressed.connect(lambda: window.hold_global_key(True))
    service.released.connect(lambda: window.hold_global_key(False))
    return service


def test_global_key_talks_while_another_program_has_the_focus(
        qloop, ui: UiSession, xvfb_display: str, monkeypatch) -> None:
    """Under Xvfb: F9 typed into another X client's window grabs the floor, its release
    lets it go, through the same press/release path as Space."""
    from tests.xvfb_fixtures import FocusedWindow, SyntheticInput

    in_x11_session(monkeypatch, xvfb_display)
    window = ui.window
    other = FocusedWindow(xvfb_display)
    synthetic = SyntheticInput(xvfb_display)
    service = talk_key_service(window)
    try:
        async def scenario() -> None:
            status = await service.apply("F9")
            assert status == "Global talk key: F9" and service.active
            await until(lambda: window.panel.talk_button.state is TalkState.IDLE,
                        what="joined and idle")
            assert other.has_focus()
            synthetic.key("F9", down=True)
            await until(lambda: window.panel.talk_button.state is TalkState.TALKING,
                        what="talking from the global key")
            synthetic.key("F9", down=False)
            await until(lambda: window.panel.talk_button.state is TalkState.IDLE,
                        what="released")

        run(qloop, scenario(), timeout=20)
    finally:
        service.close()
        synthetic.close()
        other.display.close()


def test_global_key_grab_reaches_the_server(qloop, ui: UiSession, server, xvfb_display: str,
                                            monkeypatch) -> None:
    from tests.xvfb_fixtures import SyntheticInput

    in_x11_session(monkeypatch, xvfb_display)
    window = ui.window
    synthetic = SyntheticInput(xvfb_display)
    service = talk_key_service(window)
    try:
        async def scenario() -> None:
            await service.apply("RightCtrl")
            await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
            synthetic.key("Control_R", down=True)
            await until(lambda: holder(server) == "me", what="floor held at the server")
            synthetic.key("Control_R", down=False)
            await until(lambda: holder(server) == "", what="floor released at the server")

        run(qloop, scenario(), timeout=20)
    finally:
        service.close()
        synthetic.close()


def test_the_global_key_pressed_while_a_settings_field_records_is_recorded_not_said(
        qloop, server, settings, qapp: QApplication, xvfb_display: str, monkeypatch) -> None:
    """Under Xvfb, with Right Ctrl as the global key: clicked into Settings › Talking ›
    Talk key, Right Ctrl talked on air in the talk target (the grab keeps the key from the
    focused window) and the field went on waiting for a key."""
    from tests.xvfb_fixtures import SyntheticInput

    in_x11_session(monkeypatch, xvfb_display)
    settings.global_talk_key = "RightCtrl"
    runtime = remembered_runtime(server, settings, qapp, OPS)
    synthetic = SyntheticInput(xvfb_display)
    talks: list[bool] = []

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS and runtime.global_key.active,
                    what="joined, with the global key")
        window, preferences = runtime.window, runtime.preferences
        assert window is not None and preferences is not None
        window.talk_pressed.connect(lambda: talks.append(True))
        window.settings_requested.emit()
        dialog = preferences.dialog
        assert dialog is not None
        dialog.tabs.setCurrentIndex(1)
        dialog.activateWindow()
        for field, recorded in ((dialog.talk_key, dialog.talk_key.key_text),
                                (dialog.global_key.field, dialog.global_key.key_name)):
            field.setFocus()
            await until(lambda f=field: QApplication.focusWidget() is f, what="focused")
            field.start_recording()
            synthetic.key("Control_R", down=True)
            await until(lambda r=recorded, f=field: r() == "RightCtrl" and not f.recording,
                        what="Right Ctrl recorded")
            synthetic.key("Control_R", down=False)
            await asyncio.sleep(0.3)
            assert talks == [] and holder(server) == ""
        window.activateWindow()  # not recording any more: the key talks again
        synthetic.key("Control_R", down=True)
        await until(lambda: holder(server) == "me", what="talking with the key")
        synthetic.key("Control_R", down=False)
        await until(lambda: holder(server) == "", what="released")
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    try:
        assert run(qloop, scenario(), timeout=30) == 0
    finally:
        synthetic.close()


@pytest.mark.parametrize(("name", "text"), [
    ("RightCtrl", "RightCtrl"), ("F9", "F9"), ("Pause", "Pause"), ("Mouse4", "Mouse:Back"),
    ("Mouse5", "Mouse:Forward"), ("MiddleButton", "Mouse:Middle"),
    ("LeftCtrl", ""), ("LeftAlt", ""), ("RightShift", ""), ("Button10", "")])
def test_the_talk_key_field_takes_a_global_key_by_name(qapp, name: str, text: str) -> None:
    """What the talk key field makes of the global key pressed while it records ("" =
    refused, with the reason, and still recording)."""
    from app.ui.talk_key_edit import TalkKeyEdit

    field = TalkKeyEdit()
    taken: list[str] = []
    refused: list[str] = []
    field.key_changed.connect(taken.append)
    field.refused.connect(refused.append)
    field.start_recording()
    field.record_name(name)
    if text:
        assert taken == [text] and field.key_text() == text and not field.recording
    else:
        assert taken == [] and len(refused) == 1 and field.recording


# --- the tray ------------------------------------------------------------------------------------
def test_closing_the_window_hides_it_to_the_tray_and_says_so_once(qloop, ui: UiSession,
                                                                  settings) -> None:
    window = ui.window
    tray = TrayController(window, settings, talk_target=lambda: "Operations",
                          available=True)
    quits: list[bool] = []
    hints: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    tray.hint_shown.connect(lambda: hints.append(True))
    window.close()
    assert not window.isVisible() and quits == [] and hints == [True]
    assert settings.tray_hint_shown
    tray.toggle_window()
    assert window.isVisible()
    window.close()
    assert not window.isVisible() and hints == [True]  # said once
    tray.toggle_window()
    settings.close_to_tray = False
    window.close()
    assert quits == [True]
    tray.close()


def test_no_tray_means_closing_quits(qloop, ui: UiSession, settings) -> None:
    tray = TrayController(ui.window, settings, available=False)
    quits: list[bool] = []
    ui.window.quit_requested.connect(lambda: quits.append(True))
    ui.window.close()
    assert quits == [True]
    tray.close()


def test_the_tray_menu_follows_the_windows_language(qloop, ui: UiSession, settings) -> None:
    tray = TrayController(ui.window, settings, available=False)
    tray.mute_action.setText("stale")
    QApplication.sendEvent(ui.window, QEvent(QEvent.Type.LanguageChange))
    assert tray.mute_action.text() == "&Mute"
    tray.close()


def test_tray_menu_shows_status_target_key_and_mutes(qloop, ui: UiSession, settings) -> None:
    window = ui.window
    tray = TrayController(window, settings, talk_target=lambda: "Operations",
                          key_status=lambda: "Global talk key: Right Ctrl", available=True)

    async def connected() -> None:
        await until(lambda: window.link_text() == "Connected as me")

    run(qloop, connected())
    tray.refresh()
    assert tray.status_action.text() == "Connected as me"
    assert tray.target_action.text() == "Talk target: Operations"
    assert tray.key_action.text() == "Global talk key: Right Ctrl"
    assert not settings.muted
    tray.mute_action.trigger()
    assert settings.muted and window.audio_bar.mute.isChecked()
    assert ui.audio.engine.muted
    window.audio_bar.mute.click()  # unmuted in the window: the tray follows
    assert not tray.mute_action.isChecked() and not settings.muted
    tray.close()


def test_tray_icon_shows_talking_receiving_and_offline(qloop, ui: UiSession, settings) -> None:
    window = ui.window
    tray = TrayController(window, settings, available=True)
    for state, name in ((TalkState.TALKING, "tray-talking"), (TalkState.BUSY, "tray-busy"),
                        (TalkState.OFFLINE, "tray-offline"), (TalkState.IDLE, "tray-idle")):
        window.set_talk_state(state)
        assert tray.icon.icon().cacheKey() == icon(name).cacheKey(), state
    tray.close()


# --- start at login --------------------------------------------------------------------------
def test_start_at_login_writes_and_removes_the_xdg_autostart_entry(tmp_path: Path) -> None:
    command = ["/opt/interphone/interphone", "--background"]
    path = set_start_at_login(True, command, platform="linux",
                              environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert path == tmp_path / "autostart" / "interphone.desktop"
    text = Path(path).read_text(encoding="utf-8")
    assert "Exec=/opt/interphone/interphone --background\n" in text
    assert text == desktop_entry(command)
    set_start_at_login(False, command, platform="linux",
                       environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert not Path(path).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG autostart entry")
def test_start_at_login_keeps_the_settings_file_the_app_was_given(
        qloop, server, settings, qapp, tmp_path: Path, monkeypatch) -> None:
    """Run with ``--settings INI``, "Start Interphone when I log in" wrote an entry without
    it: at login the app read the user's other settings, was not signed in, and showed
    the sign-in dialog instead of going to the tray."""
    from app.ui.runtime import Options

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    ini = tmp_path / "work.ini"
    runtime = remembered_runtime(server, settings, qapp, OPS,
                                 Options(simulate_audio=True, settings_file=ini))

    async def scenario() -> int:
        main, _client = await started(runtime)
        window, preferences = runtime.window, runtime.preferences
        assert window is not None and preferences is not None
        window.settings_requested.emit()
        dialog = preferences.dialog
        assert dialog is not None
        dialog.start_at_login.setChecked(True)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
        entry = tmp_path / "autostart" / "interphone.desktop"
        await until(entry.exists, what="the login entry")
        assert f"--background --settings {ini}\n" in entry.read_text(encoding="utf-8")
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


# --- remember me -----------------------------------------------------------------------------
def remembered_runtime(server: InterphoneServer, settings: Settings, qapp: QApplication,
                       rejoin: str, options: Options | None = None) -> Runtime:
    """The app as started with "remember me" on: "me" signs in to ``server`` at start,
    without the dialog, and rejoins ``rejoin`` (interphones, space-separated)."""
    from app.ui.i18n import LanguageSwitcher
    from app.ui.runtime import Options, Runtime

    settings.server_address = f"127.0.0.1:{server.port}"
    settings.uid, settings.token, settings.remember = "me", "secret", True
    settings.rejoin = rejoin
    return Runtime(qapp, options or Options(simulate_audio=True), settings,
                   LanguageSwitcher(qapp))


async def started(runtime: Runtime) -> tuple[asyncio.Future[int], InterphoneClient]:
    """``runtime`` running (its ``run()``, to await for the exit code) and signed in."""
    main = asyncio.ensure_future(runtime.run())
    await asyncio.wait_for(runtime.ready.wait(), 5)
    client = runtime.client
    assert client is not None
    return main, client


def test_remember_me_signs_in_at_start_and_rejoins(qloop, server, settings, qapp) -> None:
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client = await started(runtime)
        assert runtime.sign_in_dialog is None
        await until(lambda: str(client.model.joined) == OPS, what="rejoined")
        # idle: no audio stream, so no level-meter timer either
        audio, presenter = runtime.audio, runtime.presenter
        window = runtime.window
        assert audio is not None and presenter is not None and window is not None
        await until(lambda: not audio.streaming, what="audio idle")
        assert presenter.audio_ticking == 0 and not window.panel.ticker.running
        # settled: the session's objects are out of later full collections
        await until(lambda: gc.get_freeze_count() > 0, what="the session settled")
        audio.play_tone(Tone.BUSY)
        assert audio.streaming and presenter.audio_ticking == 100
        await client.leave()
        await until(lambda: settings.rejoin == "", what="leaving is remembered")
        await client.join(OPS)
        await until(lambda: settings.rejoin == OPS)
        runtime.quit()
        code = await asyncio.wait_for(main, 5)
        assert settings.rejoin == OPS  # quitting is not leaving
        assert gc.get_freeze_count() == 0  # the ended session's objects are collectable
        return code

    assert run(qloop, scenario(), timeout=20) == 0


def test_remember_me_rejoins_every_interphone_that_was_joined(qloop, server, settings,
                                                              qapp) -> None:
    """Several interphones at once: all of them come back, the talk target last (it is the
    talk target again), and what is remembered follows joins, leaves and a new target."""
    everyone, night = "group_1", "discuss_12"
    runtime = remembered_runtime(server, settings, qapp, f"{everyone} {night} {OPS}")

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: len(client.model.joined_ids) == 3, what="all three rejoined")
        assert [str(i) for i in client.model.joined_ids] == [everyone, night, OPS]
        assert str(client.model.talk_target) == OPS
        assert settings.rejoin == f"{everyone} {night} {OPS}"
        await client.set_talk_target(everyone)  # the talk target is remembered last
        await until(lambda: settings.rejoin == f"{night} {OPS} {everyone}")
        await client.leave(night)
        await until(lambda: settings.rejoin == f"{OPS} {everyone}")
        # written once a change (each join wrote the file twice: its talk target's and its
        # joined set's events, some 10 ms each on the loop)
        written: list[str] = []
        sync = settings.sync
        settings.sync = lambda: (written.append(settings.rejoin), sync())  # type: ignore
        await client.join(night)
        await until(lambda: settings.rejoin == f"{everyone} {OPS} {night}")
        await client.set_talk_target(everyone)
        await until(lambda: settings.rejoin == f"{OPS} {night} {everyone}")
        assert written == [f"{everyone} {OPS} {night}", f"{OPS} {night} {everyone}"]
        runtime.quit()
        code = await asyncio.wait_for(main, 5)
        assert settings.rejoin == f"{OPS} {night} {everyone}"  # quitting is not leaving
        return code

    assert run(qloop, scenario(), timeout=20) == 0


@pytest.mark.parametrize("refused", [False, True])
def test_remember_me_that_cannot_sign_in_says_why_in_the_dialog(
        qloop, settings, qapp, refused: bool) -> None:
    """The server down at start (or the remembered token no longer valid): the sign-in
    dialog came up filled in and said nothing, as if "remember me" had been forgotten."""
    server = start_server(qloop, auth="token" if refused else "open")
    if not refused:
        run(qloop, server.stop())  # its port: nobody listens there any more
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="the sign-in dialog")
        dialog = runtime.sign_in_dialog
        assert dialog is not None
        await until(dialog.error.isVisible, what="a problem said")
        if refused:
            assert dialog.error.text() == ("The server refused the sign-in: wrong user name "
                                           "or token.")
            assert dialog.token.hasFocus()
        else:
            assert dialog.error.text().startswith(
                f"Cannot reach the server at 127.0.0.1:{server.port}: the connection was "
                "refused")  # the reason, said once
            assert dialog.error.text().count("Cannot reach") == 1
            assert dialog.address.hasFocus()
        dialog.reject()
        return await asyncio.wait_for(main, 5)

    try:
        assert run(qloop, scenario(), timeout=20) == 0
    finally:
        if refused:
            run(qloop, server.stop())


@pytest.mark.parametrize("bob_in_it", [False, True])
def test_remember_me_does_not_ring_a_call_that_ended_with_the_last_run(
        qloop, server, settings, qapp, bob_in_it: bool) -> None:
    """The app quit (or was killed) during a call: at the next start it rejoined the chat
    with everything else, and joining a chat the other party is not in rings them: Bob
    got "Me is calling you" for a call nobody made. A chat Bob is still in is the call
    going on: it is rejoined."""
    chat = "chat_bob:me"
    runtime = remembered_runtime(server, settings, qapp, f"{OPS} {chat}")

    async def scenario() -> int:
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        await bob.connect()
        try:
            if bob_in_it:
                await bob.join(chat)
            main, client = await started(runtime)
            await until(lambda: client.model.is_joined(OPS), what="ops rejoined")
            await asyncio.sleep(0.5)
            assert client.model.is_joined(chat) is bob_in_it
            assert str(client.model.talk_target) == (chat if bob_in_it else OPS)
            assert not bob.model.incoming_calls
            runtime.quit()
            return await asyncio.wait_for(main, 5)
        finally:
            await bob.close()

    assert run(qloop, scenario(), timeout=20) == 0


def test_the_microphone_opens_at_the_press_and_closes_after_the_turn(qloop, ui: UiSession
                                                                      ) -> None:
    """Idle: neither audio stream runs; the press opens the input, the end of the turn
    closes it (runtime wiring is exercised through EngineAudio as the runtime does)."""
    window, audio = ui.window, ui.audio
    window.talk_pressed.connect(audio.prepare_transmit)
    window.talk_released.connect(audio.cancel_transmit)

    async def scenario() -> None:
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        await until(lambda: not audio.engine.output_active, timeout=5,
                    what="output stopped after a second of silence")
        assert not audio.engine.input_active
        window.hold_global_key(True)
        assert audio.engine.input_active  # before the grant
        await until(lambda: window.panel.talk_button.state is TalkState.TALKING)
        window.hold_global_key(False)
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        await until(lambda: not audio.engine.input_active, what="input closed")

    run(qloop, scenario(), timeout=20)


def test_signing_out_forgets_the_interphones_to_rejoin(qloop, server, settings, qapp) -> None:
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS, what="rejoined")
        runtime.sign_out()
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="sign-in dialog")
        assert settings.rejoin == "" and settings.token == ""
        dialog = runtime.sign_in_dialog
        assert dialog is not None
        dialog.reject()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


class PaintCounter(QObject):
    """Counts the paint events of the widgets it watches, by their class name."""

    def __init__(self, *widgets: QWidget) -> None:
        super().__init__()
        self.by: dict[str, int] = {}
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            name = type(watched).__name__
            self.by[name] = self.by.get(name, 0) + 1
        return False

    def settle(self) -> None:
        """Let the paints already asked for (the first show's) happen, then count from 0."""
        for _ in range(3):
            QApplication.processEvents()
        self.by.clear()


def shown(qtbot, widget: QWidget, width: int, height: int) -> None:
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)


def meter_paints(counter: PaintCounter) -> int:
    """Paint events of a level meter and its parts (plain widgets that show pixmaps)."""
    return counter.by.get("LevelMeter", 0) + counter.by.get("QWidget", 0)


def test_level_meter_repaints_only_when_a_pixel_moves(qtbot) -> None:
    from app.ui.level_meter import LevelMeter

    meter = LevelMeter()
    shown(qtbot, meter, 120, 12)
    counter = PaintCounter(meter, *meter.findChildren(QWidget))
    counter.settle()
    for _ in range(5):  # silence stays silence: nothing to repaint
        meter.set_level(0.0)
        QApplication.processEvents()
    assert meter_paints(counter) == 0
    meter.set_level(0.5)
    QApplication.processEvents()
    moved = meter_paints(counter)
    assert moved > 0 and meter.fraction > 0
    for _ in range(5):  # a steady level: the bar and the peak stay where they are
        meter.set_level(0.5)
        QApplication.processEvents()
    assert meter_paints(counter) == moved
    meter.set_level(0.05)  # the bar drops; the peak marker decays a pixel at a time
    QApplication.processEvents()
    assert meter_paints(counter) > moved
    assert counter.by.get("LevelMeter", 0) == 0  # its parts are filled by Qt: no Python


def test_a_level_change_repaints_the_meter_alone_not_the_bar_behind_it(qtbot) -> None:
    """The meters move 10 times a second while audio plays: opaque parts keep Qt from
    repainting the audio bar (and the window) under them each time."""
    from app.ui.audio_bar import AudioBar

    bar = AudioBar()
    shown(qtbot, bar, 640, 30)
    counter = PaintCounter(bar, bar.output_meter, *bar.output_meter.findChildren(QWidget))
    counter.settle()
    for level in (0.2, 0.6, 0.1):
        bar.set_levels(0.0, level)
        QApplication.processEvents()
    assert meter_paints(counter) >= 3
    assert counter.by.get("AudioBar", 0) == 0


def test_the_talk_countdown_repaints_the_button_alone(qtbot) -> None:
    """While talking the button's ring moves 4 times a second: an opaque button keeps Qt
    from repainting the panel behind it each time."""
    import time as clock

    from app.ui.talk_button import TalkButton

    panel = QWidget()
    button = TalkButton(panel)
    QVBoxLayout(panel).addWidget(button)
    shown(qtbot, panel, 300, 300)
    button.set_state(TalkState.TALKING, deadline=clock.monotonic() + 60, max_talk=60)
    counter = PaintCounter(panel, button)
    counter.settle()
    for _ in range(3):
        button.update()  # what the countdown's tick does
        QApplication.processEvents()
    assert counter.by.get("TalkButton", 0) == 3
    assert counter.by.get("QWidget", 0) == 0


def test_reconnect_after_signed_in_elsewhere_rejoins(qloop, server, settings, qapp) -> None:
    """Signed in elsewhere, then Reconnect: the new session is back in what was joined
    (the kick dropped the joined set before saying "kicked", which was remembered as the
    user leaving everything: Reconnect came back to "No interphone selected")."""
    from app.client import InterphoneClient

    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS, what="rejoined")
        elsewhere = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
        await elsewhere.connect()  # "me" signs in elsewhere: this session is kicked
        window = runtime.window
        assert window is not None
        await until(lambda: window.reconnect_button.isVisibleTo(window), what="kicked")
        assert settings.rejoin == OPS  # dropped with the session, not left
        await elsewhere.close()
        window.reconnect_button.click()
        await until(lambda: runtime.client is not None and runtime.client is not client
                    and str(runtime.client.model.joined) == OPS, what="back in Ops")
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_the_replays_and_last_speakers_outlive_a_reconnect(qloop, server, settings,
                                                           qapp) -> None:
    """Signed in elsewhere, then Reconnect: what was heard before (the replay list, with
    its unheard transmissions, and "Last spoke: Alice at …") was gone from the new
    session's window, although it is the same account and it was not listened to yet."""
    import numpy as np

    from app.audio.codec import OpusEncoder

    t = np.arange(960 * 15) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        frames = [encoder.encode(tone[i * 960:(i + 1) * 960]) for i in range(15)]
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS, what="rejoined")
        alice = InterphoneClient("127.0.0.1", server.port, "alice", "x", reconnect=False)
        await alice.connect()
        await alice.join(OPS)
        presenter = runtime.presenter
        assert presenter is not None
        presenter.select("discuss_12")  # looking elsewhere while alice talks in Ops
        assert await alice.talk_start()
        for frame in frames:
            alice.send_audio(frame)
            await asyncio.sleep(0.02)
        await alice.talk_stop()
        await until(lambda: len(presenter.replay_items(OPS)) == 1, what="stored")
        presenter.select(OPS)
        window = runtime.window
        assert window is not None
        await asyncio.sleep(1.2)  # its last packets are in
        item = presenter.replay_items(OPS)[0]
        # as the replay list tells it: when it started, and its length
        last_spoke = f"Last spoke: Alice at {item.at} ({format_length(item.duration)})"
        await until(lambda: window.panel.last_spoke.text() == last_spoke, what="last spoke")
        elsewhere = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
        await elsewhere.connect()  # "me" signs in elsewhere: this session is kicked
        await until(lambda: window.reconnect_button.isVisibleTo(window), what="kicked")
        await elsewhere.close()
        window.reconnect_button.click()
        await until(lambda: runtime.client is not None and runtime.client is not client
                    and str(runtime.client.model.joined) == OPS
                    and runtime.window is not None and runtime.window is not window,
                    what="back in Ops")
        again = runtime.window
        assert again is not None and runtime.presenter is not None
        items = runtime.presenter.replay_items(OPS)
        assert len(items) == 1 and not items[0].heard
        await until(lambda: again.panel.replay.item_texts() != [], what="listed")
        assert again.panel.replay.item_texts()[0].startswith("● Alice")
        assert again.panel.replay.items()[0].at == item.at
        assert again.panel.last_spoke.text() == last_spoke
        await alice.close()
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0


def test_a_global_key_another_program_holds_is_taken_once_it_is_let_go(
        qloop, xvfb_display: str, monkeypatch) -> None:
    """Under Xvfb: F9 held by another program at start was "unavailable" for the rest of
    the run, also after that program let it go (it quit, or took another key). It is
    tried again and taken once free; a key chosen meanwhile is not overridden."""
    import app.ui.global_key as global_key_module
    from app.hotkey import parse_talk_key
    from app.hotkey.x11 import X11TalkKey

    in_x11_session(monkeypatch, xvfb_display)
    monkeypatch.setattr(global_key_module, "TAKEN_RETRY_MS", 100, raising=False)
    other = X11TalkKey(parse_talk_key("F9"), lambda: None, lambda: None,
                       display_name=xvfb_display)
    service = GlobalTalkKeyService()
    statuses: list[str] = []
    service.status_changed.connect(statuses.append)
    try:
        async def scenario() -> None:
            status = await service.apply("F9")
            assert status.startswith("Global talk key unavailable: another program")
            await asyncio.sleep(0.5)  # tried again meanwhile: said once
            assert not service.active and len(statuses) == 1
            other.close()  # the other program lets it go
            await until(lambda: service.active, what="taken once free", timeout=3)
            assert service.status == "Global talk key: F9"
            service.close()
            again = X11TalkKey(parse_talk_key("F10"), lambda: None, lambda: None,
                               display_name=xvfb_display)
            try:
                assert (await service.apply("F10")).startswith("Global talk key unavailable")
                assert await service.apply("") == ""  # turned off meanwhile
                await asyncio.sleep(0.4)
                assert service.status == "" and not service.active
            finally:
                again.close()

        run(qloop, scenario(), timeout=20)
    finally:
        service.close()
        other.close()
