"""The same behaviours on one in-memory server and on nodes sharing one real Redis.

``spread`` yields the ports of 1 in-memory server, or of 2 or 3 nodes on one Redis;
clients take them in turn, so members of one interphone sit on different nodes.
Fault tests (a node killed, Redis restarted) are at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.client import InterphoneClient
from app.protocol import AudioPacket, InterphoneChanged, Kicked, Ping, RecvBeginPacket, parse_packet
from app.protocol.errors import ErrCode
from app.protocol.messages import Login, MembersRequest, SpeakRequest
from app.server import InterphoneServer
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisProcess,
    free_port,
    redis_server,
    running_nodes,
    running_redis,
    settle,
    start_node,
)
from tests.server_fixtures import G58, GALL, TEST_TOML, RawClient, UdpPeer, logged_in

pytestmark = pytest.mark.timeout(60)


class Spread:
    """The nodes of one deployment and the port each next client takes."""

    def __init__(self, nodes: list[InterphoneServer]) -> None:
        self.nodes = nodes
        self.ports = [n.port for n in nodes]

    def port(self, i: int) -> int:
        return self.ports[i % len(self.ports)]

    async def settle(self) -> None:
        await settle(self.nodes)


@pytest.fixture(params=["memory", "redis-2", "redis-3"])
async def spread(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Spread]:
    if request.param == "memory":
        async with running_nodes(1, None) as nodes:
            yield Spread(nodes)
        return
    with running_redis(tmp_path) as redis:
        async with running_nodes(int(request.param[-1]), redis.url) as nodes:
            yield Spread(nodes)


async def info_until(client: RawClient, predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """The first interphone notification ``predicate`` accepts (earlier ones are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await client.next_notification(max(0.01, deadline - loop.time()))
        if isinstance(message.body, InterphoneChanged) and predicate(message.body.info):
            return message.body.info


async def alice_and_bob_in_58(spread: Spread) -> tuple[RawClient, RawClient]:
    """alice logged in on the first node, bob on the second, both joined to G58."""
    alice = await logged_in(spread.port(0), "alice")
    bob = await logged_in(spread.port(1), "bob")
    await alice.join(G58)
    await bob.join(G58)
    return alice, bob


async def test_members_on_every_node_see_joins_and_the_floor(spread: Spread) -> None:
    alice = await logged_in(spread.port(0), "alice")
    bob = await logged_in(spread.port(1), "bob")
    carol = await logged_in(spread.port(2), "carol")
    await alice.join(G58)
    await bob.join(G58)
    joined = await carol.join(G58)
    assert joined.body.info.members == ("alice", "bob", "carol")
    for client in (alice, bob):
        info = await info_until(client, lambda i: i.member_count == 3)
        assert info.members == ("alice", "bob", "carol")
    assert (await alice.speak(G58)).ok
    for client in (bob, carol):
        assert (await info_until(client, lambda i: i.speaker == "alice")).member_count == 3
    busy = await bob.speak(G58)
    assert not busy.ok and busy.body.code == ErrCode.FLOOR_BUSY
    assert (await alice.speak(G58, on=False)).ok
    await info_until(bob, lambda i: i.speaker == "")
    assert (await bob.speak(G58)).ok
    await info_until(alice, lambda i: i.speaker == "bob")
    await carol.close()
    info = await info_until(alice, lambda i: i.member_count == 2)
    assert info.members == ("alice", "bob") and info.speaker == "bob"
    for client in (alice, bob):
        await client.close()


async def test_simultaneous_speak_on_two_nodes_has_exactly_one_winner(spread: Spread) -> None:
    alice, bob = await alice_and_bob_in_58(spread)
    for _ in range(10):
        a, b = await asyncio.gather(alice.speak(G58), bob.speak(G58))
        assert [a.ok, b.ok].count(True) == 1, (a, b)
        loser = b if a.ok else a
        assert loser.body.code == ErrCode.FLOOR_BUSY
        winner = alice if a.ok else bob
        assert (await winner.speak(G58, on=False)).ok
        await spread.settle()
    await alice.close()
    await bob.close()


async def test_a_login_elsewhere_kicks_the_session_on_its_node(spread: Spread) -> None:
    old, bob = await alice_and_bob_in_58(spread)
    await info_until(bob, lambda i: i.member_count == 2)
    new = await logged_in(spread.port(1), "alice")
    kicked = await old.next_notification(5.0)
    while not isinstance(kicked.body, Kicked):
        kicked = await old.next_notification(5.0)
    assert kicked.body.reason == "login_elsewhere"
    assert await old.closed_by_server(5.0)
    info = await info_until(bob, lambda i: i.member_count == 1)
    assert info.members == ("bob",)
    assert (await new.request(Ping())).ok
    await new.join(G58)
    await info_until(bob, lambda i: i.member_count == 2)
    for client in (new, bob):
        await client.close()


async def register(peer: UdpPeer, uid: str) -> None:
    peer.send(RecvBeginPacket(str(G58), uid).serialize(crc=False))
    assert parse_packet(await peer.recv(3.0)) == RecvBeginPacket(str(G58), uid)


async def bob_granted_alice_listening(first: InterphoneServer, alice: RawClient,
                                      bob: RawClient) -> UdpPeer:
    """alice (logged in on ``first``) and bob join G58, alice's audio is registered on
    ``first`` and bob is granted the floor: alice's UDP peer."""
    await alice.join(G58)
    await bob.join(G58)
    alice_peer = await UdpPeer.open(first.port)
    await register(alice_peer, "alice")
    assert (await bob.speak(G58)).ok
    return alice_peer


async def test_audio_reaches_listeners_on_every_node_one_copy_per_node(spread: Spread) -> None:
    clients = [await logged_in(spread.port(i), uid)
               for i, uid in enumerate(("alice", "bob", "carol"))]
    peers = [await UdpPeer.open(spread.port(i)) for i in range(3)]
    for client in clients:
        await client.join(G58)
    for peer, uid in zip(peers, ("alice", "bob", "carol"), strict=True):
        await register(peer, uid)
    assert (await clients[0].speak(G58)).ok
    await spread.settle()
    for seq in range(5):
        data = AudioPacket(str(G58), "alice", seq, b"\x01\x02\x03").serialize()
        peers[0].send(data)
        assert await peers[1].recv(3.0) == data
        assert await peers[2].recv(3.0) == data
    assert await peers[0].nothing()
    holder_node = spread.nodes[0]
    record = holder_node.state.interphones[G58]
    # to the other nodes once each, not once per listener there; locally to each listener
    local = sum(1 for uid in ("bob", "carol") if uid in record.addrs and uid not in record.remote)
    other_nodes = len({record.addrs[uid] for uid in record.remote})
    assert len(record.fanout("alice")) == local + other_nodes
    if len(spread.nodes) == 2:  # bob on node 1, carol on node 0
        assert other_nodes == 1
    for peer in peers:
        peer.close()
    for client in clients:
        await client.close()


@contextlib.asynccontextmanager
async def bob_granted_across_nodes(tmp_path: Path) -> AsyncIterator[
        tuple[InterphoneServer, InterphoneServer, RawClient, RawClient, UdpPeer]]:
    """Two nodes on Redis: alice on the first (her audio registered there), bob on the
    second, both in G58, bob granted its floor and both nodes caught up with the log.
    Yields (first, second, alice, bob, alice's UDP peer); all are closed after."""
    with running_redis(tmp_path) as redis:
        async with running_nodes(2, redis.url) as nodes:
            first, second = nodes
            alice = await logged_in(first.port, "alice")
            bob = await logged_in(second.port, "bob")
            alice_peer = await bob_granted_alice_listening(first, alice, bob)
            await settle(nodes)
            try:
                yield first, second, alice, bob, alice_peer
            finally:
                alice_peer.close()
                await alice.close()
                await bob.close()


async def test_audio_forwarded_before_this_node_learns_the_grant_is_relayed(
        tmp_path: Path) -> None:
    """bob's node grants him the floor and answers; his first packet, forwarded by his
    node's relay, reaches the other node, whose media thread reads it before that node
    has applied the grant from the log (and so before the grant's marker), and hands it
    to the loop, which judges it after the grant. The holder's node judged the floor:
    the packet is relayed to the members there (it was dropped as "sent before the
    grant": test_conformance's test_no_relay_without_the_floor[2-nodes] under load)."""
    async with bob_granted_across_nodes(tmp_path) as (first, second, _, _, alice_peer):
        bob_peer = await UdpPeer.open(second.port)
        await register(bob_peer, "bob")
        await settle([first, second])
        record = first.state.interphones[G58]
        assert record.holder == "bob" and "bob" in record.remote and record.grant_mark
        relay = first.relay
        assert relay is not None
        data = AudioPacket(str(G58), "bob", 0, b"bob-now").serialize()
        # what the media thread hands over for a forwarded datagram (its node-auth trailer
        # checked and removed) read before the grant's marker
        relay.datagram_received(data, record.addrs["bob"],
                                received_at=record.granted_at - 0.01,
                                released_after=record.grant_mark - 1, forwarded=True)
        assert await alice_peer.recv(3.0) == data
        bob_peer.close()


async def knows_relay_of(node: InterphoneServer, other: InterphoneServer) -> tuple:
    """``other``'s relay address, once ``node`` knows it (the store's node list)."""
    assert other.store is not None and other.store.replica is not None
    assert node.store is not None and node.store.replica is not None
    relay, known = tuple(other.store.replica.media_address[:2]), node.store.replica.relays
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while relay not in known.values():
        assert loop.time() < deadline, "the node did not learn the other node's relay"
        await asyncio.sleep(0.02)
    return relay


def send_from_relay(node: InterphoneServer, data: bytes, to: tuple) -> None:
    """``data`` sent from ``node``'s relay socket, as that node forwards audio (sealed with
    its node-auth trailer)."""
    assert node.relay is not None and node.relay.transport is not None
    assert node.state.node_auth is not None
    node.relay.transport.sendto(node.state.node_auth.seal(data), to)


async def test_audio_forwarded_before_this_node_learns_the_speakers_registration_is_relayed(
        tmp_path: Path) -> None:
    """bob registered at his node, which grants him the floor and forwards his packet to
    alice's node; alice's node has applied the grant but not yet bob's registration
    (the media event comes later in its reading of the log; here bob's registration is
    never applied there). The packet comes from the other node's relay: that node
    judged it, and it is relayed to alice (it was dropped: no registered address)."""
    async with bob_granted_across_nodes(tmp_path) as (first, second, _, _, alice_peer):
        record = first.state.interphones[G58]
        assert record.holder == "bob" and "bob" not in record.addrs
        first_relay = await knows_relay_of(second, first)
        await knows_relay_of(first, second)
        for seq in range(3):  # the first is judged on the loop, the next ones too
            data = AudioPacket(str(G58), "bob", seq, b"bob-now").serialize()
            send_from_relay(second, data, first_relay)
            assert await alice_peer.recv(3.0) == data


async def test_audio_another_node_forwards_goes_to_this_node_s_listeners_only(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """A forwarded packet is never sent on to another node, whether this node knows the
    speaker's registration or not yet: the speaker's node sends each node its copy
    (carol's node would relay a second copy to her, and nodes could pass it round)."""
    async with running_nodes(3, redis_server.url) as nodes:
        first, second, third = nodes
        alice = await logged_in(first.port, "alice")
        bob = await logged_in(second.port, "bob")
        carol = await logged_in(third.port, "carol")
        for client in (alice, bob, carol):
            await client.join(G58)
        alice_peer, carol_peer = await UdpPeer.open(first.port), await UdpPeer.open(third.port)
        await register(alice_peer, "alice")
        await register(carol_peer, "carol")
        assert (await bob.speak(G58)).ok
        await settle(nodes)
        record = first.state.interphones[G58]
        assert "carol" in record.remote and "bob" not in record.addrs
        first_relay = await knows_relay_of(second, first)
        await knows_relay_of(first, second)
        data = AudioPacket(str(G58), "bob", 0, b"unknown-here").serialize()
        send_from_relay(second, data, first_relay)  # bob's registration not known there
        assert await alice_peer.recv(3.0) == data
        assert await carol_peer.nothing(0.5)
        bob_peer = await UdpPeer.open(second.port)
        await register(bob_peer, "bob")
        await settle(nodes)
        assert first.state.interphones[G58].addrs["bob"] == await knows_relay_of(first, second)
        for seq in range(1, 4):  # bob's own packets: one copy to each other member
            data = AudioPacket(str(G58), "bob", seq, b"registered").serialize()
            bob_peer.send(data)
            assert await alice_peer.recv(3.0) == data
            assert await carol_peer.recv(3.0) == data
        assert await alice_peer.nothing(0.3) and await carol_peer.nothing(0.3)
        for peer in (alice_peer, bob_peer, carol_peer):
            peer.close()
        for client in (alice, bob, carol):
            await client.close()


async def test_audio_claiming_to_be_forwarded_from_elsewhere_than_a_node_s_relay_is_dropped(
        tmp_path: Path) -> None:
    """Only another node's relay address is trusted for the speaker's identity: bob's
    packet from any other address (here the same host as the relays) is judged as a
    client's, and bob is not registered at this node, so it is dropped, before and after
    his registration at his own node is known here."""
    async with bob_granted_across_nodes(tmp_path) as (first, second, _, _, alice_peer):
        spoofer = await UdpPeer.open(first.port)
        await knows_relay_of(first, second)
        assert first.store is not None and first.store.replica is not None
        assert spoofer.address not in first.store.replica.relays.values()
        assert first.relay is not None
        data = AudioPacket(str(G58), "bob", 0, b"spoofed").serialize()
        spoofer.send(data)
        assert await alice_peer.nothing(0.5)
        bob_peer = await UdpPeer.open(second.port)
        await register(bob_peer, "bob")
        await settle([first, second])
        assert "bob" in first.state.interphones[G58].remote
        dropped = first.relay.dropped
        spoofer.send(data)
        assert await alice_peer.nothing(0.5)
        assert first.relay.dropped == dropped + 1
        for peer in (bob_peer, spoofer):
            peer.close()


async def test_a_session_closing_frees_its_floor_everywhere(spread: Spread) -> None:
    alice, bob = await alice_and_bob_in_58(spread)
    assert (await alice.speak(G58)).ok
    await info_until(bob, lambda i: i.speaker == "alice")
    await alice.close()
    info = await info_until(bob, lambda i: i.member_count == 1)
    assert info.speaker == ""
    assert (await bob.speak(G58)).ok
    await bob.close()


async def test_silence_revokes_a_grant_on_every_node(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url, silence_timeout=0.5) as nodes:
        alice = await logged_in(nodes[0].port, "alice")
        bob = await logged_in(nodes[1].port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        assert (await alice.speak(G58)).ok
        await info_until(bob, lambda i: i.speaker == "alice")
        await info_until(bob, lambda i: i.speaker == "")  # no audio: revoked
        assert (await bob.speak(G58)).ok
        await alice.close()
        await bob.close()


async def test_a_node_started_later_begins_from_a_snapshot_of_a_trimmed_log(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url, snapshot_every=4) as nodes:
        alice, bob = await logged_in(nodes[0].port, "alice"), await logged_in(
            nodes[1].port, "bob")
        carol = await logged_in(nodes[1].port, "carol")
        for client in (alice, bob, carol):
            await client.join(G58)
        assert (await alice.speak(G58)).ok
        for _ in range(4):  # enough entries for a snapshot after every node read them
            assert (await bob.request(MembersRequest(G58))).ok
        await settle(nodes)
        store = nodes[0].store
        assert store is not None and store._writer_redis is not None
        redis_client = store._writer_redis
        for _ in range(100):
            if await redis_client.get(store.key("snapshot")) and int(
                    await redis_client.xlen(store.key("log"))) < store.applied:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no snapshot, or the log was not trimmed")
        nodes.append(await start_node(redis_server.url, "late", snapshot_every=4))
        dave = await logged_in(nodes[2].port, "dave")
        seen = (await dave.request(MembersRequest(GALL))).body.info
        assert seen.member_count == 0
        eve = await logged_in(nodes[2].port, "eve")
        await eve.join(GALL)
        await alice.join(GALL)
        info = await info_until(eve, lambda i: i.member_count == 2)
        assert info.members == ("eve", "alice")
        # the late node knows what happened before it started
        assert nodes[2].state.interphones[G58].holder == "alice"
        assert list(nodes[2].state.interphones[G58].members) == ["alice", "bob", "carol"]
        reply = await eve.request(SpeakRequest(True, GALL))
        assert reply.ok
        await info_until(alice, lambda i: i.speaker == "eve")
        for client in (alice, bob, carol, dave, eve):
            await client.close()


# ---- faults --------------------------------------------------------------------------------------


def start_node_process(config: Path, port: int, url: str, name: str,
                       env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INTERPHONE_NODE_BEAT": str(BEAT), "INTERPHONE_NODE_TTL": str(TTL),
           **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "app.server", "--config", str(config), "--port", str(port),
         "--store", url, "--node-id", name, "--log-level", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def connect_when_up(port: int, uid: str) -> RawClient:
    for _ in range(200):
        try:
            return await logged_in(port, uid)
        except (OSError, AssertionError):
            await asyncio.sleep(0.05)
    raise AssertionError(f"no node on port {port}")


DoomedAndOne = tuple[int, subprocess.Popen[bytes], list[InterphoneServer]]


@contextlib.asynccontextmanager
async def doomed_node_beside_one(tmp_path: Path) -> AsyncIterator[DoomedAndOne]:
    """Two nodes on a fresh Redis: one in a process of its own, to kill (its port and
    process), and one here (the nodes); the process and Redis end with the block."""
    with running_redis(tmp_path) as redis:
        config = tmp_path / "directory.toml"
        config.write_text(TEST_TOML)
        port = free_port()
        process = start_node_process(config, port, redis.url, "doomed")
        try:
            async with running_nodes(1, redis.url) as nodes:
                yield port, process, nodes
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def test_a_killed_node_frees_its_floor_and_its_sessions(tmp_path: Path) -> None:
    async with doomed_node_beside_one(tmp_path) as (port, process, nodes):
        alice = await connect_when_up(port, "alice")
        bob = await logged_in(nodes[0].port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        assert (await alice.speak(G58)).ok
        await info_until(bob, lambda i: i.speaker == "alice")
        process.send_signal(signal.SIGKILL)
        process.wait()
        # the node's heartbeat expires: its session leaves, its floor is free
        info = await info_until(bob, lambda i: i.member_count == 1, timeout=10.0)
        assert info.members == ("bob",) and info.speaker == ""
        assert await alice.closed_by_server(5.0)
        # its client starts again on the surviving node
        again = await logged_in(nodes[0].port, "alice")
        await again.join(G58)
        assert (await again.speak(G58)).ok
        await info_until(bob, lambda i: i.speaker == "alice")
        for client in (alice, again, bob):
            await client.close()


async def test_without_redis_changes_are_refused_and_resume_when_it_returns(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url) as nodes:
        alice = await logged_in(nodes[0].port, "alice")
        bob = await logged_in(nodes[1].port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        redis_server.stop()
        carol = await RawClient.connect(nodes[0].port)
        refused = None
        for _ in range(50):
            reply = await carol.request(Login("carol", "pw-carol"), timeout=10.0)
            if not reply.ok:
                refused = reply
                break
            await carol.close()  # logged in before the node noticed: try again
            carol = await RawClient.connect(nodes[0].port)
            await asyncio.sleep(0.1)
        assert refused is not None
        assert refused.body.code == ErrCode.SERVER_FAULT
        assert "store unavailable" in refused.body.errmsg
        assert (await alice.request(Ping())).ok  # sessions stay
        redis_server.start()
        for _ in range(100):
            reply = await carol.request(Login("carol", "pw-carol"), timeout=10.0)
            if reply.ok:
                break
            await asyncio.sleep(0.1)
        assert reply.ok
        await carol.join(G58)
        for client in (alice, bob):
            info = await info_until(client, lambda i: i.member_count == 3, timeout=10.0)
            assert info.members == ("alice", "bob", "carol")
        for client in (alice, bob, carol):
            await client.close()


async def test_a_client_with_a_server_list_moves_to_another_node(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url) as nodes:
        bob = await logged_in(nodes[1].port, "bob")
        await bob.join(G58)
        client = InterphoneClient("127.0.0.1", nodes[0].port, "alice", "pw-alice",
                                  backoff=(0.05, 0.2),
                                  fallbacks=[("127.0.0.1", nodes[1].port)])
        await client.connect()
        await client.join(G58)
        await info_until(bob, lambda i: i.member_count == 2)
        await nodes[0].stop()  # alice's node goes away
        info = await info_until(bob, lambda i: i.member_count == 1, timeout=10.0)
        assert info.members == ("bob",)
        # the client reconnects to the other node of its list and joins again
        info = await info_until(bob, lambda i: i.member_count == 2, timeout=10.0)
        assert info.members == ("bob", "alice")
        assert (client.host, client.port) == ("127.0.0.1", nodes[1].port)
        assert await client.talk_start()
        await info_until(bob, lambda i: i.speaker == "alice")
        await client.close()
        await bob.close()


async def test_the_client_tries_the_next_server_when_the_first_is_down() -> None:
    async with running_nodes(1, None) as nodes:
        client = InterphoneClient("127.0.0.1", free_port(), "alice", "pw-alice",
                                  connect_timeout=2.0, fallbacks=[("127.0.0.1", nodes[0].port)])
        await client.connect()
        assert client.connected and client.port == nodes[0].port
        await client.close()
