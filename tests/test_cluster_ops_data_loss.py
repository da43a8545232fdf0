"""A Redis that lost its data under running nodes (restarted without persistence, flushed),
and the nodes restarted one by one afterwards, as the error tells the operator to do (real
redis-server)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.protocol.messages import MembersRequest
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
    settle,
    start_node,
)
from tests.server_fixtures import G58, logged_in
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


def lost_data_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and "lost its data" in r.getMessage()]


async def test_nodes_restarted_one_by_one_after_redis_lost_its_data_rejoin_the_cluster(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """After a flush, node-seq started again from 1: a node restarted then took the number
    of a running node or of one stopped since (it read that node's ``down`` as its own:
    given up, exit 1), made a new cluster secret (no audio between it and the others) and
    started from an empty state (a member already in an interphone unknown to it)."""
    caplog.set_level(logging.INFO)
    async with running_nodes(2, redis_server.url) as nodes:
        first, second = nodes
        assert first.store is not None and second.store is not None
        bob = await logged_in(second.port, "bob")
        await bob.join(G58)
        await settle(nodes)
        redis = first.store._writer_redis
        assert redis is not None
        await redis.flushall()  # as a Redis restarted without persistence
        await wait_until(lambda: len(lost_data_errors(caplog)) == 2, 10.0,
                         "every node said the store lost its data")
        assert "restart every node, one by one" in lost_data_errors(caplog)[0]
        numbers = {first.store.node, second.store.node}
        secret = first.store.media_secret
        # the operator restarts the nodes one by one: the first one stops, a new one starts
        await first.stop()
        nodes.remove(first)
        again = await start_node(redis_server.url, "again")
        nodes.append(again)
        assert again.store is not None
        assert again.store.node not in numbers and again.store.node > max(numbers)
        assert again.store.media_secret == secret
        await asyncio.sleep(1.0)  # (a given-up node would have read its down by now)
        assert not again.store.given_up.is_set()
        assert again.store.not_ready() == ""
        carol = await logged_in(again.port, "carol")
        reply = await carol.request(MembersRequest(G58))
        assert reply.ok and "bob" in reply.body.info.members, reply
        # the repair is said once per node, not at every heartbeat
        assert len(lost_data_errors(caplog)) == 2
        await carol.close()
        await bob.close()
