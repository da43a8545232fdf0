"""An event appended again after an append whose reply was lost (it had reached Redis) is
in the log twice and applied once, on every node, from a snapshot taken between the two
copies too; entries without an ``eid`` are applied as they come (real redis-server, the
cut node's link through :class:`RedisLink`)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from app.protocol.messages import JoinRequest, MembersRequest
from app.server import InterphoneServer
from app.server.redis_store import RedisStore
from tests.cluster_fixtures import (
    alice_joins_across_the_cut,
    bob_kicked_across_the_cut_and_back,
    cut_and_whole,
)
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisLink,
    RedisProcess,
    redis_server,
    settle,
    start_node,
)
from tests.server_fixtures import G58, RawClient, logged_in
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


def store_of(node: InterphoneServer) -> RedisStore:
    assert node.store is not None
    return node.store


async def log_events(node: InterphoneServer) -> list[dict[str, Any]]:
    """The shared log's events, read by ``node``'s store (which must reach Redis)."""
    store = store_of(node)
    redis = store._writer_redis
    assert redis is not None
    return [json.loads(fields["e"]) for _, fields in await redis.xrange(store.key("log"))]


async def until_in_log(node: InterphoneServer, kind: str, copies: int) -> list[dict[str, Any]]:
    """The events ``kind`` once the log holds ``copies`` of them."""
    for _ in range(200):
        events = [e for e in await log_events(node) if e.get("t") == kind]
        if len(events) >= copies:
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"the log never held {copies} {kind} events")


async def read_to_end(node: InterphoneServer, other: InterphoneServer) -> None:
    """Until ``node`` (started from a snapshot: it did not apply the log's start) has
    applied the log up to where ``other`` read its end."""
    store, end = store_of(node), store_of(other)
    redis = end._writer_redis
    assert redis is not None
    last = (await redis.xrevrange(end.key("log"), count=1))[0][0]
    await wait_until(lambda: store._last_id == last, 4.0, f"{node} read the log to {last}")


async def write_snapshot(node: InterphoneServer) -> str:
    """``node``'s replica, as applied so far, written as the store's snapshot."""
    store = store_of(node)
    assert store.replica is not None and store._writer_redis is not None
    at = store._last_id
    snapshot = store.replica.snapshot(at, asyncio.get_running_loop().time())
    await store._writer_redis.set(store.key("snapshot"), json.dumps(snapshot))
    return at


async def kick_repeated(redis: RedisProcess, *, snapshot_between: bool) -> None:
    """The cut node's reload kicks bob; its append reaches Redis but its reply is lost.
    Bob logs in again on the other node (which has not reloaded); then the cut node, back,
    appends the kick again: that second copy must not end his new session."""
    async with cut_and_whole(redis) as (link, cut, whole):
        again = await bob_kicked_across_the_cut_and_back(link, cut, whole, link.sever_after)
        if snapshot_between:
            await write_snapshot(whole)
        link.mend()
        kicks = await until_in_log(whole, "reload", 2)
        assert kicks[0] == kicks[1]  # one event, twice in the log
        await settle([cut, whole], timeout=10)
        late = await start_node(redis.url, "late") if snapshot_between else None
        try:
            nodes = [cut, whole] + ([late] if late is not None else [])
            await settle([cut, whole], timeout=10)
            if late is not None:
                await read_to_end(late, whole)
                assert store_of(late).applied < len(await log_events(whole))  # (from it)
            for node in nodes:
                assert "bob" in node.state.by_uid, node.store
            assert not await again.closed_by_server(0.5)
            assert (await again.request(MembersRequest(G58))).ok
        finally:
            if late is not None:
                await late.stop()
        await again.close()


async def test_a_reload_kick_appended_twice_does_not_end_a_session_logged_in_between(
        redis_server: RedisProcess) -> None:  # noqa: F811
    await kick_repeated(redis_server, snapshot_between=False)


async def test_a_node_started_from_a_snapshot_between_the_copies_skips_the_second(
        redis_server: RedisProcess) -> None:  # noqa: F811
    await kick_repeated(redis_server, snapshot_between=True)


async def test_a_logout_appended_twice_is_applied_once_on_every_node(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG, logger="app.server.replica")
    async with cut_and_whole(redis_server) as (link, cut, whole):
        alice = await logged_in(cut.port, "alice")
        sid = store_of(cut).node << 32
        await settle([cut, whole])
        link.sever_after(b'"t":"logout"')
        await alice.close()
        await asyncio.wait_for(link.cut.wait(), 10)
        await wait_until(lambda: "alice" not in whole.state.by_uid, 4.0, "alice logged out")
        link.mend()
        logouts = await until_in_log(whole, "logout", 2)
        assert logouts[0] == logouts[1] and logouts[0]["sid"] > sid
        await settle([cut, whole], timeout=10)
        assert skipped_copies(caplog, logouts[0]["eid"]) == 2  # once on each node
        for node in (cut, whole):
            assert "alice" not in node.state.by_uid


async def test_entries_without_eid_are_applied_as_they_come(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Entries written before events carried ``eid``: each copy applies (here a kick
    written twice ends the session logged in between)."""
    async with cut_and_whole(redis_server) as (_, cut, whole):
        store = store_of(whole)
        redis = store._writer_redis
        assert redis is not None
        kick = json.dumps({"t": "reload", "kick": ["bob"], "leave": []})
        bob = await logged_in(whole.port, "bob")
        await settle([cut, whole])
        await redis.xadd(store.key("log"), {"e": kick})
        assert await bob.closed_by_server(5.0)
        again: RawClient = await logged_in(whole.port, "bob")
        await settle([cut, whole])
        await redis.xadd(store.key("log"), {"e": kick})
        assert await again.closed_by_server(5.0)
        await settle([cut, whole])
        for node in (cut, whole):
            assert "bob" not in node.state.by_uid


def skipped_copies(caplog: pytest.LogCaptureFixture, eid: int) -> int:
    """How many nodes said they skipped a copy of their event ``eid``."""
    return len([r for r in caplog.records
                if "skipped" in r.getMessage() and f"event {eid} " in r.getMessage()])


async def test_an_undo_appended_twice_is_applied_once_on_every_node(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """alice's join turns up in the log after its refusal: her node appends its undo (a
    quit), whose reply is lost too; appended again, it is applied once, and she joins."""
    caplog.set_level(logging.DEBUG, logger="app.server.replica")
    async with cut_and_whole(redis_server, ttl=6.0, socket_timeout=1.0) as (link, cut, whole):
        limit = store_of(cut).answer_limit
        alice, bob, reply, asked = await alice_joins_across_the_cut(cut, whole, link.sever_after)
        loop = asyncio.get_running_loop()
        assert not reply.ok
        await asyncio.sleep(max(0.0, asked + limit + 0.5 - loop.time()))
        link.sever_after(b'"undo":')
        link.mend()  # the join is read back, its undo appended: its reply lost
        await asyncio.wait_for(link.cut.wait(), 10)
        record = whole.state.interphones[G58]
        await wait_until(lambda: "alice" not in record.members, 4.0, "the undo applied")
        link.mend()
        undos = [e for e in await until_in_log(whole, "quit", 2) if "undo" in e]
        assert len(undos) == 2 and undos[0] == undos[1]
        await settle([cut, whole], timeout=10)
        assert skipped_copies(caplog, undos[0]["eid"]) == 2  # once on each node
        for node in (cut, whole):
            assert "alice" not in node.state.interphones[G58].members
        for _ in range(50):  # her session goes on once her node has settled it
            rejoined = await alice.request(JoinRequest(G58), timeout=10.0)
            if rejoined.ok:
                break
            await asyncio.sleep(0.1)
        assert rejoined.ok, rejoined
        await settle([cut, whole], timeout=10)
        for node in (cut, whole):
            assert "alice" in node.state.interphones[G58].members
        for client in (alice, bob):
            await client.close()
