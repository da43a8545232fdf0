"""Per-session behaviours that must be cluster-wide, on one in-memory server and on 2 nodes
of one real Redis: presence and calls, the floor queue and its expiry, a directory reload.

Clients take the nodes in turn (``spread.port(i)``), so with 2 nodes the parties of each
test sit on different nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.protocol import InterphoneId, Kicked
from app.protocol.features import ROSTER
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    FloorNotice,
    FloorNoticeType,
    Login,
    Message,
    RosterNotice,
    SpeakRequest,
)
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    ContactPresence,
    PresenceChanged,
    PresenceSyncRequest,
    RingState,
)
from app.server import InterphoneServer
from app.server.directory import Directory
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
    running_redis,
    settle,
    start_node,
)
from tests.server_fixtures import G58, TEST_TOML, RawClient
from tests.test_cluster import connect_when_up, doomed_node_beside_one, info_until

pytestmark = pytest.mark.timeout(60)

CHAT = InterphoneId.chat("alice", "bob")
KINDS = ["memory", "redis-2"]


class Spread:
    def __init__(self, nodes: list[InterphoneServer]) -> None:
        self.nodes = nodes

    def port(self, i: int) -> int:
        return self.nodes[i % len(self.nodes)].port


@contextlib.asynccontextmanager
async def spread_of(kind: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Spread]:
    if kind == "memory":
        async with running_nodes(1, None, **settings) as nodes:
            yield Spread(nodes)
        return
    with running_redis(tmp_path) as redis:
        async with running_nodes(2, redis.url, **settings) as nodes:
            yield Spread(nodes)


async def client_with(port: int, uid: str, *features: str) -> RawClient:
    client = await RawClient.connect(port)
    reply = await client.request(Login(uid, f"pw-{uid}", features=features))
    assert reply.ok, reply
    client.uid = uid
    return client


async def notice(client: RawClient, wanted: Callable[[object], bool],
                 timeout: float = 5.0) -> Any:
    """The first notification whose body ``wanted`` accepts (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message: Message = await client.next_notification(max(0.01, deadline - loop.time()))
        if wanted(message.body):
            return message.body


def call_notice(kind: CallNoticeType) -> Callable[[object], bool]:
    return lambda body: isinstance(body, CallNotice) and body.type is kind


def floor_notice(kind: FloorNoticeType) -> Callable[[object], bool]:
    return lambda body: isinstance(body, FloorNotice) and body.type is kind


async def alice_and_bob(alice_port: int, bob_port: int,
                        *features: str) -> tuple[RawClient, RawClient]:
    """alice logged in on ``alice_port``, then bob on ``bob_port``, both asking ``features``."""
    alice = await client_with(alice_port, "alice", *features)
    bob = await client_with(bob_port, "bob", *features)
    return alice, bob


async def alice_talks_in_58(alice: RawClient, bob: RawClient) -> None:
    """Both join G58, then alice takes its floor."""
    await alice.join(G58)
    await bob.join(G58)
    assert (await alice.speak(G58)).ok


async def queue_for_58(client: RawClient) -> Any:
    """``client`` asks for G58's floor, held by another, and waits in line: the reply's body."""
    queued = await client.request(SpeakRequest(True, G58, queue=True))
    assert queued.ok and queued.body.queued, queued
    return queued.body


async def close_all(*clients: RawClient) -> None:
    for client in clients:
        await client.close()


# ---- presence and calls -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_contact_on_another_node_is_seen_online_and_offline(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "presence")
        assert await notice(alice, lambda b: isinstance(b, PresenceChanged)) == \
            PresenceChanged("bob", True)
        listed = (await alice.request(PresenceSyncRequest())).body.contacts
        assert ContactPresence("bob", True) in listed
        await bob.close()
        assert await notice(alice, lambda b: isinstance(b, PresenceChanged)) == \
            PresenceChanged("bob", False)
        await alice.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_call_rings_declines_rings_again_and_is_answered_across_nodes(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "presence")
        await alice.join(CHAT)  # joining a chat rings the other party
        ringing = await notice(bob, call_notice(CallNoticeType.RINGING))
        assert ringing.peer == "alice"
        assert (await bob.request(CallRequest(CallAction.DECLINE, CHAT))).ok
        await notice(alice, call_notice(CallNoticeType.DECLINED))
        # rung again after the decline: it rings on bob's node
        again = await alice.request(CallRequest(CallAction.RING, CHAT))
        assert again.body.state is RingState.RINGING
        await notice(bob, call_notice(CallNoticeType.RINGING))
        # the caller cancels: the callee's ring stops
        assert (await alice.request(CallRequest(CallAction.CANCEL, CHAT))).ok
        ended = await notice(bob, call_notice(CallNoticeType.ENDED))
        assert ended.reason == "cancelled"
        # a decline with nothing ringing is refused on every node alike
        assert not (await bob.request(CallRequest(CallAction.DECLINE, CHAT))).ok
        assert (await alice.request(CallRequest(CallAction.RING, CHAT))).body.state \
            is RingState.RINGING
        await notice(bob, call_notice(CallNoticeType.RINGING))
        await bob.join(CHAT)  # answered
        await notice(alice, call_notice(CallNoticeType.ANSWERED))
        answered = await alice.request(CallRequest(CallAction.RING, CHAT))
        assert answered.body.state is RingState.ANSWERED
        await close_all(alice, bob)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_unanswered_call_times_out_once_for_both_parties(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        for node in spread.nodes:
            node.state.presence.ring_timeout = 0.5
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "presence")
        await alice.join(CHAT)
        await notice(bob, call_notice(CallNoticeType.RINGING))
        await notice(alice, call_notice(CallNoticeType.NO_ANSWER))
        ended = await notice(bob, call_notice(CallNoticeType.ENDED))
        assert ended.reason == "no_answer"
        await settle(spread.nodes)
        for node in spread.nodes:  # no node still rings
            assert CHAT not in node.state.presence.rings
        # and it rings again, on bob's node, when asked
        again = await alice.request(CallRequest(CallAction.RING, CHAT))
        assert again.body.state is RingState.RINGING
        await notice(bob, call_notice(CallNoticeType.RINGING))
        assert await alice.no_notification(0.3)
        await close_all(alice, bob)


# ---- floor queue ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_request_queued_on_one_node_is_granted_when_the_holder_elsewhere_releases(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "floor-queue")
        await alice_talks_in_58(alice, bob)
        assert (await queue_for_58(bob)).position == 1
        assert (await alice.speak(G58, on=False)).ok
        await notice(bob, floor_notice(FloorNoticeType.GRANTED))
        await info_until(alice, lambda i: i.speaker == "bob")
        for node in spread.nodes:
            await settle(spread.nodes)
            assert node.state.interphones[G58].holder == "bob"
        await close_all(alice, bob)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_queued_request_expires_on_every_node_alike(kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path, queue_timeout=0.5) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "floor-queue")
        await alice_talks_in_58(alice, bob)
        await queue_for_58(bob)
        left = await notice(bob, floor_notice(FloorNoticeType.LEFT))
        assert left.reason == "timeout"
        await settle(spread.nodes)
        for node in spread.nodes:
            assert node.state.interphones[G58].floor.queue == ()
        assert (await alice.speak(G58, on=False)).ok
        await info_until(bob, lambda i: i.speaker == "")
        await settle(spread.nodes)
        for node in spread.nodes:
            assert node.state.interphones[G58].holder == ""
        await close_all(alice, bob)


