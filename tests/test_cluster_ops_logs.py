"""What an operator reads in the log of a node of a cluster (real redis-server)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path

import pytest

from app.server import InterphoneServer
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    node_store,
    redis_server,
    running_nodes,
    settle,
    start_node,
)
from tests.server_fixtures import FAST, G58, logged_in, sample_directory
from tests.test_cluster import connect_when_up, doomed_node_beside_one
from tests.test_server_cli import run_cli

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
        for _ in range(100):  # every node applies its death, naming it alike
            ended = [r.getMessage() for r in caplog.records
                     if "its sessions ended" in r.getMessage()]
            if ended:
                break
            await asyncio.sleep(0.05)
        assert ended and ended[0].endswith(
            f"(doomed, relay 127.0.0.1:{port}) is down: its sessions ended"), ended


async def test_a_node_that_stops_is_named_as_having_left(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """The others logged `node 2 is down`, the words of a death, with nothing to tell which
    machine went, when an operator stopped it for a restart."""
    caplog.set_level(logging.INFO)
    async with running_nodes(2, redis_server.url) as nodes:
        staying, leaving = nodes
        assert leaving.store is not None and staying.store is not None
        number, port = leaving.store.node, leaving.port
        await settle(nodes)
        for _ in range(100):  # (its heartbeat's reading of the node list)
            if number in staying.store.replica.relays:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        caplog.clear()
        await leaving.stop()
        nodes.remove(leaving)
        for _ in range(100):
            ended = [r.getMessage() for r in caplog.records
                     if "its sessions ended" in r.getMessage()]
            if ended:
                break
            await asyncio.sleep(0.02)
        assert ended == [f"node {number} (n1, relay 127.0.0.1:{port}) left (stopped): its "
                         f"sessions ended"], ended
        # and the node itself said it told the others
        assert any(r.getMessage().startswith(f"node {number} (n1) left the store redis://")
                   for r in caplog.records), [r.getMessage() for r in caplog.records]


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


async def test_a_wildcard_node_on_a_loopback_host_name_is_warned_and_may_be_told_its_address(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With --host 0.0.0.0 the other nodes were told the host name's address, Debian's
    127.0.1.1, and audio between machines was lost without a word in the log."""
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(socket, "gethostbyname", lambda name: "127.0.1.1")
    store = node_store(redis_server.url, "wild")
    node = InterphoneServer(sample_directory(), host="0.0.0.0", port=0, settings=FAST,
                            store=store)
    await node.start()
    try:
        lines = [r.getMessage() for r in caplog.records]
        assert any(f"(wild, relay 127.0.1.1:{node.port})" in line for line in lines), lines
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                    and "--node-address" in r.getMessage()]
        assert warnings and "127.0.1.1" in warnings[0], lines
    finally:
        await node.stop()
    caplog.clear()
    told = InterphoneServer(sample_directory(), host="0.0.0.0", port=0, settings=FAST,
                            store=node_store(redis_server.url, "told"),
                            node_address="127.0.0.1")
    await told.start()
    try:
        lines = [r.getMessage() for r in caplog.records]
        assert any(f"(told, relay 127.0.0.1:{told.port})" in line for line in lines), lines
        assert not [line for line in lines if "--node-address" in line]
    finally:
        await told.stop()


def test_the_node_address_option_is_offered() -> None:
    result = run_cli("--help")
    assert "--node-address ADDRESS" in result.stdout
