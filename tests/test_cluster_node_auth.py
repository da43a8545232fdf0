"""Audio forwarded between nodes is authenticated by its node-auth trailer, not its source.

The nodes run on a real redis-server (tests/redis_fixtures.py); the first tests check
:mod:`app.server.node_auth` on its own (the tag, the nodes heard from, the replay window).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.protocol import AudioPacket
from app.server import InterphoneServer, node_auth
from app.server.node_auth import (
    ASK_EVERY,
    ASKS,
    HELD,
    LOG_EVERY,
    MAGIC,
    TRAILER,
    WINDOW,
    NodeAuth,
    forward_key,
    inner_length,
)
from app.server.redis_store import RedisStore
from app.server.relay import DROP_REASONS, UNAUTHENTICATED, forwarded_inner, forwarded_served
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    node_store,
    redis_server,
    running_redis,
    settle,
    start_node,
)
from tests.server_fixtures import FAST, G58, RawClient, UdpPeer, logged_in, sample_directory
from tests.test_cluster import bob_granted_alice_listening, register

pytestmark = pytest.mark.timeout(60)

KEY = forward_key(bytes(range(32)))


def _audio(seq: int, frame: bytes = b"voice", uid: str = "bob") -> bytes:
    return AudioPacket(str(G58), uid, seq, frame).serialize()


# ---- the trailer, on its own ---------------------------------------------------------------------


def test_a_sealed_datagram_opens_once_and_carries_the_client_datagram_unchanged() -> None:
    sender, receiver = NodeAuth(KEY, 2), NodeAuth(KEY, 1)
    data = _audio(0)
    sealed = sender.seal(data)
    assert len(sealed) == len(data) + TRAILER and sealed.startswith(data)
    assert inner_length(sealed, len(sealed)) == len(data)
    assert receiver.open(sealed, len(sealed))  # node 2 started after node 1: heard
    assert not receiver.open(sealed, len(sealed))  # the same counter again: a replay


def test_a_bad_tag_a_wrong_key_or_a_changed_byte_does_not_open() -> None:
    receiver = NodeAuth(KEY, 1)
    sealed = NodeAuth(KEY, 2).seal(_audio(0))
    at = len(_audio(0)) - 1  # the frame's last byte
    for forged in (sealed[:-1] + bytes([sealed[-1] ^ 1]),  # the tag
                   sealed[:at] + bytes([sealed[at] ^ 1]) + sealed[at + 1:],  # the datagram
                   NodeAuth(forward_key(bytes(32)), 2).seal(_audio(0))):  # another cluster's
        assert inner_length(forged, len(forged))
        assert not receiver.open(forged, len(forged))
    assert receiver.open(sealed, len(sealed))


def test_an_operator_key_changes_the_key_and_the_store_secret_still_salts_it() -> None:
    secret = bytes(range(32))
    assert forward_key(secret, b"operator") != forward_key(secret)
    assert forward_key(secret, b"operator") != forward_key(bytes(32), b"operator")


def test_counters_out_of_order_are_heard_once_and_too_old_ones_never() -> None:
    sender, receiver = NodeAuth(KEY, 2), NodeAuth(KEY, 1)
    sealed = [sender.seal(_audio(seq)) for seq in range(WINDOW + 2)]
    assert receiver.open(sealed[1], len(sealed[1]))
    assert receiver.open(sealed[0], len(sealed[0]))  # late, within the window
    assert not receiver.open(sealed[0], len(sealed[0]))
    last = sealed[WINDOW + 1]
    assert receiver.open(last, len(last))
    assert not receiver.open(sealed[1], len(sealed[1]))  # WINDOW behind: too old
    assert receiver.open(sealed[2], len(sealed[2]))  # WINDOW - 1 behind: never seen


def test_only_known_nodes_and_nodes_started_since_are_heard() -> None:
    receiver = NodeAuth(KEY, 5)
    for node in (3, 5, 6):
        sealed = NodeAuth(KEY, node).seal(_audio(0))
        assert receiver.open(sealed, len(sealed)) == (node == 6), node
    receiver.learn(3)  # its relay became known: a live node
    sealed = NodeAuth(KEY, 3).seal(_audio(0))
    assert receiver.open(sealed, len(sealed))
    receiver.forget(6)  # down: its datagrams, replayed or not, are refused for good
    receiver.learn(6)
    sealed = NodeAuth(KEY, 6).seal(_audio(1))
    assert not receiver.open(sealed, len(sealed))


def test_counters_a_node_published_before_it_was_learned_are_refused() -> None:
    """A node learned from the store's node list with the counter it had reached: what it
    sent up to then, never heard here, can only come back as a replay."""
    sender, receiver = NodeAuth(KEY, 2), NodeAuth(KEY, 3)
    recorded = [sender.seal(_audio(seq)) for seq in range(3)]
    receiver.learn(2, sender.sent)
    for data in recorded:
        assert not receiver.open(data, len(data))
    fresh = sender.seal(_audio(3))
    assert receiver.open(fresh, len(fresh))
    receiver.learn(2, sender.sent + 10)  # learned again (every sweep): the window stays
    later = sender.seal(_audio(4))
    assert receiver.open(later, len(later))


def test_counters_published_a_heartbeat_before_are_refused_even_after_hearing_the_node() -> None:
    """A node heard once, then not for a while (it forwarded to other nodes meanwhile):
    at each reading of the node list, what it had published at the reading before is
    refused, so what it forwarded elsewhere since cannot be replayed here."""
    sender, receiver = NodeAuth(KEY, 2), NodeAuth(KEY, 3)
    receiver.learn(2)
    first = sender.seal(_audio(0))
    assert receiver.open(first, len(first))
    elsewhere = [sender.seal(_audio(seq)) for seq in range(1, 10)]  # to other nodes
    receiver.learn(2, sender.sent, floor=6)  # 6 published a heartbeat before
    for data in elsewhere[:5]:  # counters 2..6
        assert not receiver.open(data, len(data))
    for data in elsewhere[5:]:  # 7..10: newer than the floor, heard once
        assert receiver.open(data, len(data))
        assert not receiver.open(data, len(data))
    receiver.learn(2, sender.sent, floor=4)  # an older floor changes nothing
    fresh = sender.seal(_audio(10))
    assert receiver.open(fresh, len(fresh))
    gap = [sender.seal(_audio(seq)) for seq in range(11, 15)]  # 12..15, to other nodes
    receiver.learn(2, sender.sent, floor=14)  # within the window: up to 14 seen
    assert [receiver.open(d, len(d)) for d in gap] == [False, False, False, True]


def test_an_unknown_node_s_audio_is_held_while_it_is_looked_up_then_judged_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A lower-numbered node not known here: its authenticated datagrams are held and
    its entry looked up once; learned with its published counter, the held ones are
    judged again (a replay of what it published before is still refused)."""
    now = [100.0]
    monkeypatch.setattr(node_auth.time, "monotonic", lambda: now[0])
    sender, receiver = NodeAuth(KEY, 2), NodeAuth(KEY, 3)
    asked: list[int] = []
    receiver.look_up = asked.append
    recorded = sender.seal(_audio(0))
    published = sender.sent
    fresh = [sender.seal(_audio(seq)) for seq in range(1, 4)]
    forged = bytearray(fresh[0])
    forged[-1] ^= 1
    assert receiver.open(forged, len(forged)) is False and asked == []  # no tag, no look-up
    for data in (recorded, *fresh):
        assert receiver.open(data, len(data), ("10.0.0.2", 9400)) is None
    assert asked == [2]  # one look-up for all of them
    receiver.learn(2, published)  # its entry, found
    held = receiver.take_held(2)
    assert [source for _, source in held] == [("10.0.0.2", 9400)] * 4
    assert [receiver.open(d, len(d)) for d, _ in held] == [False, True, True, True]
    assert receiver.take_held(2) == []


