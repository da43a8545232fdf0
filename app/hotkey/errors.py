"""Why a global talk key cannot be had: each error carries a ``reason`` a user can read."""

from __future__ import annotations

__all__ = [
    "NO_GLOBAL_SHORTCUTS", "HotkeyError", "HotkeyRefused", "HotkeyTaken", "HotkeyUnavailable",
]


class HotkeyError(Exception):
    """Base of the global talk key errors; ``reason`` is the sentence to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HotkeyRefused(HotkeyError, ValueError):
    """The key may not be taken globally (Caps Lock, a letter, Escape…), whatever the platform."""


class HotkeyUnavailable(HotkeyError):
    """This session cannot offer a global key (no X display, no portal, no library…).

    The talk key still works while the Interphone window has focus.
    """


class HotkeyTaken(HotkeyUnavailable):
    """Another program already holds this key (or button) globally; choose another one."""


NO_GLOBAL_SHORTCUTS = (
    "this desktop does not offer global shortcuts: the talk key works only while "
    "Interphone has focus")
