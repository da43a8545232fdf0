"""media-auth meets the floor extensions (docs/protocol-extensions.md): a grant from the
line (``<floor type='granted'/>``) and a grant by pre-emption carry a new ``grant``
number, the new holder's sealed audio under it is relayed, and the old holder's grant
ends with its revocation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from client_fixtures import Clients, wait_until
from media_members import MediaMember
from server_fixtures import FAST, G58, sample_directory

from app.client.media_auth import HeardAudio
from app.client.trust import TrustPolicy, client_context
from app.protocol.messages import (
    FloorNotice,
    FloorNoticeType,
    MediaKeyNotice,
    SpeakRequest,
    SpeakResult,
)
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

pytest_plugins = ["client_fixtures"]

FEATURES = ("emergency", "floor-queue", "media-auth")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[InterphoneServer, str]]:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            media_encryption="required"), tls=context) as running:
        yield running, fingerprint


async def joined_member(server: tuple[InterphoneServer, str], uid: str) -> MediaMember:
    running, fingerprint = server
    who = await MediaMember.signed_in(running.port, fingerprint, uid, FEATURES)
    await who.join()
    return who


async def registered(*members: MediaMember) -> None:
    for who in members:
        await who.register()


async def close(*members: MediaMember) -> None:
    for who in members:
        await who.close()


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
