"""A talker lets go while its node cannot reach Redis: the walkie-talkie falls silent at once.

Real redis-server (stopped, or paused with SIGSTOP as one that hangs), two real nodes,
real clients over TCP and UDP. alice (the talker) and carol are on node a, bob on node b,
all three in G58 and listening. alice holds the floor when Redis goes away, then releases
it (``speak off``) or her connection drops. Her node answers the release as always, tells
carol at once and relays no more of alice's audio; bob's node cannot know until Redis is
back, then the floor is free everywhere (bob told, carol not told alice speaks again) and
bob takes it at once. Meanwhile nobody is granted the floor (carol's request is refused
with "store unavailable"). The nodes' silence timeout and talk limit are long, so that
only the release itself can free the floor within the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.protocol import AudioPacket, InterphoneChanged, RecvBeginPacket, parse_packet
from app.protocol.errors import ErrCode
from app.protocol.messages import (
    ErrorReply,
    InterphoneInfo,
    QuitRequest,
    SpeakRequest,
    SpeakResult,
)
from app.server import InterphoneServer
from app.server.redis_store import RedisStore
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    RedisLink,
    RedisProcess,
    node_store,
    redis_server,
    settle,
)
from tests.server_fixtures import FAST, G58, RawClient, UdpPeer, logged_in, sample_directory
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

LONG = FAST.with_overrides(silence_timeout=300.0, max_talk=600.0)
"""No grant ends by itself within a test: only a release (or a lost session) frees it."""


def store_of(node: InterphoneServer) -> RedisStore:
    assert isinstance(node.store, RedisStore) and node.store.replica is not None
    return node.store


@dataclass
class Member:
    uid: str
    signaling: RawClient
    udp: UdpPeer

    async def until(self, predicate, timeout: float = 30.0) -> InterphoneInfo:  # type: ignore[no-untyped-def]
        """The first change notification of G58 ``predicate`` accepts; the ones before
        must not name alice as the speaker unless ``predicate`` allows it (checked by
        the caller through :attr:`seen`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.signaling.next_notification(max(0.01, deadline - loop.time()))
            if isinstance(message.body, InterphoneChanged) and message.body.info.id == G58:
                info = message.body.info
                self.seen.append(info.speaker)
                if predicate(info):
                    return info

    def __post_init__(self) -> None:
        self.seen: list[str] = []


async def member(node: InterphoneServer, uid: str) -> Member:
    """``uid`` logged in on ``node``, in G58, its audio registered there (acknowledged)."""
    client = await logged_in(node.port, uid, timeout=10.0)
    await client.join(G58)
    udp = await UdpPeer.open(node.port)
    udp.send(RecvBeginPacket(str(G58), uid).serialize(crc=False))
    assert parse_packet(await udp.recv(10.0)) == RecvBeginPacket(str(G58), uid)
    return Member(uid, client, udp)


@contextlib.asynccontextmanager
async def alice_talking(redis: RedisProcess, link: RedisLink | None = None) -> AsyncIterator[
        tuple[list[InterphoneServer], Member, Member, Member]]:
    """Nodes a and b; alice and carol on a, bob on b, all in G58; alice holds the floor and
    both listeners heard her. (nodes, alice, carol, bob.) With ``link``, node a reaches
    Redis through it, and the others give it up only after a minute cut off."""
    a_store = (node_store(redis.url, "a") if link is None else
               RedisStore(link.url, "a", beat=BEAT, ttl=60.0))
    nodes = [InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=LONG,
                              store=store) for store in (a_store, node_store(redis.url, "b"))]
    members: list[Member] = []
    try:
        for node in nodes:
            await node.start()
        members = [await member(nodes[0], "alice"), await member(nodes[0], "carol"),
                   await member(nodes[1], "bob")]
        alice, carol, bob = members
        assert (await alice.signaling.speak(G58)).ok
        for listener in (carol, bob):
            await listener.until(lambda i: i.speaker == "alice")
        await settle(nodes, timeout=20)
        sound = AudioPacket(str(G58), "alice", 0, b"before").serialize()
        alice.udp.send(sound)
        assert await carol.udp.recv(10.0) == sound
        assert await bob.udp.recv(10.0) == sound
        carol.seen.clear()
        yield nodes, alice, carol, bob
    finally:
        redis.resume()
        for one in members:
            one.udp.close()
            await one.signaling.close()
        for node in nodes:
            await node.stop()


async def bob_takes_the_floor_once_free(nodes: list[InterphoneServer], carol: Member,
                                        bob: Member) -> None:
    """The store back: bob is told the floor is free, both nodes agree and take requests
    again, and bob is granted the floor at once (carol is told)."""
    await bob.until(lambda i: i.speaker == "", timeout=30.0)
    await wait_until(lambda: all(not n.state.interphones[G58].floor.holder
                                 and not n.state.interphones[G58].holder for n in nodes),
                     30, "the floor free on both nodes")
    await wait_until(lambda: all(store_of(n).replica.available  # type: ignore[union-attr]
                                 for n in nodes), 30, "both nodes taking requests again")
    granted = await bob.signaling.speak(G58)
    assert granted.ok, granted
    await carol.until(lambda i: i.speaker == "bob")