def test_look_ups_of_unknown_nodes_are_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most one look-up per node per ASK_EVERY, ASKS in all, HELD datagrams held per
    node; a node not found is refused until its next look-up may run."""
    now = [100.0]
    monkeypatch.setattr(node_auth.time, "monotonic", lambda: now[0])
    receiver = NodeAuth(KEY, ASKS + 10)
    asked: list[int] = []
    receiver.look_up = asked.append
    senders = [NodeAuth(KEY, node) for node in range(1, ASKS + 2)]
    for sender in senders:
        data = sender.seal(_audio(0))
        receiver.open(data, len(data))
    assert asked == list(range(1, ASKS + 1))  # the last one over the limit: refused
    data = senders[-1].seal(_audio(1))
    assert receiver.open(data, len(data)) is False
    extra = [senders[0].seal(_audio(seq)) for seq in range(HELD)]
    assert [receiver.open(d, len(d)) for d in extra].count(None) == HELD - 1  # 1 held before
    assert len(receiver.take_held(1)) == HELD  # not found: judged again, refused
    assert receiver.open(extra[-1], len(extra[-1])) is False  # asked under ASK_EVERY ago
    now[0] += ASK_EVERY
    assert receiver.open(extra[-1], len(extra[-1])) is None
    assert asked[-1] == 1 and len(asked) == ASKS + 1


def test_refusals_are_counted_each_and_logged_at_most_every_ten_seconds(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(node_auth.time, "monotonic", lambda: now[0])
    receiver = NodeAuth(KEY, 1)
    with caplog.at_level(logging.WARNING, logger="app.server.node_auth"):
        for _ in range(5):
            receiver.refuse(("10.0.0.9", 9400))
        now[0] += LOG_EVERY
        receiver.refuse(("10.0.0.9", 9400))
    lines = [r.getMessage() for r in caplog.records]
    assert receiver.refused == 6 and len(lines) == 2
    assert lines[0].startswith("dropped 1 forwarded") and lines[1].startswith("dropped 5 ")


def test_a_client_datagram_is_never_taken_for_a_forwarded_one() -> None:
    """Every valid client datagram ends where its layout says, whatever its bytes: one
    whose frame ends like a trailer is still a client's."""
    frame = b"x" * 40 + MAGIC + b"\x00" * (TRAILER - 4)
    data = _audio(0, frame)
    assert inner_length(data, len(data)) == 0
    assert inner_length(data[:-1], len(data) - 1) == 0


