"""``--metrics`` on a node of a cluster: the scrape has the node's round trip to Redis
(``interphone_store_latency_seconds{node}``, listed in docs/deploy.md)."""

from __future__ import annotations

import asyncio

import pytest
from test_server_ops_metrics import samples, scrape

from app.server import InterphoneServer
from tests.redis_fixtures import RedisProcess, node_store, redis_server  # noqa: F401
from tests.server_fixtures import FAST, sample_directory

pytestmark = pytest.mark.timeout(60)


async def test_a_node_reports_its_round_trip_to_the_store(
        redis_server: RedisProcess) -> None:  # noqa: F811
    node = InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                            store=node_store(redis_server.url, "node-a"),
                            metrics=("127.0.0.1", 0))
    await node.start()
    try:
        assert node.metrics is not None
        key = ("interphone_store_latency_seconds", (("node", "node-a"),))
        found: dict = {}
        for _ in range(100):  # the first heartbeat comes right after the start
            found = samples((await scrape(node.metrics.port))[1])
            if key in found:
                break
            await asyncio.sleep(0.05)
        latency = found[key]
        assert 0 < latency < 5
    finally:
        await node.stop()


async def test_one_server_has_no_store_latency() -> None:
    async with InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                                metrics=("127.0.0.1", 0)) as server:
        assert server.metrics is not None
        found = samples((await scrape(server.metrics.port))[1])
        assert "interphone_sessions" in {name for name, _ in found}
        assert not [key for key in found if key[0] == "interphone_store_latency_seconds"]