def refused_for_the_store(reply: object) -> bool:
    body = getattr(reply, "body", None)
    return (isinstance(body, ErrorReply) and body.errcode == ErrCode.SERVER_FAULT
            and body.errmsg.lower().startswith("store unavailable"))


@pytest.mark.parametrize("outage", ["stopped", "paused"])
@pytest.mark.parametrize("ending", ["speak off", "connection dropped"])
async def test_a_release_during_an_outage_silences_the_talker_and_reaches_every_node(
        redis_server: RedisProcess, outage: str, ending: str) -> None:  # noqa: F811
    async with alice_talking(redis_server) as (nodes, alice, carol, bob):
        a, b = nodes
        if outage == "stopped":
            redis_server.stop()
        else:
            redis_server.pause()
        await wait_until(lambda: not store_of(a).replica.available, 30,  # type: ignore[union-attr]
                         "node a to count its store unreachable")

        if ending == "speak off":  # answered as a successful release, at once
            reply = await alice.signaling.speak(G58, on=False)
            assert reply.ok and reply.body == SpeakResult(False, G58), reply
        else:
            alice.signaling.writer.transport.abort()
        told = await carol.until(lambda i: i.speaker == "", timeout=30.0)
        assert "alice" in (told.members or ())  # (she leaves G58 when the store learns it)
        assert a.state.interphones[G58].holder == ""
        # her node relays no more of her audio, to carol nor to bob's node
        alice.udp.send(AudioPacket(str(G58), "alice", 1, b"after").serialize())
        assert await carol.udp.nothing(1.0)
        assert await bob.udp.nothing(0.2)
        # nothing granted without the store; bob's node cannot know yet
        assert refused_for_the_store(await carol.signaling.speak(G58))
        assert b.state.interphones[G58].holder == "alice"
        if ending == "speak off":  # a second release stays harmless
            assert (await alice.signaling.speak(G58, on=False)).ok

        if outage == "stopped":
            redis_server.start()
        else:
            redis_server.resume()
        await bob_takes_the_floor_once_free(nodes, carol, bob)
        # carol never saw alice speak again (nor, after a speak off, the release told twice)
        assert "alice" not in carol.seen, carol.seen
        if ending == "speak off":
            assert carol.seen == ["", "bob"], carol.seen
        sound = AudioPacket(str(G58), "bob", 0, b"bob").serialize()
        bob.udp.send(sound)
        assert await carol.udp.recv(10.0) == sound


async def test_a_release_sent_as_the_store_hangs_is_answered_not_refused(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """alice lets go the moment Redis hangs, before her node can know: her release's append
    hangs too. It is not refused after the answer limit (3 s) as other requests are: her
    node lets go on its own then, and Redis, once it answers, frees the floor everywhere."""
    caplog.set_level(logging.INFO)
    async with alice_talking(redis_server) as (nodes, alice, carol, bob):
        redis_server.pause()
        # (a node notices a hang 1 s after it at the earliest; a test process held up for
        # that long before sending sees the other path, the release of a known outage)
        noticed_first = any("store unreachable" in r.getMessage() for r in caplog.records)
        reply = await alice.signaling.request(SpeakRequest(False, G58), timeout=10.0)
        assert reply.ok and reply.body == SpeakResult(False, G58), reply
        assert noticed_first or any(
            "speak off not confirmed by the shared log: asked again" in r.getMessage()
            for r in caplog.records)  # (its append was under way: not known at once)
        await carol.until(lambda i: i.speaker == "", timeout=30.0)
        redis_server.resume()
        await bob_takes_the_floor_once_free(nodes, carol, bob)
        assert "alice" not in carol.seen, carol.seen


async def test_a_node_cut_off_alone_keeps_the_release_over_what_the_others_did_meanwhile(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Only node a loses Redis (its link is cut); node b goes on. alice releases on a; bob
    leaves G58 and joins again on b meanwhile. When a reads those entries, its notices to
    carol do not name alice as the speaker again (the log still has her grant until a's
    release follows them), and then the floor is free everywhere."""
    link = RedisLink(redis_server.port)
    await link.start()
    try:
        async with alice_talking(redis_server, link) as (nodes, alice, carol, bob):
            a, b = nodes
            link.sever()
            await wait_until(lambda: not store_of(a).replica.available,  # type: ignore[union-attr]
                             30, "node a to count its store unreachable")
            assert (await alice.signaling.speak(G58, on=False)).ok
            await carol.until(lambda i: i.speaker == "", timeout=30.0)
            assert (await bob.signaling.request(QuitRequest(G58))).ok  # through Redis, on b
            await bob.signaling.join(G58)
            assert b.state.interphones[G58].floor.holder == "alice"
            link.mend()
            await carol.until(lambda i: "bob" in (i.members or ()), timeout=30.0)
            await bob_takes_the_floor_once_free(nodes, carol, bob)
            assert "alice" not in carol.seen, carol.seen
    finally:
        await link.close()
