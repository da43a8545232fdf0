"""The global talk key's refusals and unavailability worded in the interface's language
(issue 14): app.hotkey gives them as data, the desktop words them; the Chinese interface
shows Chinese, the English one English (real Qt offscreen, the real compiled .qm, a real
X server for a key another program holds). Also the start-at-login failure."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from test_ui_support import run

from app.hotkey import (
    HotkeyError,
    HotkeyProblem,
    HotkeyRefused,
    HotkeyTaken,
    HotkeyUnavailable,
    parse_talk_key,
)
from app.ui.failure_text import error_text
from app.ui.global_key import GlobalTalkKeyService
from app.ui.global_key_edit import GlobalTalkKeyEdit
from app.ui.hotkey_text import global_key_label, hotkey_text
from app.ui.i18n import LanguageSwitcher
from app.ui.settings_dialog import SettingsDialog

pytest_plugins = ["test_ui_support"]

CJK = re.compile(r"[\u4e00-\u9fff]")
# Names that stay as they are in Chinese: keys as printed on keyboards, variables, libraries.
TECHNICAL = ("WAYLAND_DISPLAY", "DISPLAY", "python-xlib", "pynput", "D-Bus", "Wayland",
             "Scroll Lock", "Caps Lock", "Num Lock", "Mouse4", "Mouse5", "Ctrl", "Pause",
             "Insert", "Menu", "Esc", "F1–F24", "F9", "X")
REFUSED = {HotkeyProblem.NO_KEY, HotkeyProblem.COMBINATION, HotkeyProblem.UNKNOWN_NAME,
           HotkeyProblem.CAPS_LOCK, HotkeyProblem.NUM_LOCK, HotkeyProblem.TYPING_KEY,
           HotkeyProblem.SPACE, HotkeyProblem.ESCAPE, HotkeyProblem.EDITING_KEY,
           HotkeyProblem.LEFT_MOUSE_BUTTON, HotkeyProblem.MIDDLE_MOUSE_BUTTON,
           HotkeyProblem.RIGHT_MOUSE_BUTTON, HotkeyProblem.MOUSE_WHEEL}
LOCKS = {HotkeyProblem.CAPS_LOCK, HotkeyProblem.NUM_LOCK}
TAKEN = {HotkeyProblem.KEY_TAKEN, HotkeyProblem.MOUSE_BUTTON_TAKEN}
ON_A_MOUSE_BUTTON = {HotkeyProblem.MOUSE_BUTTON_TAKEN, HotkeyProblem.NO_SUCH_MOUSE_BUTTON,
                     HotkeyProblem.PORTAL_KEYS_ONLY}
DETAILS = {HotkeyProblem.UNKNOWN_NAME: "RightCtrl, F9, Mouse4",
           HotkeyProblem.NO_XLIB: "No module named 'Xlib'",
           HotkeyProblem.NO_X_DISPLAY: "Can't connect to display \":7\"",
           HotkeyProblem.NO_DBUS_SESSION: "DBUS_SESSION_BUS_ADDRESS unset",
           HotkeyProblem.NO_PORTAL: "org.freedesktop.DBus.Error.ServiceUnknown",
           HotkeyProblem.PORTAL_NO_ANSWER: "BindShortcuts",
           HotkeyProblem.NO_PYNPUT: "no module named pynput"}


def sample(kind: HotkeyProblem) -> HotkeyError:
    """An error of ``kind`` with the values its sentence names."""
    detail = DETAILS.get(kind, "")
    if kind in REFUSED:
        typed = "" if kind is HotkeyProblem.NO_KEY else "Hyper+Qwerty"
        return HotkeyRefused(kind, typed, detail)
    name = "Mouse4" if kind in ON_A_MOUSE_BUTTON else "RightCtrl"
    return (HotkeyTaken if kind in TAKEN else HotkeyUnavailable)(kind, name, detail)


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


def shown_values(error: HotkeyError) -> list[str]:
    """The values a sentence about ``error`` may name, as they are shown now."""
    values = [error.detail, error.key]
    if error.kind not in REFUSED:
        values.insert(0, global_key_label(error.key))  # "Mouse back button" before "Mouse4"
    return [value for value in values if value]


def without(text: str, words: list[str] | tuple[str, ...]) -> str:
    for word in words:
        text = text.replace(word, "")
    return text


@pytest.mark.parametrize("kind", list(HotkeyProblem), ids=str)
def test_each_problem_is_worded_in_chinese_and_in_english(switcher, kind: HotkeyProblem) -> None:
    error = sample(kind)
    english = hotkey_text(error)
    assert english and not CJK.search(english), english
    switcher.apply("zh_CN")
    chinese = hotkey_text(error)
    assert CJK.search(chinese), chinese
    rest = without(without(chinese, shown_values(error)), TECHNICAL)
    assert not re.search("[A-Za-z]", rest), chinese
    typed_shown = kind in REFUSED - LOCKS  # a lock key is named as on the keyboard
    for value in (error.detail, error.key if typed_shown else ""):
        if value:  # the same values are shown in both languages
            assert value in english and value in chinese, (value, english, chinese)
    switcher.apply("en")
    assert hotkey_text(error) == english


@pytest.mark.parametrize("name", ["a", "7", "comma", "KP_5", "Space",
                                  "Escape", "Tab", "Page Up", "Button1", "Mouse2", "Button2",
                                  "RightButton", "MiddleButton", "WheelUp", "Hyper", ""])
def test_the_english_interface_shows_the_refusal_reason_unchanged(name: str) -> None:
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key(name)
    assert hotkey_text(refused.value) == refused.value.reason


@pytest.mark.parametrize(("name", "shown"), [("CapsLock", "Caps Lock"), ("Caps_Lock", "Caps Lock"),
                                             ("caps", "Caps Lock"), ("NumLock", "Num Lock")])
def test_a_refused_lock_key_is_named_as_on_the_keyboard(switcher, name: str, shown: str) -> None:
    """The refusal quoted the internal name ("“CapsLock” cannot be…")."""
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key(name)
    assert hotkey_text(refused.value).startswith(f"“{shown}” cannot be the global talk key: ")
    switcher.apply("zh_CN")
    chinese = {"Caps Lock": "大写锁定键", "Num Lock": "数字锁定键"}[shown]
    assert hotkey_text(refused.value).startswith(f"“{chinese}”不能用作全局讲话键：")


def test_the_mouse_buttons_are_named_for_what_they_are(switcher) -> None:
    """Right and middle button names were once refused as "the left button"."""
    said = {}
    for name in ("RightButton", "MiddleButton", "WheelDown", "LeftClick"):
        with pytest.raises(HotkeyRefused) as refused:
            parse_talk_key(name)
        said[name] = refused.value
    assert "the right button" in said["RightButton"].reason
    assert "the middle button" in said["MiddleButton"].reason
    assert "the wheel" in said["WheelDown"].reason
    switcher.apply("zh_CN")
    assert [hotkey_text(said[name]).split("：")[1][:5] for name in said] == [
        "它是鼠标右", "它是鼠标中", "它是鼠标滚", "它是鼠标左"]


def test_a_refused_key_in_chinese(switcher) -> None:
    switcher.apply("zh_CN")
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key("CapsLock")
    assert hotkey_text(refused.value) == (
        "“大写锁定键”不能用作全局讲话键：它在所有程序中开关大写锁定（Caps Lock），"
        "每按一次都会同时切换大小写")
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key("Ctrl+F9")
    assert hotkey_text(refused.value) == (
        "“Ctrl+F9”是组合键：全局讲话键只能是单独按住的一个键（例如右 Ctrl 或 F9）")


def test_key_labels_follow_the_language(switcher) -> None:
    assert [global_key_label(name) for name in ("RightCtrl", "Mouse4", "ScrollLock", "F9")] == [
        "Right Ctrl", "Mouse back button", "Scroll Lock", "F9"]
    switcher.apply("zh_CN")
    assert [global_key_label(name) for name in ("RightCtrl", "Mouse4", "ScrollLock", "F9")] == [
        "右 Ctrl", "鼠标后退键", "Scroll Lock", "F9"]


# ---- the service's status -----------------------------------------------------------------------


def without_a_graphical_session(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(variable, raising=False)


def test_the_status_is_chinese_and_follows_a_language_switch(
        qloop, switcher, monkeypatch) -> None:
    service = GlobalTalkKeyService()
    shown: list[str] = []
    service.status_changed.connect(shown.append)
    switcher.apply("zh_CN")
    status = run(qloop, service.apply("CapsLock"))
    assert status == shown[-1] == (
        "全局讲话键被拒绝：“大写锁定键”不能用作全局讲话键：它在所有程序中开关大写锁定"
        "（Caps Lock），每按一次都会同时切换大小写")
    switcher.apply("en")  # worded again when read (the tray, the settings dialog)
    assert service.status == ("Global talk key refused: “Caps Lock” cannot be the global "
                              "talk key: it switches Caps Lock on and off in every program, "
                              "so each press would also change Caps Lock")
    without_a_graphical_session(monkeypatch)
    english = run(qloop, service.apply("F9"))
    assert english.startswith("Global talk key unavailable: no graphical session found")
    switcher.apply("zh_CN")
    assert service.status == (
        "全局讲话键不可用：未找到图形会话（DISPLAY 和 WAYLAND_DISPLAY 均未设置）："
        "讲话键仅在实时对讲窗口处于焦点时有效")
    assert run(qloop, service.apply("")) == "" == service.status


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    pytest.importorskip("Xlib", reason="python-xlib is a Linux-only dependency")
    from tests.xvfb_fixtures import run_xvfb

    yield from run_xvfb()


def test_a_key_another_program_holds_is_said_in_chinese(
        qloop, switcher, xvfb_display: str, monkeypatch) -> None:
    """A real grab by another X client: the service says so in Chinese; a free key is
    named by its Chinese label."""
    from Xlib import X
    from Xlib.display import Display

    from tests.xvfb_fixtures import keycode

    monkeypatch.setenv("DISPLAY", xvfb_display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    switcher.apply("zh_CN")
    service = GlobalTalkKeyService()
    other = Display(xvfb_display)
    try:
        other.screen().root.grab_key(keycode(other, "F9"), 0, False,
                                     X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        assert run(qloop, service.apply("F9")) == (
            "全局讲话键不可用：另一个程序已将 F9 键用作全局快捷键：请选择其他讲话键，"
            "或在那个程序中释放它")
        assert not service.active
        assert run(qloop, service.apply("RightCtrl")) == "全局讲话键：右 Ctrl"
        assert service.active
        switcher.apply("en")
        assert service.status == "Global talk key: Right Ctrl"
    finally:
        service.close()
        other.close()


# ---- the settings field -------------------------------------------------------------------------


def test_the_settings_field_refuses_in_chinese_and_rewords_on_a_switch(qtbot, switcher) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    edit: GlobalTalkKeyEdit = dialog.global_key
    refused: list[str] = []
    edit.refused.connect(refused.append)
    switcher.apply("zh_CN")
    assert not edit.offer("a")
    chinese = ("“a”不能用作全局讲话键：它在所有其他程序中用于输入：实时对讲运行期间，"
               "其他程序都将收不到这个键；请选择单独的修饰键（右 Ctrl）、功能键（F1–F24）、"
               "Pause、Scroll Lock、Insert、Menu 或鼠标侧键")
    assert refused == [chinese] and dialog.global_key_problem.text() == chinese
    switcher.apply("en")
    QCoreApplication.processEvents()
    english = refused[-1]
    assert english.startswith("“a” cannot be the global talk key: it types in every other")
    assert dialog.global_key_problem.text() == english
    assert edit.offer("RightCtrl") and edit.field.text() == "Right Ctrl"
    count = len(refused)
    switcher.apply("zh_CN")
    QCoreApplication.processEvents()
    assert edit.field.text() == "右 Ctrl"
    assert len(refused) == count  # a key was taken since: no refusal stands


# ---- start at login -----------------------------------------------------------------------------


def test_file_errors_are_worded_in_chinese(switcher, tmp_path: Path) -> None:
    with pytest.raises(OSError) as missing:
        (tmp_path / "no-such-folder" / "file").read_text()
    denied = PermissionError(13, "Permission denied", "/etc/xdg/autostart/interphone.desktop")
    assert error_text(missing.value) == f"no such file or folder ({missing.value.filename})"
    assert error_text(denied) == "permission denied (/etc/xdg/autostart/interphone.desktop)"
    switcher.apply("zh_CN")
    assert error_text(missing.value) == f"找不到该文件或文件夹（{missing.value.filename}）"
    assert error_text(denied) == "没有权限（/etc/xdg/autostart/interphone.desktop）"
    assert error_text(OSError(28, "No space left on device")) == "磁盘已满"
    assert error_text(ConnectionResetError(104, "reset")) == "连接被重置"  # unchanged


def test_start_at_login_failure_is_shown_in_chinese(qapp, settings, switcher, qtbot,
                                                    monkeypatch, tmp_path: Path) -> None:
    """The autostart folder cannot be created: the window says why, in Chinese."""
    from app.ui.main_window import MainWindow
    from app.ui.runtime import Options, Runtime

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker / "config"))
    if sys.platform in ("win32", "darwin"):
        pytest.skip("the XDG autostart entry is the Linux and BSD one")
    runtime = Runtime(qapp, Options(), settings, switcher)
    window = runtime.window = MainWindow()
    qtbot.addWidget(window)
    try:
        switcher.apply("zh_CN")
        settings.start_at_login = True
        runtime._on_settings_changed(["start_at_login"])
        message = window.statusBar().currentMessage()
        assert message == ("无法更改登录时启动：路径中有一部分不是文件夹"
                           f"（{blocker / 'config' / 'autostart'}）")
    finally:
        window.talk_key.detach()
