"""A node that stops (SIGTERM, ``systemctl stop``/``restart``) leaves the cluster in one
step: what the other nodes read in Redis meanwhile never shows it both gone (its
``down`` in the log) and still there (in ``nodes``), and a node given up is never learned
again (real redis-server)."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from app.server import InterphoneServer
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisLink,
    RedisProcess,
    node_store,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import FAST, G58, logged_in, sample_directory

pytestmark = pytest.mark.timeout(60)

DELAY = 0.1
"""Seconds late that what the stopping node sends reaches Redis."""


async def test_a_stopping_node_is_never_seen_down_and_listed_at_once(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """It appended its ``down``, then left ``nodes`` one round trip to Redis later: a node
    reading the list in between learned it again after it had applied its death (its relay
    came back in that node's snapshots, so a node started from one took it for alive)."""
    link = RedisLink(redis_server.port, delay=DELAY)
    await link.start()
    leaving = InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                               store=node_store(link.url, "leaving"))
    observer = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        async with running_nodes(1, redis_server.url) as nodes:
            await leaving.start()
            store = leaving.store
            assert store is not None
            number = str(store.node)
            alice = await logged_in(leaving.port, "alice")
            await alice.join(G58)
            await settle([*nodes, leaving], timeout=10)
            assert await observer.hexists("interphone:nodes", number)
            last = (await observer.xrevrange("interphone:log", count=1))[0][0]

            async def watch() -> tuple[bool, bool]:
                """What another node reads right when the down entry comes."""
                at = last
                while True:
                    for _, entries in await observer.xread({"interphone:log": at}, block=5000):
                        for entry_id, fields in entries:
                            at = entry_id
                            event = json.loads(fields["e"])
                            if event.get("t") == "down" and str(event["node"]) == number:
                                listed = await observer.hexists("interphone:nodes", number)
                                beating = await observer.exists(f"interphone:alive:{number}")
                                return bool(listed), bool(beating)

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(0.05)  # (its XREAD is blocked)
            await leaving.stop()
            listed, beating = await asyncio.wait_for(watcher, 10)
            assert not listed, "the down entry was in the log while the node was still listed"
            assert not beating
            await alice.close()
    finally:
        await leaving.stop()
        await observer.aclose()
        await link.close()


async def test_a_node_given_up_is_not_learned_again_from_a_node_list_read_before(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """A heartbeat reads ``nodes`` while the reader applies the log: a list read just before
    a node's ``down`` was applied still names it, and learning it from there brought its
    relay back into this node's list, its snapshots and the nodes started from them."""
    async with running_nodes(2, redis_server.url) as nodes:
        staying, leaving = nodes
        assert staying.store is not None and leaving.store is not None
        gone = leaving.store.node
        redis = staying.store._writer_redis
        assert redis is not None
        for _ in range(100):  # (a node lists itself once its tasks run)
            known = await redis.hgetall("interphone:nodes")
            if str(gone) in known and gone in staying.store.replica.relays:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        relay = staying.store.replica.relays[gone]  # type: ignore[union-attr]
        await leaving.stop()
        nodes.remove(leaving)
        for _ in range(100):
            if gone not in staying.store.replica.relays:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        staying.store._learn_nodes(known)  # the list as a heartbeat read it, before the down
        replica = staying.store.replica
        assert replica is not None
        assert gone not in replica.relays
        assert relay not in staying.state.media_gate.relays
        assert str(gone) not in replica.snapshot("0-0")["relays"]
        assert staying.state.node_auth is not None
        assert gone not in staying.state.node_auth.alive


async def test_what_a_stopping_node_had_not_appended_yet_goes_before_its_down(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """A node that had just given another up (removed from ``nodes``: no other node would)
    and stopped before its writer appended that death left the other's sessions in every
    node's state for good."""
    async with running_nodes(1, redis_server.url) as nodes:
        node = nodes[0]
        store, replica = node.store, node.store.replica if node.store else None
        assert store is not None and replica is not None and store._writer_redis is not None
        replica.node_down(77)  # (as its sweep does once it won the HDEL)
        replica.session_gone(store.node << 32 | 5)  # not a session: nothing to append
        await store.stop()
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            events = [json.loads(fields["e"])
                      for _, fields in await redis.xrange("interphone:log")]
        finally:
            await redis.aclose()
        downs = [e["node"] for e in events if e.get("t") == "down"]
        assert downs == [77, store.node]