def test_the_verdict_on_a_forwarded_datagram_served_held_or_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The one verdict the media thread (on a route or before a hand-over) and the relay
    on the loop take: served (the client's datagram's length), held while its node is
    looked up (not served, not counted), refused (not served, counted and told to the
    node auth); a client's datagram is not judged at all (0)."""
    monkeypatch.setattr(node_auth.time, "monotonic", lambda: 100.0)
    receiver = NodeAuth(KEY, 3)
    receiver.look_up = lambda node: None
    drops = dict.fromkeys(DROP_REASONS, 0)
    source = ("10.0.0.2", 9400)
    client = _audio(0)
    assert forwarded_inner(receiver, client, len(client), source, drops) == 0
    sender = NodeAuth(KEY, 4)
    served = sender.seal(client)  # a node started since: heard
    assert forwarded_inner(receiver, served, len(served), source, drops) == len(client)
    held = NodeAuth(KEY, 2).seal(client)  # an older node not known yet: looked up
    assert forwarded_inner(receiver, held, len(held), source, drops) is None
    assert (drops[UNAUTHENTICATED], receiver.refused) == (0, 0)
    assert len(receiver.take_held(2)) == 1
    assert forwarded_inner(receiver, served, len(served), source, drops) is None  # replayed
    assert not forwarded_served(receiver, served, len(served), source, drops)
    assert (drops[UNAUTHENTICATED], receiver.refused, sum(drops.values())) == (2, 2, 2)
    fresh = sender.seal(_audio(1))
    fresh = fresh[:-1] + bytes([fresh[-1] ^ 1])  # a tag that does not verify
    assert not forwarded_served(receiver, fresh, len(fresh), source, drops)
    assert drops[UNAUTHENTICATED] == 3


