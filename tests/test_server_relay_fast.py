"""The relay's fast path (the media thread) over real sockets: every rule of PROTOCOL.md 5.1
holds for packets it forwards on its own, not only for the first packet of a stream.

Each test first lets one good packet through, so that the relay has published a fast
route for the holder's address; what follows is decided by the media thread (its own
counters show it). A drop is shown without waiting for silence: the bad datagrams are
sent before a good one, and the listener's next datagram must be the good one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from server_fixtures import (
    D12,
    FAST,
    G58,
    RawClient,
    UdpPeer,
    logged_in,
    loopback_alias_works,
    sample_directory,
)
from test_server_relay import Room, register

from app.protocol import AudioPacket, InterphoneChanged, InterphoneId, Ping
from app.server import Directory, InterphoneServer
from app.server.media_thread import MediaThread


@contextlib.asynccontextmanager
async def running_server(directory: Directory | None = None,
                         **settings: Any) -> AsyncIterator[InterphoneServer]:
    """The fixtures' server with the media thread, as ``python -m app.server`` runs it."""
    directory = directory or sample_directory()
    base = FAST if directory.settings.auth == "token" else FAST.with_overrides(auth="open")
    async with InterphoneServer(directory, settings=base.with_overrides(**settings),
                                media_thread=True) as server:
        yield server


def _media(server: InterphoneServer) -> MediaThread:
    return cast(MediaThread, server._udp)


def _audio(seq: int, frame: bytes = b"voice", uid: str = "alice",
           interphone: str = "group_58", crc: bool = True) -> bytes:
    return AudioPacket(interphone, uid, seq, frame).serialize(crc=crc)


def _raw_audio(seq: int, frame: bytes, uid: str = "alice",
               interphone: str = "group_58") -> bytes:
    """An audiopacket built by hand (crc 0), so that any size is possible."""
    fields = [interphone.encode(), uid.encode()]
    body = (1).to_bytes(4, "big") + b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    return bytes(4) + body + seq.to_bytes(4, "big") + len(frame).to_bytes(4, "big") + frame


async def _streaming(server: InterphoneServer) -> Room:
    """alice holds group_58's floor and her stream is on the fast path."""
    room = await Room(server.port).enter()
    await room.clients["alice"].speak(G58, True)
    first = _audio(0)
    room.peers["alice"].send(first)
    assert await room.peers["bob"].recv() == first
    assert await room.peers["carol"].recv() == first
    assert room.peers["alice"].address in server.relay.fast  # type: ignore[union-attr]
    relayed = _media(server).relayed
    second = _audio(1)
    room.peers["alice"].send(second)
    assert await room.peers["bob"].recv() == second
    assert await room.peers["carol"].recv() == second
    assert _media(server).relayed == relayed + 1  # forwarded by the media thread itself
    return room


async def _next_is(peer: UdpPeer, expected: bytes) -> None:
    assert await peer.recv() == expected


async def test_malformed_audio_on_the_fast_path_is_dropped() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        alice = room.peers["alice"]
        good = _audio(2, b"abc")
        dropped = _media(server).dropped
        bad = [
            b"\x00\x00\x00\x01" + good[4:],            # wrong crc
            good + b"\x00",                             # trailing byte
            good[:-1],                                  # truncated frame
            good[:-7],                                  # truncated before the frame length
            _raw_audio(2, bytes(1276)),                # frame over 1275 bytes
            good[:-3] + b"\xff\xff\xff\xff"[:3],        # frame length no longer matches
        ]
        for data in bad:
            alice.send(data)
        alice.send(good)
        await _next_is(room.peers["bob"], good)
        await _next_is(room.peers["carol"], good)
        assert _media(server).dropped >= dropped + len(bad)
        assert await alice.nothing(0.05)  # never echoed
        await room.leave()


