"""Cyclic garbage (Qt objects included) is collected on the GUI thread, never an audio thread."""

from __future__ import annotations

import gc
import threading
from typing import ClassVar

from PySide6.QtCore import QObject

from app.ui.gui_thread_gc import GuiThreadCollector


class Cycle:
    """A reference cycle holding a QObject, like a view and presenter referring to each other."""

    finalized_on: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.me = self
        self.qobject = QObject()

    def __del__(self) -> None:
        Cycle.finalized_on.append(threading.current_thread().name)


def test_collection_moves_to_the_gui_thread(qtbot) -> None:
    collector = GuiThreadCollector(interval_ms=20)
    was_enabled = gc.isenabled()
    gc.collect()
    collector.start()
    try:
        assert not gc.isenabled()
        Cycle.finalized_on.clear()
        Cycle()  # unreachable at once, but only the cyclic collector can free it

        kept: list[list[list[int]]] = []

        def audio_thread_allocates() -> None:
            kept.append([[i] for i in range(50_000)])  # far past gc's thresholds

        worker = threading.Thread(target=audio_thread_allocates, name="audio")
        worker.start()
        worker.join()
        assert Cycle.finalized_on == []  # nothing was collected on the audio thread
        qtbot.waitUntil(lambda: Cycle.finalized_on != [], timeout=5000)
        assert Cycle.finalized_on == [threading.main_thread().name]
        assert collector.collections >= 1
        kept.clear()
    finally:
        collector.stop()
    assert gc.isenabled() == was_enabled


def test_settle_freezes_the_survivors_and_later_garbage_is_still_collected(qtbot) -> None:
    """A settled session's objects are kept out of full collections (``gc.freeze``); what
    comes after is collected on the GUI thread as before, and unsettling gives the
    frozen objects back to the collector."""
    from app.ui.gui_thread_gc import settle, unsettle

    collector = GuiThreadCollector(interval_ms=20)
    collector.start()
    try:
        old = Cycle()  # alive at settle time: frozen with the rest
        frozen = settle()
        assert frozen == gc.get_freeze_count() > 1000  # the interpreter, Qt's wrappers...
        assert not any(item is old for item in gc.get_objects())  # out of every generation
        Cycle.finalized_on.clear()
        Cycle()  # garbage made after settling: still collected, on the GUI thread
        gc.collect(2)  # what the collector runs once a full collection is due
        assert Cycle.finalized_on == [threading.main_thread().name]
        Cycle.finalized_on.clear()
        del old  # a frozen cycle that became garbage: kept while settled...
        gc.collect(2)
        assert Cycle.finalized_on == []
        unsettle()  # ...and collected once the session ends
        assert gc.get_freeze_count() == 0
        gc.collect(2)
        assert Cycle.finalized_on == [threading.main_thread().name]
    finally:
        unsettle()
        collector.stop()
