"""A Redis that hangs rather than fails (paused with SIGSTOP, as one stuck on a slow disk or
cut off by a network that drops packets): its connections stay open and nothing comes
back, so a node's commands wait for their socket timeout (5 s, as deployed) while a
client gives a request 5 s. The node must refuse what it cannot serve before that, with
the "store unavailable" wording: the client then says the server is degraded (not that it
did not answer), and once Redis resumes (SIGCONT) nothing is left stuck, on either node.
The CLI says it in a user's words. Real redis-server, real nodes, the real client and
the CLI as a process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator

import pytest

from app.client import ConnectionChanged, InterphoneClient, StoreChanged, StoreUnavailable
from app.client.errors import failure_of
from app.client.failures import FailureKind
from app.protocol.ids import InterphoneId
from app.server import InterphoneServer
from app.server.redis_store import RedisStore
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisProcess,
    redis_server,
    settle,
    started_nodes,
)
from tests.server_fixtures import FAST, G58, ROOT, sample_directory
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(90)

D12 = InterphoneId.discuss("12")


def store_of(node: InterphoneServer) -> RedisStore:
    assert isinstance(node.store, RedisStore) and node.store.replica is not None
    return node.store


def nothing_stuck(node: InterphoneServer) -> bool:
    """The node serves as before: its store reachable, no request of its clients pending
    or in doubt, no session held back, nothing left to append."""
    store = store_of(node)
    replica = store.replica
    assert replica is not None and store.writer is not None
    doubt = replica.doubt
    return (replica.available and not replica.pending and not doubt.unconfirmed
            and not doubt.unsure() and not doubt.blocked and not replica.outgoing
            and not store.writer.retry and not store.writer.sending)


@contextlib.asynccontextmanager
async def alice_and_bob(redis: RedisProcess) -> AsyncIterator[
        tuple[list[InterphoneServer], InterphoneClient, InterphoneClient, list[object]]]:
    """Nodes a and b; alice (the client's default request timeout) on a, bob on b, both
    in G58. (nodes, alice, bob, alice's connection and store events.)"""
    async with started_nodes(redis.url, "a", "b") as nodes:
        alice = InterphoneClient("127.0.0.1", nodes[0].port, "alice", "pw-alice",
                                 backoff=(0.05, 0.2), store_probe=(0.3, 1.2))
        bob = InterphoneClient("127.0.0.1", nodes[1].port, "bob", "pw-bob")
        events: list[object] = []
        alice.model.subscribe(lambda e: events.append(e)
                              if isinstance(e, StoreChanged | ConnectionChanged) else None)
        try:
            for client in (alice, bob):
                await client.connect()
                await client.join(G58)
            await settle(nodes)
            await alice.members(G58)  # (what the joins sent her read: a quiet link)
            events.clear()
            yield nodes, alice, bob, events
        finally:
            for client in (alice, bob):
                await client.close()


@pytest.mark.parametrize("pause", ["short", "past the socket timeout"])
async def test_a_paused_store_is_told_as_unavailable_in_time_and_clears_on_resume(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture,  # noqa: F811
        pause: str) -> None:
    caplog.set_level(logging.INFO)
    async with alice_and_bob(redis_server) as (nodes, alice, bob, events):
        redis_server.pause()
        # sent at once, before the node can know: its append hangs. The answer is the
        # store's refusal (a timeout of the client's otherwise: it waits 5 s)
        with pytest.raises(StoreUnavailable) as refused:
            await alice.join(D12, target=False)
        assert failure_of(refused.value).kind is FailureKind.STORE_UNAVAILABLE
        assert not alice.store_available and alice.connected
        assert events == [StoreChanged(False)]
        # the node knows now: refused at once
        with pytest.raises(StoreUnavailable):
            await alice.talk_start()
        if pause != "short":
            await wait_until(lambda: any("unreachable" in r.getMessage()
                                         and "Timeout" in r.getMessage()
                                         for r in caplog.records),
                             30, "an append or a heartbeat past its socket timeout")
        redis_server.resume()

        await wait_until(lambda: alice.store_available, 30, "the store back, for alice")
        assert events == [StoreChanged(False), StoreChanged(True)]  # never disconnected
        await wait_until(lambda: all(nothing_stuck(n) for n in nodes), 30, "nothing stuck")
        await settle(nodes, timeout=20)  # both nodes read the log to its end
        for node in nodes:  # the refused join is not in (or was undone), the floor free
            d12 = node.state.interphones.get(D12)
            assert d12 is None or "alice" not in d12.members
            record = node.state.interphones[G58]
            assert {"alice", "bob"} <= set(record.members) and not record.holder

        # served as before, on both nodes
        await alice.join(D12, target=False)
        assert await alice.talk_start()
        await wait_until(lambda: nodes[1].state.interphones[G58].holder == "alice", 10,
                         "alice's floor seen on node b")
        await alice.talk_stop()
        assert "alice" in ((await bob.members(G58)).members or ())
        assert "alice" in ((await bob.members(D12)).members or ())
        assert alice.connected and bob.connected


async def test_a_floor_held_through_the_pause_is_freed_and_taken_again_after_it(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """alice holds G58's floor when Redis hangs and lets go meanwhile (the release refused
    or answered late): once it resumes the floor is free on both nodes, and bob on the
    other node takes it."""
    async with alice_and_bob(redis_server) as (nodes, alice, bob, _):
        assert await alice.talk_start()
        await wait_until(lambda: nodes[1].state.interphones[G58].holder == "alice", 10,
                         "alice's floor seen on node b")
        await alice.members(G58)
        redis_server.pause()
        with contextlib.suppress(StoreUnavailable):
            await alice.talk_stop()
        redis_server.resume()
        await wait_until(lambda: all(not n.state.interphones[G58].holder for n in nodes), 30,
                         "the floor free on both nodes")
        await wait_until(lambda: all(nothing_stuck(n) for n in nodes), 30, "nothing stuck")
        assert await bob.talk_start()
        await wait_until(lambda: nodes[0].state.interphones[G58].holder == "bob", 10,
                         "bob's floor seen on node a")
        await bob.talk_stop()


async def test_a_node_knows_its_store_hangs_long_before_a_command_times_out(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """With a socket timeout of a minute, the node still learns within seconds that Redis
    hangs (a heartbeat unanswered), refuses at once what goes through the log, and answers
    a request caught by the pause within the answer limit."""
    store = RedisStore(redis_server.url, "a", beat=BEAT, ttl=TTL, socket_timeout=60.0)
    node = InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                            store=store)
    await node.start()
    alice = InterphoneClient("127.0.0.1", node.port, "alice", "pw-alice",
                             backoff=(0.05, 0.2), store_probe=(0.3, 1.2))
    try:
        await alice.connect()
        await alice.join(G58)
        await alice.members(G58)
        replica = store_of(node).replica
        assert replica is not None and store.answer_limit < 5.0
        redis_server.pause()
        with pytest.raises(StoreUnavailable):  # caught by the pause: its append hangs
            await alice.join(D12, target=False)
        await wait_until(lambda: not replica.available, 20, "the node to know")
        with pytest.raises(StoreUnavailable):
            await alice.members(G58)
        redis_server.resume()
        await wait_until(lambda: alice.store_available, 30, "the store back, for alice")
        await wait_until(lambda: nothing_stuck(node), 30, "nothing stuck")
        await alice.join(D12, target=False)
    finally:
        redis_server.resume()
        await alice.close()
        await node.stop()


async def test_the_cli_says_the_server_cannot_reach_its_database(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Its login refused during the pause, ``interphone-cli`` says so in a user's words
    (not the server's "store unavailable" nor a timeout), exit code 1."""
    async with started_nodes(redis_server.url, "a") as nodes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
        redis_server.pause()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{nodes[0].port}",
            "--uid", "alice", "--token", "pw-alice", "sync", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            redis_server.resume()
    assert proc.returncode == 1, err.decode()
    assert out == b""
    assert err.decode().splitlines() == [
        "interphone-cli: error: cannot log in as 'alice' now: the server cannot reach its "
        "database; try again in a moment"]


def test_the_cli_says_a_request_refused_so_in_the_same_words() -> None:
    from app.cli.__main__ import refusal_text
    from app.client.errors import error_from_reply
    from app.protocol import ErrorReply

    refused = error_from_reply(ErrorReply("interphone", 500, "store unavailable: try again later"),
                               "JoinRequest")
    assert refusal_text(refused) == ("join refused for now: the server cannot reach its "
                                     "database; try again in a moment")
    other = error_from_reply(ErrorReply("interphone", 500, "disk full"), "JoinRequest")
    assert refusal_text(other) == "the server refused join: disk full (error 500)"
