"""Which keys may be the global talk key: the pure rules of app/hotkey/keys.py."""

from __future__ import annotations

import pytest

from app.hotkey import (
    HotkeyRefused,
    KeyKind,
    accepted_key_names,
    name_from_x11_keysym,
    parse_talk_key,
)


@pytest.mark.parametrize(("name", "canonical", "keysym"), [
    ("RightCtrl", "RightCtrl", "Control_R"),
    ("right ctrl", "RightCtrl", "Control_R"),
    ("Right_Control", "RightCtrl", "Control_R"),
    ("RCtrl", "RightCtrl", "Control_R"),
    ("Control_R", "RightCtrl", "Control_R"),
    ("LeftCtrl", "LeftCtrl", "Control_L"),
    ("RightAlt", "RightAlt", "Alt_R"),
    ("AltGr", "RightAlt", "Alt_R"),
    ("ISO_Level3_Shift", "RightAlt", "Alt_R"),
    ("left alt", "LeftAlt", "Alt_L"),
    ("RightShift", "RightShift", "Shift_R"),
    ("Super", "LeftSuper", "Super_L"),
    ("RightSuper", "RightSuper", "Super_R"),
    ("Win", "LeftSuper", "Super_L"),
    ("f1", "F1", "F1"),
    ("F12", "F12", "F12"),
    ("F24", "F24", "F24"),
    ("Pause", "Pause", "Pause"),
    ("Break", "Pause", "Pause"),
    ("Scroll Lock", "ScrollLock", "Scroll_Lock"),
    ("Insert", "Insert", "Insert"),
    ("Menu", "Menu", "Menu"),
    ("PrintScreen", "Print", "Print"),
])
def test_accepted_keys(name: str, canonical: str, keysym: str) -> None:
    key = parse_talk_key(name)
    assert key.kind is KeyKind.KEY
    assert key.name == canonical
    assert key.x11_keysyms[0] == keysym


@pytest.mark.parametrize(("name", "canonical", "button"), [
    ("Mouse4", "Mouse4", 8),
    ("Mouse5", "Mouse5", 9),
    ("mouse 4", "Mouse4", 8),
    ("Button8", "Mouse4", 8),
    ("button9", "Mouse5", 9),
    ("XButton1", "Mouse4", 8),
    ("XButton2", "Mouse5", 9),
    ("Button12", "Button12", 12),
])
def test_accepted_mouse_buttons(name: str, canonical: str, button: int) -> None:
    key = parse_talk_key(name)
    assert key.kind is KeyKind.MOUSE_BUTTON
    assert (key.name, key.button) == (canonical, button)


def test_modifiers_are_marked_and_f13_up_carry_their_evdev_keycode() -> None:
    assert parse_talk_key("RightCtrl").is_modifier
    assert not parse_talk_key("F9").is_modifier
    assert parse_talk_key("F13").evdev_keycode == 191
    assert parse_talk_key("F24").evdev_keycode == 202
    assert parse_talk_key("F12").evdev_keycode == 0


@pytest.mark.parametrize(("name", "reason_part"), [
    ("CapsLock", "switches Caps Lock"),
    ("Caps_Lock", "switches Caps Lock"),
    ("caps lock", "switches Caps Lock"),
    ("NumLock", "switches Num Lock"),
    ("Num_Lock", "switches Num Lock"),
    ("a", "types in every other program"),
    ("Z", "types in every other program"),
    ("7", "types in every other program"),
    ("ö", "types in every other program"),
    ("-", "types in every other program"),
    ("comma", "types in every other program"),
    ("KP_5", "types in every other program"),
    ("Space", "Space stays the talk key inside the Interphone window"),
    ("Escape", "closes dialogs"),
    ("Esc", "closes dialogs"),
    ("Tab", "edits text or moves through it"),
    ("Return", "edits text or moves through it"),
    ("BackSpace", "edits text or moves through it"),
    ("Left", "edits text or moves through it"),
    ("Page Up", "edits text or moves through it"),
    ("Button1", "left button of the mouse"),
    ("Mouse1", "left button of the mouse"),
    ("Mouse2", "right button of the mouse"),
    ("Button4", "wheel"),
    ("Ctrl+F9", "is a combination"),
    ("RightCtrl+A", "is a combination"),
    ("F25", "not a key name Interphone knows"),
    ("Hyper", "not a key name Interphone knows"),
    ("", "no key given"),
    ("   ", "no key given"),
])
def test_refused_keys_say_why(name: str, reason_part: str) -> None:
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key(name)
    assert reason_part in refused.value.reason
    assert str(refused.value) == refused.value.reason


def test_an_unknown_name_lists_the_accepted_ones() -> None:
    with pytest.raises(HotkeyRefused) as refused:
        parse_talk_key("Hyper")
    for name in ("RightCtrl", "F9", "Pause", "Mouse4"):
        assert name in refused.value.reason


def test_every_accepted_name_parses_to_itself() -> None:
    names = accepted_key_names()
    assert len(names) == len(set(names))
    assert {"RightCtrl", "F1", "F24", "ScrollLock", "Mouse4", "Mouse5"} <= set(names)
    for name in names:
        assert parse_talk_key(name).name == name
    assert "Mouse4" not in accepted_key_names(mouse_buttons=False)


def test_x11_keysym_values_name_the_same_keys_as_their_keysym_names() -> None:
    xk = pytest.importorskip("Xlib.XK", reason="python-xlib is a Linux-only dependency")
    xk.load_keysym_group("xkb")
    for name in accepted_key_names(mouse_buttons=False):
        for keysym_name in parse_talk_key(name).x11_keysyms:
            assert name_from_x11_keysym(xk.string_to_keysym(keysym_name)) == name, keysym_name
    assert name_from_x11_keysym(xk.string_to_keysym("Caps_Lock")) is None
    assert name_from_x11_keysym(xk.string_to_keysym("space")) is None
    assert name_from_x11_keysym(ord("a")) is None
