"""media-auth through the real server over TLS: secrets, keys, grants, the sealed relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from media_members import MediaMember
from server_fixtures import (
    FAST,
    G58,
    RawClient,
    UdpPeer,
    loopback_alias_works,
    sample_directory,
)

from app.client.media_auth import ClientMediaAuth, HeardAudio, RecvBeginAcked
from app.client.trust import TrustPolicy, client_context
from app.protocol.messages import (
    JoinRequest,
    Login,
    MediaKeyNotice,
    QuitRequest,
    SpeakRequest,
)
from app.protocol.udp import AudioPacket, RecvBeginPacket
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

FEATURES = ("media-auth",)


@pytest.fixture(params=[False, True], ids=["asyncio", "media_thread"])
async def server(tmp_path: Path, request: pytest.FixtureRequest
                 ) -> AsyncIterator[tuple[InterphoneServer, str]]:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            media_encryption="optional"), tls=context,
            media_thread=request.param) as running:
        yield running, fingerprint


async def member(server: tuple[InterphoneServer, str], uid: str) -> MediaMember:
    running, fingerprint = server
    return await MediaMember.signed_in(running.port, fingerprint, uid, FEATURES)


async def join(who: MediaMember) -> None:
    await who.join()
    own = await who.signaling.next_notification()  # the change its own join made
    assert own.body.__class__.__name__ == "InterphoneChanged"


async def test_sealed_voice_reaches_members_only_and_keys_rotate(server) -> None:
    alice, bob = await member(server, "alice"), await member(server, "bob")
    await join(alice)
    await join(bob)
    key_notice = await alice.signaling.next_notification()
    assert isinstance(key_notice.body, MediaKeyNotice)  # before the change notification
    alice.install(key_notice.body)
    assert (await alice.signaling.next_notification()).body.__class__.__name__ == \
        "InterphoneChanged"
    await alice.register()
    await bob.register()
    granted = await alice.signaling.request(SpeakRequest(True, G58))
    assert granted.ok and granted.body.grant > 0
    alice.media.floor_granted(str(G58), granted.body.grant)
    packet = alice.media.seal(str(G58), 0, b"opus-frame")
    assert b"opus-frame" not in packet  # encrypted on the wire
    alice.udp.send(packet)
    heard = await bob.heard()
    assert heard == HeardAudio(str(G58), "alice", granted.body.grant, 0, b"opus-frame")
    assert await alice.udp.nothing()  # never echoed
    alice.udp.send(packet)  # a replay is relayed (the server does not open) but refused
    assert await bob.heard() is None
    alice.udp.send(alice.media.seal(str(G58), 1, b"second"))
    assert await bob.heard() == HeardAudio(str(G58), "alice", granted.body.grant, 1, b"second")
    again = await alice.signaling.request(SpeakRequest(True, G58))
    assert again.body.grant > granted.body.grant  # a re-grant gets a new number
    alice.udp.send(alice.media.seal(str(G58), 2, b"old grant"))  # no longer relayed
    alice.media.floor_granted(str(G58), again.body.grant)
    alice.udp.send(alice.media.seal(str(G58), 0, b"new grant"))
    assert await bob.heard() == HeardAudio(str(G58), "alice", again.body.grant, 0, b"new grant")
    # bob leaves: alice gets a new key epoch; bob's old key cannot open what follows
    old_epoch = key_notice.body.epoch
    await bob.signaling.request(QuitRequest(G58))
    while True:
        rotated = await alice.signaling.next_notification()
        if isinstance(rotated.body, MediaKeyNotice):
            break
        assert rotated.body.info.member_count == 2  # the key comes before bob's exit
    assert rotated.body.epoch > old_epoch
    alice.install(rotated.body)
    alice.udp.send(alice.media.seal(str(G58), 1, b"after bob left"))
    assert await alice.udp.nothing()
    for who in (alice, bob):
        who.udp.close()
        await who.signaling.close()


async def test_hijack_attempts_from_the_same_ip_are_refused(server) -> None:
    alice, bob = await member(server, "alice"), await member(server, "bob")
    await join(alice)
    await join(bob)
    alice.install((await alice.signaling.next_notification()).body)
    await alice.register()
    await bob.register()
    attacker = await UdpPeer.open(server[0].port)
    attacker.send(RecvBeginPacket(str(G58), "bob").serialize())  # base form, bob's IP
    forged = ClientMediaAuth("bob", b"x" * 32, ("127.0.0.1", server[0].port))
    attacker.send(forged.recvbegin(str(G58)))  # wrong secret
    captured = bob.media.recvbegin(str(G58))  # bob's genuine next recvbegin...
    bob.udp.send(captured)
    assert await bob.heard() == RecvBeginAcked(str(G58))
    attacker.send(captured)  # ...replayed from elsewhere: its counter is not newer
    assert await attacker.nothing(0.3)
    granted = await alice.signaling.request(SpeakRequest(True, G58))
    alice.media.floor_granted(str(G58), granted.body.grant)
    alice.udp.send(alice.media.seal(str(G58), 0, b"voice"))
    assert await attacker.nothing(0.3)
    attacker.send(AudioPacket(str(G58), "alice", 0, b"fake").serialize())  # base audio as alice
    assert await bob.heard() is not None  # the genuine voice...
    assert await bob.udp.nothing(0.3)  # ...and nothing else
    attacker.close()
    for who in (alice, bob):
        who.udp.close()
        await who.signaling.close()


async def _gets(peer: UdpPeer, within: float = 0.3) -> bool:
    """Whether a datagram reaches ``peer`` within ``within`` seconds."""
    import asyncio

    try:
        await asyncio.wait_for(peer.received.get(), within)
    except TimeoutError:
        return False
    return True


async def _voice_to_another_host(server: tuple[InterphoneServer, str]) -> bool:
    """bob sends his genuine recvbegin from another host (127.0.0.2, as a member who
    spoofs his source would): whether it was acked there and alice's voice followed."""
    alice, bob = await member(server, "alice"), await member(server, "bob")
    await join(alice)
    await join(bob)
    alice.install((await alice.signaling.next_notification()).body)
    await alice.register()
    elsewhere = await UdpPeer.open(server[0].port, local_host="127.0.0.2")
    elsewhere.send(bob.media.recvbegin(str(G58)))  # a good mac, another host's address
    acked = await _gets(elsewhere)
    granted = await alice.signaling.request(SpeakRequest(True, G58))
    alice.media.floor_granted(str(G58), granted.body.grant)
    alice.udp.send(alice.media.seal(str(G58), 0, b"voice"))
    voice = await _gets(elsewhere)
    await bob.register()  # from his own IP, with a newer counter: as ever
    alice.udp.send(alice.media.seal(str(G58), 1, b"more"))
    assert await bob.heard() == HeardAudio(str(G58), "alice", granted.body.grant, 1, b"more")
    elsewhere.close()
    for who in (alice, bob):
        who.udp.close()
        await who.signaling.close()
    return acked or voice


