"""Which keys and mouse buttons may be the global talk key, by name (pure, no I/O).

A global talk key is taken from every other program while Interphone runs, so only
keys that do not type anything and do not change a lock state are accepted: a modifier
alone (Right Ctrl), a function key, Pause, Scroll Lock, Insert, Menu, Print, or a mouse
side button. Letters, digits, Space and every other printable key, Escape, Tab,
Return, the editing and arrow keys, Caps Lock, Num Lock and the main mouse buttons are
refused with a reason a user can read.

Names are matched without regard to case, spaces, ``-`` and ``_`` (``right ctrl``,
``Right_Ctrl``, ``RCtrl`` and the X keysym ``Control_R`` are one key); ``parse_talk_key``
returns the canonical ``TalkKey`` every back-end maps to its own key codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from app.hotkey.errors import HotkeyProblem, HotkeyRefused

__all__ = [
    "HotkeyRefused", "KeyKind", "TalkKey", "accepted_key_names", "name_from_x11_keysym",
    "parse_talk_key",
]


class KeyKind(Enum):
    KEY = "key"
    MOUSE_BUTTON = "mouse button"


@dataclass(frozen=True)
class TalkKey:
    """A key or mouse button accepted as the global talk key.

    ``name`` is canonical (``RightCtrl``, ``F9``, ``Mouse4``). For keys, ``x11_keysyms``
    are the X keysym names to look for, in order (a layout may lack the first one: Right
    Alt is ``ISO_Level3_Shift`` on layouts with AltGr). ``evdev_keycode`` is the X keycode
    of the key on an evdev/libinput X server (Linux input code + 8), used when the layout
    gives the key no keysym: F13–F24 are XF86Tools, XF86Launch5… or nothing in the usual
    layouts. For mouse buttons, ``button`` is the X button number (8 = back side button,
    9 = forward side button).
    """

    name: str
    kind: KeyKind
    x11_keysyms: tuple[str, ...] = ()
    button: int = 0
    is_modifier: bool = False
    evdev_keycode: int = 0


def _key(name: str, *keysyms: str, modifier: bool = False, evdev_keycode: int = 0) -> TalkKey:
    return TalkKey(name, KeyKind.KEY, keysyms or (name,), is_modifier=modifier,
                   evdev_keycode=evdev_keycode)


_LINUX_KEY_F13 = 183  # linux/input-event-codes.h; F13…F24 are consecutive
_X_EVDEV_KEYCODE_OFFSET = 8


_MODIFIERS = (
    _key("LeftCtrl", "Control_L", modifier=True),
    _key("RightCtrl", "Control_R", modifier=True),
    _key("LeftAlt", "Alt_L", modifier=True),
    _key("RightAlt", "Alt_R", "ISO_Level3_Shift", modifier=True),
    _key("LeftShift", "Shift_L", modifier=True),
    _key("RightShift", "Shift_R", modifier=True),
    _key("LeftSuper", "Super_L", modifier=True),
    _key("RightSuper", "Super_R", modifier=True),
)
_OTHER_KEYS = (
    *(_key(f"F{number}") for number in range(1, 13)),
    *(_key(f"F{number}", evdev_keycode=_LINUX_KEY_F13 + number - 13 + _X_EVDEV_KEYCODE_OFFSET)
      for number in range(13, 25)),
    _key("Pause"),
    _key("ScrollLock", "Scroll_Lock"),
    _key("Insert"),
    _key("Menu"),
    _key("Print"),
)
_MOUSE_BUTTONS = tuple(
    TalkKey(f"Mouse{number - 4}" if number <= 9 else f"Button{number}",
            KeyKind.MOUSE_BUTTON, button=number)
    for number in range(8, 33)
)

_CANONICAL: dict[str, TalkKey] = {}


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


for _talk_key in (*_MODIFIERS, *_OTHER_KEYS, *_MOUSE_BUTTONS):
    _CANONICAL[_normalise(_talk_key.name)] = _talk_key
    for _keysym in _talk_key.x11_keysyms:
        _CANONICAL.setdefault(_normalise(_keysym), _talk_key)

_ALIASES = {
    # Modifiers, as people and other programs write them.
    "rctrl": "RightCtrl", "rightcontrol": "RightCtrl", "ctrlr": "RightCtrl",
    "lctrl": "LeftCtrl", "leftcontrol": "LeftCtrl", "ctrll": "LeftCtrl",
    "ralt": "RightAlt", "altgr": "RightAlt", "altr": "RightAlt",
    "lalt": "LeftAlt", "altl": "LeftAlt",
    "rshift": "RightShift", "shiftr": "RightShift", "lshift": "LeftShift", "shiftl": "LeftShift",
    "super": "LeftSuper", "lsuper": "LeftSuper", "rsuper": "RightSuper",
    "win": "LeftSuper", "lwin": "LeftSuper", "leftwin": "LeftSuper", "leftwindows": "LeftSuper",
    "rwin": "RightSuper", "rightwin": "RightSuper", "rightwindows": "RightSuper",
    "meta": "LeftSuper", "cmd": "LeftSuper", "leftcmd": "LeftSuper", "rightcmd": "RightSuper",
    "command": "LeftSuper", "leftcommand": "LeftSuper", "rightcommand": "RightSuper",
    # Other keys.
    "break": "Pause", "scroll": "ScrollLock", "scrlk": "ScrollLock", "ins": "Insert",
    "application": "Menu", "apps": "Menu", "contextmenu": "Menu",
    "printscreen": "Print", "prtsc": "Print", "prtscr": "Print", "sysrq": "Print",
    # Mouse side buttons (X numbers 8 and 9; Windows calls them X buttons).
    "xbutton1": "Mouse4", "xbutton2": "Mouse5", "mouseback": "Mouse4", "mouseforward": "Mouse5",
}
for _alias, _target in _ALIASES.items():
    _CANONICAL[_alias] = _CANONICAL[_normalise(_target)]
for _button in _MOUSE_BUTTONS:
    _CANONICAL[f"button{_button.button}"] = _button

_REFUSED: dict[str, HotkeyProblem] = {
    "capslock": HotkeyProblem.CAPS_LOCK, "caps": HotkeyProblem.CAPS_LOCK,
    "numlock": HotkeyProblem.NUM_LOCK, "num": HotkeyProblem.NUM_LOCK,
    "escape": HotkeyProblem.ESCAPE, "esc": HotkeyProblem.ESCAPE,
    "space": HotkeyProblem.SPACE, "spacebar": HotkeyProblem.SPACE,
}
for _printable in ("comma", "period", "minus", "plus", "equal", "slash", "backslash", "semicolon",
                   "apostrophe", "grave", "bracketleft", "bracketright", "asterisk", "less"):
    _REFUSED[_printable] = HotkeyProblem.TYPING_KEY
for _editing in ("tab", "return", "enter", "kpenter", "backspace", "delete", "del", "home",
                 "end", "pageup", "pagedown", "pgup", "pgdn", "prior", "next",
                 "up", "down", "left", "right", "uparrow", "downarrow", "leftarrow", "rightarrow"):
    _REFUSED[_editing] = HotkeyProblem.EDITING_KEY
_LEFT, _MIDDLE, _RIGHT, _WHEEL = (
    HotkeyProblem.LEFT_MOUSE_BUTTON, HotkeyProblem.MIDDLE_MOUSE_BUTTON,
    HotkeyProblem.RIGHT_MOUSE_BUTTON, HotkeyProblem.MOUSE_WHEEL)
_REFUSED.update({
    # X button numbers, then the numbering of people and other programs (1 left, 2 right).
    "button1": _LEFT, "button2": _MIDDLE, "button3": _RIGHT,
    "button4": _WHEEL, "button5": _WHEEL, "button6": _WHEEL, "button7": _WHEEL,
    "mouse1": _LEFT, "mouse2": _RIGHT, "mouse3": _MIDDLE,
    "leftbutton": _LEFT, "leftclick": _LEFT, "middlebutton": _MIDDLE, "middleclick": _MIDDLE,
    "rightbutton": _RIGHT, "rightclick": _RIGHT, "wheelup": _WHEEL, "wheeldown": _WHEEL,
})


def parse_talk_key(name: str) -> TalkKey:
    """The talk key called ``name``; raises ``HotkeyRefused`` with the reason otherwise."""
    text = name.strip()
    if not text:
        raise HotkeyRefused(HotkeyProblem.NO_KEY)
    if "+" in text.strip("+") or text.count("+") > 1:
        raise HotkeyRefused(HotkeyProblem.COMBINATION, text)
    key = _normalise(text)
    if key in _CANONICAL:
        return _CANONICAL[key]
    if key in _REFUSED:
        raise HotkeyRefused(_REFUSED[key], text)
    if len(text) == 1 or re.fullmatch(r"(kp)?[a-z0-9]", key) or key.startswith("kp"):
        raise HotkeyRefused(HotkeyProblem.TYPING_KEY, text)
    raise HotkeyRefused(HotkeyProblem.UNKNOWN_NAME, text, ", ".join(
        [*accepted_key_names(mouse_buttons=False), "Mouse4", "Mouse5"]))


def accepted_key_names(*, mouse_buttons: bool = True) -> list[str]:
    """Canonical names of every accepted key (for a settings list or a help text)."""
    keys = [*_MODIFIERS, *_OTHER_KEYS, *(_MOUSE_BUTTONS if mouse_buttons else ())]
    return [key.name for key in keys]


# X keysym values (X11/keysymdef.h) of the accepted keys. Qt reports them as
# QKeyEvent.nativeVirtualKey() on X11 and Wayland, where Qt.Key alone cannot tell Right Ctrl
# from Left Ctrl.
_X11_KEYSYM_VALUES = {
    0xFFE3: "LeftCtrl", 0xFFE4: "RightCtrl", 0xFFE1: "LeftShift", 0xFFE2: "RightShift",
    0xFFE9: "LeftAlt", 0xFFEA: "RightAlt", 0xFE03: "RightAlt", 0xFFEB: "LeftSuper",
    0xFFEC: "RightSuper", 0xFF13: "Pause", 0xFF14: "ScrollLock", 0xFF63: "Insert",
    0xFF67: "Menu", 0xFF61: "Print",
    **{0xFFBE + number - 1: f"F{number}" for number in range(1, 25)},
}


def name_from_x11_keysym(keysym: int) -> str | None:
    """The canonical talk key name of an X keysym value (``0xFFE4`` → ``RightCtrl``), or None
    when that key cannot be the global talk key (``parse_talk_key`` then says why)."""
    return _X11_KEYSYM_VALUES.get(keysym)
