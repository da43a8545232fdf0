"""The drivers' loop timer: a deadline that moves later keeps the armed timer (under
qasync a cancelled timer's Qt timer and handle live on until their time, so re-arming at
every message piled up stale timers for as long as the keepalive)."""

from __future__ import annotations

import asyncio
import time

from app.client.deadline_timer import DeadlineTimer
from tests.client_fixtures import running_server


async def test_a_later_deadline_keeps_the_armed_timer_which_fires_first() -> None:
    fired: list[tuple[float, float]] = []
    timer = DeadlineTimer(lambda due: fired.append((due, time.monotonic())))
    start = time.monotonic()
    timer.arm(start + 0.05)
    for step in range(1, 50):
        timer.arm(start + 0.05 + step)  # e.g. the ping moved by each message sent
    assert timer.started == 1 and timer.armed_at == start + 0.05
    await asyncio.sleep(0.15)
    assert len(fired) == 1
    due, at = fired[0]
    assert due == start + 0.05 and at >= due - 0.005
    assert timer.armed_at is None  # the driver arms it again for the later deadline


async def test_an_earlier_deadline_replaces_it_and_none_cancels_it() -> None:
    fired: list[float] = []
    timer = DeadlineTimer(fired.append)
    start = time.monotonic()
    timer.arm(start + 10)
    timer.arm(start + 0.03)  # a request sent: its timeout comes first
    assert timer.started == 2 and timer.armed_at == start + 0.03
    await asyncio.sleep(0.1)
    assert fired == [start + 0.03]
    timer.arm(start + 0.05)
    timer.arm(None)  # the machine needs no timer any more
    await asyncio.sleep(0.1)
    assert fired == [start + 0.03] and timer.armed_at is None


async def test_requests_on_a_long_keepalive_start_few_loop_timers() -> None:
    """Each request moves the session's next deadline (its timeout, then the ping after
    it): a hundred requests started two loop timers each before."""
    from app.client import InterphoneClient

    async with running_server(keepalive=3600, rate_burst=1000) as server:
        client = InterphoneClient("127.0.0.1", server.port, "alice", "pw-alice",
                                  reconnect=False)
        try:
            await client.connect()
            conn = client._conn
            assert conn is not None
            before = conn._timer.started
            for _ in range(100):
                await client.sync()
            assert conn._timer.started - before <= 3
            assert conn._timer.armed_at is not None  # the next ping or timeout is timed
        finally:
            await client.close()