@pytest.mark.skipif(not loopback_alias_works(), reason="needs 127.0.0.2 on loopback")
async def test_a_registration_from_another_ip_is_refused_though_its_mac_is_good(
        server) -> None:
    """The mac proves who sent a recvbegin, not from where: a member who could spoof his
    source registered at another host's address and had the interphone's voice sent
    there (a reflection of every packet). It counts only from the session's IP."""
    assert not await _voice_to_another_host(server)


@pytest.mark.skipif(not loopback_alias_works(), reason="needs 127.0.0.2 on loopback")
async def test_media_auth_any_source_ip_registers_from_anywhere(tmp_path: Path) -> None:
    """For signaling through a proxy (its TCP peer is the proxy, not the client)."""
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            media_encryption="optional", media_auth_any_source_ip=True),
            tls=context) as running:
        assert await _voice_to_another_host((running, fingerprint))


async def test_a_base_client_gets_plain_media_under_optional(server) -> None:
    running, fingerprint = server
    carol = await RawClient.connect(running.port, tls=client_context(TrustPolicy(pin=fingerprint)))
    reply = await carol.request(Login("carol", "pw-carol"))
    assert reply.ok and reply.body.features == () and reply.body.media_secret == ""
    joined = await carol.request(JoinRequest(G58))
    assert joined.ok and joined.body.media_key is None
    udp = await UdpPeer.open(running.port)
    udp.send(RecvBeginPacket(str(G58), "carol").serialize())
    assert await udp.recv() == RecvBeginPacket(str(G58), "carol").serialize()
    udp.close()
    await carol.close()


async def test_a_base_client_takes_audio_only_from_the_servers_media_address() -> None:
    """Replayed packets from another port of the server's IP no longer play as live speech."""
    import asyncio

    from app.client.media import MediaEndpoint

    loop = asyncio.get_running_loop()
    _, server = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    _, other = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    assert server.transport is not None and other.transport is not None
    heard: list[tuple[str, int, bytes]] = []
    port = server.address[1]
    endpoint = await MediaEndpoint.open("127.0.0.1", port, "bob",
                                        lambda _, uid, seq, frame: heard.append((uid, seq, frame)))
    registering = asyncio.ensure_future(endpoint.register(str(G58), interval=60, attempts=1))
    data, source = await asyncio.wait_for(server.received.get(), 2)
    server.transport.sendto(data, source)  # the ack
    assert await registering
    packet = AudioPacket(str(G58), "alice", 0, b"x").serialize()
    other.transport.sendto(packet, source)
    server.transport.sendto(packet, source)
    await asyncio.sleep(0.2)
    assert heard == [("alice", 0, b"x")]
    await endpoint.aclose()
    server.close()
    other.close()
