"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate when a
threshold is crossed, and the audio threads (PortAudio's callback, the
clocked device) allocate. A Qt object left in a reference cycle collected
there is destroyed from the wrong thread: its timers stay registered with the
GUI thread's dispatcher and the next timer event lands on freed memory. While
the app runs, automatic collection is off and this collector runs the same
generational policy from a timer on the GUI thread instead.

A full collection walks every tracked object: about 80,000 once the app is signed
in (modules, Qt wrappers, the window), 55-75 ms of the GUI thread each time. Once a
session has settled, :func:`settle` collects and then freezes what survives
(``gc.freeze``: those objects live as long as the session), so that later full
collections walk only what came after; :func:`unsettle` at the session's end gives
them back to the collector (a signed-out window's cycles must not stay).
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

logger = logging.getLogger(__name__)

INTERVAL_MS = 500


def settle() -> int:
    """Collect everything, then keep the survivors out of later collections (on the GUI
    thread, once the session is up). Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("%d objects frozen out of later full collections", frozen)
    return frozen


def unsettle() -> None:
    """Give what :func:`settle` froze back to the collector (the session is ending)."""
    gc.unfreeze()


class GuiThreadCollector(QObject):
    """Turns automatic collection off and collects from a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = 0

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.collect_due()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold, as gc would."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            threshold = self._thresholds[generation]
            if threshold and counts[generation] >= threshold:
                gc.collect(generation)
                self.collections += 1
                return generation
        return None
