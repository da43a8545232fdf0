"""Background coroutines: kept, logged when they fail, cancelled on shutdown.

The client's reconnect and refresh tasks and the UI's slot coroutines go
through a :class:`TaskSet`. Qt slots stay plain functions (no ``asyncSlot``
pitfalls with argument-less signals); they call :meth:`TaskSet.spawn`, which
schedules the coroutine on the running asyncio loop (qasync's, so on the Qt
thread). Once closed, a set refuses new coroutines, so nothing started during
shutdown outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

ErrorHandler = Callable[[BaseException], None]


class TaskSet:
    """The asyncio tasks an object started."""

    def __init__(self, on_error: ErrorHandler | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any] | None:
        if self._closed:
            coro.close()
            return None
        task = asyncio.get_event_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        logger.warning("task %s failed: %r", task.get_name(), exc,
                       exc_info=(type(exc), exc, exc.__traceback__))
        if self._on_error is not None:
            self._on_error(exc)

    async def close(self) -> None:
        """Cancel what still runs and wait for it."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def __len__(self) -> int:
        return len(self._tasks)
