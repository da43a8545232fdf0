"""Real audio through the server: paced talker, real-time mixer, the echo and player bots."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from client_fixtures import (
    Clients,
    best_lag,
    noise_bursts,
    running_server,
    wait_until,
)

from app.audio.codec import OpusEncoder, packet_ms
from app.audio.constants import SAMPLE_RATE
from app.client import InterphoneClient
from app.headless.bots import EchoBot, PlayerBot, decode_utterance
from app.headless.mix_clock import MixClock
from app.headless.talker import split_frames, transmit_pcm
from app.protocol import InterphoneId
from app.server import InterphoneServer

G58 = InterphoneId.group("58")

pytest_plugins = ["client_fixtures"]


async def alice_and_bob_in_g58(clients: Clients, server: InterphoneServer
                               ) -> tuple[InterphoneClient, InterphoneClient]:
    """Alice and Bob connected to ``server``, both joined to group 58."""
    alice = await clients.connect(server.port, "alice")
    bob = await clients.connect(server.port, "bob")
    await alice.join(G58)
    await bob.join(G58)
    return alice, bob


async def test_talk_to_listen_preserves_the_signal(clients):
    signal = noise_bursts(1.5)
    async with running_server() as server:
        alice, bob = await alice_and_bob_in_g58(clients, server)
        recorded: list[np.ndarray] = []
        clock = MixClock(recorded.append, 20)
        bob.on_audio = clock.on_audio
        listening = asyncio.ensure_future(clock.run(2.3))
        await asyncio.sleep(0.3)  # silence before the utterance must be kept
        loop = asyncio.get_running_loop()
        await alice.talk_start()
        started = loop.time()
        sent = await transmit_pcm(alice, signal, frame_ms=20)
        elapsed = loop.time() - started
        await alice.talk_stop()
        await listening
    assert sent == len(split_frames(signal, 20))
    assert 1.45 < elapsed < 3.0  # real time, paced on a fixed schedule
    out = np.concatenate(recorded)
    assert len(out) == round(2.3 / 0.02) * 960  # one frame per period, silence included
    lag, corr = best_lag(signal, out)
    delay = lag / SAMPLE_RATE
    assert corr > 0.5, (corr, delay)
    assert 0.25 < delay < 1.2, delay  # the 0.3 s of silence, plus codec and jitter delay
    assert np.abs(out[: int(0.25 * SAMPLE_RATE)]).max() == 0.0


@pytest.mark.parametrize("talker_ms", [10, 60])
async def test_listener_mixes_talkers_of_other_frame_sizes(clients, talker_ms):
    signal = noise_bursts(0.8, seed=11)
    async with running_server() as server:
        alice, bob = await alice_and_bob_in_g58(clients, server)
        recorded: list[np.ndarray] = []
        clock = MixClock(recorded.append, 20)
        bob.on_audio = clock.on_audio
        listening = asyncio.ensure_future(clock.run(1.4))
        await alice.talk_start()
        await transmit_pcm(alice, signal, frame_ms=talker_ms)
        await alice.talk_stop()
        await listening
    assert {len(frame) for frame in recorded} == {960}
    _, corr = best_lag(signal, np.concatenate(recorded))
    assert corr > 0.4, corr


async def test_echo_bot_plays_each_utterance_back(clients):
    signal = noise_bursts(0.6, seed=3)
    async with running_server() as server:
        alice, echo_client = await alice_and_bob_in_g58(clients, server)
        bot = EchoBot(echo_client)
        bot.start()
        heard: dict[int, bytes] = {}
        alice.on_audio = lambda uid, seq, payload: heard.__setitem__(seq, payload)
        await alice.talk_start()
        await transmit_pcm(alice, signal)
        await alice.talk_stop()
        await wait_until(lambda: echo_client.model.speaker == "bob" or heard, timeout=3,
                         what="the bot answers")
        await wait_until(lambda: bot.utterances_sent == 1, timeout=6, what="echo done")
        await wait_until(lambda: alice.model.speaker == "", timeout=5, what="bot releases")
        await bot.stop()
        await bot.stop()  # idempotent
    frames = len(split_frames(signal, 20))
    assert min(heard) == 0 and frames - 3 <= len(heard) <= frames, (sorted(heard), frames)
    echoed = decode_utterance(heard)
    _, corr = best_lag(signal, np.concatenate([echoed, np.zeros(4800, np.float32)]))
    assert corr > 0.4, corr


async def test_echo_bot_echoes_audio_that_came_before_the_news_of_its_speaker(clients):
    """Under load the bot's loop read a talk's whole audio before the notification that
    its speaker speaks: that notification ended the recording as if it were a new
    speaker's, and the release then found nothing to echo (nothing was played back)."""
    signal = noise_bursts(0.3, seed=4)
    async with running_server() as server:
        alice, echo_client = await alice_and_bob_in_g58(clients, server)
        bot = EchoBot(echo_client)
        bot.start()
        await wait_until(lambda: echo_client.on_audio is not None, what="the bot listens")
        heard: list[int] = []
        alice.on_audio = lambda uid, seq, payload: heard.append(seq)
        encoder = OpusEncoder(20, 24000)
        try:  # the audio first, as the bot's loop read it...
            for seq, frame in enumerate(split_frames(signal, 20)):
                echo_client.on_audio("alice", seq, encoder.encode(frame))
        finally:
            encoder.close()
        await alice.talk_start()  # ...then the news that alice speaks, and that she stopped
        await wait_until(lambda: echo_client.model.speaker == "alice", what="alice speaks")
        await alice.talk_stop()
        await wait_until(lambda: bot.utterances_sent == 1, timeout=6, what="the echo")
        await wait_until(lambda: len(heard) >= 10, timeout=5, what="alice hears it")
        await bot.stop()


