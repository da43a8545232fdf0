"""The global talk key's names and problems worded in the interface's language.

:mod:`app.hotkey` gives a refused or unavailable key as data (``HotkeyError.kind``,
``key``, ``detail``) with one English ``reason`` for logs; the desktop words it here.
Words from elsewhere (a D-Bus error name, an import error, the X library's message) and
the name the user typed are shown as they are, but for the lock keys, named as on the
keyboard ("Caps Lock", not the internal "CapsLock"). Call these when the text is shown, and
again on a language change: nothing is cached.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.hotkey import HotkeyError, HotkeyProblem
from app.ui.failure_text import fill

translate = QCoreApplication.translate  # pyside6-lupdate finds translate("Context", "text")

def global_key_label(name: str) -> str:
    """``RightCtrl`` -> ``Right Ctrl`` (the canonical name as a person writes it)."""
    labels = {
        "LeftCtrl": translate("HotkeyText", "Left Ctrl"),
        "RightCtrl": translate("HotkeyText", "Right Ctrl"),
        "LeftAlt": translate("HotkeyText", "Left Alt"),
        "RightAlt": translate("HotkeyText", "Right Alt"),
        "LeftShift": translate("HotkeyText", "Left Shift"),
        "RightShift": translate("HotkeyText", "Right Shift"),
        "LeftSuper": translate("HotkeyText", "Left Super"),
        "RightSuper": translate("HotkeyText", "Right Super"),
        "ScrollLock": "Scroll Lock",
        "Mouse4": translate("HotkeyText", "Mouse back button"),
        "Mouse5": translate("HotkeyText", "Mouse forward button"),
    }
    return labels.get(name, name)


def hotkey_text(error: HotkeyError) -> str:
    """Why the global talk key was refused or is unavailable, in the interface's language:
    a clause, as ``reason`` is (it follows "Global talk key refused: ")."""
    kind, typed, detail = error.kind, error.key, error.detail
    refusal = _refusal(kind)
    if refusal:
        return fill(translate("HotkeyText", "“%1” cannot be the global talk key: %2"),
                    _refused_key(kind, typed), refusal)
    missing = _no_shortcuts(kind, detail)
    if missing:
        return fill(translate(
            "HotkeyText", "this desktop does not offer global shortcuts (%1): the talk key "
            "works only while Interphone has focus"), missing)
    label = global_key_label(typed)
    with_values: dict[HotkeyProblem, tuple[str, ...]] = {
        HotkeyProblem.COMBINATION: (translate(
            "HotkeyText", "“%1” is a combination: the global talk key is one key held "
            "alone (for example Right Ctrl or F9)"), typed),
        HotkeyProblem.UNKNOWN_NAME: (translate(
            "HotkeyText", "“%1” is not a key name Interphone knows; use one of: %2"),
            typed, detail),
        HotkeyProblem.NO_X_DISPLAY: (translate(
            "HotkeyText", "no X display to take the global talk key from (%1)"),
            detail),
        HotkeyProblem.NOT_IN_LAYOUT: (translate(
            "HotkeyText", "this keyboard layout has no %1 key"), label),
        HotkeyProblem.NO_PYNPUT: (translate(
            "HotkeyText", "global keys need pynput, which cannot load here (%1): the "
            "talk key works only while Interphone has focus"), detail),
        HotkeyProblem.NO_SUCH_KEY: (translate(
            "HotkeyText", "this system has no %1 key"), label),
        HotkeyProblem.NO_SUCH_MOUSE_BUTTON: (translate(
            "HotkeyText", "this system has no %1"), label),
        HotkeyProblem.KEY_TAKEN: (translate(
            "HotkeyText", "another program already uses the %1 key as a global shortcut: "
            "choose another talk key, or free it in that program"), label),
        HotkeyProblem.MOUSE_BUTTON_TAKEN: (translate(
            "HotkeyText", "another program already uses the %1 as a global shortcut: "
            "choose another talk key, or free it in that program"), label),
    }
    if kind in with_values:
        text, *values = with_values[kind]
        return fill(text, *values)
    return {
        HotkeyProblem.NO_KEY: translate("HotkeyText", "no key given"),
        HotkeyProblem.NO_GRAPHICAL_SESSION: translate(
            "HotkeyText", "no graphical session found (neither DISPLAY nor "
            "WAYLAND_DISPLAY is set): the talk key works only while Interphone has focus"),
        HotkeyProblem.PORTAL_KEYS_ONLY: translate(
            "HotkeyText", "on Wayland the desktop lends keyboard shortcuts only: choose a "
            "key (Right Ctrl, F9…) as the global talk key"),
        HotkeyProblem.NOT_BOUND: translate(
            "HotkeyText", "the desktop did not bind the global talk key: the talk key "
            "works only while Interphone has focus"),
        HotkeyProblem.BIND_CANCELLED: translate(
            "HotkeyText", "the desktop did not bind the global talk key (cancelled): the "
            "talk key works only while Interphone has focus"),
    }.get(kind, error.reason)


def _refused_key(kind: HotkeyProblem, typed: str) -> str:
    """The refused key as the user knows it: a lock key by the name on the keyboard
    (whatever spelling reached us: ``CapsLock``, ``Caps_Lock``, ``caps``), others as typed."""
    if kind is HotkeyProblem.CAPS_LOCK:
        return translate("HotkeyText", "Caps Lock")
    if kind is HotkeyProblem.NUM_LOCK:
        return translate("HotkeyText", "Num Lock")
    return typed


def _refusal(kind: HotkeyProblem) -> str:
    """Why a key that types, locks or clicks cannot be held globally ("" for other kinds)."""
    typing = translate(
        "HotkeyText", "it types in every other program: while Interphone runs, no other "
        "program would receive it; choose a modifier alone (Right Ctrl), a function key "
        "(F1–F24), Pause, Scroll Lock, Insert, Menu or a mouse side button")
    return {
        HotkeyProblem.CAPS_LOCK: translate(
            "HotkeyText", "it switches Caps Lock on and off in every program, so each press "
            "would also change Caps Lock"),
        HotkeyProblem.NUM_LOCK: translate(
            "HotkeyText", "it switches Num Lock on and off in every program, so each press "
            "would also change Num Lock"),
        HotkeyProblem.TYPING_KEY: typing,
        HotkeyProblem.SPACE: fill(translate(
            "HotkeyText", "%1 (Space stays the talk key inside the Interphone window)"),
            typing),
        HotkeyProblem.ESCAPE: translate(
            "HotkeyText", "Escape closes dialogs and cancels actions in every other program"),
        HotkeyProblem.EDITING_KEY: translate(
            "HotkeyText", "it edits text or moves through it in every other program, which "
            "would stop working"),
        HotkeyProblem.LEFT_MOUSE_BUTTON: translate(
            "HotkeyText", "it is the left button of the mouse, which every program needs; "
            "choose a side button (Mouse4, Mouse5)"),
        HotkeyProblem.MIDDLE_MOUSE_BUTTON: translate(
            "HotkeyText", "it is the middle button of the mouse, which every program needs; "
            "choose a side button (Mouse4, Mouse5)"),
        HotkeyProblem.RIGHT_MOUSE_BUTTON: translate(
            "HotkeyText", "it is the right button of the mouse, which every program needs; "
            "choose a side button (Mouse4, Mouse5)"),
        HotkeyProblem.MOUSE_WHEEL: translate(
            "HotkeyText", "it is the wheel of the mouse, which every program needs; choose "
            "a side button (Mouse4, Mouse5)"),
    }.get(kind, "")


def _no_shortcuts(kind: HotkeyProblem, detail: str) -> str:
    """What the desktop's global shortcuts lack here ("" for other kinds)."""
    if kind is HotkeyProblem.NO_XLIB:
        return fill(translate("HotkeyText", "python-xlib cannot be loaded: %1"), detail)
    if kind is HotkeyProblem.NO_DBUS_SESSION:
        return fill(translate("HotkeyText", "no D-Bus session: %1"), detail)
    if kind is HotkeyProblem.NO_PORTAL:
        return fill(translate("HotkeyText", "no desktop portal for global shortcuts: %1"),
                    detail)
    if kind is HotkeyProblem.PORTAL_NO_ANSWER:
        if detail:
            return fill(translate("HotkeyText", "the desktop portal did not answer %1"),
                        detail)
        return translate("HotkeyText", "the desktop portal did not answer")
    return ""
