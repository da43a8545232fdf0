"""Garbage at the media port is dropped by the media thread, before the event loop
(docs/protocol-extensions.md, media-auth section 6: cheap rejection), while a real
stream keeps flowing; what is well-formed still reaches the loop's rules."""

from __future__ import annotations

import os
import random
import zlib

from server_fixtures import RawClient, UdpPeer
from test_server_relay import Room
from test_server_relay_fast import _audio, _media, _next_is, _streaming, running_server

from app.protocol import Login, Ping, RecvBeginPacket
from app.server.relay import MALFORMED, NOT_ADMITTED

BASE_AUDIO, BASE_RECVBEGIN, AUTH_RECVBEGIN = 1, 2, 16


def garbage(kind: int, rng: random.Random, *, crc: bool = False) -> bytes:
    """Random bytes with ``kind`` in the type field; the crc is random (almost surely
    wrong, never 0) or, with ``crc``, right."""
    body = kind.to_bytes(4, "big") + os.urandom(rng.randint(4, 300))
    check = zlib.crc32(body) if crc else (zlib.crc32(body) ^ rng.randint(1, 2**32 - 1))
    return check.to_bytes(4, "big") + body


def auth_recvbegin(uid: str) -> bytes:
    """A well-formed auth_recvbegin (right crc) whose mac is wrong."""
    fields = b"".join(len(f).to_bytes(4, "big") + f for f in (b"group_58", uid.encode()))
    body = AUTH_RECVBEGIN.to_bytes(4, "big") + fields + (1).to_bytes(4, "big") + bytes(16)
    return zlib.crc32(body).to_bytes(4, "big") + body


async def test_random_datagrams_of_handled_types_never_reach_the_event_loop() -> None:
    rng = random.Random(12)
    async with running_server(media_encryption="optional") as server:
        relay = server.relay
        assert relay is not None and {1, 2, 16} <= relay.handled_types
        room = await _streaming(server)
        media = _media(server)
        thread_malformed, loop_drops = media.drops[MALFORMED], relay._dropped
        junk = await UdpPeer.open(server.port)
        sent = 0
        for burst in range(10):
            for kind in (BASE_AUDIO, BASE_RECVBEGIN, AUTH_RECVBEGIN) * 20:
                junk.send(garbage(kind, rng))
                sent += 1
            junk.send(garbage(BASE_AUDIO, rng, crc=True))  # crc right, layout wrong
            sent += 1
            good = _audio(10 + burst)
            room.peers["alice"].send(good)
            await _next_is(room.peers["bob"], good)  # read after every datagram before it
        assert isinstance((await room.clients["carol"].request(Ping())).body, Ping)
        assert media.drops[MALFORMED] - thread_malformed == sent
        assert relay._dropped == loop_drops  # the loop was handed none of them
        junk.close()
        await room.leave()


async def media_auth_session(port: int, uid: str) -> RawClient:
    client = await RawClient.connect(port)
    reply = await client.request(Login(uid, f"pw-{uid}", features=("media-auth",)))
    assert reply.ok and "media-auth" in reply.body.features  # type: ignore[union-attr]
    return client  # a member of nothing: the thread looks at the session, the gate at more


async def settled(room: Room, burst: int) -> None:
    """Everything sent before now was read by the media thread and drained by the loop."""
    good = _audio(100 + burst)
    room.peers["alice"].send(good)
    await _next_is(room.peers["carol"], good)
    assert isinstance((await room.clients["carol"].request(Ping())).body, Ping)


async def test_recvbegins_naming_no_session_that_could_register_stay_in_the_thread() -> None:
    async with running_server(media_encryption="optional") as server:
        relay = server.relay
        assert relay is not None
        room = await _streaming(server)
        media = _media(server)
        dave = await media_auth_session(server.port, "dave")  # holds media-auth
        thread_refused, loop_refused = media.drops[NOT_ADMITTED], relay._drops[NOT_ADMITTED]
        junk = await UdpPeer.open(server.port)
        junk.send(auth_recvbegin("nobody"))  # no session at all
        junk.send(auth_recvbegin("bob"))  # bob's session holds no media-auth
        junk.send(RecvBeginPacket("group_58", "nobody").serialize())
        junk.send(RecvBeginPacket("group_58", "dave").serialize())  # dave holds media-auth
        await settled(room, 0)
        assert media.drops[NOT_ADMITTED] - thread_refused == 4
        assert relay._drops[NOT_ADMITTED] == loop_refused
        junk.send(auth_recvbegin("dave"))  # plausible: the gate checks the mac (wrong)
        junk.send(RecvBeginPacket("group_58", "bob").serialize())  # plausible: bob, this IP
        await settled(room, 1)
        assert media.drops[NOT_ADMITTED] - thread_refused == 4
        # bob's base recvbegin moved his registration (same IP, the base rule); dave's
        # was refused by the gate, on the loop
        assert relay._drops[NOT_ADMITTED] == loop_refused + 1
        junk.close()
        await dave.close()
        await room.leave()


async def test_auth_recvbegins_beyond_the_address_bucket_stay_in_the_thread() -> None:
    async with running_server(media_encryption="optional", recvbegin_rate=0.001,
                              recvbegin_burst=3) as server:
        relay = server.relay
        assert relay is not None
        room = await _streaming(server)
        media = _media(server)
        dave = await media_auth_session(server.port, "dave")
        thread_refused, loop_refused = media.drops[NOT_ADMITTED], relay._drops[NOT_ADMITTED]
        junk = await UdpPeer.open(server.port)
        for _ in range(10):
            junk.send(auth_recvbegin("dave"))
        await settled(room, 0)
        assert media.drops[NOT_ADMITTED] - thread_refused == 7  # the burst of 3 went on
        assert relay._drops[NOT_ADMITTED] == loop_refused + 3  # wrong macs, on the loop
        junk.close()
        await dave.close()
        await room.leave()
