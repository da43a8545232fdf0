"""The X11 global talk key, for real: a passive grab on an Xvfb server while another
X client's window has the input focus, driven by XTEST (python-xlib) and by xdotool."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("Xlib", reason="python-xlib is a Linux-only dependency")

from Xlib import XK, X
from Xlib.display import Display

from app.hotkey import HotkeyTaken, HotkeyUnavailable, open_global_talk_key, parse_talk_key
from app.hotkey.x11 import X11TalkKey
from tests.xvfb_fixtures import FocusedWindow, SyntheticInput, keycode, run_xvfb

EVENT_WAIT_SECONDS = 20.0  # a generous bound for a loaded machine, not a speed target
HOLD_SECONDS = 1.0  # longer than the X server's auto-repeat delay (660 ms by default)


xvfb_display = pytest.fixture(scope="module")(run_xvfb)


class Recorder:
    """Collects the callbacks (and the thread each ran on) in order."""

    def __init__(self) -> None:
        self.events: queue.Queue[str] = queue.Queue()
        self.threads: set[str] = set()

    def on_press(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.put("press")

    def on_release(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.put("release")

    def until_release(self) -> list[str]:
        seen: list[str] = []
        while not seen or seen[-1] != "release":
            seen.append(self.events.get(timeout=EVENT_WAIT_SECONDS))
        return seen


@pytest.fixture
def focused_window(xvfb_display: str) -> Iterator[FocusedWindow]:
    window = FocusedWindow(xvfb_display)
    yield window
    window.close()


@pytest.fixture
def synthetic(xvfb_display: str) -> Iterator[SyntheticInput]:
    device = SyntheticInput(xvfb_display)
    yield device
    device.close()


def keycode_or_zero(display: Display, keysym_name: str) -> int:
    return int(display.keysym_to_keycode(XK.string_to_keysym(keysym_name)))


def _open(name: str, display: str, recorder: Recorder, **options: bool) -> X11TalkKey:
    return X11TalkKey(parse_talk_key(name), recorder.on_press, recorder.on_release,
                      display_name=display, **options)


@pytest.mark.parametrize(("name", "keysym"), [("F9", "F9"), ("RightCtrl", "Control_R"),
                                              ("Pause", "Pause")])
def test_a_key_pressed_in_another_program_gives_one_press_and_one_release(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput,
        name: str, keysym: str) -> None:
    recorder = Recorder()
    with _open(name, xvfb_display, recorder):
        assert focused_window.has_focus()
        synthetic.tap(keysym)
        assert recorder.until_release() == ["press", "release"]
        # The grab took the key: the focused program never saw it...
        assert focused_window.received_before_sentinel(synthetic) == []
    # ...and after close() it does again.
    synthetic.tap(keysym)
    code = keycode(focused_window.display, keysym)
    assert focused_window.received_before_sentinel(synthetic) == [
        (X.KeyPress, code), (X.KeyRelease, code)]
    assert recorder.events.empty()
    assert recorder.threads == {f"talk-key-x11-{name}"}


def test_f13_to_f24_work_by_keycode_where_the_layout_names_them_otherwise(
        xvfb_display: str, synthetic: SyntheticInput) -> None:
    assert not keycode_or_zero(synthetic.display, "F13"), "this layout has F13: nothing to show"
    recorder = Recorder()
    with _open("F13", xvfb_display, recorder):
        synthetic.tap_keycode(191)  # KEY_F13 (183) + 8 on an evdev X server
        assert recorder.until_release() == ["press", "release"]


def test_mouse_side_button_in_another_program_gives_one_press_and_one_release(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput,
) -> None:
    recorder = Recorder()
    with _open("Mouse4", xvfb_display, recorder):
        synthetic.button(8, down=True)
        synthetic.button(8, down=False)
        assert recorder.until_release() == ["press", "release"]
        synthetic.button(9, down=True)  # another side button is not the talk key
        synthetic.button(9, down=False)
        assert recorder.events.empty()


@pytest.mark.parametrize("detectable_auto_repeat", [True, False], ids=["xkb", "time-filter"])
def test_a_held_key_with_auto_repeat_gives_one_press(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput,
        detectable_auto_repeat: bool) -> None:
    # The server does auto-repeat held keys: the focused window gets several presses of F10.
    synthetic.key("F10", down=True)
    time.sleep(HOLD_SECONDS)
    synthetic.key("F10", down=False)
    presses = [event for event in focused_window.received_before_sentinel(synthetic)
               if event[0] == X.KeyPress]
    assert len(presses) > 1, "no auto-repeat on this server: the test would prove nothing"

    recorder = Recorder()
    with _open("F9", xvfb_display, recorder,
               detectable_auto_repeat=detectable_auto_repeat) as talk_key:
        assert talk_key.detectable_auto_repeat is detectable_auto_repeat
        synthetic.key("F9", down=True)
        assert recorder.events.get(timeout=EVENT_WAIT_SECONDS) == "press"
        time.sleep(HOLD_SECONDS)  # the server auto-repeats meanwhile (shown above)
        assert recorder.events.empty(), "auto-repeat reached the callbacks"
        assert talk_key.held
        synthetic.key("F9", down=False)
        assert recorder.until_release() == ["release"]


def test_the_key_works_whatever_locks_are_on(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput,
) -> None:
    recorder = Recorder()
    synthetic.tap("Num_Lock")
    synthetic.tap("Caps_Lock")
    try:
        state = Display(xvfb_display)
        try:
            pointer_state = state.screen().root.query_pointer().mask
        finally:
            state.close()
        assert pointer_state & X.LockMask, "Caps Lock did not turn on"
        with _open("F9", xvfb_display, recorder):
            synthetic.tap("F9")
            assert recorder.until_release() == ["press", "release"]
    finally:
        synthetic.tap("Num_Lock")
        synthetic.tap("Caps_Lock")


@pytest.mark.parametrize(("name", "held", "press"), [
    ("F9", "Shift_L", "F9"),
    ("RightCtrl", "Control_L", "Control_R"),  # as xdotool presses Right Ctrl
    ("Mouse4", "Alt_L", ""),
    ("F9", "Super_L", "F9"),
])
def test_the_key_talks_with_another_modifier_held(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput,
        name: str, held: str, press: str) -> None:
    """A talk key pressed while Shift (a game's run), Ctrl, Alt or Super was down in the
    focused program did nothing: the grab was for the key with the lock modifiers only.
    (xdotool's "keydown Control_R" holds Control_L first: it never talked either.)"""
    recorder = Recorder()
    with _open(name, xvfb_display, recorder):
        synthetic.key(held, down=True)
        if press:
            synthetic.key(press, down=True)
            synthetic.key(press, down=False)
        else:
            synthetic.button(8, down=True)
            synthetic.button(8, down=False)
        synthetic.key(held, down=False)
        assert recorder.until_release() == ["press", "release"]
    assert focused_window.has_focus()


def test_a_shortcut_another_client_holds_with_a_modifier_stays_its_own(
        xvfb_display: str, focused_window: FocusedWindow, synthetic: SyntheticInput) -> None:
    """Another program's Ctrl+F9 shortcut: F9 is still taken as the talk key (with the
    other modifiers), and Ctrl+F9 still reaches that program."""
    other = Display(xvfb_display)
    try:
        f9 = keycode(other, "F9")
        other.screen().root.grab_key(f9, X.ControlMask, False, X.GrabModeAsync,
                                     X.GrabModeAsync)
        other.sync()
        recorder = Recorder()
        with _open("F9", xvfb_display, recorder):
            synthetic.tap("F9")
            assert recorder.until_release() == ["press", "release"]
            synthetic.key("Control_L", down=True)
            synthetic.tap("F9")
            synthetic.key("Control_L", down=False)
            deadline = time.monotonic() + 5
            seen: list[int] = []
            while X.KeyPress not in seen and time.monotonic() < deadline:
                while other.pending_events():
                    seen.append(other.next_event().type)
                time.sleep(0.02)
            assert X.KeyPress in seen  # the shortcut's owner had it
            assert recorder.events.empty()
    finally:
        other.close()


def test_a_key_another_client_grabbed_gives_a_clear_error(
        xvfb_display: str, synthetic: SyntheticInput) -> None:
    other = Display(xvfb_display)
    try:
        other.screen().root.grab_key(keycode(other, "F9"), 0, False,
                                     X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        with pytest.raises(HotkeyTaken, match="another program already uses the key F9"):
            _open("F9", xvfb_display, Recorder())
    finally:
        other.close()
    # The other client is gone, and with it its grab.
    _open("F9", xvfb_display, Recorder()).close()


def test_a_second_grabber_is_refused_until_the_first_closes(xvfb_display: str) -> None:
    for name in ("F9", "Mouse5"):
        first = _open(name, xvfb_display, Recorder())
        with pytest.raises(HotkeyTaken, match=name):
            _open(name, xvfb_display, Recorder())
        first.close()
        _open(name, xvfb_display, Recorder()).close()


def test_close_releases_a_held_key_and_leaks_no_thread_or_descriptor(
        xvfb_display: str, synthetic: SyntheticInput) -> None:
    descriptors_before = len(os.listdir("/proc/self/fd"))
    recorder = Recorder()
    talk_key = _open("F9", xvfb_display, recorder)
    synthetic.key("F9", down=True)
    assert recorder.events.get(timeout=EVENT_WAIT_SECONDS) == "press"
    talk_key.close()
    talk_key.close()  # idempotent
    assert recorder.events.get_nowait() == "release"  # close() returned after the release
    synthetic.key("F9", down=False)
    assert not any(thread.name.startswith("talk-key-x11") for thread in threading.enumerate())
    assert len(os.listdir("/proc/self/fd")) == descriptors_before


def test_close_from_a_callback_does_not_deadlock(
        xvfb_display: str, synthetic: SyntheticInput) -> None:
    recorder = Recorder()
    holder: list[X11TalkKey] = []

    def press_then_close() -> None:
        recorder.on_press()
        holder[0].close()

    holder.append(X11TalkKey(parse_talk_key("F9"), press_then_close, recorder.on_release,
                             display_name=xvfb_display))
    synthetic.key("F9", down=True)
    assert recorder.until_release() == ["press", "release"]
    synthetic.key("F9", down=False)
    _open("F9", xvfb_display, Recorder()).close()  # the grab is gone


def test_no_reachable_display_is_unavailable() -> None:
    with pytest.raises(HotkeyUnavailable, match="no X display"):
        X11TalkKey(parse_talk_key("F9"), lambda: None, lambda: None,
                   display_name="/nonexistent/socket:0")


@pytest.mark.skipif(shutil.which("xdotool") is None,
                    reason="xdotool is not installed (Debian package xdotool; "
                           "bash scripts/dev.sh setup)")
def test_xdotool_key_and_side_button_reach_the_grab(
        xvfb_display: str, focused_window: FocusedWindow) -> None:
    environment = {**os.environ, "DISPLAY": xvfb_display}
    for name, command in (("F9", ["key", "F9"]), ("Mouse4", ["click", "8"])):
        recorder = Recorder()
        with _open(name, xvfb_display, recorder):
            subprocess.run(["xdotool", *command], env=environment, check=True, timeout=30)
            assert recorder.until_release() == ["press", "release"]
    assert focused_window.has_focus()


def test_open_global_talk_key_uses_the_x11_grab_when_the_session_is_x11(
        xvfb_display: str, synthetic: SyntheticInput, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    recorder = Recorder()
    talk_key = open_global_talk_key("rctrl", recorder.on_press, recorder.on_release)
    try:
        assert isinstance(talk_key, X11TalkKey)
        assert talk_key.key.name == "RightCtrl"
        synthetic.tap("Control_R")
        assert recorder.until_release() == ["press", "release"]
    finally:
        talk_key.close()


def test_a_held_key_is_released_when_the_x_server_goes_away() -> None:
    server = run_xvfb()
    display = next(server)
    synthetic = SyntheticInput(display)
    recorder = Recorder()
    talk_key = _open("F9", display, recorder)
    try:
        synthetic.key("F9", down=True)
        assert recorder.events.get(timeout=EVENT_WAIT_SECONDS) == "press"
    finally:
        server.close()  # stops this Xvfb
        with contextlib.suppress(Exception):  # its connection died with the server
            synthetic.display.close()
    assert recorder.events.get(timeout=EVENT_WAIT_SECONDS) == "release"
    talk_key.close()  # still fine, and joins the reader that stopped on its own
    assert not talk_key.held
    assert not any(thread.name.startswith("talk-key-x11") for thread in threading.enumerate())


def test_right_alt_is_found_as_iso_level3_shift_on_layouts_with_altgr(
        xvfb_display: str, synthetic: SyntheticInput) -> None:
    layout = synthetic.display
    right_alt = keycode(layout, "Alt_R")
    original = [list(layout.get_keyboard_mapping(right_alt, 1)[0])]
    level3 = XK.string_to_keysym("ISO_Level3_Shift")
    assert level3, "python-xlib's xkb keysym group is not loaded"
    layout.change_keyboard_mapping(right_alt, [[level3] * len(original[0])])
    layout.sync()
    try:
        recorder = Recorder()
        with _open("RightAlt", xvfb_display, recorder):
            synthetic.tap_keycode(right_alt)
            assert recorder.until_release() == ["press", "release"]
    finally:
        layout.change_keyboard_mapping(right_alt, original)
        layout.sync()
