"""Floor control and the UDP media path of the client, against the real embedded server."""

from __future__ import annotations

import asyncio

import pytest
from client_fixtures import Clients, EventLog, running_server, wait_until

from app.client import FloorBusy, FloorChanged, FloorState, NotJoined
from app.client.media import LossMeter
from app.protocol import InterphoneId

G58 = InterphoneId.group("58")
PACKET = b"\xf8\xff\xfe"  # a valid 20 ms Opus packet (CELT, silence)

pytest_plugins = ["client_fixtures"]


async def _pair(clients: Clients, port: int):
    alice = await clients.connect(port, "alice")
    bob = await clients.connect(port, "bob")
    await alice.join(G58)
    await bob.join(G58)
    heard: list[tuple[str, int, bytes]] = []
    bob.on_audio = lambda uid, seq, payload: heard.append((uid, seq, payload))
    return alice, bob, heard


async def test_audio_flows_only_after_the_grant(clients):
    async with running_server() as server:
        alice, bob, heard = await _pair(clients, server.port)
        assert alice.send_audio(PACKET) is False  # no grant yet: dropped and counted
        assert alice.stats.tx_dropped == 1
        log = EventLog(alice)
        assert await alice.talk_start() is True
        assert alice.model.floor is FloorState.TALKING
        assert [e.state for e in log.of(FloorChanged)] == [FloorState.REQUESTING,
                                                         FloorState.TALKING]
        for _ in range(5):
            assert alice.send_audio(PACKET)
        await wait_until(lambda: len(heard) == 5, what="5 packets relayed")
        assert [(uid, seq) for uid, seq, _ in heard] == [("alice", n) for n in range(5)]
        assert heard[0][2] == PACKET
        await alice.talk_stop()
        assert alice.model.floor is FloorState.IDLE
        assert alice.send_audio(PACKET) is False
        assert bob.stats.rx_packets == 5 and alice.stats.tx_packets == 5


async def test_seq_restarts_at_zero_for_each_utterance(clients):
    async with running_server() as server:
        alice, bob, heard = await _pair(clients, server.port)
        for count in (3, 4):
            await alice.talk_start()
            for _ in range(count):
                alice.send_audio(PACKET)
            await wait_until(lambda n=count: len(heard) >= n, what="packets")
            await alice.talk_stop()
            await wait_until(lambda: bob.model.speaker == "", what="release seen")
            assert [seq for _, seq, _ in heard] == list(range(count))
            heard.clear()
        assert bob.loss_pct("alice") == 0.0


async def test_busy_floor_raises_with_the_holder(clients):
    async with running_server() as server:
        alice, bob, _ = await _pair(clients, server.port)
        await alice.talk_start()
        await wait_until(lambda: bob.model.speaker == "alice", what="bob sees alice")
        with pytest.raises(FloorBusy) as info:
            await bob.talk_start()
        assert info.value.errcode == 409 and info.value.holder == "alice"
        assert bob.model.floor is FloorState.BUSY and bob.model.floor_holder == "alice"
        assert bob.send_audio(PACKET) is False
        await alice.talk_stop()
        await wait_until(lambda: bob.model.floor is FloorState.IDLE, what="floor free")
        assert await bob.talk_start() is True


async def test_simultaneous_requests_have_one_winner(clients):
    async with running_server() as server:
        alice, bob, _ = await _pair(clients, server.port)
        results = await asyncio.gather(alice.talk_start(), bob.talk_start(),
                                       return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["FloorBusy", "bool"]
        talking = [c for c in (alice, bob) if c.model.floor is FloorState.TALKING]
        assert len(talking) == 1


async def test_revoked_grant_stops_sending_at_once(clients):
    async with running_server(max_talk=0.4) as server:
        alice, _bob, heard = await _pair(clients, server.port)
        log = EventLog(alice)
        await alice.talk_start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        while alice.model.floor is FloorState.TALKING and loop.time() - start < 3:
            if alice.send_audio(PACKET):
                sent += 1
            await asyncio.sleep(0.02)
        assert alice.model.floor is FloorState.IDLE
        assert 0.3 < loop.time() - start < 1.5
        assert log.of(FloorChanged)[-1].reason == "revoked"
        assert alice.send_audio(PACKET) is False
        dropped = alice.stats.tx_dropped
        assert dropped >= 1
        # talk_stop after a revocation is harmless; a new grant starts at seq 0 again.
        await alice.talk_stop()
        await alice.talk_start()
        alice.send_audio(PACKET)
        def starts() -> list[int]:
            return [i for i, (_, seq, _) in enumerate(heard) if seq == 0]

        await wait_until(lambda: len(starts()) == 2, what="new utterance")
        assert starts()[1] <= sent  # nothing of the revoked utterance beyond what was sent


async def test_talking_needs_a_joined_interphone(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        with pytest.raises(NotJoined):
            await alice.talk_start()
        await alice.talk_stop()  # harmless


async def test_leaving_while_talking_releases_the_floor(clients):
    async with running_server() as server:
        alice, bob, _ = await _pair(clients, server.port)
        await alice.talk_start()
        await wait_until(lambda: bob.model.speaker == "alice", what="alice speaks")
        await alice.leave()
        assert alice.model.floor is FloorState.IDLE
        await wait_until(lambda: bob.model.speaker == "", what="floor released by quit")
        assert await bob.talk_start() is True


@pytest.mark.parametrize(
    ("seqs", "loss"),
    [
        (range(10), 0.0),
        ([0, 1, 2, 4, 5, 6, 7, 8, 9], 10.0),
        ([0, 2, 4, 6, 8, 9], 40.0),
        ([5, 6, 7, 8, 9], 0.0),  # a late joiner counts from its first packet
        ([5, 7, 8, 9], 20.0),
        ([3, 2, 1, 0], 0.0),  # reordered start of an utterance
    ],
)
def test_loss_meter_counts_seq_gaps(seqs, loss):
    meter = LossMeter()
    for seq in seqs:
        meter.add(seq)
    assert meter.loss_pct == pytest.approx(loss)


def test_loss_meter_smooths_over_utterances():
    meter = LossMeter()
    for seq in [0, 2, 4, 6, 8, 9]:  # 40 % loss
        meter.add(seq)
    for seq in range(10):  # then a clean utterance
        meter.add(seq)
    assert 0 < meter.loss_pct < 40
