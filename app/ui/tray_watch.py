"""Whether a system tray is there: one watcher for all who wait on it.

Qt says whether a tray exists (``QSystemTrayIcon.isSystemTrayAvailable()``) but tells
nobody when that changes, so it is asked on a clock. Two parts of the app need to know:
the window hidden in the tray (shown again when the tray goes away, see
:mod:`app.ui.tray`) and the background start retrying in the tray (the sign-in dialog
instead when none comes up, see :mod:`app.ui.runtime`). :class:`TrayWatch` asks for
both: each says how often it needs to know (:meth:`TrayWatch.watch`), the clock runs at
the most frequent of those and only while someone watches, and :attr:`TrayWatch.changed`
is emitted when the answer changes (the first answer after the watching starts counts as
a change).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QSystemTrayIcon

logger = logging.getLogger(__name__)


def _tray_available() -> bool:
    # looked up at each call (tests stand in for the desktop's answer)
    return QSystemTrayIcon.isSystemTrayAvailable()


class TrayWatch(QObject):
    """Asks whether a system tray exists, while someone watches; says when that changes."""

    changed = Signal(bool)  # True: a tray appeared; False: none (gone, or none yet)

    def __init__(self, parent: QObject | None = None, *,
                 probe: Callable[[], bool] = _tray_available) -> None:
        super().__init__(parent)
        self._probe = probe
        self._watchers: dict[int, int] = {}  # id(watcher) -> interval wanted, ms
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self.present: bool | None = None
        """The last answer; None before the first check of a watch."""
        self._missing_since: float | None = None  # (monotonic) first check that found none

    @property
    def watching(self) -> bool:
        return bool(self._watchers)

    def watch(self, watcher: object, interval_ms: int) -> None:
        """``watcher`` needs to know within ``interval_ms`` (again: a new interval)."""
        self._watchers[id(watcher)] = max(1, int(interval_ms))
        self._schedule()

    def unwatch(self, watcher: object) -> None:
        """``watcher`` no longer needs to know; the clock stops with the last one."""
        if self._watchers.pop(id(watcher), None) is not None:
            self._schedule()

    def missing_for(self) -> float:
        """Seconds since a check first found no tray (0 while there is one, or unknown)."""
        if self.present is not False or self._missing_since is None:
            return 0.0
        return time.monotonic() - self._missing_since

    def check(self) -> None:
        """Ask now (the clock does this)."""
        present = bool(self._probe())
        if present == self.present:
            return
        self.present = present
        self._missing_since = None if present else time.monotonic()
        logger.debug("system tray %s", "present" if present else "missing")
        self.changed.emit(present)

    def _schedule(self) -> None:
        if not self._watchers:
            self._timer.stop()
            self.present = None  # the next watch asks afresh
            self._missing_since = None
            return
        interval = min(self._watchers.values())
        if not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)

    async def pause(self, watcher: object, ended: asyncio.Future[str], delay: float, *,
                    grace: float, poll_s: float, present_poll_s: float) -> bool:
        """Wait ``delay`` s, or until ``ended`` is done, watching the tray (every
        ``present_poll_s`` while it is there, ``poll_s`` while it is missing); False as
        soon as no tray has been there for ``grace`` s."""
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while not ended.done():
            self.watch(watcher, int(1000 * (present_poll_s if self.present else poll_s)))
            step = end - loop.time()
            if self.present is False:
                missing = self.missing_for()
                if missing >= grace:
                    return False
                step = min(step, grace - missing)
            if step <= 0:
                break
            changed: asyncio.Future[str] = loop.create_future()

            def on_changed(_present: bool, changed: asyncio.Future[str] = changed) -> None:
                if not changed.done():
                    changed.set_result("tray")

            self.changed.connect(on_changed)
            try:
                await asyncio.wait({ended, changed}, timeout=step)
            finally:
                self.changed.disconnect(on_changed)
        return True