# ---- two nodes on Redis --------------------------------------------------------------------------


def relay_of(node: InterphoneServer) -> tuple:
    assert node.store is not None and node.store.replica is not None
    return tuple(node.store.replica.media_address[:2])


def send_from_relay(node: InterphoneServer, data: bytes, to: tuple) -> None:
    """``data`` as it is, from ``node``'s relay socket (its source address)."""
    assert node.relay is not None and node.relay.transport is not None
    node.relay.transport.sendto(data, to)


def sealed_by(node: InterphoneServer, data: bytes) -> bytes:
    """``data`` with ``node``'s node-auth trailer, as its relay forwards it."""
    assert node.state.node_auth is not None
    return node.state.node_auth.seal(data)


def refused(node: InterphoneServer) -> int:
    assert node.relay is not None
    return node.relay.drops[UNAUTHENTICATED]


@contextlib.asynccontextmanager
async def bob_speaking_to_alice(tmp_path: Path, keys: tuple[bytes, bytes] = (b"", b"")
                                ) -> AsyncIterator[
        tuple[InterphoneServer, InterphoneServer, UdpPeer, UdpPeer]]:
    """alice on the first node, bob on the second, both registered for G58's audio, bob
    holding its floor, both nodes caught up. Yields (first, second, alice's and bob's
    UDP peers). ``keys``: the nodes' operator keys (INTERPHONE_CLUSTER_KEY; none)."""
    with running_redis(tmp_path) as redis:
        nodes: list[InterphoneServer] = []
        clients: list[RawClient] = []
        peers: list[UdpPeer] = []
        try:
            for name, key in zip(("n0", "n1"), keys, strict=True):
                nodes.append(await start_node(redis.url, name, cluster_key=key))
            first, second = nodes
            clients += [await logged_in(first.port, "alice"), await logged_in(second.port, "bob")]
            for client in clients:
                await client.join(G58)
            peers += [await UdpPeer.open(first.port), await UdpPeer.open(second.port)]
            await register(peers[0], "alice")
            await register(peers[1], "bob")
            assert (await clients[1].speak(G58)).ok
            await settle(nodes)
            assert "bob" in first.state.interphones[G58].remote
            assert "alice" in second.state.interphones[G58].remote
            yield first, second, peers[0], peers[1]
        finally:
            for peer in peers:
                peer.close()
            for client in clients:
                await client.close()
            for node in nodes:
                await node.stop()


async def test_audio_between_two_nodes_is_sealed_and_heard_as_the_client_sent_it(
        tmp_path: Path) -> None:
    """bob's packets reach alice on the other node byte for byte (the trailer removed),
    each forwarded under a counter of its own that the receiving node checked."""
    async with bob_speaking_to_alice(tmp_path) as (first, second, alice_peer, bob_peer):
        for seq in range(6):  # the first judged on the loop, the next by the media thread
            bob_peer.send(_audio(seq))
            assert await alice_peer.recv(3.0) == _audio(seq)
        assert await bob_peer.nothing(0.3)
        auth = first.state.node_auth
        assert auth is not None and second.state.node_auth is not None
        top, seen = auth._windows[second.state.node_auth.node]
        assert top >= 6 and bin(seen).count("1") >= 6  # one counter per forwarded datagram
        assert refused(first) == 0


