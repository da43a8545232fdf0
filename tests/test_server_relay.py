"""The UDP relay over real sockets: recvbegin checks and the audio forwarding rules."""

from __future__ import annotations

import asyncio
import random
import struct
import zlib

import pytest
from server_fixtures import (
    D12,
    G58,
    RawClient,
    UdpPeer,
    logged_in,
    loopback_alias_works,
    running_server,
)

from app.protocol import AudioPacket, QuitRequest, RecvBeginPacket, parse_packet


class Room:
    """alice, bob and carol in group_58, each with a registered UDP peer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: dict[str, RawClient] = {}
        self.peers: dict[str, UdpPeer] = {}

    async def enter(self) -> Room:
        for uid in ("alice", "bob", "carol"):
            client = await logged_in(self.port, uid)
            await client.join(G58)
            self.clients[uid] = client
            peer = await UdpPeer.open(self.port)
            self.peers[uid] = peer
            await register(peer, uid)
        return self

    async def leave(self) -> None:
        for peer in self.peers.values():
            peer.close()
        for client in self.clients.values():
            await client.close()


async def register(peer: UdpPeer, uid: str, interphone: str = "group_58") -> bytes:
    peer.send(RecvBeginPacket(interphone, uid).serialize(crc=False))
    ack = await peer.recv()
    assert parse_packet(ack) == RecvBeginPacket(interphone, uid)
    assert struct.unpack(">I", ack[:4])[0] == zlib.crc32(ack[4:])  # a proper crc
    return ack


async def test_recvbegin_is_acknowledged_and_registers_the_source() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        addrs = server.state.interphones[G58].addrs
        assert addrs["alice"] == room.peers["alice"].address
        await room.leave()


async def test_recvbegin_refused_without_session_membership_or_right_ip() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        await alice.join(G58)
        peer = await UdpPeer.open(server.port)
        for interphone, uid in (("group_58", "bob"),       # bob has no session
                                ("group_58", "mallory"),   # unknown
                                ("discuss_12", "alice"),   # alice is not in it
                                ("group_58x", "alice")):
            peer.send(RecvBeginPacket(interphone, uid).serialize())
            assert await peer.nothing(0.1)
        bob = await logged_in(server.port, "bob")
        peer.send(RecvBeginPacket("group_58", "bob").serialize())
        assert await peer.nothing(0.1)  # logged in but not a member
        assert server.state.interphones[G58].addrs == {}
        peer.close()
        await alice.close()
        await bob.close()


@pytest.mark.skipif(not loopback_alias_works(), reason="needs 127.0.0.2 on loopback")
async def test_recvbegin_from_another_ip_is_refused() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        spoof = await UdpPeer.open(server.port, local_host="127.0.0.2")
        spoof.send(RecvBeginPacket("group_58", "bob").serialize())
        assert await spoof.nothing(0.2)
        assert server.state.interphones[G58].addrs["bob"] == room.peers["bob"].address
        # a session that logged in from 127.0.0.2 may register from there
        dave = await logged_in(server.port, "dave", local_host="127.0.0.2")
        await dave.join(D12)
        await register(spoof, "dave", "discuss_12")
        spoof.close()
        await dave.close()
        await room.leave()


async def test_audio_is_relayed_byte_for_byte_never_echoed() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        await room.clients["alice"].speak(G58, True)
        for crc in (True, False):
            packet = AudioPacket("group_58", "alice", 0, bytes(range(200))).serialize(crc=crc)
            room.peers["alice"].send(packet)
            assert await room.peers["bob"].recv() == packet
            assert await room.peers["carol"].recv() == packet
        assert await room.peers["alice"].nothing()
        await room.leave()


async def test_audio_dropped_unless_from_the_holder_at_its_registered_address() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        await room.clients["alice"].speak(G58, True)
        listeners = [room.peers["bob"], room.peers["carol"]]
        # not the holder
        room.peers["bob"].send(AudioPacket("group_58", "bob", 0, b"b").serialize())
        # the holder's uid from an unregistered port of the same host
        other = await UdpPeer.open(server.port)
        other.send(AudioPacket("group_58", "alice", 0, b"a").serialize())
        # bad crc, trailing bytes, wrong interphone
        good = AudioPacket("group_58", "alice", 1, b"abc").serialize()
        room.peers["alice"].send(b"\x00\x00\x00\x01" + good[4:])
        room.peers["alice"].send(good + b"\x00")
        room.peers["alice"].send(AudioPacket("discuss_12", "alice", 0, b"a").serialize())
        for peer in listeners:
            assert await peer.nothing(0.15)
        room.peers["alice"].send(good)
        for peer in listeners:
            assert await peer.recv() == good
        other.close()
        await room.leave()


async def test_quit_ends_the_registration() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        await room.clients["carol"].request(QuitRequest(G58))
        await room.clients["alice"].speak(G58, True)
        packet = AudioPacket("group_58", "alice", 0, b"x").serialize()
        room.peers["alice"].send(packet)
        assert await room.peers["bob"].recv() == packet
        assert await room.peers["carol"].nothing()
        await room.leave()


async def test_garbage_datagrams_cost_nothing_to_others() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        await room.clients["alice"].speak(G58, True)
        rng = random.Random(1234)
        junk = await UdpPeer.open(server.port)
        template = AudioPacket("group_58", "alice", 0, b"voice").serialize()
        for n in range(10_000):
            kind = n % 4
            if kind == 0:
                data = rng.randbytes(rng.randrange(0, 1500))
            elif kind == 1:  # a real header with random tails
                data = template[: rng.randrange(len(template))] + rng.randbytes(rng.randrange(20))
            elif kind == 2:  # one flipped byte
                pos = rng.randrange(len(template))
                data = template[:pos] + bytes([template[pos] ^ 0xFF]) + template[pos + 1:]
            else:  # huge length fields
                data = struct.pack(">III", 0, rng.choice((1, 2)), rng.getrandbits(32))
            junk.send(data)
            if n % 500 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        assert await room.peers["bob"].nothing(0.05)
        room.peers["alice"].send(template)
        assert await room.peers["bob"].recv() == template
        assert await room.peers["carol"].recv() == template
        junk.close()
        await room.leave()