async def test_a_queued_request_ends_with_its_node(tmp_path: Path) -> None:
    async with doomed_node_beside_one(tmp_path) as (port, process, nodes):
        bob = await connect_when_up(port, "bob")
        await bob.close()
        bob = await client_with(port, "bob", "floor-queue")
        alice = await client_with(nodes[0].port, "alice", "floor-queue")
        await alice_talks_in_58(alice, bob)
        await queue_for_58(bob)
        await settle(nodes)
        assert nodes[0].state.interphones[G58].floor.queue == ("bob",)
        process.send_signal(signal.SIGKILL)
        process.wait()
        await info_until(alice, lambda i: i.member_count == 1 and i.speaker == "alice",
                         timeout=10.0)
        assert nodes[0].state.interphones[G58].floor.queue == ()
        assert (await alice.speak(G58, on=False)).ok
        await info_until(alice, lambda i: i.speaker == "")
        await close_all(alice, bob)


# ---- directory reload ----------------------------------------------------------------------------

WITHOUT_BOB_AND_CAROL_OUT_OF_58 = (
    TEST_TOML.replace('[[users]]\nuid = "bob"\nname = "Bob"\ntoken = "pw-bob"\n\n', "")
    .replace('members = ["alice", "bob", "carol"]', 'members = ["alice"]')
    .replace('members = ["alice", "bob", "dave"]', 'members = ["alice", "dave"]'))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reload_kicks_a_removed_user_and_ends_hidden_memberships_on_every_node(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1))
        carol = await client_with(spread.port(1), "carol")
        for client in (alice, bob, carol):
            await client.join(G58)
        await info_until(alice, lambda i: i.member_count == 3)
        new = Directory.from_toml_text(WITHOUT_BOB_AND_CAROL_OUT_OF_58, source="new.toml")
        for node in spread.nodes:  # every node reloads its own copy of the file
            node.replace_directory(new)
        kicked = await notice(bob, lambda b: isinstance(b, Kicked))
        assert kicked.reason == "account_removed"
        assert await bob.closed_by_server(5.0)
        info = await info_until(alice, lambda i: i.member_count == 1)
        assert info.members == ("alice",)
        told = await info_until(carol, lambda i: i.member_count == 1)  # removed, and told
        assert told.members == ("alice",)
        await settle(spread.nodes)
        for node in spread.nodes:
            assert "bob" not in node.state.by_uid
            assert list(node.state.interphones[G58].members) == ["alice"]
            assert G58 not in node.state.sessions[node.state.by_uid["carol"]].joined
        await close_all(alice, bob, carol)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reload_sends_each_node_s_roster_sessions_their_new_roster(
        kind: str, tmp_path: Path) -> None:
    """Extension roster: carol (on the second node) is taken out of Ops; her node tells
    her her roster without it, while alice (asked for nothing) is told nothing new."""
    async with spread_of(kind, tmp_path) as spread:
        alice = await client_with(spread.port(0), "alice")
        carol = await client_with(spread.port(1), "carol", ROSTER)
        await carol.join(G58)
        new = Directory.from_toml_text(WITHOUT_BOB_AND_CAROL_OUT_OF_58, source="new.toml")
        for node in spread.nodes:
            node.replace_directory(new)
        told = await notice(carol, lambda b: isinstance(b, RosterNotice))
        assert "58" not in [e.id for e in told.roster if e.kind == "group"]
        assert told.name == "Carol" and "bob" not in [e.id for e in told.roster]
        with pytest.raises(asyncio.TimeoutError):
            await notice(alice, lambda b: isinstance(b, RosterNotice), timeout=0.3)
        await close_all(alice, carol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("features", [("presence",), ("presence", ROSTER)])
async def test_a_contact_removed_by_a_reload_is_told_offline_on_every_node(
        kind: str, features: tuple[str, ...], tmp_path: Path) -> None:
    """Extension presence: bob, on the other node, is removed from the directory; alice,
    whose contact he was, is told he went offline, also when her node reloads before the
    kick that ends his session reaches it through the shared log (with roster, she is
    also told her new roster without him, before or after: section roster)."""
    async with spread_of(kind, tmp_path) as spread:
        alice = await client_with(spread.port(0), "alice", *features)
        bob = await client_with(spread.port(1), "bob")
        assert await notice(alice, lambda b: isinstance(b, PresenceChanged)
                            and b.uid == "bob") == PresenceChanged("bob", True)
        new = Directory.from_toml_text(WITHOUT_BOB_AND_CAROL_OUT_OF_58, source="new.toml")
        for node in spread.nodes:  # alice's node first
            node.replace_directory(new)
        assert await notice(alice, lambda b: isinstance(b, PresenceChanged)
                            and b.uid == "bob") == PresenceChanged("bob", False)
        assert await bob.closed_by_server(5.0)
        with pytest.raises(asyncio.TimeoutError):  # once
            await notice(alice, lambda b: isinstance(b, PresenceChanged), timeout=0.3)
        await settle(spread.nodes)
        for node in spread.nodes:  # nobody watches him any more
            assert all("bob" not in c for c in node.state.presence.contacts_of.values())
        await close_all(alice, bob)


WITH_FRANK = TEST_TOML.replace(
    '[[groups]]', '[[users]]\nuid = "frank"\nname = "Frank"\ntoken = "pw-frank"\n\n[[groups]]', 1)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_contact_a_reload_adds_is_seen_online_from_another_node(
        kind: str, tmp_path: Path) -> None:
    """Extensions roster and presence: frank, added by a reload of every node, becomes
    alice's contact; when he logs in on the other node, alice's node tells her (it
    follows the reloaded roster's contacts, not those of her login)."""
    async with spread_of(kind, tmp_path) as spread:
        alice = await client_with(spread.port(0), "alice", ROSTER, "presence")
        new = Directory.from_toml_text(WITH_FRANK, source="frank.toml")
        for node in spread.nodes:
            node.replace_directory(new)
        told = await notice(alice, lambda b: isinstance(b, RosterNotice))
        assert "frank" in [e.id for e in told.roster if e.kind == "contact"]
        frank = await client_with(spread.port(1), "frank")
        assert await notice(alice, lambda b: isinstance(b, PresenceChanged)
                            and b.uid == "frank") == PresenceChanged("frank", True)
        await close_all(alice, frank)


async def test_a_reload_of_one_node_kicks_the_removed_user_from_every_node(
        tmp_path: Path) -> None:
    async with spread_of("redis-2", tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1))
        await alice.join(G58)
        await bob.join(G58)
        await info_until(alice, lambda i: i.member_count == 2)
        new = Directory.from_toml_text(WITHOUT_BOB_AND_CAROL_OUT_OF_58, source="new.toml")
        spread.nodes[0].replace_directory(new)  # bob's node has not reloaded (yet)
        kicked = await notice(bob, lambda b: isinstance(b, Kicked))
        assert kicked.reason == "account_removed"
        assert await bob.closed_by_server(5.0)
        await info_until(alice, lambda i: i.member_count == 1)
        await settle(spread.nodes)
        for node in spread.nodes:
            assert "bob" not in node.state.by_uid
        await alice.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_emergency_on_one_node_preempts_a_holder_on_another(
        kind: str, tmp_path: Path) -> None:
    async with spread_of(kind, tmp_path) as spread:
        alice, bob = await alice_and_bob(spread.port(0), spread.port(1), "emergency")
        await alice_talks_in_58(alice, bob)
        urgent = await bob.request(SpeakRequest(True, G58, emergency=True))
        assert urgent.ok, urgent
        revoked = await notice(alice, floor_notice(FloorNoticeType.REVOKED))
        assert revoked.by == "bob"
        await info_until(alice, lambda i: i.speaker == "bob")
        await settle(spread.nodes)
        for node in spread.nodes:
            assert node.state.interphones[G58].holder == "bob"
        # the emergency has one id on every node; raised again, another
        first = spread.nodes[0].state.interphones[G58].floor.emergency_id
        assert first and all(node.state.interphones[G58].floor.emergency_id == first
                             for node in spread.nodes)
        assert (await bob.request(EmergencyRequest(EmergencyAction.CANCEL, G58))).ok
        assert (await bob.request(EmergencyRequest(EmergencyAction.RAISE, G58))).ok
        raised = await notice(alice, lambda b: isinstance(b, EmergencyState)
                              and b.action is EmergencyAction.RAISE and b.emergency_id != first)
        assert raised.by == "bob" and raised.emergency_id
        await settle(spread.nodes)
        assert all(node.state.interphones[G58].floor.emergency_id == raised.emergency_id
                   for node in spread.nodes)
        await close_all(alice, bob)


