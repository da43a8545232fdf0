"""Items handed from a thread (audio received, frames sent) to the event loop, in order.

A thread :meth:`Handoff.put`s items; they are delivered on the loop, in the order put: at
once, or in batches every ``SINK_BATCH_S`` (one loop wake-up a batch), or only when the
owner calls :meth:`Handoff.flush` (polled mode: an owner that wakes up regularly anyway
takes them then, and the thread schedules nothing on the loop). Without a loop (fed on it,
in tests) an item is delivered as it is put. At most ``MAX_PENDING`` wait: a stalled loop
loses the oldest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

SINK_BATCH_S = 0.25
"""How long items wait to be delivered together when a batch is asked for (0.25 s: 4 loop
wake-ups a second while listening; at 0.1 s the batches were half of the GUI thread's
events in bench/idle.py)."""

MAX_PENDING = 1000
"""Items waiting at most (20 s of 20 ms frames): a stalled loop loses the oldest."""

T = TypeVar("T")


class Handoff(Generic[T]):
    """Thread-safe: :meth:`put` from any thread; the rest on the loop."""

    def __init__(self, deliver: Callable[[T], None], what: str, *,
                 post: Callable[[Callable[[], None]], None] | None = None) -> None:
        """``post(callback)``: how a thread asks the loop to run ``callback`` (its owner's
        way, which it may also use for other things; default: ``call_soon_threadsafe``)."""
        self._deliver = deliver
        self._what = what
        self._post = post or self._call_soon
        self._pending: deque[T] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._polled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop items are delivered on (None: delivered as they are put)."""

    def put(self, item: T, *, batch: bool = True) -> None:
        """One item (any thread); ``batch``: delivered with the others of the next
        ``SINK_BATCH_S``, else at the loop's next turn."""
        loop = self.loop
        if loop is None:
            self._call(item)
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
            self._pending.append(item)
            if self._scheduled or self._polled:
                return
            self._scheduled = True
        self._post(self._flush_later if batch else self._flush)

    @property
    def polled(self) -> bool:
        return self._polled

    def set_polled(self, polled: bool) -> None:
        """On the loop. True: the owner calls :meth:`flush` regularly, so :meth:`put`
        schedules nothing on the loop. False: what waits is delivered now, then batches
        are posted to the loop again. Order is kept either way (one queue, flushed on
        the loop only)."""
        with self._lock:
            self._polled = polled
        if not polled:
            self.flush()

    def flush(self) -> None:
        """On the loop: deliver what waits, in order."""
        if self._pending:
            self._flush()

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        loop = self.loop
        if loop is None:
            callback()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the owner is going away
            loop.call_soon_threadsafe(callback)

    def _flush_later(self) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_later(SINK_BATCH_S, self._flush)

    def _flush(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for item in batch:
            self._call(item)

    def _call(self, item: T) -> None:
        try:
            self._deliver(item)
        except Exception:
            logger.exception("the callback of %s failed", self._what)
