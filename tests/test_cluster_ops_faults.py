"""A node's link to Redis rides out what redis-py raises when the network closes a
connection under it, and a node whose link broke for good stops to start again (real
redis-server)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import pytest

from app.server.__main__ import serve
from app.server.redis_store import RedisStore
from tests.cluster_fixtures import node_process_given_up
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisLink,
    RedisProcess,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import (
    logged_in,
    sample_directory,
)

pytestmark = pytest.mark.timeout(60)

CLOSED_TRANSPORT = RuntimeError(
    "unable to perform operation on <TCPTransport closed=True reading=False 0x7f0>; "
    "the handler is closed")
"""What redis-py let through when it wrote on a connection a network cut had just closed."""


async def test_a_closed_transport_under_the_log_reader_is_a_lost_connection(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """The reader took only redis-py's and the socket's errors for a lost connection: this
    one ended its task, and the node never applied the shared log again (seen when its link
    to Redis was cut: a node the others had given up served on instead of starting again)."""
    async with running_nodes(2, redis_server.url) as nodes:
        first, second = nodes
        store = first.store
        assert store is not None and store._reader_redis is not None
        reader_redis = store._reader_redis
        real_xread = reader_redis.xread
        raised: list[RuntimeError] = []

        async def xread(*args: Any, **kwargs: Any) -> Any:
            if not raised:
                raised.append(CLOSED_TRANSPORT)
                raise CLOSED_TRANSPORT
            return await real_xread(*args, **kwargs)

        reader_redis.xread = xread  # type: ignore[method-assign]
        for _ in range(100):  # the reader's next read (it blocks up to 1 s on the log)
            if raised:
                break
            await asyncio.sleep(0.05)
        assert raised, "the reader did not read again"
        bob = await logged_in(second.port, "bob")
        await settle(nodes, timeout=5)
        assert "bob" in {s.uid for s in first.state.sessions.values()}
        for _ in range(100):  # changes are accepted again from the next heartbeat on
            if store.not_ready() == "":
                break
            await asyncio.sleep(0.02)
        assert store.not_ready() == ""
        assert not store.failed.is_set()
        await bob.close()


async def test_a_node_whose_store_task_died_says_so_and_is_not_ready(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """An error no retry covers ended a task of the node's link to Redis silently: the node
    went on accepting clients with a replica nobody updated any more."""
    async with running_nodes(1, redis_server.url) as nodes:
        store = nodes[0].store
        assert store is not None

        def broken(known: dict[str, str]) -> None:
            raise ValueError("a node entry this version cannot read")

        store._learn_nodes = broken  # type: ignore[method-assign]
        await asyncio.wait_for(store.failed.wait(), 5 * BEAT + 5)
        assert "start it again" in store.not_ready()
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("store heartbeat task ended (ValueError: a node entry this version cannot "
                   "read)" in line and "must start again as a new node" in line
                   for line in errors), errors


async def test_interphone_server_exits_1_when_its_store_link_breaks(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """``serve()`` waited only for a signal or the others giving the node up: a node whose
    link to Redis had broken for good never exited, so its supervisor never restarted it."""
    store = RedisStore(redis_server.url, "n0", beat=BEAT, ttl=TTL)

    async def break_the_heartbeat() -> None:
        while store.replica is None:
            await asyncio.sleep(0.02)

        def broken(known: dict[str, str]) -> None:
            raise ValueError("a node entry this version cannot read")

        store._learn_nodes = broken  # type: ignore[method-assign]

    breaking = asyncio.ensure_future(break_the_heartbeat())
    try:
        code = await asyncio.wait_for(
            serve(sample_directory(), ["127.0.0.1"], 0, store=store), 20)
    finally:
        breaking.cancel()
    assert code == 1


async def test_a_node_given_up_exits_1_though_a_stop_signal_comes_while_it_shuts_down(
        tmp_path: Path, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """The exit code came from whether a stop signal had been received by the end of the
    shutdown: a node given up by the others that ``systemctl stop`` (or a second signal of
    its supervisor) reached while it was still telling Redis it left exited 0, and a
    supervisor that restarts only on failure left it down. What came first decides."""
    caplog.set_level(logging.INFO)
    async with node_process_given_up(tmp_path, redis_server, caplog) as cut:
        cut.link.stall_after(b'"left"')  # its leaving waits for a reply that never comes
        cut.link.mend()
        await asyncio.wait_for(cut.link.cut.wait(), 15)  # it reads its death and shuts down
        assert cut.process.returncode is None
        cut.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(cut.process.wait(), 20)
        errors = await cut.error_lines()
        assert code == 1, errors
        assert "start again as a new node" in errors[-1], errors