async def test_player_bot_speaks_periodically(clients):
    clip = noise_bursts(0.2, seed=5)
    async with running_server() as server:
        alice, player = await alice_and_bob_in_g58(clients, server)
        seqs: list[int] = []
        alice.on_audio = lambda uid, seq, payload: seqs.append(seq)
        bot = PlayerBot(player, clip, every=0.15)
        bot.start()
        await wait_until(lambda: bot.utterances_sent >= 2, timeout=3, what="two plays")
        await bot.stop()
        assert player.model.floor.value == "idle"
    assert seqs.count(0) >= 2  # each play is its own utterance


@pytest.mark.parametrize("frame_ms", [10, 20, 40, 60])
def test_opus_packet_duration_from_the_toc(frame_ms):
    encoder = OpusEncoder(frame_ms, 24000)
    try:
        packet = encoder.encode(noise_bursts(0.06)[: frame_ms * 48])
    finally:
        encoder.close()
    assert packet_ms(packet) == frame_ms


def test_split_frames_pads_the_last_frame():
    frames = split_frames(np.ones(1000, np.float32), 20)
    assert [len(f) for f in frames] == [960, 960]
    assert frames[1][:40].sum() == 40 and frames[1][40:].sum() == 0


def test_the_client_package_imports_no_audio() -> None:
    """app.client is the session; audio over it lives in app.headless (issue 16)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "app" / "client"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module \
                    and node.module.startswith("app.audio"):
                offenders.append(f"{path.name}: {node.module}")
            if isinstance(node, ast.Import):
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name.startswith("app.audio")]
    assert offenders == []


async def test_a_bot_whose_turns_are_refused_says_why(clients, caplog):
    """A bot whose floor requests were all refused for another reason than someone
    speaking (a Redis outage's 500, a rate limit's 429) said nothing at all."""
    clip = noise_bursts(0.1, seed=6)
    async with running_server(floor_burst=1, floor_rate=0.01) as server:
        _, player = await alice_and_bob_in_g58(clients, server)
        bot = PlayerBot(player, clip, every=None)
        assert await bot.speak(clip)  # the one turn the budget allows
        with caplog.at_level(logging.INFO, logger="app.headless.bots"):
            assert not await bot.speak(clip)
    refusals = [r for r in caplog.records if r.name == "app.headless.bots"]
    assert [r.levelno for r in refusals] == [logging.WARNING]
    assert "group_58" in refusals[0].getMessage()
    assert "too many floor requests" in refusals[0].getMessage()