async def test_a_node_started_from_a_snapshot_knows_the_floor_and_its_line(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url, snapshot_every=4) as nodes:
        alice, bob = await alice_and_bob(nodes[0].port, nodes[1].port, "floor-queue")
        await alice_talks_in_58(alice, bob)
        await queue_for_58(bob)
        store = nodes[0].store
        assert store is not None and store._writer_redis is not None
        redis_client = store._writer_redis
        for _ in range(200):  # entries until a snapshot taken after the queueing, and
            await alice.request(PresenceSyncRequest())  # the log trimmed below it (the
            await settle(nodes)  # nodes' positions come with their heartbeats)
            await asyncio.sleep(0.05)
            text = await redis_client.get(store.key("snapshot"))
            held = text and any(i["holder"] == "alice" for i in json.loads(text)["interphones"])
            if held and int(await redis_client.xlen(store.key("log"))) < store.applied - 4:
                break
        else:
            raise AssertionError("no snapshot, or the log was not trimmed")
        nodes.append(await start_node(redis_server.url, "late", snapshot_every=4))
        carol = await client_with(nodes[2].port, "carol", "floor-queue")
        await carol.join(G58)
        late = nodes[2].state.interphones[G58]
        assert late.holder == "alice" and late.floor.holder == "alice"
        assert late.floor.queue == ("bob",)
        busy = await carol.speak(G58)  # refused on the late node as everywhere
        assert not busy.ok
        assert (await alice.speak(G58, on=False)).ok
        await notice(bob, floor_notice(FloorNoticeType.GRANTED))
        await settle(nodes)
        for node in nodes:
            assert node.state.interphones[G58].holder == "bob"
        await close_all(alice, bob, carol)
