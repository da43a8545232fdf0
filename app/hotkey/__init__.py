"""The global talk key: held anywhere on the desktop, whichever program has the focus.

One entry point, ``open_global_talk_key(name, on_press, on_release)``, picks the back-end
for this platform and session:

- X11 (``DISPLAY``, no Wayland): a passive grab on the root window (``x11.py``);
- Wayland (``XDG_SESSION_TYPE=wayland`` or ``WAYLAND_DISPLAY``): the XDG desktop portal's
  GlobalShortcuts where the compositor offers it (``portal.py``); an X grab through
  XWayland would only see keys typed into X windows, so it is not used there;
- Windows and macOS: pynput's system hooks (``pynput_backend.py``).

It raises ``HotkeyRefused`` (the key may not be taken globally, e.g. Caps Lock or a letter)
or ``HotkeyUnavailable`` (this session cannot offer it; ``HotkeyTaken``, a subclass, when
another program holds the key). ``kind`` (a ``HotkeyProblem``), ``key`` and ``detail`` say
why, for an interface to word; ``reason`` is the English sentence. The callbacks run on
the back-end's own thread, never on the caller's: a GUI hops to its own thread (a queued
Qt signal, ``loop.call_soon_threadsafe``). The returned object's ``close()`` releases the
key; a key held at ``close()`` gets its ``on_release()`` first.

No Qt here: the package is imported by the window but does not depend on it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Protocol

from app.hotkey.errors import (
    NO_GLOBAL_SHORTCUTS,
    HotkeyError,
    HotkeyProblem,
    HotkeyRefused,
    HotkeyTaken,
    HotkeyUnavailable,
)
from app.hotkey.keys import (
    KeyKind,
    TalkKey,
    accepted_key_names,
    name_from_x11_keysym,
    parse_talk_key,
)

__all__ = [
    "NO_GLOBAL_SHORTCUTS",
    "Backend",
    "GlobalTalkKey",
    "HotkeyError",
    "HotkeyProblem",
    "HotkeyRefused",
    "HotkeyTaken",
    "HotkeyUnavailable",
    "KeyKind",
    "TalkKey",
    "accepted_key_names",
    "choose_backend",
    "name_from_x11_keysym",
    "open_global_talk_key",
    "parse_talk_key",
]



class GlobalTalkKey(Protocol):
    """What every back-end returns."""

    key: TalkKey

    @property
    def held(self) -> bool: ...

    def close(self) -> None: ...


class Backend(Enum):
    X11 = "x11"
    PORTAL = "portal"
    PYNPUT = "pynput"


def choose_backend(environ: Mapping[str, str] | None = None,
                   platform: str | None = None) -> Backend:
    """The back-end for this platform and session; ``HotkeyUnavailable`` if there is none."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "cygwin", "darwin"):
        return Backend.PYNPUT
    session = environ.get("XDG_SESSION_TYPE", "").lower()
    if session == "wayland" or (session != "x11" and environ.get("WAYLAND_DISPLAY")):
        return Backend.PORTAL
    if environ.get("DISPLAY"):
        return Backend.X11
    raise HotkeyUnavailable(HotkeyProblem.NO_GRAPHICAL_SESSION)


def open_global_talk_key(name: str, on_press: Callable[[], None],
                         on_release: Callable[[], None]) -> GlobalTalkKey:
    """Take ``name`` (``RightCtrl``, ``F9``, ``Mouse4``…) globally until ``close()``.

    Returns in milliseconds on X11, Windows and macOS; on Wayland it waits for the desktop
    (which may ask the user to confirm the shortcut), so call it from a worker thread.
    """
    key = parse_talk_key(name)
    backend = choose_backend()
    if backend is Backend.X11:
        try:
            from app.hotkey.x11 import X11TalkKey
        except ImportError as exc:  # python-xlib missing from this installation
            raise HotkeyUnavailable(HotkeyProblem.NO_XLIB, key.name, str(exc)) from exc
        return X11TalkKey(key, on_press, on_release)
    if backend is Backend.PORTAL:
        from app.hotkey.portal import PortalTalkKey
        return PortalTalkKey(key, on_press, on_release)
    from app.hotkey.pynput_backend import PynputTalkKey
    return PynputTalkKey(key, on_press, on_release)
