"""A real X server for tests (Xvfb on a free display), and another X client that has the focus.

``run_xvfb`` (made a fixture by the test module) starts ``Xvfb -displayfd`` (the server
picks a free display number and writes it back) and stops it after the module. Without
Xvfb the tests are skipped with the Debian package to install (``scripts/dev.sh setup``
installs it).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from Xlib import XK, X
from Xlib.display import Display
from Xlib.ext import xtest

from tests.waiting import end_process

STARTUP_SECONDS = 30.0


def run_xvfb() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb; bash scripts/dev.sh setup)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-noreset", "-nolisten", "tcp",
         "-screen", "0", "640x480x24"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + STARTUP_SECONDS
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_end, 16) if ready else b""
            if not chunk:
                server.kill()
                _, errors = server.communicate()
                pytest.fail(f"Xvfb did not start: {errors.decode(errors='replace')[-2000:]}")
            number += chunk
        yield f":{number.decode().strip()}"
    finally:
        os.close(read_end)
        end_process(server)
        if server.stderr is not None:
            server.stderr.close()


def keycode(display: Display, keysym_name: str) -> int:
    code = display.keysym_to_keycode(XK.string_to_keysym(keysym_name))
    assert code, keysym_name
    return int(code)


class SyntheticInput:
    """Presses keys and mouse buttons through XTEST, as a separate X client."""

    def __init__(self, display_name: str) -> None:
        self.display = Display(display_name)
        self._held_keys: set[str] = set()
        self._held_buttons: set[int] = set()

    def key(self, keysym_name: str, *, down: bool) -> None:
        code = keycode(self.display, keysym_name)
        xtest.fake_input(self.display, X.KeyPress if down else X.KeyRelease, code)
        self.display.sync()
        (self._held_keys.add if down else self._held_keys.discard)(keysym_name)

    def tap_keycode(self, code: int) -> None:
        """A key the layout gives no keysym (F13 on the usual layouts), by its keycode."""
        for event_type in (X.KeyPress, X.KeyRelease):
            xtest.fake_input(self.display, event_type, code)
        self.display.sync()

    def tap(self, keysym_name: str) -> None:
        self.key(keysym_name, down=True)
        self.key(keysym_name, down=False)

    def button(self, number: int, *, down: bool) -> None:
        xtest.fake_input(self.display, X.ButtonPress if down else X.ButtonRelease, number)
        self.display.sync()
        (self._held_buttons.add if down else self._held_buttons.discard)(number)

    def close(self) -> None:
        """Releases whatever a failed test left held, so the next test starts clean."""
        for keysym_name in list(self._held_keys):
            self.key(keysym_name, down=False)
        for number in list(self._held_buttons):
            self.button(number, down=False)
        self.display.close()


@dataclass
class FocusedWindow:
    """Another program's window: mapped, given the input focus, recording what it receives."""

    display_name: str
    display: Display = field(init=False)

    def __post_init__(self) -> None:
        self.display = Display(self.display_name)
        screen = self.display.screen()
        self.window = screen.root.create_window(
            10, 10, 200, 100, 0, screen.root_depth,
            event_mask=(X.KeyPressMask | X.KeyReleaseMask | X.ButtonPressMask
                        | X.ButtonReleaseMask | X.StructureNotifyMask))
        self.window.map()
        self.display.sync()
        while self.display.next_event().type != X.MapNotify:
            pass
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.display.sync()

    def has_focus(self) -> bool:
        return bool(self.display.get_input_focus().focus == self.window)

    def received_before_sentinel(self, synthetic: SyntheticInput,
                                 sentinel: str = "F12") -> list[tuple[int, int]]:
        """(event type, keycode or button) of the key and button events this window got
        before a tap of ``sentinel`` (a key nobody grabbed), which is typed now: once the
        sentinel arrives, every earlier input has been delivered."""
        synthetic.tap(sentinel)
        sentinel_code = keycode(self.display, sentinel)
        events = []
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if not self.display.pending_events():
                select.select([self.display.fileno()], [], [], 0.2)
                continue
            event = self.display.next_event()
            if event.type not in (X.KeyPress, X.KeyRelease, X.ButtonPress, X.ButtonRelease):
                continue
            if event.type == X.KeyRelease and event.detail == sentinel_code:
                return events
            if event.detail != sentinel_code:
                events.append((event.type, event.detail))
        raise AssertionError(f"the focused window never received {sentinel}")

    def close(self) -> None:
        self.window.destroy()
        self.display.close()
