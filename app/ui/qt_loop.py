"""The app's asyncio loop: qasync's, whose cancelled timers stop at once and whose tasks
survive Qt events processed inside a task.

qasync runs each ``call_soon``/``call_later``/``call_at`` as one Qt timer
(``_SimpleTimer.add_callback`` → ``QObject.startTimer``) kept with its handle until it
fires. ``Handle.cancel()`` only marks the handle: its Qt timer stays registered with the
event dispatcher, and the handle (with its context) stays in qasync's table, until the
original due time. The app cancels and re-arms long timers all the time (the turn
machine's talk limit, a minute by default), so they piled up by the thousand.

:class:`QtLoop` is ``qasync.QEventLoop`` with one part replaced: the loop's ``_timer``
is a :class:`_CancellableTimer`, which hands out :class:`_TimerHandle` handles whose
``cancel()`` kills the Qt timer and forgets the handle at once. The same timer keeps a
task's step that comes due while Qt events are processed inside another task's step
(``processEvents``, a modal dialog) until that step is over: run there, asyncio would
refuse it and the task would never wake again; and it keeps whatever comes due while the
loop does not run (the Qt events qasync's ``run_until_complete`` processes after its loop
stopped) until it runs again, as asyncio does. Everything else (call
order, running handles, debug mode, stop and close, ``run_until_complete``, socket
notifiers, ``call_soon_threadsafe``) is qasync's own.

What it relies on in qasync (0.27 and 0.28 have it): the loop keeps its timer in
``self._timer``, an instance of ``qasync._SimpleTimer`` with ``add_callback``, ``stop``
and ``set_debug``; ``close()`` and ``set_debug()`` call the last two; ``call_soon`` and
``call_at`` (and so the notifiers and ``call_soon_threadsafe``) go through
``call_later``. Where that is not so (another qasync), the loop logs one warning and
behaves exactly as qasync's.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QObject, QTimerEvent

logger = logging.getLogger(__name__)

_warned_unsupported = False

NESTED_STEP_RETRY_S = 0.005
"""A task's step reached while another task's step processes Qt events is tried again
after this long (not at once: a modal loop would spin)."""


def _qasync_timer_class() -> type | None:
    """qasync's timer class if it is the one this module replaces, else None."""
    timer_class = getattr(qasync, "_SimpleTimer", None)
    if not isinstance(timer_class, type) or not all(
            callable(getattr(timer_class, name, None))
            for name in ("add_callback", "stop", "set_debug")):
        return None
    return timer_class


class _TimerHandle(asyncio.Handle):
    """A handle whose ``cancel()`` also stops its Qt timer and leaves its table."""

    __slots__ = ("_timer", "_timer_id")

    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop,
                 context: contextvars.Context | None) -> None:
        super().__init__(callback, args, loop, context=context)
        self._timer: _CancellableTimer | None = None
        self._timer_id = 0

    def cancel(self) -> None:
        if self._cancelled:
            return
        super().cancel()  # drops the callback and its arguments
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.forget(self)


