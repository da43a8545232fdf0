"""A node whose event loop is held longer than its heartbeat's TTL (a big directory reload,
a storm of logins on an overloaded host) is not given up: a thread of its own, with its own
connection to Redis, keeps its heartbeat key alive while the loop is busy (real nodes, a
real redis-server). Held past the stall limit, it is given up as a dead node is."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from app.protocol import Ping
from app.server import InterphoneServer
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisProcess,
    cluster_node,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import logged_in


class ThreadNode:
    """A cluster node served by an event loop of its own, in a thread (its loop can be
    held while the test's, and the other node's, runs on)."""

    def __init__(self, redis_url: str, stall_limit: float | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.node: InterphoneServer = cluster_node(redis_url, "busy")
        if stall_limit is not None:
            assert self.node.store is not None
            self.node.store.stall_limit = stall_limit
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 20.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def hold(self, seconds: float) -> None:
        """Hold the node's event loop ``seconds`` (returns at once)."""
        self.loop.call_soon_threadsafe(time.sleep, seconds)

    def close(self) -> None:
        self.run(self.node.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def busy(redis_server: RedisProcess) -> Iterator[ThreadNode]:  # noqa: F811
    node = ThreadNode(redis_server.url)
    node.run(node.node.start())
    yield node
    node.close()


async def test_a_node_whose_loop_is_held_past_its_ttl_is_not_given_up(
        busy: ThreadNode, redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(1, redis_server.url) as nodes:
        other = nodes[0]
        bob = await logged_in(busy.node.port, "bob", timeout=10)
        await settle([other])
        assert other.state.by_uid.get("bob") is not None
        held = TTL + 2 + 2 * BEAT
        busy.hold(held)
        await asyncio.sleep(held + 2 * BEAT)  # the other node sweeps meanwhile
        # the busy node serves on: bob answered, still a session on both nodes
        assert (await bob.request(Ping(), timeout=10)).ok
        await asyncio.sleep(2 * BEAT)  # (a death appended meanwhile would have reached it)
        assert other.state.by_uid.get("bob") is not None
        store = busy.node.store
        assert store is not None and store.nodes == 2
        assert not store.given_up.is_set() and not store.failed.is_set()
        assert store.keep_alive is not None and store.keep_alive.refreshed > 0
        await bob.close()


async def test_a_node_whose_loop_is_held_past_the_stall_limit_is_given_up(
        redis_server: RedisProcess) -> None:  # noqa: F811
    stuck = ThreadNode(redis_server.url, stall_limit=1.0)
    try:
        stuck.run(stuck.node.start())
        async with running_nodes(1, redis_server.url) as nodes:
            other = nodes[0]
            bob = await logged_in(stuck.node.port, "bob", timeout=10)
            await settle([other])
            assert other.state.by_uid.get("bob") is not None
            stuck.hold(1.0 + TTL + 6)  # a loop stuck for good, as far as the others know
            for _ in range(400):  # its sessions end on the other node (a dead node's fate)
                if other.state.by_uid.get("bob") is None:
                    break
                await asyncio.sleep(0.05)
            assert other.state.by_uid.get("bob") is None
            await bob.close()
    finally:
        stuck.close()