async def test_spoofed_audio_from_a_node_s_relay_address_is_dropped_while_its_audio_flows(
        tmp_path: Path) -> None:
    """Datagrams sent from the second node's own relay address (what a spoofer can forge)
    without a trailer, with a broken tag or sealed under another key are dropped, before
    the stream is admitted (the loop) and while it flows (the media thread); bob's
    audio keeps reaching alice."""
    async with bob_speaking_to_alice(tmp_path) as (first, second, alice_peer, bob_peer):
        to = relay_of(first)
        assert second.state.node_auth is not None
        stranger = NodeAuth(forward_key(bytes(32)), second.state.node_auth.node)  # another key

        def spoof(seq: int) -> int:
            """Three forgeries of bob's packet ``seq``; how many look forwarded."""
            plain = _audio(seq, b"spoofed")
            broken = bytearray(sealed_by(second, plain))
            broken[-1] ^= 0x55
            for data in (plain, bytes(broken), stranger.seal(plain)):
                send_from_relay(second, data, to)
            return 2

        before = refused(first)
        looked = spoof(100)  # no stream admitted yet: judged on the loop
        assert await alice_peer.nothing(0.5)
        for seq in range(4):
            bob_peer.send(_audio(seq))
            assert await alice_peer.recv(3.0) == _audio(seq)
        looked += spoof(101)  # the stream is on the media thread's fast route now
        assert await alice_peer.nothing(0.5)
        for seq in range(4, 8):
            bob_peer.send(_audio(seq))
            assert await alice_peer.recv(3.0) == _audio(seq)
        assert refused(first) == before + looked


async def test_a_replayed_forwarded_datagram_is_dropped(tmp_path: Path) -> None:
    """A datagram the second node forwarded, sent again (from its relay or elsewhere), is
    not heard twice; later audio still is."""
    async with bob_speaking_to_alice(tmp_path) as (first, second, alice_peer, bob_peer):
        to = relay_of(first)
        for seq in range(3):  # the stream flows: the media thread forwards it
            bob_peer.send(_audio(seq))
            assert await alice_peer.recv(3.0) == _audio(seq)
        recorded = sealed_by(second, _audio(3, b"once"))
        send_from_relay(second, recorded, to)
        assert await alice_peer.recv(3.0) == _audio(3, b"once")
        before = refused(first)
        send_from_relay(second, recorded, to)  # replayed from the relay's address
        elsewhere = await UdpPeer.open(first.port)
        try:
            elsewhere.send(recorded)  # replayed from another address (the loop judges it)
            assert await alice_peer.nothing(0.5)
        finally:
            elsewhere.close()
        assert refused(first) == before + 2
        bob_peer.send(_audio(4))
        assert await alice_peer.recv(3.0) == _audio(4)


async def test_audio_recorded_before_a_node_started_is_not_replayed_to_it(
        tmp_path: Path) -> None:
    """A datagram the second node forwarded before a third node started is refused by the
    third (the second's counter, published in the node list, was learned at its start);
    what the second forwards afterwards is heard there."""
    async with bob_speaking_to_alice(tmp_path) as (first, second, alice_peer, bob_peer):
        bob_peer.send(_audio(0))
        assert await alice_peer.recv(3.0) == _audio(0)
        recorded = sealed_by(second, _audio(1, b"recorded"))
        send_from_relay(second, recorded, relay_of(first))
        assert await alice_peer.recv(3.0) == _audio(1, b"recorded")
        auth, store = second.state.node_auth, second.store
        assert auth is not None and store is not None and store._writer_redis is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while json.loads(await store._writer_redis.hget(store.key("nodes"), str(auth.node))
                         ).get("sent", 0) < auth.sent:  # its next heartbeat publishes it
            assert loop.time() < deadline, "the counter was not published"
            await asyncio.sleep(0.05)
        third = await start_node(store.url, "n2")
        try:
            carol = await logged_in(third.port, "carol")
            await carol.join(G58)
            carol_peer = await UdpPeer.open(third.port)
            await register(carol_peer, "carol")
            await settle([first, second, third])
            send_from_relay(second, recorded, relay_of(third))
            assert await carol_peer.nothing(0.5)
            assert refused(third) == 1
            fresh = sealed_by(second, _audio(2, b"fresh"))
            send_from_relay(second, fresh, relay_of(third))
            assert await carol_peer.recv(3.0) == _audio(2, b"fresh")
            carol_peer.close()
            await carol.close()
        finally:
            await third.stop()


