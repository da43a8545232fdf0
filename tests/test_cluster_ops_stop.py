"""A node that stops (SIGTERM, ``systemctl stop``/``restart``) leaves the cluster in one
step: what the other nodes read in Redis meanwhile never shows it both gone (its
``down`` in the log) and still there (in ``nodes``), and a node given up is never learned
again (real redis-server)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.server import InterphoneServer, log_writer, redis_store
from app.server.directory import Directory
from tests.cluster_fixtures import (
    bob_kicked_across_the_cut_and_back,
    cut_and_whole,
    node_process_given_up,
)
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisLink,
    RedisProcess,
    cluster_node,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import G58, logged_in
from tests.test_cluster_append_dedupe import log_events, skipped_copies, until_in_log
from tests.test_cluster_extensions import WITHOUT_BOB_AND_CAROL_OUT_OF_58 as WITHOUT_BOB
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

DELAY = 0.1
SLOW_LINK_ANSWER_S = 10.0
"""A login or join through a node DELAY from Redis takes about 0.65 s (three round trips
and the reader's wake-up); on a loaded machine several times that."""
"""Seconds late that what the stopping node sends reaches Redis."""


async def shared_log(redis_url: str) -> list[dict[str, Any]]:
    """The events of the shared log on the Redis at ``redis_url``, read by a client of its
    own (the nodes' may have stopped)."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        return [json.loads(fields["e"]) for _, fields in await redis.xrange("interphone:log")]
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def node_behind_a_slow_link(redis: RedisProcess, name: str
                                  ) -> AsyncIterator[tuple[InterphoneServer, Redis]]:
    """A node named ``name`` (not started) whose link to ``redis`` delivers what it sends
    DELAY seconds late, and a client of ``redis`` to watch it: both, the node stopped, the
    client closed and the link closed at the end."""
    link = RedisLink(redis.port, delay=DELAY)
    await link.start()
    node = cluster_node(link.url, name)
    observer = Redis.from_url(redis.url, decode_responses=True)
    try:
        yield node, observer
    finally:
        await node.stop()
        await observer.aclose()
        await link.close()


async def test_a_stopping_node_is_never_seen_down_and_listed_at_once(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """It appended its ``down``, then left ``nodes`` one round trip to Redis later: a node
    reading the list in between learned it again after it had applied its death (its relay
    came back in that node's snapshots, so a node started from one took it for alive)."""
    async with (node_behind_a_slow_link(redis_server, "leaving") as (leaving, observer),
                running_nodes(1, redis_server.url) as nodes):
        await leaving.start()
        store = leaving.store
        assert store is not None
        number = str(store.node)
        alice = await logged_in(leaving.port, "alice", timeout=SLOW_LINK_ANSWER_S)
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
        events = await shared_log(redis_server.url)
        downs = [e["node"] for e in events if e.get("t") == "down"]
        assert downs == [77, store.node]


async def test_an_append_under_way_when_a_node_stops_goes_before_its_down(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """The reload's kick of bob (logged in on the other node) was in the writer's append,
    which never reached Redis, when the node stopped: only its ``down`` was appended, and
    bob stayed logged in on the other node although the new directory removes him."""
    async with cut_and_whole(redis_server) as (link, cut, whole):
        bob = await logged_in(whole.port, "bob")
        await settle([cut, whole])
        link.silence_after(b'"t":"reload"', delivered=False)
        cut.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
        await asyncio.wait_for(link.cut.wait(), 10)  # lost on the way, its reply awaited
        number = cut.store.node if cut.store else 0
        await cut.stop()
        assert await bob.closed_by_server(5.0)
        await wait_until(lambda: "bob" not in whole.state.by_uid, 4.0, "bob logged out")
        mine = [e["t"] for e in await log_events(whole) if e.get("by") == number]
        assert mine[-2:] == ["reload", "down"], mine


async def test_an_append_under_way_at_a_stop_that_reached_redis_is_applied_once(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """The kick reached Redis, its reply did not come back before the node stopped: the
    copy the stop appends is skipped, and does not end bob's session logged in between."""
    caplog.set_level(logging.DEBUG, logger="app.server.replica")
    async with cut_and_whole(redis_server) as (link, cut, whole):
        again = await bob_kicked_across_the_cut_and_back(
            link, cut, whole, functools.partial(link.silence_after, delivered=True))
        number = cut.store.node if cut.store else 0
        await cut.stop()
        kicks = await until_in_log(whole, "reload", 2)
        assert kicks[0] == kicks[1]
        mine = [e["t"] for e in await log_events(whole) if e.get("by") == number]
        assert mine[-3:] == ["reload", "reload", "down"], mine
        await settle([whole])
        assert skipped_copies(caplog, kicks[0]["eid"]) == 1  # (cut no longer reads)
        assert not await again.closed_by_server(0.5)
        assert "bob" in whole.state.by_uid
        await again.close()


async def test_a_node_given_up_while_cut_off_from_redis_exits_to_start_again_as_a_new_one(
        tmp_path: Path, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """It read its own death when Redis came back, closed its clients and went on serving
    under the number the others had given up: they refused every datagram its relay
    forwarded (a speaker there was not heard on the other nodes, and the warning blamed
    INTERPHONE_CLUSTER_KEY), and its clients logged in there again."""
    caplog.set_level(logging.INFO)
    async with node_process_given_up(tmp_path, redis_server, caplog) as cut:
        cut.link.mend()
        if not await cut.alice.closed_by_server(10.0):
            cut.process.kill()
            assert cut.process.stderr is not None
            raise AssertionError((await cut.process.stderr.read()).decode()[-6000:])
        code = await asyncio.wait_for(cut.process.wait(), 15)
        errors = await cut.error_lines()
        assert code == 1, errors
        assert "the other nodes gave this node up" in errors[0], errors
        assert "start again as a new node" in errors[-1], errors
        store = cut.others[0].store
        assert store is not None and store._writer_redis is not None
        listed = await store._writer_redis.hgetall("interphone:nodes")
        assert list(listed) == [str(store.node)]  # it left the list it had come back to


async def test_a_node_that_stops_while_redis_is_gone_says_the_others_were_not_told(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """It logged `stopped` alone: its sessions stayed in the other nodes' state until they
    gave it up, with nothing in its log to say why."""
    caplog.set_level(logging.INFO)
    node = cluster_node(redis_server.url, "n0")
    await node.start()
    alice = await logged_in(node.port, "alice")
    redis_server.stop()
    await node.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "could not tell the other nodes" in r.getMessage()]
    assert warnings and "they end its sessions when they give it up" in warnings[0], warnings
    await alice.close()


async def test_what_a_stopping_node_failed_to_append_goes_before_its_down(
        redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A death it appended while Redis was gone waited in its writer for Redis to come back;
    stopped before the writer tried again, the node lost it."""
    monkeypatch.setattr(log_writer, "RETRY", 30.0)  # (the writer does not try again here)
    monkeypatch.setattr(redis_store, "RETRY", 30.0)  # (nor does the reader)
    async with running_nodes(1, redis_server.url) as nodes:
        store = nodes[0].store
        assert store is not None and store.replica is not None
        redis_server.stop()
        store.replica.node_down(77)  # (as its sweep does once it won the HDEL)
        for _ in range(100):  # the writer took it, and failed
            if not store.replica.outgoing and not store.replica.available:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        redis_server.start()
        await store.stop()
        events = await shared_log(redis_server.url)
        assert [e["node"] for e in events if e.get("t") == "down"] == [77, store.node]


async def test_a_node_given_up_leaves_the_node_list_and_its_down_is_appended_at_once(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """The sweeper removed it from ``nodes``, then appended its death through its writer a
    round trip later: a sweeper that died in between left it out of the list (no other
    sweeper would find it) with its sessions, and a floor one held, in every node's state
    for good."""
    async with node_behind_a_slow_link(redis_server, "sweeper") as (sweeper, observer):
        await sweeper.start()
        # a node that crashed: listed, its heartbeat key gone
        await observer.hset("interphone:nodes", "99", json.dumps(
            {"name": "crashed", "media": ["127.0.0.1", 9], "at": "0-0", "sent": 0}))
        gap = False
        for _ in range(1500):
            if not await observer.hexists("interphone:nodes", "99"):
                events = [json.loads(fields["e"])
                          for _, fields in await observer.xrange("interphone:log")]
                gap = not [e for e in events if e.get("t") == "down" and e["node"] == 99]
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the crashed node was not given up")
        assert not gap, "out of the node list, and no down in the log"


async def test_a_node_works_with_the_redis_acl_user_docs_deploy_md_gives(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """`~interphone:* +@all -@dangerous`: the start, a sweep (a Lua script), a stop (a
    transaction)."""
    admin = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        await admin.execute_command("ACL", "SETUSER", "interphone", "on", ">s3cret",
                                    "~interphone:*", "+@all", "-@dangerous")
        url = f"redis://interphone:s3cret@127.0.0.1:{redis_server.port}/0"
        async with running_nodes(1, url) as nodes:
            await admin.hset("interphone:nodes", "99", json.dumps(
                {"name": "crashed", "media": ["127.0.0.1", 9], "at": "0-0", "sent": 0}))
            for _ in range(200):
                if not await admin.hexists("interphone:nodes", "99"):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the crashed node was not given up")
            store = nodes[0].store
            assert store is not None and store.replica is not None
            assert store.replica.available
            await nodes[0].stop()
            nodes.clear()
        events = [json.loads(fields["e"]) for _, fields in await admin.xrange("interphone:log")]
        assert [(e["node"], e.get("left", False)) for e in events if e.get("t") == "down"] == [
            (99, False), (store.node, True)]
    finally:
        await admin.aclose()


async def downs_of(redis_url: str, number: int) -> list[dict[str, Any]]:
    """The ``down`` entries of node ``number`` in the shared log."""
    return [e for e in await shared_log(redis_url) if e.get("t") == "down" and e["node"] == number]


async def test_a_store_stopped_twice_leaves_once(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """``store.stop()`` then the server's stop (which stops its store): the second ran the
    leaving transaction again, a second ``down`` of the node with a new ``eid`` (applied by
    every node as a new death)."""
    caplog.set_level(logging.INFO, logger="app.server.redis_store")
    async with running_nodes(1, redis_server.url) as nodes:
        store = nodes[0].store
        assert store is not None
        number = store.node
        await store.stop()
        await store.stop()
        await nodes[0].stop()
    downs = await downs_of(redis_server.url, number)
    assert len(downs) == 1, downs
    left = [r for r in caplog.records if "left the store" in r.getMessage()]
    assert len(left) == 1, [r.getMessage() for r in left]


async def test_a_store_stopped_from_two_tasks_at_once_leaves_once(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """A second stop while the first one's transaction is on its way to Redis: it ran
    the transaction again (a second ``down``), or failed on the clients the first had
    closed meanwhile (an error, or the warning that the others were not told); it now
    waits for the first and returns once the node has left."""
    caplog.set_level(logging.INFO)
    async with node_behind_a_slow_link(redis_server, "n0") as (node, _):
        await node.start()
        store = node.store
        assert store is not None
        number = store.node
        await settle([node])
        first = asyncio.create_task(store.stop())
        await asyncio.sleep(DELAY / 2)  # the first's transaction under way
        assert not first.done()
        await store.stop()
        assert first.done()  # the second returned once the first was over
        await first
        assert len(await downs_of(redis_server.url, number)) == 1
        problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert not problems, problems
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            assert not await redis.hexists("interphone:nodes", str(number))
            assert not await redis.exists(f"interphone:alive:{number}")
        finally:
            await redis.aclose()


@pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])
async def test_a_node_stopped_twice_stops_once(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture,  # noqa: F811
        at_once: bool) -> None:
    """The server stopped twice, one after the other or from two tasks at once, with a
    client connected: no error, one ``down``, no warning that the others were not told,
    and the second stop returns once the node is stopped."""
    caplog.set_level(logging.INFO)
    node = cluster_node(redis_server.url, "n0")
    await node.start()
    store = node.store
    assert store is not None
    alice = await logged_in(node.port, "alice")
    await alice.join(G58)
    if at_once:
        first = asyncio.create_task(node.stop())
        await asyncio.sleep(0)
        await node.stop()
        assert first.done()
        await first
    else:
        await node.stop()
        await node.stop()
    assert await alice.closed_by_server(2.0)
    assert len(await downs_of(redis_server.url, store.node)) == 1
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not problems, problems
    assert sum(r.getMessage() == "stopped" for r in caplog.records) == 1
    await alice.close()
