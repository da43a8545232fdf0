"""WakeWatch: notices that the machine slept, or the process was stopped, and says so.

A laptop that slept keeps its TCP connection open in its own kernel while the server,
which heard nothing for 3 × keepalive, closed the session long ago (and the server's FIN
never reached the sleeping machine, or the network is another one now). Nothing tells the
client until it next writes: its keepalive ping, up to a whole keepalive interval after
the wake-up (15 s by default, as long as an hour on some deployments), since the
monotonic clock its timers run on did not advance while the machine slept (Linux's
``CLOCK_MONOTONIC``, macOS). The wall clock did.

A tick every ``interval`` seconds compares both clocks since the last tick: the wall
clock ahead of the monotonic one by more than ``gap`` seconds is a sleep; the tick itself
late by more than ``gap`` is a stopped (SIGSTOP, a debugger) or frozen process, whose
monotonic clock jumped. Either calls ``on_wake(seconds)`` once, on the loop; the client
then checks its connection at once (:meth:`ClientSession.probe
<app.client.session.ClientSession.probe>`) and registers its media again (a NAT's mapping
expired meanwhile). A wall clock set back or forward by hand, or a loop blocked for
``gap`` seconds, costs one needless ping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

WAKE_CHECK_S = 2.0
"""How often the clocks are compared (one loop wake-up every 2 s: a wake-up is noticed
within 2 s plus the ping's timeout)."""
WAKE_GAP_S = 3.0
"""Time missing between two ticks that counts as a sleep (a tick 3 s late)."""


class WakeWatch:
    """Calls ``on_wake(seconds slept)`` when the machine woke up or the process resumed."""

    def __init__(self, on_wake: Callable[[float], None], *, interval: float = WAKE_CHECK_S,
                 gap: float = WAKE_GAP_S, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._on_wake = on_wake
        self.interval = interval
        self.gap = gap
        self._clock = clock
        self._wall = wall
        self._handle: asyncio.TimerHandle | None = None
        self._active = False
        self._last = (0.0, 0.0)  # (monotonic, wall) at the last tick
        self.wakes = 0

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        if not self._active:
            self._active = True
            self._last = (self._clock(), self._wall())
            self._schedule()

    def stop(self) -> None:
        self._active = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def check(self) -> float:
        """Compare the clocks now (the tick's work); the seconds slept (0: none)."""
        clock, wall = self._clock(), self._wall()
        last_clock, last_wall = self._last
        self._last = (clock, wall)
        late = (clock - last_clock) - self.interval  # the process was stopped
        asleep = (wall - last_wall) - (clock - last_clock)  # the monotonic clock was
        slept = max(late, asleep)
        if slept <= self.gap:
            return 0.0
        self.wakes += 1
        logger.info("woke up after about %.0f s (the machine slept, or the process was "
                    "stopped): checking the connection", slept)
        try:
            self._on_wake(slept)
        except Exception:
            logger.exception("wake-up handler failed")
        return slept

    def _schedule(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self._handle = None
        self.check()
        if self._active:  # (not stopped by the handler)
            self._schedule()
