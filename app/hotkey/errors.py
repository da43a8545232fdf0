"""Why a global talk key cannot be had, as data: a :class:`HotkeyProblem` and its values.

Each error's ``reason`` is the one English sentence (logs, the command line); an interface
in another language words ``kind``, ``key`` and ``detail`` itself
(``app/ui/hotkey_text.py``) instead of showing it. Words from elsewhere (an import
error, a D-Bus error name, the X library's message) are kept as they are, in ``detail``.
"""

from __future__ import annotations

import enum

__all__ = [
    "NO_GLOBAL_SHORTCUTS", "HotkeyError", "HotkeyProblem", "HotkeyRefused", "HotkeyTaken",
    "HotkeyUnavailable", "english_reason",
]


class HotkeyProblem(enum.StrEnum):
    """What is wrong; the comment says what ``key`` and ``detail`` hold."""

    # Refused (HotkeyRefused): ``key`` is the name as it was given.
    NO_KEY = "no_key"
    COMBINATION = "combination"
    UNKNOWN_NAME = "unknown_name"  # detail: the accepted names, comma-separated
    CAPS_LOCK = "caps_lock"
    NUM_LOCK = "num_lock"
    TYPING_KEY = "typing_key"  # a letter, digit or other printable key
    SPACE = "space"
    ESCAPE = "escape"
    EDITING_KEY = "editing_key"  # Tab, Return, Backspace, Delete, Home, arrows...
    LEFT_MOUSE_BUTTON = "left_mouse_button"
    MIDDLE_MOUSE_BUTTON = "middle_mouse_button"
    RIGHT_MOUSE_BUTTON = "right_mouse_button"
    MOUSE_WHEEL = "mouse_wheel"
    # Unavailable (HotkeyUnavailable): ``key`` is the canonical name (RightCtrl, Mouse4).
    NO_GRAPHICAL_SESSION = "no_graphical_session"
    NO_XLIB = "no_xlib"  # detail: the import error
    NO_X_DISPLAY = "no_x_display"  # detail: the X library's words
    NOT_IN_LAYOUT = "not_in_layout"  # the keyboard layout has no such key
    NO_DBUS_SESSION = "no_dbus_session"  # detail: why the bus could not be opened
    NO_PORTAL = "no_portal"  # detail: the D-Bus error name
    PORTAL_NO_ANSWER = "portal_no_answer"  # detail: the unanswered call ("" = the first)
    PORTAL_KEYS_ONLY = "portal_keys_only"  # a mouse button on Wayland
    NOT_BOUND = "not_bound"  # the desktop did not bind the shortcut
    BIND_CANCELLED = "bind_cancelled"  # ... because the user cancelled
    NO_PYNPUT = "no_pynput"  # detail: why pynput cannot load
    NO_SUCH_KEY = "no_such_key"  # this system (pynput) has no such key
    NO_SUCH_MOUSE_BUTTON = "no_such_mouse_button"
    # Taken (HotkeyTaken): another program holds ``key``.
    KEY_TAKEN = "key_taken"
    MOUSE_BUTTON_TAKEN = "mouse_button_taken"


NO_GLOBAL_SHORTCUTS = (
    "this desktop does not offer global shortcuts: the talk key works only while "
    "Interphone has focus")
_WITH_FOCUS_ONLY = "the talk key works only while Interphone has focus"
_TYPING = (
    "it types in every other program: while Interphone runs, no other program would "
    "receive it; choose a modifier alone (Right Ctrl), a function key (F1–F24), Pause, "
    "Scroll Lock, Insert, Menu or a mouse side button")
_LOCK = "it switches {what} on and off in every program, so each press would also change {what}"
_MAIN_MOUSE_BUTTON = ("it is {what} of the mouse, which every program needs; choose a side "
                      "button (Mouse4, Mouse5)")
