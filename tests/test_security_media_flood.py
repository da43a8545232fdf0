"""Garbage at the media port is dropped by the media thread, before the event loop
(docs/protocol-extensions.md, media-auth section 6: cheap rejection), while a real
stream keeps flowing; what is well-formed still reaches the loop's rules."""

from __future__ import annotations

import os
import random
import zlib

from server_fixtures import UdpPeer
from test_server_relay_fast import _audio, _media, _next_is, _streaming, running_server

from app.protocol import Ping
from app.server.relay import MALFORMED, NOT_ADMITTED

BASE_AUDIO, BASE_RECVBEGIN, AUTH_RECVBEGIN = 1, 2, 16


def garbage(kind: int, rng: random.Random, *, crc: bool = False) -> bytes:
    """Random bytes with ``kind`` in the type field; the crc is random (almost surely
    wrong, never 0) or, with ``crc``, right."""
    body = kind.to_bytes(4, "big") + os.urandom(rng.randint(4, 300))
    check = zlib.crc32(body) if crc else (zlib.crc32(body) ^ rng.randint(1, 2**32 - 1))
    return check.to_bytes(4, "big") + body


def auth_recvbegin(uid: str) -> bytes:
    """A well-formed auth_recvbegin (right crc) whose mac is wrong: the gate's to judge."""
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


async def test_a_well_formed_auth_recvbegin_still_reaches_the_gate() -> None:
    async with running_server(media_encryption="optional") as server:
        relay = server.relay
        assert relay is not None
        room = await _streaming(server)
        not_admitted = relay._drops[NOT_ADMITTED]
        junk = await UdpPeer.open(server.port)
        junk.send(auth_recvbegin("bob"))  # bob holds no media-auth session: refused there
        good = _audio(10)
        room.peers["alice"].send(good)
        await _next_is(room.peers["bob"], good)
        assert isinstance((await room.clients["carol"].request(Ping())).body, Ping)
        assert relay._drops[NOT_ADMITTED] == not_admitted + 1  # judged on the loop
        junk.close()
        await room.leave()
