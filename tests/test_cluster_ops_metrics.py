"""What the metrics and the log of a node of several say about the cluster: its nodes, and
the requests refused while Redis was away (real redis-server)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_server_ops_metrics import samples, scrape

from app.protocol.messages import MembersRequest
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    cluster_node,
    redis_server,
)
from tests.server_fixtures import G58, logged_in
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_the_metrics_count_the_nodes_and_the_requests_refused_while_redis_was_away(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """A node killed, or Redis away for 30 s, showed in no metric: how many nodes the
    cluster has, how many requests of clients were refused meanwhile."""
    caplog.set_level(logging.INFO)
    first = cluster_node(redis_server.url, "first", metrics=("127.0.0.1", 0))
    second = cluster_node(redis_server.url, "second")
    await first.start()
    await second.start()
    try:
        assert first.metrics is not None

        async def metric(name: str, **labels: str) -> float:
            assert first.metrics is not None
            found = samples((await scrape(first.metrics.port))[1])
            return found.get((name, tuple(sorted(labels.items()))), -1.0)

        async def nodes_are(count: float) -> None:
            for _ in range(200):
                if await metric("interphone_cluster_nodes") == count:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"interphone_cluster_nodes never {count}")

        await nodes_are(2)
        await second.stop()
        await nodes_are(1)
        refused = "interphone_requests_refused_total"
        assert await metric(refused, reason="store_unavailable") == 0
        alice = await logged_in(first.port, "alice")
        redis_server.stop()
        await wait_until(lambda: messages(caplog, "store unreachable"), 10.0, "the outage")
        for _ in range(3):
            reply = await alice.request(MembersRequest(G58))
            assert not reply.ok and "store unavailable" in reply.body.errmsg
        assert await metric(refused, reason="store_unavailable") == 3
        redis_server.start()
        await wait_until(lambda: messages(caplog, "store reachable again"), 10.0, "back")
        assert messages(caplog, "store reachable again")[0] == (
            "store reachable again: accepting changes (3 request(s) of clients refused "
            "meanwhile)")
        await alice.close()
    finally:
        await second.stop()
        await first.stop()


async def test_a_node_alone_in_its_store_says_it_began_a_new_cluster(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """A node given another database (``/1``) than the others served as a cluster of its own
    (its clients saw nobody of the others), and its start line read like theirs."""
    caplog.set_level(logging.INFO)
    first = cluster_node(redis_server.url, "first")
    second = cluster_node(redis_server.url, "second")
    astray = cluster_node(redis_server.url.replace("/0", "/1"), "astray")
    for server in (first, second, astray):
        await server.start()
    try:
        starts = {name: next(r.getMessage() for r in caplog.records
                         if f"({name}, relay" in r.getMessage() and "of the store" in
                         r.getMessage()) for name in ("first", "second", "astray")}
        new = ": its first node, a new cluster (a node meant to join running ones names "
        assert new in starts["first"] and new in starts["astray"], starts
        assert new not in starts["second"], starts
        assert starts["astray"].startswith("node 1 (astray, relay"), starts
    finally:
        for server in (astray, second, first):
            await server.stop()
