"""A cluster of nodes serving TLS with media-auth (media_encryption = "required", the default
with TLS): a client that asks for media-auth logs in on any node, every node hands the same
voice key and epoch to its members, a talker on node A is heard (decrypted, real Opus, not
silent) by a listener on node B, and a member leaving on node B rotates the key on node A.
A real redis-server, real certificates, real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.audio.codec import OpusDecoder, OpusEncoder
from app.audio.constants import DEFAULT_FRAME_MS, SAMPLE_RATE
from app.client import InterphoneClient
from app.client.asked_features import asked_features
from app.client.media_auth import HeardAudio
from app.client.trust import TrustPolicy, client_context
from app.protocol.messages import (
    MediaKeyNotice,
    QuitRequest,
    SpeakRequest,
)
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context
from tests.media_members import MediaMember
from tests.redis_fixtures import RedisProcess, redis_server, started_nodes  # noqa: F401
from tests.server_fixtures import G58
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


async def test_a_media_auth_client_logs_in_on_a_tls_cluster_node(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with started_nodes(redis_server.url, "a", "b", tls=context) as nodes:
        for node in nodes:
            client = InterphoneClient(
                "127.0.0.1", node.port, "alice", "pw-alice", reconnect=False,
                ssl=client_context(TrustPolicy(pin=fingerprint)),
                features=asked_features(tls=True))
            try:
                await client.connect()  # refused "media-auth required" before the fix
                assert "media-auth" in client.features
            finally:
                await client.close()


@dataclass
class Cluster:
    nodes: list[InterphoneServer]
    fingerprint: str

    async def member(self, uid: str, node: int) -> MediaMember:
        return await MediaMember.signed_in(self.nodes[node].port, self.fingerprint, uid)


@pytest.fixture(params=[False, True], ids=["asyncio", "media_thread"])
async def cluster(redis_server: RedisProcess, tmp_path: Path,  # noqa: F811
                  request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with started_nodes(redis_server.url, "a", "b", tls=context,
                             media_thread=request.param) as nodes:
        yield Cluster(nodes, fingerprint)


def tone_frames(count: int) -> list[bytes]:
    """``count`` Opus frames of a 440 Hz tone (real libopus)."""
    encoder = OpusEncoder()
    samples = SAMPLE_RATE * DEFAULT_FRAME_MS // 1000
    frames = []
    for index in range(count):
        t = (np.arange(samples) + index * samples) / SAMPLE_RATE
        frames.append(encoder.encode((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)))
    return frames


def knows_remote(node: InterphoneServer, uid: str) -> bool:
    record = node.state.routes.get(str(G58))
    return record is not None and uid in record.remote


async def test_a_talker_on_node_a_is_heard_on_node_b_and_keys_rotate_across_nodes(
        cluster: Cluster) -> None:
    alice = await cluster.member("alice", 0)
    bob = await cluster.member("bob", 1)
    carol = await cluster.member("carol", 1)
    await alice.join()
    bob_key = await bob.join()  # node B hands bob the key node A hands alice
    alice_key = await alice.until(MediaKeyNotice)
    assert (alice_key.epoch, alice_key.key) == (bob_key.epoch, bob_key.key)
    carol_key = await carol.join()
    for who in (alice, bob):
        notice = await who.until(MediaKeyNotice)
        assert (notice.epoch, notice.key) == (carol_key.epoch, carol_key.key)
    assert carol_key.epoch > bob_key.epoch  # a new member: a new epoch
    for who in (alice, bob, carol):
        await who.register()
    a, b = cluster.nodes
    await wait_until(lambda: knows_remote(a, "bob") and knows_remote(b, "alice"),
                     what="each node learns the other's registrations")

    granted = await alice.signaling.request(SpeakRequest(True, G58))
    assert granted.ok and granted.body.grant > 0
    alice.media.floor_granted(str(G58), granted.body.grant)
    decoder = OpusDecoder()
    pcm = []
    for seq, frame in enumerate(tone_frames(10)):
        packet = alice.media.seal(str(G58), seq, frame)
        assert frame not in packet  # encrypted on the wire
        alice.udp.send(packet)
        heard = await bob.heard()
        assert isinstance(heard, HeardAudio), heard
        assert (heard.uid, heard.grant, heard.seq) == ("alice", granted.body.grant, seq)
        pcm.append(decoder.decode(heard.frame))
        assert isinstance(await carol.heard(), HeardAudio)  # one copy per node, two members
    assert float(np.sqrt(np.mean(np.concatenate(pcm[3:]) ** 2))) > 0.05  # not silence
    assert await alice.udp.nothing()  # never echoed

    # carol leaves on node B: node A hands alice a new epoch, node B the same to bob
    assert (await carol.signaling.request(QuitRequest(G58))).ok
    rotated = await alice.until(MediaKeyNotice)
    assert rotated.epoch > carol_key.epoch
    assert (await bob.until(MediaKeyNotice)) == rotated
    frame = tone_frames(1)[0]
    alice.udp.send(alice.media.seal(str(G58), 10, frame))
    heard = await bob.heard()
    assert isinstance(heard, HeardAudio) and heard.frame == frame  # under the new key
    assert await carol.udp.nothing(0.3)  # a former member gets nothing more
    for who in (alice, bob, carol):
        await who.close()


async def test_sealed_audio_forwarded_before_this_node_learns_the_registration_is_heard(
        cluster: Cluster) -> None:
    """Node A forwards alice's sealed audio to node B, which has not applied alice's
    registration at node A (here she never registers there, so node B never learns it):
    the packet comes from node A's relay, whose node judged it, and bob hears it (it was
    dropped: alice not known as registered at node A). Only bob: nothing goes back."""
    alice = await cluster.member("alice", 0)
    bob = await cluster.member("bob", 1)
    await alice.join()
    await bob.join()
    await alice.until(MediaKeyNotice)
    await bob.register()
    a, b = cluster.nodes
    assert a.store is not None and a.store.replica is not None
    assert b.store is not None and b.store.replica is not None
    a_relay, b_relay = (tuple(n.store.replica.media_address[:2]) for n in (a, b))
    await wait_until(lambda: a_relay in b.store.replica.relays.values()
                     and knows_remote(a, "bob"), what="node B knows node A's relay")
    assert not knows_remote(b, "alice")
    granted = await alice.signaling.request(SpeakRequest(True, G58))
    assert granted.ok
    alice.media.floor_granted(str(G58), granted.body.grant)
    assert a.relay is not None and a.relay.transport is not None
    assert a.state.node_auth is not None  # as node A forwards: with its node-auth trailer
    for seq, frame in enumerate(tone_frames(3)):
        a.relay.transport.sendto(a.state.node_auth.seal(alice.media.seal(str(G58), seq, frame)),
                                 b_relay)
        heard = await bob.heard()
        assert isinstance(heard, HeardAudio), heard
        assert (heard.uid, heard.seq, heard.frame) == ("alice", seq, frame)
    assert await alice.udp.nothing(0.3)
    for who in (alice, bob):
        await who.close()
