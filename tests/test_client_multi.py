"""Several joined interphones at once (a radio's scan list), against the real server."""

from __future__ import annotations

import pytest
from client_fixtures import EventLog, free_port, running_server, wait_until

from app.client import (
    ConnectionState,
    FloorState,
    JoinedChanged,
    JoinedSetChanged,
    JoinedSpeakerChanged,
    NotJoined,
)
from app.protocol import InterphoneId

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
PACKET = b"\xf8\xff\xfe"

pytest_plugins = ["client_fixtures"]


async def test_join_adds_and_the_last_join_is_the_talk_target(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        log = EventLog(alice)
        await alice.join(G58)
        await alice.join(D12)
        assert alice.joined_ids == (G58, D12)
        assert alice.talk_target == D12 and alice.joined == D12
        assert log.of(JoinedSetChanged)[-1] == JoinedSetChanged((G58, D12))
        assert [e.id for e in log.of(JoinedChanged)] == [G58, D12]
        # The server counts alice in both.
        assert server.state.interphones[G58].members.keys() == {"alice"}
        assert server.state.interphones[D12].members.keys() == {"alice"}
        await alice.join(G58, target=True)  # joining again only moves the target
        assert alice.joined_ids == (G58, D12) and alice.talk_target == G58


async def test_join_without_target_keeps_the_talk_target(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        await alice.join(D12, target=False)
        assert alice.joined_ids == (G58, D12) and alice.talk_target == G58
        bob = await clients.connect(server.port, "bob")
        await bob.join(D12)
        await alice.talk_start()
        assert server.state.interphones[G58].holder == "alice"
        assert server.state.interphones[D12].holder == ""


async def test_audio_of_every_joined_interphone_arrives_with_its_id(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        carol = await clients.connect(server.port, "carol")
        await alice.join(G58)
        await alice.join(D12, target=False)
        await bob.join(D12)
        await carol.join(G58)
        heard: list[tuple[InterphoneId, str, int]] = []
        plain: list[str] = []
        alice.on_interphone_audio = lambda i, uid, seq, _p: heard.append((i, uid, seq))
        alice.on_audio = lambda uid, seq, _p: plain.append(uid)
        log = EventLog(alice)
        assert await bob.talk_start() and await carol.talk_start()
        await wait_until(lambda: alice.model.speaker_of(D12) == "bob", what="bob seen in D12")
        assert JoinedSpeakerChanged(D12, "bob") in log.events  # activity outside the target
        assert alice.model.speaker == "carol"  # the talk target's speaker
        bob.send_audio(PACKET)
        carol.send_audio(PACKET)
        await wait_until(lambda: len(heard) == 2, what="both packets")
        assert set(heard) == {(D12, "bob", 0), (G58, "carol", 0)}
        assert sorted(plain) == ["bob", "carol"]
        await bob.talk_stop()
        await wait_until(lambda: JoinedSpeakerChanged(D12, "") in log.events, what="bob done")


async def test_talk_target_switch_releases_the_floor_and_sends_to_the_new_one(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await alice.join(D12, target=False)
        await bob.join(G58)
        await bob.join(D12, target=False)
        heard: list[tuple[InterphoneId, int]] = []
        bob.on_interphone_audio = lambda i, _uid, seq, _p: heard.append((i, seq))
        assert await alice.talk_start()
        assert alice.send_audio(PACKET)
        await alice.set_talk_target(D12)
        assert alice.model.floor is FloorState.IDLE and alice.talk_target == D12
        assert server.state.interphones[G58].holder == ""  # speak off was sent
        assert alice.send_audio(PACKET) is False  # no grant in the new target yet
        assert await alice.talk_start()
        assert server.state.interphones[D12].holder == "alice"
        assert alice.send_audio(PACKET)
        await wait_until(lambda: len(heard) == 2, what="one packet in each")
        assert heard == [(G58, 0), (D12, 0)]
        with pytest.raises(NotJoined):
            await alice.set_talk_target(InterphoneId.group("7"))


async def test_leave_without_argument_leaves_the_talk_target_only(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        await alice.join(D12)
        await alice.leave()
        assert alice.joined_ids == (G58,) and alice.talk_target == G58
        assert D12 not in server.state.interphones
        await alice.join(D12, target=False)
        await alice.leave(D12)
        assert alice.joined_ids == (G58,) and alice.talk_target == G58
        await alice.leave_all()
        assert alice.joined_ids == () and alice.talk_target is None
        assert server.state.interphones == {}


async def test_reconnect_rejoins_every_interphone_and_keeps_the_target(clients):
    port = free_port()
    async with running_server(port=port) as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(D12)
        await alice.join(G58, target=False)
    await wait_until(lambda: alice.state is ConnectionState.RECONNECTING, what="reconnecting")
    assert alice.joined_ids == (D12, G58)
    async with running_server(port=port) as server:
        await wait_until(lambda: alice.state is ConnectionState.CONNECTED, timeout=5,
                         what="reconnected")
        assert alice.joined_ids == (D12, G58) and alice.talk_target == D12
        assert set(server.state.sessions[server.state.by_uid["alice"]].joined) == {D12, G58}
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        heard: list[InterphoneId] = []
        alice.on_interphone_audio = lambda i, _uid, _seq, _p: heard.append(i)
        assert await bob.talk_start()
        bob.send_audio(PACKET)  # reaches alice: her G58 registration was renewed
        await wait_until(lambda: heard == [G58], what="audio in the non-target interphone")


async def test_close_quits_every_joined_interphone(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await alice.join(D12)
        await bob.join(G58)
        await alice.close()
        assert set(server.state.interphones) == {G58}
        assert list(server.state.interphones[G58].members) == ["bob"]
