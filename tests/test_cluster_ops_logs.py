"""What an operator reads in the log of a node of a cluster (real redis-server)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
    settle,
    start_node,
)
from tests.server_fixtures import G58, logged_in
from tests.test_cluster import connect_when_up, doomed_node_beside_one

pytestmark = pytest.mark.timeout(60)


async def test_a_node_started_later_does_not_log_the_past_as_new(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    async with running_nodes(1, redis_server.url) as nodes:
        alice = await logged_in(nodes[0].port, "alice")
        await alice.join(G58)
        await alice.close()
        for _ in range(100):  # the first node logged the logout
            if any("logout uid=alice" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
        await settle(nodes)
        caplog.clear()
        nodes.append(await start_node(redis_server.url, "late"))
        await settle(nodes)
        lines = [r.getMessage() for r in caplog.records]
        # what happened before the node started is not logged again as if it happened now
        assert not [line for line in lines if "uid=alice" in line], lines
        assert any("before this start" in line for line in lines), lines
        # what happens from then on is logged
        caplog.clear()
        bob = await logged_in(nodes[1].port, "bob")
        await settle(nodes)
        assert any("login uid=bob" in r.getMessage() for r in caplog.records)
        await bob.close()


async def test_a_node_that_stops_beating_is_named_plainly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with doomed_node_beside_one(tmp_path) as (port, process, _nodes):
        await (await connect_when_up(port, "alice")).close()
        process.send_signal(signal.SIGKILL)
        process.wait()
        for _ in range(200):
            lines = [r.getMessage() for r in caplog.records if "stopped beating" in r.getMessage()]
            if lines:
                break
            await asyncio.sleep(0.05)
        assert lines, "no node death logged"
        # its name and relay address, not the store's raw record
        assert f"(doomed, relay 127.0.0.1:{port})" in lines[0], lines[0]
        assert "{" not in lines[0], lines[0]


async def test_a_store_that_lost_its_data_is_an_error_saying_to_restart_the_nodes(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    async with running_nodes(1, redis_server.url) as nodes:
        store = nodes[0].store
        assert store is not None and store._writer_redis is not None
        await store._writer_redis.flushall()  # as a Redis restarted without persistence
        for _ in range(100):
            errors = [r for r in caplog.records
                      if r.levelno >= logging.ERROR and "lost its data" in r.getMessage()]
            if errors:
                break
            await asyncio.sleep(0.05)
        assert errors, [r.getMessage() for r in caplog.records]
        assert "restart every node" in errors[0].getMessage()