class _CancellableTimer(QObject):
    """qasync's ``_SimpleTimer`` (one Qt timer per handle, run in its ``timerEvent``)
    keeping ``timer id -> handle``, where a cancelled handle's Qt timer is killed and its
    entry dropped at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._handles: dict[int, asyncio.Handle] = {}
        self._stopped = False
        self._debug = False
        self._loop = weakref.ref(loop)
        self._thread = threading.get_ident()

    def waiting(self) -> int:
        """How many handles wait for their Qt timer."""
        return len(self._handles)

    def add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        timer_id = self.startTimer(int(max(0, delay) * 1000))
        if self._debug:
            logger.debug("Registering timer id %s", timer_id)
        self._handles[timer_id] = handle
        if isinstance(handle, _TimerHandle):
            handle._timer, handle._timer_id = self, timer_id
        return handle

    def forget(self, handle: _TimerHandle) -> None:
        """``handle`` was cancelled: its Qt timer stops, the table lets it go. From
        another thread (where Qt refuses to kill a timer) it is left to its time, as
        qasync would, and skipped then."""
        timer_id = handle._timer_id
        if self._handles.get(timer_id) is not handle or threading.get_ident() != self._thread:
            return
        del self._handles[timer_id]
        self.killTimer(timer_id)

    def timerEvent(self, event: QTimerEvent) -> None:
        timer_id = event.timerId()
        self.killTimer(timer_id)
        handle = self._handles.pop(timer_id, None)
        if handle is None or self._stopped or handle.cancelled():
            return
        loop = self._loop()
        if loop is not None and not loop.is_running():
            # qasync's run_until_complete processes Qt events once more after its loop
            # stopped: asyncio runs no callback outside its loop, and one run there finds
            # no running loop (a task's step fails on it); it waits for the next run
            self.add_callback(handle, NESTED_STEP_RETRY_S)
            return
        if self._inside_another_tasks_step(handle):
            self.add_callback(handle, NESTED_STEP_RETRY_S)
            return
        if isinstance(handle, _TimerHandle):
            handle._timer = None
        if self._debug:
            self._run_timed(handle)
        else:
            handle._run()

    def _inside_another_tasks_step(self, handle: asyncio.Handle) -> bool:
        """Is ``handle`` a step of a task while Qt events are processed inside another
        task's step (``processEvents``, a modal dialog's loop)? asyncio refuses to enter a
        task there and drops the step: that task would wait for good, and whatever awaits
        it (a ``gather``, a close) with it."""
        loop = self._loop()
        if loop is None or asyncio.current_task(loop) is None:
            return False
        return isinstance(getattr(handle._callback, "__self__", None),  # type: ignore[attr-defined]
                          asyncio.Task)

    def _run_timed(self, handle: asyncio.Handle) -> None:
        """Debug mode, as qasync's: the loop's current handle set, slow callbacks logged."""
        loop = self._loop()
        if loop is None:
            handle._run()
            return
        try:
            loop._current_handle = handle  # type: ignore[attr-defined]
            logger.debug("Calling handle %s", handle)
            started = time.time()
            handle._run()
            took = time.time() - started
            if took >= loop.slow_callback_duration:
                logger.warning("Executing %s took %.3f seconds", _describe(handle), took)
        finally:
            loop._current_handle = None  # type: ignore[attr-defined]

    def stop(self) -> None:
        """The loop closed: nothing waiting runs any more, every Qt timer stops."""
        if self._debug:
            logger.debug("Stopping timers")
        self._stopped = True
        for timer_id in self._handles:
            self.killTimer(timer_id)
        self._handles.clear()

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled


class QtLoop(qasync.QEventLoop):
    """``qasync.QEventLoop`` whose cancelled timer handles stop their Qt timer and drop
    their callback at once (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timer_class = _qasync_timer_class()
        if timer_class is not None and isinstance(getattr(self, "_timer", None), timer_class):
            self._timer = _CancellableTimer(self)
        else:
            _warn_unsupported()

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any,
                   context: contextvars.Context | None = None) -> asyncio.Handle:
        """Run ``callback(*args)`` after ``delay`` seconds (``call_soon`` and ``call_at``
        come here too)."""
        timer = getattr(self, "_timer", None)
        if not isinstance(timer, _CancellableTimer):
            return super().call_later(delay, callback, *args, context=context)
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with call_later")
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        if self.get_debug():
            logger.debug("Registering callback %s to be invoked with arguments %s "
                         "after %s second(s)", callback, args, delay)
        return timer.add_callback(_TimerHandle(callback, args, self, context), delay)

    def waiting_timers(self) -> int:
        """How many handles wait for their Qt timer (0 where qasync's timer is kept)."""
        timer = getattr(self, "_timer", None)
        return timer.waiting() if isinstance(timer, _CancellableTimer) else 0


DRAIN_TIMEOUT_S = 5.0
"""How long :func:`drain` waits for cancelled tasks to finish: one that does not (it
swallowed its cancellation and waits on) must not keep the app from quitting."""


def drain(loop: asyncio.AbstractEventLoop, timeout: float = DRAIN_TIMEOUT_S) -> None:
    """Cancel and finish whatever tasks are left on ``loop`` (not running), so none is
    destroyed pending, and close its asynchronous generators: what is done before the loop
    is closed. Tasks still not finished after ``timeout`` seconds are logged and left."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        finished, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=timeout))
        for task in finished:
            if not task.cancelled():
                task.exception()  # (seen: not reported again as "never retrieved")
        for task in stuck:
            logger.warning("task still running %.0f s after it was cancelled, left: %r",
                           timeout, task)
    try:
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), timeout))
    except TimeoutError:
        logger.warning("asynchronous generators still open %.0f s after the end", timeout)


def _describe(handle: asyncio.Handle) -> str:
    """A handle as qasync's debug mode names it: the task it steps, if it steps one."""
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    return repr(owner) if isinstance(owner, asyncio.Task) else str(handle)


def _warn_unsupported() -> None:
    global _warned_unsupported
    if not _warned_unsupported:
        _warned_unsupported = True
        logger.warning("qasync %s does not keep its timers as this loop expects: cancelled "
                       "loop timers stay until their time, as in plain qasync",
                       getattr(qasync, "__version__", "(unknown version)"))