_REFUSAL_REASONS = {
    HotkeyProblem.CAPS_LOCK: _LOCK.format(what="Caps Lock"),
    HotkeyProblem.NUM_LOCK: _LOCK.format(what="Num Lock"),
    HotkeyProblem.TYPING_KEY: _TYPING,
    HotkeyProblem.SPACE: _TYPING + " (Space stays the talk key inside the Interphone window)",
    HotkeyProblem.ESCAPE: "Escape closes dialogs and cancels actions in every other program",
    HotkeyProblem.EDITING_KEY: (
        "it edits text or moves through it in every other program, which would stop working"),
    HotkeyProblem.LEFT_MOUSE_BUTTON: _MAIN_MOUSE_BUTTON.format(what="the left button"),
    HotkeyProblem.MIDDLE_MOUSE_BUTTON: _MAIN_MOUSE_BUTTON.format(what="the middle button"),
    HotkeyProblem.RIGHT_MOUSE_BUTTON: _MAIN_MOUSE_BUTTON.format(what="the right button"),
    HotkeyProblem.MOUSE_WHEEL: _MAIN_MOUSE_BUTTON.format(what="the wheel"),
}


def english_reason(kind: HotkeyProblem, key: str = "", detail: str = "") -> str:
    """The one English sentence for the problem (``HotkeyError.reason``)."""
    if kind in _REFUSAL_REASONS:
        return f"“{key}” cannot be the global talk key: {_REFUSAL_REASONS[kind]}"
    no_shortcuts = {
        HotkeyProblem.NO_XLIB: f"python-xlib: {detail}",
        HotkeyProblem.NO_DBUS_SESSION: f"no D-Bus session: {detail}",
        HotkeyProblem.NO_PORTAL: detail,
        HotkeyProblem.PORTAL_NO_ANSWER: (f"no answer to {detail}" if detail
                                         else "the portal did not answer"),
    }
    if kind in no_shortcuts:
        return f"{NO_GLOBAL_SHORTCUTS} ({no_shortcuts[kind]})"
    return {
        HotkeyProblem.NO_KEY: "no key given",
        HotkeyProblem.COMBINATION: (
            f"“{key}” is a combination: the global talk key is one key held alone "
            "(for example RightCtrl or F9)"),
        HotkeyProblem.UNKNOWN_NAME: (
            f"“{key}” is not a key name Interphone knows; use one of: {detail}"),
        HotkeyProblem.NO_GRAPHICAL_SESSION: (
            "no graphical session found (neither DISPLAY nor WAYLAND_DISPLAY is set): "
            + _WITH_FOCUS_ONLY),
        HotkeyProblem.NO_X_DISPLAY: f"no X display to take the global talk key from ({detail})",
        HotkeyProblem.NOT_IN_LAYOUT: f"this keyboard layout has no {key} key",
        HotkeyProblem.PORTAL_KEYS_ONLY: (
            "on Wayland the desktop lends keyboard shortcuts only: choose a key "
            "(RightCtrl, F9…) as the global talk key"),
        HotkeyProblem.NOT_BOUND: (
            f"the desktop did not bind the global talk key: {_WITH_FOCUS_ONLY}"),
        HotkeyProblem.BIND_CANCELLED: (
            f"the desktop did not bind the global talk key (cancelled): {_WITH_FOCUS_ONLY}"),
        HotkeyProblem.NO_PYNPUT: (
            f"global keys need pynput, which cannot load here ({detail}): {_WITH_FOCUS_ONLY}"),
        HotkeyProblem.NO_SUCH_KEY: f"this system has no {key} key",
        HotkeyProblem.NO_SUCH_MOUSE_BUTTON: f"this system has no mouse button {key}",
        HotkeyProblem.KEY_TAKEN: (
            f"another program already uses the key {key} as a global shortcut: choose another "
            "talk key, or free it in that program"),
        HotkeyProblem.MOUSE_BUTTON_TAKEN: (
            f"another program already uses the mouse button {key} as a global shortcut: "
            "choose another talk key, or free it in that program"),
    }[kind]


class HotkeyError(Exception):
    """Base of the global talk key errors: ``kind``, ``key`` and ``detail`` say what is
    wrong; ``reason`` is its English sentence (``str(error)`` too)."""

    def __init__(self, kind: HotkeyProblem, key: str = "", detail: str = "") -> None:
        self.kind = kind
        self.key = key
        self.detail = detail
        self.reason = english_reason(kind, key, detail)
        super().__init__(self.reason)


class HotkeyRefused(HotkeyError, ValueError):
    """The key may not be taken globally (Caps Lock, a letter, Escape…), whatever the platform."""


class HotkeyUnavailable(HotkeyError):
    """This session cannot offer a global key (no X display, no portal, no library…).

    The talk key still works while the Interphone window has focus.
    """


class HotkeyTaken(HotkeyUnavailable):
    """Another program already holds this key (or button) globally; choose another one."""
