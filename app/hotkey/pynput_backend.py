"""The global talk key on Windows and macOS, through pynput's system input hooks.

pynput installs a low-level keyboard and mouse hook (Windows) or an event tap (macOS,
which asks the user to allow Interphone under Privacy & Security › Input Monitoring or
Accessibility). The hook only listens: the key still reaches the focused program, unlike
the X11 grab. Its listener threads call ``on_press`` / ``on_release``.

Not tested on this project's Linux machines (pynput is installed on Windows and macOS only):
keep this module small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.hotkey.errors import HotkeyProblem, HotkeyUnavailable
from app.hotkey.keys import KeyKind, TalkKey

__all__ = ["PynputTalkKey"]

logger = logging.getLogger(__name__)

# Canonical key name -> pynput Key attribute.
_PYNPUT_KEYS = {
    "LeftCtrl": "ctrl_l", "RightCtrl": "ctrl_r", "LeftAlt": "alt_l", "RightAlt": "alt_r",
    "LeftShift": "shift_l", "RightShift": "shift_r", "LeftSuper": "cmd_l",
    "RightSuper": "cmd_r", "Pause": "pause", "ScrollLock": "scroll_lock", "Insert": "insert",
    "Menu": "menu", "Print": "print_screen",
    **{f"F{number}": f"f{number}" for number in range(1, 25)},
}
# X button number -> pynput Button attribute (Windows names; macOS numbers them).
_PYNPUT_BUTTONS = {8: ("x1", "button8"), 9: ("x2", "button9")}


class PynputTalkKey:
    """``key`` held anywhere calls ``on_press()`` then ``on_release()`` (listener thread)."""

    def __init__(self, key: TalkKey, on_press: Callable[[], None],
                 on_release: Callable[[], None]) -> None:
        try:
            from pynput import keyboard, mouse
        except Exception as exc:  # ImportError, or no back-end for this session
            raise HotkeyUnavailable(HotkeyProblem.NO_PYNPUT, key.name, str(exc)) from exc
        self.key = key
        self._on_press = on_press
        self._on_release = on_release
        self._held = False
        self._listener: Any
        if key.kind is KeyKind.MOUSE_BUTTON:
            names = _PYNPUT_BUTTONS.get(key.button, (f"button{key.button}",))
            target = next((getattr(mouse.Button, name) for name in names
                           if hasattr(mouse.Button, name)), None)
            if target is None:
                raise HotkeyUnavailable(HotkeyProblem.NO_SUCH_MOUSE_BUTTON, key.name)

            def on_click(_x: int, _y: int, button: object, pressed: bool) -> None:
                if button == target:
                    self._set_held(pressed)

            self._listener = mouse.Listener(on_click=on_click)
        else:
            wanted = getattr(keyboard.Key, _PYNPUT_KEYS.get(key.name, ""), None)
            if wanted is None:
                raise HotkeyUnavailable(HotkeyProblem.NO_SUCH_KEY, key.name)
            self._listener = keyboard.Listener(
                on_press=lambda pressed: self._set_held(True) if pressed == wanted else None,
                on_release=lambda released: (
                    self._set_held(False) if released == wanted else None))
        self._listener.daemon = True
        self._listener.start()
        self._listener.wait()

    def _set_held(self, held: bool) -> None:
        if held == self._held:
            return  # auto-repeat sends presses only
        self._held = held
        try:
            (self._on_press if held else self._on_release)()
        except Exception:
            logger.exception("global talk key %s: callback failed", self.key.name)

    @property
    def held(self) -> bool:
        return self._held

    def close(self) -> None:
        """Stop the hook (a held key gets its release). Idempotent."""
        self._listener.stop()
        self._set_held(False)
