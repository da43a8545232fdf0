"""The global talk key on X11: a passive grab on the root window, read on a thread of its own.

``X11TalkKey`` opens its own X connection, grabs the key (``XGrabKey``) or the mouse button
(``XGrabButton``) on the root window once for every combination of the lock modifiers
(Caps Lock, Num Lock, Scroll Lock), so the key works whatever locks are on and whichever
window has the focus; and, where no other program holds that combination as a shortcut,
with Shift, Ctrl, Alt or Super held as well (a talk while a game's Shift is down, Right
Ctrl while Left Ctrl is). A daemon thread waits on the connection and calls ``on_press()`` and
``on_release()``; both run on that thread, never on the caller's.

A held key gives exactly one press and one release: the connection asks XKB for detectable
auto-repeat (the server then sends repeated presses and no releases in between, and the
repeated presses are dropped), and where XKB is missing a release followed (within 0.1 s)
by a press of the same key at the same server time is recognised as auto-repeat and
dropped.

python-xlib speaks the X protocol in pure Python (no libX11 at run time, nothing to bundle
for PyInstaller); XKB's two requests it lacks are declared here with its request structs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import threading
from collections.abc import Callable

from Xlib import XK, X
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.protocol import rq

from app.hotkey.errors import HotkeyProblem, HotkeyTaken, HotkeyUnavailable
from app.hotkey.keys import KeyKind, TalkKey

__all__ = ["X11TalkKey"]

logger = logging.getLogger(__name__)

XK.load_keysym_group("xkb")  # ISO_Level3_Shift (Right Alt on layouts with AltGr)

_XKB_EXTENSION = "XKEYBOARD"
_XKB_USE_CORE_KEYBOARD = 0x0100
_XKB_DETECTABLE_AUTO_REPEAT = 1 << 0
# Modifiers the user may hold in another program while pressing the talk key: Shift,
# Control, Mod1 (Alt) and Mod4 (Super).
_HELD_MODIFIERS = (X.ShiftMask, X.ControlMask, X.Mod1Mask, X.Mod4Mask)
# Without XKB, how long a release waits for the press that would make it an auto-repeat
# (the release is reported this much later; XKB servers never need it).
_AUTO_REPEAT_PAIR_SECONDS = 0.1


class _XkbUseExtension(rq.ReplyRequest):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
        rq.Card16("wanted_major"), rq.Card16("wanted_minor"))
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Bool("supported"), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Card16("server_major"), rq.Card16("server_minor"), rq.Pad(20))


class _XkbPerClientFlags(rq.ReplyRequest):
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(21), rq.RequestLength(),
        rq.Card16("device_spec"), rq.Pad(2),
        rq.Card32("change"), rq.Card32("value"), rq.Card32("controls_to_change"),
        rq.Card32("auto_controls"), rq.Card32("auto_control_values"))
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Card8("device_id"), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Card32("supported"), rq.Card32("value"), rq.Card32("auto_controls"),
        rq.Card32("auto_control_values"), rq.Pad(8))


def _set_detectable_auto_repeat(display: Display) -> bool:
    """``XkbSetDetectableAutoRepeat(display, True)``; False if the server cannot."""
    extension = display.query_extension(_XKB_EXTENSION)
    if extension is None or not extension.present:
        return False
    opcode = extension.major_opcode
    try:
        use = _XkbUseExtension(display=display.display, opcode=opcode,
                               wanted_major=1, wanted_minor=0)
        if not use.supported:
            return False
        flags = _XkbPerClientFlags(
            display=display.display, opcode=opcode, device_spec=_XKB_USE_CORE_KEYBOARD,
            change=_XKB_DETECTABLE_AUTO_REPEAT, value=_XKB_DETECTABLE_AUTO_REPEAT,
            controls_to_change=0, auto_controls=0, auto_control_values=0)
        return bool(flags.supported & flags.value & _XKB_DETECTABLE_AUTO_REPEAT)
    except xerror.XError as exc:
        logger.info("XKB detectable auto-repeat refused (%s): filtering repeats by time", exc)
        return False


def _lock_masks(display: Display) -> list[int]:
    """Every combination of the Caps Lock, Num Lock and Scroll Lock modifier masks."""
    masks = {X.LockMask}
    mapping = display.get_modifier_mapping()
    for keysym_name in ("Num_Lock", "Scroll_Lock"):
        keycode = display.keysym_to_keycode(XK.string_to_keysym(keysym_name))
        for index, keycodes in enumerate(mapping):
            if keycode and keycode in keycodes and index > 1:  # not Shift, not Lock
                masks.add(1 << index)
    ordered = sorted(masks)
    return sorted({sum(combo) for size in range(len(ordered) + 1)
                   for combo in itertools.combinations(ordered, size)})


def _keycodes_of(display: Display, key: TalkKey) -> tuple[int, ...]:
    """Every keycode that gives the key's first available keysym unshifted (Right Alt as
    ISO_Level3_Shift may be on two keycodes), else its evdev keycode."""
    for keysym_name in key.x11_keysyms:
        keysym = XK.string_to_keysym(keysym_name)
        if not keysym:
            continue
        places = list(display.keysym_to_keycodes(keysym))
        unshifted = sorted({int(code) for code, index in places if index == 0})
        if unshifted or places:
            return tuple(unshifted or sorted({int(code) for code, _ in places}))
    if key.evdev_keycode:
        return (key.evdev_keycode,)
    raise HotkeyUnavailable(HotkeyProblem.NOT_IN_LAYOUT, key.name)


class X11TalkKey:
    """``key`` held anywhere on the X display calls ``on_press()`` then ``on_release()``.

    Raises ``HotkeyUnavailable`` when no X display can be reached and ``HotkeyTaken`` when
    another client already grabbed the key. ``detectable_auto_repeat=False`` skips XKB and
    filters repeats by time only (the fallback, for tests). ``close()`` ungrabs, stops and
    joins the thread; a key still held at ``close()`` (or when the X server goes away) gets
    its release.
    """

    def __init__(self, key: TalkKey, on_press: Callable[[], None],
                 on_release: Callable[[], None], *, display_name: str | None = None,
                 detectable_auto_repeat: bool = True) -> None:
        self.key = key
        self._on_press = on_press
        self._on_release = on_release
        self._held = False
        self._closed = False
        try:
            self._display = Display(display_name)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise HotkeyUnavailable(HotkeyProblem.NO_X_DISPLAY, key.name, str(exc)) from exc
        self._display.set_error_handler(self._log_x_error)
        try:
            self.detectable_auto_repeat = (
                detectable_auto_repeat and _set_detectable_auto_repeat(self._display))
            self._root = self._display.screen().root
            self._lock_masks = _lock_masks(self._display)
            self._held_masks: list[int] = [0]  # the held modifiers grabbed (0: none)
            self._keycodes = () if key.kind is KeyKind.MOUSE_BUTTON else _keycodes_of(
                self._display, key)
            self._grab()
        except BaseException:
            self._display.close()
            raise
        self._wake_reader, self._wake_writer = os.pipe()
        self._thread = threading.Thread(
            target=self._read_events, name=f"talk-key-x11-{key.name}", daemon=True)
        self._thread.start()
        logger.info("global talk key %s grabbed on X display %s (detectable auto-repeat: %s)",
                    key.name, self._display.get_display_name(), self.detectable_auto_repeat)

    def _log_x_error(self, error: xerror.XError, request: object) -> None:
        logger.warning("global talk key %s: X error %s", self.key.name, error)

    # -- grab ------------------------------------------------------------------------------

    def _grab(self) -> None:
        """The key alone (with any locks), else ``HotkeyTaken``; then with each combination
        of held modifiers that no other program holds (one taken is left out)."""
        if not self._grab_with(0):
            self._ungrab()
            raise HotkeyTaken(HotkeyProblem.MOUSE_BUTTON_TAKEN
                              if self.key.kind is KeyKind.MOUSE_BUTTON
                              else HotkeyProblem.KEY_TAKEN, self.key.name)
        self._held_masks = [0]
        held = _HELD_MODIFIERS
        for size in range(1, len(held) + 1):
            for combo in itertools.combinations(held, size):
                if self._grab_with(sum(combo)):
                    self._held_masks.append(sum(combo))
                else:
                    self._ungrab_with(sum(combo))
                    logger.debug("global talk key %s: modifiers %#x are another "
                                 "program's shortcut", self.key.name, sum(combo))

    def _grab_with(self, held: int) -> bool:
        """Grab with ``held`` modifiers and every lock combination; False if another
        program holds one of them."""
        catch = xerror.CatchError(xerror.BadAccess)
        for locks in self._lock_masks:
            modifiers = held | locks
            if self.key.kind is KeyKind.MOUSE_BUTTON:
                self._root.grab_button(
                    self.key.button, modifiers, False,
                    X.ButtonPressMask | X.ButtonReleaseMask,
                    X.GrabModeAsync, X.GrabModeAsync, X.NONE, X.NONE, onerror=catch)
            else:
                for keycode in self._keycodes:
                    self._root.grab_key(keycode, modifiers, False,
                                        X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
        self._display.sync()
        return catch.get_error() is None

    def _ungrab(self) -> None:
        for held in self._held_masks:
            self._ungrab_with(held)

    def _ungrab_with(self, held: int) -> None:
        for locks in self._lock_masks:
            modifiers = held | locks
            if self.key.kind is KeyKind.MOUSE_BUTTON:
                self._root.ungrab_button(self.key.button, modifiers)
            else:
                for keycode in self._keycodes:
                    self._root.ungrab_key(keycode, modifiers)
        self._display.sync()

    # -- reader thread ---------------------------------------------------------------------

    def _read_events(self) -> None:
        display = self._display
        try:
            while True:
                while display.pending_events():
                    self._handle(display.next_event())
                readable, _, _ = select.select([display.fileno(), self._wake_reader], [], [])
                if self._wake_reader in readable:
                    break
        except (xerror.ConnectionClosedError, OSError) as exc:
            logger.warning("global talk key %s: X connection lost (%s)", self.key.name, exc)
        except Exception:
            logger.exception("global talk key %s: reader failed", self.key.name)
        finally:
            self._release_if_held()
            with contextlib.suppress(xerror.ConnectionClosedError, OSError):
                self._ungrab()
            with contextlib.suppress(xerror.ConnectionClosedError, OSError):
                display.close()
            os.close(self._wake_reader)
            logger.info("global talk key %s released", self.key.name)

    def _handle(self, event: object) -> None:
        kind = getattr(event, "type", None)
        if self.key.kind is KeyKind.MOUSE_BUTTON:
            if getattr(event, "detail", None) != self.key.button:
                return
            if kind == X.ButtonPress:
                self._press()
            elif kind == X.ButtonRelease:
                self._release_if_held()
            return
        if getattr(event, "detail", None) not in self._keycodes:
            return
        if kind == X.KeyPress:
            self._press()
        elif kind == X.KeyRelease:
            self._release_unless_auto_repeat(event)

    def _release_unless_auto_repeat(self, release: object) -> None:
        """Without detectable auto-repeat, a repeat is a release at once followed by a
        press of the same key at the same server time: drop both."""
        following = None
        if not self.detectable_auto_repeat and self._next_event_soon():
            following = self._display.next_event()
            if (getattr(following, "type", None) == X.KeyPress
                    and getattr(following, "detail", None) == getattr(release, "detail", None)
                    and getattr(following, "time", None) == getattr(release, "time", None)):
                return
        self._release_if_held()
        if following is not None:
            self._handle(following)

    def _next_event_soon(self) -> bool:
        """Whether an event is queued, or arrives within ``_AUTO_REPEAT_PAIR_SECONDS``: the
        server may flush a repeat's press apart from its release."""
        if self._display.pending_events():
            return True
        select.select([self._display.fileno()], [], [], _AUTO_REPEAT_PAIR_SECONDS)
        return bool(self._display.pending_events())

    def _press(self) -> None:
        if self._held:
            return  # auto-repeat
        self._held = True
        self._call(self._on_press, "on_press")

    def _release_if_held(self) -> None:
        if not self._held:
            return
        self._held = False
        self._call(self._on_release, "on_release")

    def _call(self, callback: Callable[[], None], what: str) -> None:
        try:
            callback()
        except Exception:
            logger.exception("global talk key %s: %s failed", self.key.name, what)

    # -- life cycle ------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        return self._held

    def close(self) -> None:
        """Ungrab and stop the reader (joined unless called from a callback). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_writer, b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join()
        os.close(self._wake_writer)

    def __enter__(self) -> X11TalkKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
