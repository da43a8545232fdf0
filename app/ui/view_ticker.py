"""One timer for every periodic view update (the way Qt drives all its animations from
one unified timer).

While audio plays the window has several things to refresh on a clock: the level meters
(10 times a second), the speaker's elapsed time, the talk button's countdown, the
reception line and the quality reports. Each with its own ``QTimer`` wakes the GUI
thread at its own moments (a 250 ms timer and a 100 ms one share few of them), and each
wake-up costs far more than the work it does (cold caches on a shared machine). Here
every subscriber names a period that is a multiple of :data:`BASE_MS`; one timer runs at
the shortest period asked for, only while someone subscribes, and calls each subscriber
on the first tick at or after its due time, so they all share the same wake-ups.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

logger = logging.getLogger(__name__)

BASE_MS = 100
"""Every period is a multiple of this (the level meters' 10 Hz)."""

TickCallback = Callable[[float], None]
"""``callback(now)`` with ``now`` from ``time.monotonic()``."""


@dataclass(slots=True)
class _Subscription:
    period: float  # seconds
    due: float  # monotonic


class ViewTicker(QObject):
    """Calls subscribers every ``period_ms`` from one shared timer (GUI thread only)."""

    def __init__(self, parent: QObject | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._subscribers: dict[TickCallback, _Subscription] = {}
        self._timer = QTimer(self)  # coarse: Qt lands it on round times, as other timers
        self._timer.timeout.connect(self.tick)
        self.ticks = 0
        """Times the timer fired (for tests and benchmarks)."""

    def subscribe(self, callback: TickCallback, period_ms: int = BASE_MS) -> None:
        """Call ``callback(now)`` every ``period_ms`` (a multiple of :data:`BASE_MS`),
        first one period from now; subscribing again changes the period."""
        if period_ms < BASE_MS or period_ms % BASE_MS:
            raise ValueError(f"a period is a multiple of {BASE_MS} ms, not {period_ms}")
        period = period_ms / 1000
        current = self._subscribers.get(callback)
        if current is not None and current.period == period:
            return
        self._subscribers[callback] = _Subscription(period, self._clock() + period)
        self._follow()

    def unsubscribe(self, callback: TickCallback) -> None:
        if self._subscribers.pop(callback, None) is not None:
            self._follow()

    def subscribed(self, callback: TickCallback) -> bool:
        return callback in self._subscribers

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def interval_ms(self) -> int:
        """The timer's interval (the shortest period subscribed), 0 when stopped."""
        return self._timer.interval() if self._timer.isActive() else 0

    def tick(self) -> None:
        """Call every subscriber that is due (the timer calls it)."""
        self.ticks += 1
        now = self._clock()
        slack = BASE_MS / 2000  # the timer is coarse: half a base tick early is on time
        for callback, subscription in list(self._subscribers.items()):
            if subscription.due - slack > now or self._subscribers.get(callback) is not \
                    subscription:  # not due, or unsubscribed by an earlier callback
                continue
            subscription.due += subscription.period
            if subscription.due - slack <= now:  # fell behind (a stalled loop): no catch-up
                subscription.due = now + subscription.period
            try:
                callback(now)
            except Exception:
                logger.exception("view tick subscriber failed")

    def _follow(self) -> None:
        if not self._subscribers:
            self._timer.stop()
            return
        interval = round(1000 * min(s.period for s in self._subscribers.values()))
        if not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)