LONG_GID = "L" + "g" * 63  # the longest group id: a 1,400-byte packet has a legal frame
LONG_UID = "long.user_" + "x" * 30
LONG_TOML = f"""\
[server]
auth = "open"

[[groups]]
id = "{LONG_GID}"
name = "Long"
members = ["*"]
"""


async def test_over_long_datagram_dropped_exactly_1400_bytes_relayed() -> None:
    async with running_server(Directory.from_toml_text(LONG_TOML, source="long.toml")) as server:
        gid, interphone = f"group_{LONG_GID}", InterphoneId.group(LONG_GID)
        talker, listener = await logged_in(server.port, LONG_UID), await logged_in(server.port,
                                                                                  "bob")
        await talker.join(interphone)
        await listener.join(interphone)
        mouth, ear = await UdpPeer.open(server.port), await UdpPeer.open(server.port)
        await register(mouth, LONG_UID, gid)
        await register(ear, "bob", gid)
        await talker.speak(interphone, True)
        for seq in range(2):  # the second one on the fast path
            mouth.send(_audio(seq, uid=LONG_UID, interphone=gid))
            await _next_is(ear, _audio(seq, uid=LONG_UID, interphone=gid))
        overhead = len(_audio(0, b"", uid=LONG_UID, interphone=gid))
        exact = _audio(3, b"K" * (1400 - overhead), uid=LONG_UID, interphone=gid)
        over = _raw_audio(2, b"O" * (1401 - overhead), uid=LONG_UID, interphone=gid)
        assert len(exact) == 1400 and len(over) == 1401
        relayed, dropped = _media(server).relayed, _media(server).dropped
        mouth.send(over)
        mouth.send(over + bytes(3000))
        mouth.send(exact)
        await _next_is(ear, exact)
        assert _media(server).relayed == relayed + 1 and _media(server).dropped >= dropped + 2
        for closing in (mouth, ear, talker, listener):
            await closing.close() if isinstance(closing, RawClient) else closing.close()


async def test_holder_uid_from_another_port_is_dropped() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        spoof = await UdpPeer.open(server.port)
        for seq in range(5):
            spoof.send(_audio(seq))
        good = _audio(7)
        room.peers["alice"].send(good)
        await _next_is(room.peers["bob"], good)
        await _next_is(room.peers["carol"], good)
        assert spoof.address not in server.relay.fast  # type: ignore[union-attr]
        spoof.close()
        await room.leave()


