"""The frames this client sends, handed from the sending thread to the loop.

The app's audio input thread sends each Opus frame (:meth:`MediaEndpoint.send_audio
<app.client.media.MediaEndpoint.send_audio>`); whoever keeps them (the instant replay of
our own talks) lives on the loop. :class:`SentAudio` queues them there as the received
audio is queued: delivered in batches (one loop wake-up every ``SINK_BATCH_S``), or only
when the owner polls (:attr:`SentAudio.polled`), and at once whenever :meth:`flush` is
called (the client does it before any model event is heard of, so that every frame of a
talk is delivered before its end is told).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from app.client.media import MAX_PENDING, SINK_BATCH_S, SentAudioCallback

logger = logging.getLogger(__name__)


class SentAudio:
    """A thread-safe queue of sent frames, delivered on the loop to ``deliver``."""

    def __init__(self, deliver: SentAudioCallback) -> None:
        self._deliver = deliver
        self._pending: deque[tuple[str, int, bytes]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._polled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop :meth:`flush` runs on (set on it, before any frame is sent)."""

    @property
    def polled(self) -> bool:
        return self._polled

    @polled.setter
    def polled(self, polled: bool) -> None:
        """On the loop. True: the owner calls :meth:`flush` regularly; False: what waits
        is delivered now, then batches are posted to the loop again."""
        with self._lock:
            self._polled = polled
        if not polled:
            self.flush()

    def put(self, interphone: str, seq: int, frame: bytes) -> None:
        """One frame sent (in any thread)."""
        with self._lock:
            if len(self._pending) >= MAX_PENDING:  # a stalled loop: the oldest go
                self._pending.popleft()
            self._pending.append((interphone, seq, frame))
            if self._scheduled or self._polled:
                return
            self._scheduled = True
        self._on_loop(self._flush_later)

    def _on_loop(self, callback: Callable[[], None]) -> None:
        loop = self.loop
        if loop is None:
            callback()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the client is going away
            loop.call_soon_threadsafe(callback)

    def _flush_later(self) -> None:
        loop = self.loop
        if loop is None:
            self.flush()
        elif not loop.is_closed():
            loop.call_later(SINK_BATCH_S, self.flush)

    def flush(self) -> None:
        """On the loop: deliver what waits, in order."""
        if not self._pending:
            return
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for interphone, seq, frame in batch:
            try:
                self._deliver(interphone, seq, frame)
            except Exception:
                logger.exception("the sent audio's callback failed")

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
