"""TaskSet: the background tasks of the client and of the UI."""

from __future__ import annotations

import asyncio

from app.client.tasks import TaskSet


async def test_failures_are_reported_and_close_cancels_the_rest():
    errors = []
    tasks = TaskSet(errors.append)

    async def fail():
        raise ValueError("boom")

    tasks.spawn(fail(), "fails")
    forever = tasks.spawn(asyncio.Event().wait(), "waits")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [str(e) for e in errors] == ["boom"] and len(tasks) == 1
    await tasks.close()
    assert forever is not None and forever.cancelled() and len(tasks) == 0


async def test_nothing_starts_after_close():
    tasks = TaskSet()
    await tasks.close()
    ran = []

    async def late():
        ran.append(True)

    coro = late()
    assert tasks.spawn(coro, "late") is None
    await asyncio.sleep(0)
    assert ran == [] and coro.cr_frame is None  # closed, never "never awaited"
