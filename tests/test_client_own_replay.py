"""The user's own talks in the instant replay: a real client talking to the embedded server
on 127.0.0.1 with the clocked audio device; every frame that went on the wire is kept as a
transmission of ours, playable; a refused talk leaves nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
from audio_helpers import speech_like
from client_fixtures import Clients, running_server, wait_until

from app.audio.clocked import ClockedBackend
from app.audio.codec import OpusDecoder
from app.audio.pipeline import AudioEngine
from app.client import FloorBusy, InterphoneClient
from app.client.own_talks import OwnTalks
from app.client.replay import ReplayStore, TransmissionInfo
from app.protocol import InterphoneId

pytest_plugins = ["client_fixtures"]

OPS = "group_58"


class Wire:
    """The engine's ``send_frame``: the client's ``send_audio``, recording the frames it
    put on the wire (in order: one input thread sends)."""

    def __init__(self, client: InterphoneClient) -> None:
        self.client = client
        self.sent: list[bytes] = []

    def __call__(self, packet: bytes) -> None:
        if self.client.send_audio(packet):
            self.sent.append(packet)


@asynccontextmanager
async def talking_engine(client: InterphoneClient) -> AsyncIterator[tuple[AudioEngine, Wire]]:
    wire = Wire(client)
    engine = AudioEngine(ClockedBackend(speech_like(3.0, seed=3), loop_source=True),
                         send_frame=wire, loop=asyncio.get_running_loop())
    engine.start()
    try:
        yield engine, wire
    finally:
        engine.close()


def own(store: ReplayStore) -> list[TransmissionInfo]:
    """The store's entries of our own talks, newest first."""
    return [t for t in store.transmissions(None, time.monotonic()) if t.own]


async def test_an_own_talk_is_kept_with_the_frames_sent_and_plays_back(
        clients: Clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(OPS)
        await bob.join(OPS)
        heard: dict[int, bytes] = {}
        bob.on_interphone_audio = lambda _i, _u, seq, frame: heard.__setitem__(seq, frame)
        store = ReplayStore()
        talks = OwnTalks(alice, store)
        async with talking_engine(alice) as (engine, wire):
            assert await alice.talk_start()
            engine.start_transmit()
            await wait_until(lambda: len(wire.sent) >= 40, what="40 frames sent")
            await wait_until(lambda: len(own(store)) == 1, what="listed while talking")
            entry = own(store)[0]
            assert entry.receiving and entry.speaker == "alice" and entry.interphone == OPS
            engine.stop_transmit(0)
            await alice.talk_stop()
            sent = list(wire.sent)
        [entry] = own(store)
        assert not entry.receiving and entry.heard and entry.frame_count == len(sent)
        assert store.unheard(None, time.monotonic()) == 0  # our own talk is never "new"
        assert entry.duration == pytest.approx(len(sent) * 0.02)
        frames = store.playback(entry.number)
        assert list(frames) == sent  # every frame that went out, in order, none lost
        # the same frames under the same seqs as the listener got them
        await wait_until(lambda: len(heard) >= len(sent) * 0.9, what="bob heard it")
        assert all(frames[seq] == frame for seq, frame in heard.items())
        with OpusDecoder() as decoder:
            pcm = np.concatenate([decoder.decode(frame) for frame in frames])
        assert len(pcm) == len(sent) * 960 and float(np.sqrt(np.mean(pcm ** 2))) > 0.02
        talks.close()


async def test_each_talk_is_an_entry_and_one_taken_back_ends_there(clients: Clients) -> None:
    """A second talk (its seq restarting at 0) is a second entry; a talk the server takes
    back (the talk limit) ends its entry without a talk_stop, and no frame is added after."""
    async with running_server(max_talk=0.6) as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(OPS)
        store = ReplayStore()
        ended: list[bool] = []
        OwnTalks(alice, store, on_ended=lambda: ended.append(True))
        async with talking_engine(alice) as (engine, wire):
            engine.start_transmit()
            assert await alice.talk_start()
            await wait_until(lambda: len(wire.sent) >= 10, what="first talk")
            await alice.talk_stop()
            assert ended == [True]
            await asyncio.sleep(0.1)  # (a frame on its way as the floor went is in)
            first = len(wire.sent)
            assert await alice.talk_start()
            await wait_until(lambda: len(ended) == 2, timeout=10, what="the talk limit")
            await asyncio.sleep(0.1)
            second = len(wire.sent) - first
            await asyncio.sleep(0.3)  # the engine still transmits: nothing goes out now
            assert len(wire.sent) - first == second
            engine.stop_transmit(0)
        newer, older = own(store)
        assert (older.frame_count, newer.frame_count) == (first, second)
        assert not newer.receiving and newer.number > older.number
        assert store.playback(newer.number) == tuple(wire.sent[first:])


async def test_a_refused_talk_leaves_no_entry(clients: Clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(OPS)
        await bob.join(OPS)
        assert await bob.talk_start()
        store = ReplayStore()
        OwnTalks(alice, store)
        async with talking_engine(alice) as (engine, wire):
            engine.start_transmit()  # the app starts capturing as the key goes down
            with pytest.raises(FloorBusy):
                await alice.talk_start()
            await asyncio.sleep(0.3)  # 15 frames captured, none sent
            alice.poll_audio()
            engine.stop_transmit(0)
        assert wire.sent == [] and own(store) == []
        await bob.talk_stop()


async def test_frames_reach_on_sent_audio_before_the_floor_change(clients: Clients) -> None:
    """The model's floor change comes after every frame sent before it (polled or not)."""
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(OPS)
        seen: list[object] = []
        alice.on_sent_audio = lambda i, uid, seq, frame: seen.append((i, uid, seq))
        alice.model.subscribe(lambda event: seen.append(type(event).__name__))
        alice.audio_polled = True  # nobody polls: only the floor change delivers them
        assert await alice.talk_start()
        for _ in range(5):
            assert alice.send_audio(b"\xf8\xff\xfe")
        await alice.talk_stop()
        frames = [s for s in seen if isinstance(s, tuple)]
        assert frames == [(InterphoneId.parse(OPS), "alice", seq) for seq in range(5)]
        last_frame = max(i for i, s in enumerate(seen) if isinstance(s, tuple))
        assert "FloorChanged" in seen[last_frame:]
        alice.audio_polled = False
