"""A store that hangs instead of failing: Redis paused (SIGSTOP), stuck on a slow disk, or
cut off by a network that drops packets. Its commands then wait for the socket timeout
(5 s), while a client gives a request 5 s: the node must know sooner, and answer sooner.

A heartbeat's round or an append that Redis has not answered within :data:`SLOW` seconds
counts the store as unreachable at once (:func:`watched`: requests are refused from then
on, with the "store unavailable" wording), though the command still waits for its answer
up to the socket timeout: an answer that comes makes the store reachable again at the next
heartbeat. And a request that went to the log is answered at the latest
:data:`ANSWER_LIMIT` seconds after it was made, well within a client's request timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

SLOW = 1.0
"""Seconds a heartbeat's round or an append may wait for Redis before the store counts as
unreachable (they go on waiting for the answer up to the socket timeout)."""
ANSWER_LIMIT = 3.0
"""Seconds within which a request that went to the log is answered at the latest (refused
if it is not known to be in the log by then): below a client's request timeout (5 s), so
that the client hears the store is unavailable rather than nothing."""

TICK = 0.1
"""Seconds between two looks at a command under way (:func:`watched`)."""

T = TypeVar("T")


class StoreStalled(ConnectionError):
    """Redis did not answer a command within :data:`SLOW` seconds (it still may)."""


class _Watch:
    """Tells ``stalled`` once the loop has run ``slow`` seconds since it started (a loop
    held meanwhile is not Redis' fault: what it answered may be read but not yet taken)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, slow: float, what: str,
                 stalled: Callable[[StoreStalled], None]) -> None:
        self.loop, self.slow, self.what, self.stalled = loop, slow, what, stalled
        self.tick = min(TICK, slow)
        self.waited, self.last = 0.0, loop.time()
        self.handle: asyncio.TimerHandle | None = loop.call_later(self.tick, self._look)

    def _look(self) -> None:
        now = self.loop.time()
        self.waited += min(now - self.last, 2 * self.tick)
        self.last = now
        if self.waited < self.slow:
            self.handle = self.loop.call_later(self.tick, self._look)
            return
        self.handle = None
        self.stalled(StoreStalled(f"{self.what} not answered within {self.slow:g} s"))

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


async def watched(loop: asyncio.AbstractEventLoop, work: Awaitable[T], slow: float,
                  what: str, stalled: Callable[[StoreStalled], None]) -> T:
    """``work`` awaited; if it waits longer than ``slow`` seconds of ``loop``'s running,
    ``stalled`` is told so meanwhile (``what``: the command, for the warning)."""
    watch = _Watch(loop, slow, what, stalled)
    try:
        return await work
    finally:
        watch.cancel()
