"""Floor control over real sockets: grants, the race, and every kind of revocation."""

from __future__ import annotations

import asyncio

from server_fixtures import G58, GALL, RawClient, UdpPeer, logged_in, running_server

from app.protocol import AudioPacket, RecvBeginPacket
from app.protocol.messages import ErrorReply, SpeakResult


async def _pair(server, **kw) -> tuple[RawClient, RawClient]:
    alice = await logged_in(server.port, "alice")
    bob = await logged_in(server.port, "bob")
    await alice.join(G58)
    await bob.join(G58)
    await asyncio.sleep(0.05)
    alice.drain()
    bob.drain()
    return alice, bob


async def test_speak_on_busy_off() -> None:
    async with running_server() as server:
        alice, bob = await _pair(server)
        reply = await alice.speak(G58, True)
        assert reply.body == SpeakResult(True, G58)
        assert (await bob.next_notification()).body.info.speaker == "alice"
        busy = (await bob.speak(G58, True)).body
        assert isinstance(busy, ErrorReply)
        assert (busy.tag, busy.errcode, busy.errmsg, busy.type, busy.id) == (
            "speak", 409, "alice is speaking", "on", "group_58")
        assert (await bob.speak(G58, False)).ok  # harmless
        assert (await alice.speak(G58, False)).body == SpeakResult(False, G58)
        assert (await bob.next_notification()).body.info.speaker == ""
        carol = await logged_in(server.port, "carol")
        refused = (await carol.speak(G58, True)).body
        assert isinstance(refused, ErrorReply) and refused.errcode == 403
        for client in (alice, bob, carol):
            await client.close()


async def test_exactly_one_of_twenty_simultaneous_requests_wins() -> None:
    async with running_server(auth="open") as server:
        clients = [await logged_in(server.port, f"racer{n}", "") for n in range(20)]
        for client in clients:
            await client.join(GALL)
        replies = await asyncio.gather(*(c.speak(GALL, True) for c in clients))
        winners = [c.uid for c, r in zip(clients, replies, strict=True) if r.ok]
        assert len(winners) == 1
        losers = [r.body for r in replies if not r.ok]
        assert all(e.errcode == 409 and e.errmsg == f"{winners[0]} is speaking" for e in losers)
        assert server.state.interphones[GALL].holder == winners[0]
        for client in clients:
            await client.close()


async def test_grant_is_revoked_after_max_talk_even_while_talking() -> None:
    async with running_server(max_talk=0.4, silence_timeout=10) as server:
        alice, bob = await _pair(server)
        peer = await UdpPeer.open(server.port)
        peer.send(RecvBeginPacket("group_58", "alice").serialize())
        await peer.recv()
        loop = asyncio.get_running_loop()
        await alice.speak(G58, True)
        granted = loop.time()
        assert (await bob.next_notification()).body.info.speaker == "alice"
        for seq in range(6):
            peer.send(AudioPacket("group_58", "alice", seq, b"x").serialize())
            await asyncio.sleep(0.05)
        note = await bob.next_notification(timeout=2.0)
        assert note.body.info.speaker == ""
        assert loop.time() - granted >= 0.35
        peer.close()
        await alice.close()
        await bob.close()


async def test_grant_is_revoked_after_silence() -> None:
    async with running_server(silence_timeout=0.3) as server:
        alice, bob = await _pair(server)
        peer = await UdpPeer.open(server.port)
        peer.send(RecvBeginPacket("group_58", "alice").serialize())
        await peer.recv()
        await alice.speak(G58, True)
        assert (await bob.next_notification()).body.info.speaker == "alice"
        for seq in range(8):  # 0.8 s of talk keeps the grant
            peer.send(AudioPacket("group_58", "alice", seq, b"x").serialize())
            await asyncio.sleep(0.1)
        assert server.state.interphones[G58].holder == "alice"
        note = await bob.next_notification(timeout=2.0)  # then 0.3 s of silence
        assert note.body.info.speaker == ""
        await alice.speak(G58, True)  # a new grant with no audio at all is revoked too
        assert (await bob.next_notification()).body.info.speaker == "alice"
        assert (await bob.next_notification(timeout=2.0)).body.info.speaker == ""
        peer.close()
        await alice.close()
        await bob.close()


async def test_grant_is_revoked_when_the_holder_disconnects() -> None:
    async with running_server() as server:
        alice, bob = await _pair(server)
        await alice.speak(G58, True)
        assert (await bob.next_notification()).body.info.speaker == "alice"
        await alice.close()
        note = await bob.next_notification()
        assert (note.body.info.speaker, note.body.info.members) == ("", ("bob",))
        assert (await bob.speak(G58, True)).ok
        await bob.close()