SLOW_BEAT = {"beat": 30.0, "ttl": 60.0}
"""A heartbeat too slow to read the node list again during a test."""


@contextlib.asynccontextmanager
async def slow_first_node(redis_url: str
                          ) -> AsyncIterator[tuple[InterphoneServer, list[InterphoneServer]]]:
    """Node "n0" of the Redis at ``redis_url``, started, beating at SLOW_BEAT, and a list for
    the nodes the test starts after it: those are stopped at the end, then it."""
    first = InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                             store=RedisStore(redis_url, "n0", **SLOW_BEAT))
    later: list[InterphoneServer] = []
    try:
        await first.start()
        yield first, later
    finally:
        for node in later:
            await node.stop()
        await first.stop()


async def test_a_just_started_node_is_heard_before_its_relay_is_known(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """The first node does not know the second's relay (it started later, it has no
    member registered there, and the first node's sweep of the node list has not run):
    what the second node forwards is heard all the same, the trailer proving where it
    comes from (it was dropped: the source address was the only proof)."""
    async with slow_first_node(redis_server.url) as (first, later):
        alice = await logged_in(first.port, "alice")  # (answered once the first node reads
        # the log: it has read the node list before, without the second node)
        second = await start_node(redis_server.url, "n1")
        later.append(second)
        bob = await logged_in(second.port, "bob")
        alice_peer = await bob_granted_alice_listening(first, alice, bob)
        await settle([first, second])
        assert first.store is not None and first.store.replica is not None
        assert relay_of(second) not in first.store.replica.relays.values()
        assert "bob" not in first.state.interphones[G58].addrs
        for seq in range(3):
            send_from_relay(second, sealed_by(second, _audio(seq)), relay_of(first))
            assert await alice_peer.recv(3.0) == _audio(seq)
        alice_peer.close()
        for client in (alice, bob):
            await client.close()


async def _entry_written(node: InterphoneServer) -> str:
    """``node``'s entry in the node list once its start and first heartbeat wrote it
    (its start's: the caller saw it answer a login, so it reads the log)."""
    store = node.store
    assert store is not None and store._writer_redis is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while True:
        info = await store._writer_redis.hget(store.key("nodes"), str(store.node))
        if info is not None and store.latency is not None:
            return str(info)
        assert loop.time() < deadline, "the node list entry was not written"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("media_thread", [True, False], ids=["media-thread", "loop"])
async def test_a_node_started_together_with_a_lower_one_hears_it_before_listing_it(
        redis_server: RedisProcess, media_thread: bool) -> None:  # noqa: F811
    """Two nodes starting at once: the second read the node list before the first had
    written its entry there, so it knows neither its relay nor its counter, and its
    number is lower (not one started since). Audio the first node forwards is held
    while the second looks the first up in the node list, then heard (it was refused
    until a media event of the first node or the next sweep); what the first had
    forwarded before its published counter is still refused as a replay."""
    async with slow_first_node(redis_server.url) as (first, later):
        alice = await logged_in(first.port, "alice")
        entry = json.loads(await _entry_written(first))
        recorded = sealed_by(first, _audio(9, b"recorded", "alice"))  # forwarded to some other node
        assert first.state.node_auth is not None and first.store is not None
        entry["sent"] = first.state.node_auth.sent  # as its next heartbeat publishes it
        redis_client = first.store._writer_redis
        assert redis_client is not None
        nodes, number = first.store.key("nodes"), str(first.store.node)
        await redis_client.hdel(nodes, number)  # not written yet when the second reads it
        second = InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                                  settings=FAST,
                                  store=RedisStore(redis_server.url, "n1", **SLOW_BEAT),
                                  media_thread=media_thread)
        later.append(second)
        await second.start()
        bob = await logged_in(second.port, "bob")  # (the second node has read the list)
        await redis_client.hset(nodes, number, json.dumps(entry))  # written now
        await alice.join(G58)  # the speaker of the first node (not registered: unheard)
        await bob.join(G58)
        bob_peer = await UdpPeer.open(second.port)
        await register(bob_peer, "bob")
        await settle([first, second])
        auth = second.state.node_auth
        assert auth is not None and first.store.node not in auth.alive
        assert first.store.node < auth.node
        for seq in range(3):
            send_from_relay(first, sealed_by(first, _audio(seq, uid="alice")), relay_of(second))
            assert await bob_peer.recv(3.0) == _audio(seq, uid="alice")
        assert first.store.node in auth.alive and refused(second) == 0
        send_from_relay(first, recorded, relay_of(second))  # before its published counter
        assert await bob_peer.nothing(0.5)
        assert refused(second) == 1
        bob_peer.close()
        for client in (alice, bob):
            await client.close()


