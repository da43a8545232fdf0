"""Starting a stopped output stream in phase with the packets that asked for it.

On demand, a packet that finds the output stopped has it started so that the first
callback comes a start margin after that packet's arrival: the callbacks follow the
start and the packets the talker's capture clock, one frame apart, so every frame of
the utterance then waits the margin alone. Started at once, the first callback came
before the margin and each frame waited nearly a whole block more (when the jitter
buffer's target is more than a frame, the first frame waits whole blocks more, the
others the same). A running output keeps its phase. Figures: docs/latency.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TIMER_EARLY_MS = 1.0
"""The start timer fires this early (a loop's timers are ~1 ms coarse, late); the rest
is slept."""


class PhasedStart:
    """Calls ``start()`` on the loop ``margin`` seconds after the first request."""

    def __init__(self, start: Callable[[], None], clock: Callable[[], float],
                 margin: float) -> None:
        self._start = start
        self._clock = clock
        self._margin = margin
        self._due: float | None = None  # when the first request's start is due
        self._timer: asyncio.TimerHandle | None = None

    def request(self) -> None:
        """A packet found the output stopped (any thread): the start is due a margin
        from now, unless an earlier packet already set it."""
        if self._due is None:
            self._due = self._clock() + self._margin

    def schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: start at the due time (a timer until then). The wait is capped
        at the margin, in case the clock is not the loop's."""
        due = self._due
        if due is None or self._timer is not None:
            return
        delay = min(due - self._clock(), self._margin)
        if delay <= 0:
            self._fire(loop, 0.0)
            return
        start_at = loop.time() + delay
        self._timer = loop.call_at(start_at - TIMER_EARLY_MS / 1000.0,
                                   self._fire, loop, start_at)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due = None

    def _fire(self, loop: asyncio.AbstractEventLoop, start_at: float) -> None:
        self._timer = None
        self._due = None
        rest = start_at - loop.time()
        if rest > 0:
            time.sleep(min(rest, self._margin))  # under TIMER_EARLY_MS mostly
        self._start()
