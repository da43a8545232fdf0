"""One loop timer for a sans-IO machine's next deadline.

The signaling session and the turn machine each say when they must run next
(``next_deadline``); their drivers used to cancel the loop timer and start a new one
whenever that changed, and the session's ping deadline moves at every message sent.
Under qasync (the desktop app's loop) a cancelled timer is not forgotten: its Qt timer
runs on and its handle stays until its original time, so with a long keepalive (300 s,
an hour) thousands of stale Qt timers piled up during a day of talk, each visited by
Qt's event dispatch. :class:`DeadlineTimer` keeps the armed timer when the deadline
moves *later* (it fires early, the machine finds nothing due, and the driver arms it
again for the later deadline) and replaces it only when the deadline moves earlier or
goes away. (The desktop app's loop, ``app/ui/qt_loop.py``, now stops a cancelled timer at
once; keeping the armed timer still spares a Qt timer started and killed per message.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class DeadlineTimer:
    """Calls ``callback(due)`` at (or after) the earliest deadline armed, ``due`` being
    the time the timer was armed for (never later than the machine's deadline)."""

    def __init__(self, callback: Callable[[float], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._callback = callback
        self._clock = clock
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._at: float | None = None
        self.started = 0  # loop timers started, ever (for tests)

    @property
    def armed_at(self) -> float | None:
        """When the armed timer fires (None: none armed)."""
        return self._at if self._handle is not None else None

    def arm(self, deadline: float | None) -> None:
        """The machine's next deadline (None: it needs no timer)."""
        if self._handle is not None:
            if deadline is not None and self._at is not None and self._at <= deadline:
                return  # it fires first; armed again then for the later deadline
            self.cancel()
        if deadline is None:
            return
        self._at = deadline
        self._handle = asyncio.get_running_loop().call_later(
            max(0.0, deadline - self._clock()), self._fire)
        self.started += 1

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._at = None

    def _fire(self) -> None:
        due = self._at if self._at is not None else self._clock()
        self._handle = None
        self._at = None
        self._callback(due)
