"""media-auth meets the floor extensions (docs/protocol-extensions.md): a grant from the
line (``<floor type='granted'/>``) and a grant by pre-emption carry a new ``grant``
number, the new holder's sealed audio under it is relayed, and the old holder's grant
ends with its revocation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from client_fixtures import Clients, wait_until
from server_fixtures import FAST, G58, RawClient, UdpPeer, sample_directory

from app.client.media_auth import ClientMediaAuth, HeardAudio, RecvBeginAcked
from app.client.trust import TrustPolicy, client_context
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import (
    FloorNotice,
    FloorNoticeType,
    JoinRequest,
    Login,
    MediaKeyNotice,
    SpeakRequest,
    SpeakResult,
)
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

pytest_plugins = ["client_fixtures"]

FEATURES = ("emergency", "floor-queue", "media-auth")


@dataclass
class Member:
    uid: str
    signaling: RawClient
    udp: UdpPeer
    media: ClientMediaAuth

    async def heard(self) -> HeardAudio | RecvBeginAcked | None:
        data, source = await asyncio.wait_for(self.udp.received.get(), 2)
        return self.media.datagram(data, source, 0.0)

    async def until(self, kind: type) -> Any:
        """The next notification body of ``kind``; voice keys on the way are installed."""
        while True:
            body = (await self.signaling.next_notification()).body
            if isinstance(body, MediaKeyNotice):
                self.media.install_key(str(body.id), body.epoch, body.key, 0.0)
            if isinstance(body, kind):
                return body


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[InterphoneServer, str]]:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            media_encryption="required"), tls=context) as running:
        yield running, fingerprint


async def joined_member(server: tuple[InterphoneServer, str], uid: str) -> Member:
    running, fingerprint = server
    client = await RawClient.connect(running.port,
                                     tls=client_context(TrustPolicy(pin=fingerprint)))
    reply = await client.request(Login(uid, f"pw-{uid}", features=FEATURES))
    assert reply.ok and set(FEATURES) <= set(reply.body.features)
    secret = decode_b64(reply.body.media_secret, SECRET_BYTES)
    udp = await UdpPeer.open(running.port)
    who = Member(uid, client, udp, ClientMediaAuth(uid, secret, ("127.0.0.1", running.port)))
    join = await client.request(JoinRequest(G58))
    assert join.ok and join.body.media_key is not None
    key = join.body.media_key
    who.media.install_key(str(key.id), key.epoch, key.key, 0.0)
    return who


async def registered(*members: Member) -> None:
    for who in members:
        who.udp.send(who.media.recvbegin(str(G58)))
        assert await who.heard() == RecvBeginAcked(str(G58))


async def close(*members: Member) -> None:
    for who in members:
        who.udp.close()
        await who.signaling.close()


async def test_a_grant_from_the_line_carries_grant_and_its_audio_is_relayed(server) -> None:
    alice = await joined_member(server, "alice")
    bob = await joined_member(server, "bob")
    await alice.until(MediaKeyNotice)  # the key bob's join rotated
    await registered(alice, bob)
    first = await alice.signaling.request(SpeakRequest(True, G58))
    assert isinstance(first.body, SpeakResult) and first.body.grant > 0
    waiting = await bob.signaling.request(SpeakRequest(True, G58, queue=True))
    assert waiting.body == SpeakResult(True, G58, queued=True, position=1)  # no grant yet
    await alice.signaling.request(SpeakRequest(False, G58))
    granted = await bob.until(FloorNotice)
    assert granted.type is FloorNoticeType.GRANTED
    assert granted.grant > first.body.grant  # a new number for the grant from the line
    alice.media.floor_granted(str(G58), first.body.grant)
    alice.udp.send(alice.media.seal(str(G58), 5, b"after release"))  # old grant: dropped
    bob.media.floor_granted(str(G58), granted.grant)
    bob.udp.send(bob.media.seal(str(G58), 0, b"bob's turn"))
    assert await alice.heard() == HeardAudio(str(G58), "bob", granted.grant, 0, b"bob's turn")
    assert await bob.udp.nothing()  # alice's stale packet was not relayed
    await close(alice, bob)


async def test_a_grant_by_pre_emption_carries_grant_and_ends_the_old_one(server) -> None:
    alice = await joined_member(server, "alice")
    bob = await joined_member(server, "bob")
    await alice.until(MediaKeyNotice)
    await registered(alice, bob)
    first = await alice.signaling.request(SpeakRequest(True, G58))
    assert first.body.grant > 0
    taken = await bob.signaling.request(SpeakRequest(True, G58, emergency=True))
    assert isinstance(taken.body, SpeakResult) and taken.body.grant > first.body.grant
    revoked = await alice.until(FloorNotice)
    assert (revoked.type, revoked.reason, revoked.by) == (FloorNoticeType.REVOKED,
                                                          "preempted", "bob")
    alice.media.floor_granted(str(G58), first.body.grant)
    alice.udp.send(alice.media.seal(str(G58), 9, b"too late"))  # revoked: not relayed
    bob.media.floor_granted(str(G58), taken.body.grant)
    bob.udp.send(bob.media.seal(str(G58), 0, b"emergency"))
    assert await alice.heard() == HeardAudio(str(G58), "bob", taken.body.grant, 0,
                                             b"emergency")
    assert await bob.udp.nothing()
    await close(alice, bob)


async def test_the_client_waits_in_line_then_talks_sealed_audio(server, clients: Clients
                                                                ) -> None:
    running, fingerprint = server
    tls = client_context(TrustPolicy(pin=fingerprint))
    alice, bob = [await clients.connect(running.port, uid, ssl=tls, features=FEATURES)
                  for uid in ("alice", "bob")]
    heard: list[tuple[str, int, bytes]] = []
    alice.on_audio = lambda uid, seq, payload: heard.append((uid, seq, payload))
    for who in (alice, bob):
        assert who.features == frozenset(FEATURES)
        await who.join(G58)
    assert await alice.talk_start()
    bob_turn = asyncio.ensure_future(bob.talk_start(queue=True))
    await wait_until(lambda: running.state.interphones[G58].floor.queue == ("bob",),
                     what="bob in line")
    await alice.talk_stop()
    assert await asyncio.wait_for(bob_turn, 3) is True  # granted from the line
    sent = 0

    def bob_talks() -> bool:  # (until bob's and alice's registrations are through)
        nonlocal sent
        bob.send_audio(bytes([sent % 256]) * 20)
        sent += 1
        return bool(heard)

    await wait_until(bob_talks, what="alice hears bob's sealed audio")
    assert heard[0][0] == "bob"
    await bob.talk_stop()