async def test_a_datagram_forwarded_elsewhere_is_not_replayed_to_a_node_heard_before(
        tmp_path: Path) -> None:
    """The second node forwarded bob's audio to the first, then a datagram the first
    never got (as to a third node): two heartbeats later (the second published its
    counter, the first read it, then read the list again) that datagram is refused by
    the first (its window stood at what it had heard, so it was served once, however
    old)."""
    async with bob_speaking_to_alice(tmp_path) as (first, second, alice_peer, bob_peer):
        for seq in range(2):
            bob_peer.send(_audio(seq))
            assert await alice_peer.recv(3.0) == _audio(seq)
        elsewhere = sealed_by(second, _audio(50, b"elsewhere"))  # not sent to the first
        auth, sender = first.state.node_auth, second.state.node_auth
        assert auth is not None and sender is not None
        counter = sender.sent
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0  # (BEAT 0.25 s: 12 heartbeats)
        while auth._windows[sender.node][0] < counter and loop.time() < deadline:
            await asyncio.sleep(0.05)  # until the first node's floor passed it
        before = refused(first)
        send_from_relay(second, elsewhere, relay_of(first))
        assert await alice_peer.nothing(0.5)
        assert refused(first) == before + 1
        bob_peer.send(_audio(2))
        assert await alice_peer.recv(3.0) == _audio(2)


async def test_nodes_with_an_operator_key_hear_each_other(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Every node given the same operator key (INTERPHONE_CLUSTER_KEY) derives the same
    forwarding key, another than the store's secret alone gives."""
    stores = [RedisStore(redis_server.url, f"n{i}", cluster_key=b"site key") for i in range(2)]
    try:
        for store in stores:
            await store.connect()
        assert stores[0].forward_key == stores[1].forward_key
        assert stores[0].forward_key != forward_key(stores[0].media_secret)
        plain = node_store(redis_server.url, "n2")
        await plain.connect()
        assert plain.forward_key == forward_key(stores[0].media_secret)
        stores.append(plain)
    finally:
        for store in stores:
            await store.stop()


async def test_a_node_with_another_operator_key_is_named_in_the_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Two nodes given different INTERPHONE_CLUSTER_KEYs hear nothing of each other's
    audio; the warning said "bad tag, unknown or departed node, or replayed", which did
    not lead the operator to the key: it names the node whose relay sent it and the key."""
    async with bob_speaking_to_alice(tmp_path, keys=(b"site key", b"another key")) as (
            first, second, alice_peer, bob_peer):
        assert second.store is not None
        with caplog.at_level(logging.WARNING, logger="app.server.node_auth"):
            for seq in range(3):
                bob_peer.send(_audio(seq))
            assert await alice_peer.nothing(0.5)
        assert refused(first) >= 1
        lines = [r.getMessage() for r in caplog.records if "node authentication" in r.getMessage()]
        assert len(lines) == 1
        assert f"the relay of node {second.store.node}" in lines[0]
        assert "INTERPHONE_CLUSTER_KEY" in lines[0]