@pytest.mark.skipif(not loopback_alias_works(), reason="needs 127.0.0.2 on loopback")
async def test_holder_uid_from_another_ip_same_port_number_is_dropped() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        port = room.peers["alice"].address[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoof:
            spoof.bind(("127.0.0.2", port))
            spoof.sendto(_audio(5), ("127.0.0.1", server.port))
        good = _audio(6)
        room.peers["alice"].send(good)
        await _next_is(room.peers["bob"], good)
        await room.leave()


async def test_member_without_the_floor_is_dropped_even_from_its_registered_address() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        room.peers["bob"].send(_audio(0, uid="bob"))
        room.peers["carol"].send(_audio(0, uid="carol"))
        good = _audio(2)
        room.peers["alice"].send(good)
        await _next_is(room.peers["bob"], good)
        await _next_is(room.peers["carol"], good)
        await room.leave()


async def test_released_floor_stops_the_fast_route() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        await room.clients["alice"].speak(G58, False)
        for seq in range(2, 6):
            room.peers["alice"].send(_audio(seq))
        await room.clients["bob"].speak(G58, True)
        from_bob = _audio(0, uid="bob")
        room.peers["bob"].send(from_bob)
        await _next_is(room.peers["carol"], from_bob)
        await _next_is(room.peers["alice"], from_bob)
        await room.leave()


async def test_unregistered_holder_is_dropped_until_it_registers() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        dave = await logged_in(server.port, "dave")
        await alice.join(D12)
        await dave.join(D12)
        ear = await UdpPeer.open(server.port)
        await register(ear, "alice", "discuss_12")
        await dave.speak(D12, True)
        mouth = await UdpPeer.open(server.port)
        for seq in range(3):  # dave holds the floor but never registered this address
            mouth.send(_audio(seq, uid="dave", interphone="discuss_12"))
        await register(mouth, "dave", "discuss_12")
        heard = _audio(3, uid="dave", interphone="discuss_12")
        mouth.send(heard)
        await _next_is(ear, heard)
        mouth.send(_audio(4, uid="dave", interphone="discuss_12"))
        await _next_is(ear, _audio(4, uid="dave", interphone="discuss_12"))
        assert _media(server).relayed >= 1  # the second went the fast way
        ear.close()
        mouth.close()
        await alice.close()
        await dave.close()


async def test_registration_moved_sends_to_the_new_address_only() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        moved = await UdpPeer.open(server.port)
        await register(moved, "bob")
        packet = _audio(2)
        room.peers["alice"].send(packet)
        await _next_is(moved, packet)
        await _next_is(room.peers["carol"], packet)
        assert await room.peers["bob"].nothing(0.05)
        moved.close()
        await room.leave()


async def test_expiry_seen_by_the_media_thread_revokes_the_floor() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        bob = room.clients["bob"]
        bob.drain()
        media = _media(server)
        media.clock = lambda: time.monotonic() + 6  # past silence_timeout (5 s), not idle
        room.peers["alice"].send(_audio(2))
        while True:  # the revocation reaches the members
            note = await bob.next_notification()
            assert isinstance(note.body, InterphoneChanged)
            if note.body.info.id == G58 and not note.body.info.speaker:
                break
        assert server.state.interphones[G58].holder == ""
        media.clock = time.monotonic
        await room.clients["carol"].speak(G58, True)
        from_carol = _audio(0, uid="carol")
        room.peers["carol"].send(from_carol)  # the handed-over packet never went out
        await _next_is(room.peers["bob"], from_carol)
        await room.leave()


async def test_silence_timeout_revokes_and_later_audio_is_dropped() -> None:
    async with running_server(silence_timeout=0.3) as server:
        room = await _streaming(server)
        bob = room.clients["bob"]
        while True:  # notifications in order, until one that follows the revocation
            note = await bob.next_notification(3.0)
            assert isinstance(note.body, InterphoneChanged)
            if not note.body.info.speaker and not server.state.interphones[G58].holder:
                break
        room.peers["alice"].send(_audio(9))
        await room.clients["bob"].speak(G58, True)
        from_bob = _audio(0, uid="bob")
        room.peers["bob"].send(from_bob)
        await _next_is(room.peers["carol"], from_bob)
        await room.leave()


async def test_a_flood_does_not_stop_others_being_served() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        junk = await UdpPeer.open(server.port)
        forged = [_audio(n, uid="bob") for n in range(50)]  # audio: handed to the loop
        for burst in range(20):
            for n in range(100):
                junk.send(forged[n % 50] if n % 2 else bytes([n]) * (n + 1))
            good = _audio(10 + burst)
            room.peers["alice"].send(good)
            await _next_is(room.peers["bob"], good)
            assert isinstance((await room.clients["carol"].request(Ping())).body, Ping)
        junk.close()
        await room.leave()


async def test_stop_ends_the_media_thread_and_closes_its_socket(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_server() as server:
        room = await _streaming(server)
        media = _media(server)
        sock = media.get_extra_info("socket")
        await room.leave()
    assert not [t for t in threading.enumerate() if t.name == "interphone-media"]
    assert sock.fileno() == -1 and media.is_closing()
    assert server.relay is not None and not server.relay.fast
    assert "did not stop" not in caplog.text


async def test_stop_of_a_server_that_relayed_nothing_ends_its_thread() -> None:
    async with running_server() as server:
        media = _media(server)
    assert media.is_closing()
    assert not [t for t in threading.enumerate() if t.name == "interphone-media"]
