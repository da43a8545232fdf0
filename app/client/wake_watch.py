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
expired meanwhile). A wall clock set back or forward by hand costs one needless ping.

A tick late because the loop was blocked by the process's own work (a long roster, many
joins at once) is not a wake-up: the loop's thread used CPU meanwhile, where a stopped or
sleeping process used none. Such a tick logs a warning naming how long the loop was
blocked (a defect worth seeing) and probes nothing.

Each tick also calls ``on_tick()`` (the client checks there whether its network path
changed), so that one loop wake-up every ``interval`` serves both.
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
BLOCKED_CPU_SHARE = 0.1
"""A tick late by ``late`` seconds whose loop thread used at least this share of ``late``
in CPU meanwhile was late because the loop was blocked by work, not stopped: a stopped or
sleeping process uses no CPU (a busy loop on a loaded machine still gets a fair share)."""


class WakeWatch:
    """Calls ``on_wake(seconds slept)`` when the machine woke up or the process resumed."""

    def __init__(self, on_wake: Callable[[float], None], *, interval: float = WAKE_CHECK_S,
                 gap: float = WAKE_GAP_S, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 cpu: Callable[[], float] = time.thread_time,
                 on_tick: Callable[[], None] | None = None) -> None:
        self._on_wake = on_wake
        self._on_tick = on_tick
        self._cpu = cpu
        self.interval = interval
        self.gap = gap
        self._clock = clock
        self._wall = wall
        self._handle: asyncio.TimerHandle | None = None
        self._active = False
        self._last = (0.0, 0.0)  # (monotonic, wall) at the last tick
        self._last_cpu = 0.0  # the loop thread's CPU time at the last tick
        self.wakes = 0
        self.blocked = 0  # ticks late because the loop was blocked

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        if not self._active:
            self._active = True
            self._last = (self._clock(), self._wall())
            self._last_cpu = self._cpu()
            self._schedule()

    def stop(self) -> None:
        self._active = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def check(self) -> float:
        """Compare the clocks now (the tick's work); the seconds slept (0: none)."""
        clock, wall, cpu = self._clock(), self._wall(), self._cpu()
        last_clock, last_wall = self._last
        used = cpu - self._last_cpu
        self._last, self._last_cpu = (clock, wall), cpu
        late = (clock - last_clock) - self.interval  # the process was stopped
        asleep = (wall - last_wall) - (clock - last_clock)  # the monotonic clock was
        if asleep <= self.gap and late > self.gap and used >= BLOCKED_CPU_SHARE * late:
            # the loop ran its own work all along: it was not asleep, only blocked
            self.blocked += 1
            logger.warning("the event loop was blocked for about %.1f s (%.1f s of CPU "
                           "used meanwhile): not a wake-up", late, used)
            return 0.0
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
        if self._active and self._on_tick is not None:
            try:
                self._on_tick()
            except Exception:
                logger.exception("tick handler failed")
        if self._active:  # (not stopped by a handler)
            self._schedule()
