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

While the window is off screen (hidden to the tray or minimized, :meth:`set_shown`) the
views' updates wait: only the subscribers that asked to run while hidden (the received
audio's bookkeeping, the quality reports the talker's FEC follows) are called, at their
own periods, and the timer runs at the shortest of theirs or not at all. When the window
shows again each waiting update runs at once, so what it shows is current.
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
    while_hidden: bool  # called while the window is off screen too (not a view's update)


class ViewTicker(QObject):
    """Calls subscribers every ``period_ms`` from one shared timer (GUI thread only)."""

    def __init__(self, parent: QObject | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._subscribers: dict[TickCallback, _Subscription] = {}
        self._timer = QTimer(self)  # coarse: Qt lands it on round times, as other timers
        self._timer.timeout.connect(self.tick)
        self._shown = True
        self.ticks = 0
        """Times the timer fired (for tests and benchmarks)."""

    def subscribe(self, callback: TickCallback, period_ms: int = BASE_MS, *,
                  while_hidden: bool = False) -> None:
        """Call ``callback(now)`` every ``period_ms`` (a multiple of :data:`BASE_MS`),
        first one period from now; subscribing again changes the period. A view's update
        (the default) waits while the window is off screen; ``while_hidden`` work does not."""
        if period_ms < BASE_MS or period_ms % BASE_MS:
            raise ValueError(f"a period is a multiple of {BASE_MS} ms, not {period_ms}")
        period = period_ms / 1000
        current = self._subscribers.get(callback)
        if current is not None and current.period == period \
                and current.while_hidden == while_hidden:
            return
        self._subscribers[callback] = _Subscription(period, self._clock() + period,
                                                    while_hidden)
        self._follow()

    def unsubscribe(self, callback: TickCallback) -> None:
        if self._subscribers.pop(callback, None) is not None:
            self._follow()

    def subscribed(self, callback: TickCallback) -> bool:
        return callback in self._subscribers

    @property
    def shown(self) -> bool:
        """The window is on screen: the views' updates run."""
        return self._shown

    def set_shown(self, shown: bool) -> None:
        """The window went on or off screen (shown, hidden, minimized, restored); shown
        again, each view update that waited runs now."""
        if shown == self._shown:
            return
        self._shown = shown
        if shown:
            now = self._clock()
            for callback, subscription in list(self._subscribers.items()):
                if subscription.while_hidden or self._subscribers.get(callback) is not \
                        subscription:
                    continue
                subscription.due = now + subscription.period
                self._call(callback, now)
        self._follow()

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
        shown = self._shown
        for callback, subscription in list(self._subscribers.items()):
            if subscription.due - slack > now or self._subscribers.get(callback) is not \
                    subscription:  # not due, or unsubscribed by an earlier callback
                continue
            if not (shown or subscription.while_hidden):
                continue  # a view's update while off screen: it runs when shown
            subscription.due += subscription.period
            if subscription.due - slack <= now:  # fell behind (a stalled loop): no catch-up
                subscription.due = now + subscription.period
            self._call(callback, now)

    @staticmethod
    def _call(callback: TickCallback, now: float) -> None:
        try:
            callback(now)
        except Exception:
            logger.exception("view tick subscriber failed")

    def _follow(self) -> None:
        periods = [s.period for s in self._subscribers.values()
                   if self._shown or s.while_hidden]
        if not periods:
            self._timer.stop()
            return
        interval = round(1000 * min(periods))
        if not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)
