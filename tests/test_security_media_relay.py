"""The media-auth relay decisions (app/server/media_gate.py) over real UDP sockets on
127.0.0.1: registration only by the secret's owner, hijack and replay attempts refused,
sealed audio relayed byte for byte to current members, key rotation on leave."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import cast

import pytest

from app.protocol.media_crypto import (
    AuthRecvBegin,
    RecvBeginSigner,
    RecvBeginVerifier,
    SealedAudio,
    new_secret,
    parse_media_packet,
    seal_audio,
)
from app.protocol.media_keys import InterphoneKeys, ListenerKeys
from app.protocol.udp import AudioPacket
from app.server.addr_limits import RecvBeginBuckets
from app.server.media_gate import (
    ERRCODE_MEDIA_AUTH_REQUIRED,
    GateResult,
    MediaEncryption,
    SealedMediaGate,
)

ID = "group_58"
WAIT = 5.0


@dataclass
class SessionTable:
    """The slice of server state the gate reads: sessions, members, the floor."""

    verifiers: dict[str, RecvBeginVerifier] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    holders: dict[str, str] = field(default_factory=dict)

    def recvbegin_verifier(self, uid: str, source_ip: str) -> RecvBeginVerifier | None:
        return self.verifiers.get(uid)  # (the state also checks the IP: see its tests)

    def is_member(self, interphone_id: str, uid: str) -> bool:
        return uid in self.members.get(interphone_id, set())

    def floor_holder(self, interphone_id: str) -> str | None:
        return self.holders.get(interphone_id)

    def media_auth_members(self, interphone_id: str) -> Iterable[str]:
        return sorted(u for u in self.members.get(interphone_id, set()) if u in self.verifiers)


class Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait((data, addr))

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    async def next(self) -> bytes:
        data, _ = await asyncio.wait_for(self.inbox.get(), WAIT)
        return data


class RelayServer(Endpoint):
    def __init__(self, gate: SealedMediaGate) -> None:
        super().__init__()
        self.gate = gate
        self.results: list[GateResult] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        result = self.gate.datagram(data, addr, asyncio.get_running_loop().time())
        self.results.append(result)
        for payload, destination in result.sends:
            self.send(payload, destination)
        for destination in result.targets:
            self.send(data, destination)


@dataclass
class Member:
    uid: str
    secret: bytes
    endpoint: Endpoint
    signer: RecvBeginSigner
    keys: ListenerKeys = field(default_factory=ListenerKeys)


@dataclass
class World:
    server: RelayServer
    table: SessionTable
    keys: InterphoneKeys
    members: dict[str, Member]
    mallory: Endpoint

    async def register(self, member: Member) -> None:
        member.endpoint.send(member.signer.make(ID), self.server.address)
        ack = parse_media_packet(await member.endpoint.next())
        assert isinstance(ack, AuthRecvBegin)
        assert member.signer.accept_ack(ack)

    def rotate(self) -> None:
        key = self.keys.rotate(ID)
        for uid in self.table.members[ID]:
            self.members[uid].keys.install(ID, key, 0.0)

    async def marker_arrives_next(self, listener: Member, talker: Member, seq: int) -> None:
        """Nothing slipped in before a genuine packet sent now (loopback keeps order)."""
        key = talker.keys.sending_key(ID)
        assert key is not None
        grant = self.keys.current_grant(ID)
        assert grant is not None
        talker.endpoint.send(seal_audio(key, ID, talker.uid, grant, seq, b"marker"),
                             self.server.address)
        packet = parse_media_packet(await listener.endpoint.next())
        assert isinstance(packet, SealedAudio)
        assert listener.keys.open(packet, 0.0) == b"marker"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    loop = asyncio.get_running_loop()
    table, keys = SessionTable(), InterphoneKeys()
    gate = SealedMediaGate(table, keys, RecvBeginBuckets(rate=1000.0, burst=1000))
    _, server = await loop.create_datagram_endpoint(lambda: RelayServer(gate),
                                                    local_addr=("127.0.0.1", 0))
    members: dict[str, Member] = {}
    for uid in ("alice", "bob", "carol"):
        secret = new_secret()
        _, endpoint = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
        members[uid] = Member(uid, secret, endpoint, RecvBeginSigner(secret, uid))
        table.verifiers[uid] = RecvBeginVerifier(secret, uid)
    table.members[ID] = set(members)
    _, mallory = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    state = World(server, table, keys, members, mallory)
    state.rotate()
    for member in members.values():
        await state.register(member)
    table.holders[ID] = "alice"
    keys.new_grant(ID)
    yield state
    for endpoint in [server, mallory, *(m.endpoint for m in members.values())]:
        assert endpoint.transport is not None
        endpoint.transport.close()


async def test_sealed_audio_reaches_the_other_members_byte_for_byte(world: World) -> None:
    alice, bob, carol = (world.members[u] for u in ("alice", "bob", "carol"))
    key = alice.keys.sending_key(ID)
    assert key is not None
    grant = world.keys.current_grant(ID)
    assert grant is not None
    data = seal_audio(key, ID, "alice", grant, 0, b"opus frame")
    alice.endpoint.send(data, world.server.address)
    for listener in (bob, carol):
        received = await listener.endpoint.next()
        assert received == data
        packet = parse_media_packet(received)
        assert isinstance(packet, SealedAudio)
        assert listener.keys.open(packet, 0.0) == b"opus frame"
    assert world.server.results[-1].heard == (ID, "alice")
    assert alice.endpoint.inbox.empty()  # never echoed


async def test_forged_recvbegin_from_the_same_ip_is_ignored(world: World) -> None:
    alice, bob = world.members["alice"], world.members["bob"]
    home = world.server.gate.registered(ID, "alice")
    forged = AuthRecvBegin.sign(new_secret(), ID, "alice", 10_000).serialize()
    world.mallory.send(forged, world.server.address)
    world.mallory.send(AuthRecvBegin.sign(bob.secret, ID, "alice", 1_000)
                       .serialize(), world.server.address)  # bob's secret, alice's name
    world.mallory.send(AuthRecvBegin.sign(alice.secret, ID, "alice", 1_000, ack=True)
                       .serialize(), world.server.address)  # an ack is not a recvbegin
    alice.endpoint.send(alice.signer.make(ID), world.server.address)
    ack = parse_media_packet(await alice.endpoint.next())
    assert isinstance(ack, AuthRecvBegin) and alice.signer.accept_ack(ack)
    assert world.server.gate.registered(ID, "alice") == home == alice.endpoint.address
    assert world.mallory.inbox.empty()  # no ack for any attempt
    await world.marker_arrives_next(bob, alice, 1)
    assert world.mallory.inbox.empty()  # and no audio either


async def test_a_recvbegin_raced_from_the_path_yields_only_ciphertext(world: World) -> None:
    """An on-path attacker that delivers alice's recvbegin before she does moves the
    registration until her next one; what it receives meanwhile it cannot open."""
    alice, bob = world.members["alice"], world.members["bob"]
    world.table.holders[ID] = "bob"
    world.keys.new_grant(ID)
    world.mallory.send(alice.signer.make(ID), world.server.address)
    ack = parse_media_packet(await world.mallory.next())
    assert isinstance(ack, AuthRecvBegin) and ack.ack
    key = bob.keys.sending_key(ID)
    grant = world.keys.current_grant(ID)
    assert key is not None and grant is not None
    bob.endpoint.send(seal_audio(key, ID, "bob", grant, 0, b"private"), world.server.address)
    captured = parse_media_packet(await world.mallory.next())
    assert isinstance(captured, SealedAudio)
    with pytest.raises(Exception, match="no key"):
        ListenerKeys().open(captured, 0.0)  # without the interphone key: nothing
    assert b"private" not in captured.serialize()
    await world.register(alice)  # her next refresh takes it back
    assert world.server.gate.registered(ID, "alice") == alice.endpoint.address
    await world.marker_arrives_next(alice, bob, 1)


async def test_captured_recvbegin_replayed_after_use_is_refused(world: World) -> None:
    alice = world.members["alice"]
    genuine = alice.signer.make(ID)
    alice.endpoint.send(genuine, world.server.address)
    await alice.endpoint.next()
    world.mallory.send(genuine, world.server.address)  # counter already used
    assert world.server.gate.registered(ID, "alice") == alice.endpoint.address
    await world.marker_arrives_next(world.members["bob"], alice, 0)
    assert world.mallory.inbox.empty()


async def test_audio_from_another_address_or_a_non_holder_is_not_relayed(world: World) -> None:
    alice, bob, carol = (world.members[u] for u in ("alice", "bob", "carol"))
    key = alice.keys.sending_key(ID)
    grant = world.keys.current_grant(ID)
    assert key is not None and grant is not None
    genuine = seal_audio(key, ID, "alice", grant, 5, b"x")
    world.mallory.send(genuine, world.server.address)  # replayed from an unregistered port
    bob.endpoint.send(seal_audio(key, ID, "bob", grant, 0, b"x"), world.server.address)
    bob.endpoint.send(seal_audio(key, ID, "alice", grant, 6, b"x"), world.server.address)
    alice.endpoint.send(seal_audio(key, ID, "alice", grant + 1, 0, b"x"),
                        world.server.address)  # not the current grant
    alice.endpoint.send(AudioPacket(ID, "alice", 0, b"plain").serialize(),
                        world.server.address)  # base type: not the gate's business
    await world.marker_arrives_next(carol, alice, 1)
    await world.marker_arrives_next(bob, alice, 2)


async def test_leaving_member_gets_no_key_and_no_audio_after_rotation(world: World) -> None:
    alice, bob, carol = (world.members[u] for u in ("alice", "bob", "carol"))
    old_key = alice.keys.sending_key(ID)
    assert old_key is not None
    world.table.members[ID].discard("carol")
    world.server.gate.unregister(ID, "carol")
    world.rotate()  # carol is no longer a member: only alice and bob get the new key
    grant = world.keys.current_grant(ID)
    assert grant is not None
    alice.endpoint.send(seal_audio(old_key, ID, "alice", grant, 0, b"old"),
                        world.server.address)  # previous epoch: dropped by the server
    await world.marker_arrives_next(bob, alice, 1)
    assert carol.endpoint.inbox.empty()
    new_key = alice.keys.sending_key(ID)
    assert new_key is not None and new_key.epoch != old_key.epoch
    packet = parse_media_packet(seal_audio(new_key, ID, "alice", grant, 2, b"secret"))
    assert isinstance(packet, SealedAudio)
    with pytest.raises(Exception, match="no key"):
        carol.keys.open(packet, 0.0)


async def test_unregistered_sources_cost_only_a_type_check(world: World) -> None:
    gate = world.server.gate
    junk = os.urandom(64)
    results = [gate.datagram(junk, ("192.0.2.1", 1), 0.0),
               gate.datagram(b"\x00\x00\x00\x00\x00\x00\x00\x12" + junk, ("192.0.2.1", 1), 0.0),
               gate.datagram(b"\x00\x00\x00\x00\x00\x00\x00\x11" + junk, ("192.0.2.1", 1), 0.0),
               gate.datagram(b"\x00\x00\x00\x00\x00\x00\x00\x10" + junk, ("192.0.2.1", 1), 0.0)]
    assert all(r == GateResult() for r in results)


async def test_recvbegin_flood_is_cut_by_the_bucket_before_the_mac(world: World) -> None:
    table, keys = world.table, world.keys
    gate = SealedMediaGate(table, keys, RecvBeginBuckets(rate=1.0, burst=3))
    alice = world.members["alice"]
    forged = AuthRecvBegin.sign(new_secret(), ID, "alice", 1).serialize()
    for _ in range(10):
        gate.datagram(forged, ("127.0.0.1", 4000), 0.0)
    genuine = alice.signer.make(ID)
    assert gate.datagram(genuine, ("127.0.0.1", 4001), 0.0) == GateResult()  # no token left
    assert gate.datagram(genuine, ("127.0.0.1", 4001), 1.0).registered == (ID, "alice")


@pytest.mark.parametrize(("value", "tls", "mode"), [
    (None, True, MediaEncryption.REQUIRED),
    (None, False, MediaEncryption.OFF),
    ("optional", True, MediaEncryption.OPTIONAL),
    ("off", True, MediaEncryption.OFF),
    ("required", False, MediaEncryption.REQUIRED),
])
def test_media_encryption_setting(value: str | None, tls: bool, mode: MediaEncryption) -> None:
    assert MediaEncryption.from_setting(value, tls=tls) is mode


def test_media_encryption_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match='"required", "optional" or "off"'):
        MediaEncryption.from_setting("yes", tls=True)


@pytest.mark.parametrize(("mode", "requested", "refused", "offered", "base"), [
    (MediaEncryption.REQUIRED, (), True, True, False),
    (MediaEncryption.REQUIRED, ("queue", "media-auth"), False, True, False),
    (MediaEncryption.OPTIONAL, (), False, True, True),
    (MediaEncryption.OFF, ("media-auth",), False, False, True),
])
def test_media_encryption_semantics(mode: MediaEncryption, requested: tuple[str, ...],
                                    refused: bool, offered: bool, base: bool) -> None:
    assert mode.refuses(requested) is refused
    assert mode.offers() is offered
    assert mode.accepts_base_media() is base
    assert ERRCODE_MEDIA_AUTH_REQUIRED == 426


async def test_the_remembered_route_follows_grants_and_registrations(world: World) -> None:
    """The relay remembers a checked route; a new grant, a moved registration or a
    departed listener must still be honoured on the next packet."""
    alice, bob, carol = (world.members[u] for u in ("alice", "bob", "carol"))
    key = alice.keys.sending_key(ID)
    old_grant = world.keys.current_grant(ID)
    assert key is not None and old_grant is not None
    first = seal_audio(key, ID, "alice", old_grant, 0, b"one")
    alice.endpoint.send(first, world.server.address)
    assert await bob.endpoint.next() == first and await carol.endpoint.next() == first
    world.keys.new_grant(ID)  # a new utterance: the old grant is no longer relayed
    alice.endpoint.send(seal_audio(key, ID, "alice", old_grant, 1, b"stale"),
                        world.server.address)
    world.server.gate.unregister(ID, "carol")  # carol left
    await world.marker_arrives_next(bob, alice, 0)
    assert carol.endpoint.inbox.empty()
    world.keys.release(ID)  # the floor is released: nothing of that grant any more
    grant = world.keys.new_grant(ID)
    alice.endpoint.send(seal_audio(key, ID, "alice", grant, 0, b"fresh"),
                        world.server.address)
    assert parse_media_packet(await bob.endpoint.next()).id == ID
