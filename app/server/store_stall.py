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
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

SLOW = 1.0
"""Seconds a heartbeat's round or an append may wait for Redis before the store counts as
unreachable (they go on waiting for the answer up to the socket timeout)."""
ANSWER_LIMIT = 3.0
"""Seconds within which a request that went to the log is answered at the latest (refused
if it is not known to be in the log by then): below a client's request timeout (5 s), so
that the client hears the store is unavailable rather than nothing."""

T = TypeVar("T")


class StoreStalled(ConnectionError):
    """Redis did not answer a command within :data:`SLOW` seconds (it still may)."""


async def watched(work: Coroutine[Any, Any, T], slow: float, what: str,
                  stalled: Callable[[StoreStalled], None]) -> T:
    """``work``'s result; if it takes longer than ``slow`` seconds, ``stalled`` is told so
    meanwhile (``what``: the command, for the warning). Cancelled, ``work`` is too."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=slow)
        if not done:
            stalled(StoreStalled(f"{what} not answered within {slow:g} s"))
        return await task
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise
