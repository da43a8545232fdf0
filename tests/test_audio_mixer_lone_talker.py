"""The output callback's lone-talker path (``PlaybackMixer.fill`` cutting blocks straight
from the talker's frame) plays exactly what the general mixing path plays, and steps
aside for a second talker, a tone, the monitor, mute and gains or volumes over 1."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from audio_helpers import Clock, speech_like

from app.audio.clocked import ClockedBackend
from app.audio.codec import OpusEncoder
from app.audio.mixer import PlaybackMixer
from app.audio.pipeline import AudioEngine
from app.audio.talker_stream import TalkerStream

BLOCK = 240  # 5 ms output blocks, as the app plays


@pytest.fixture(scope="module")
def packets() -> dict[str, list[bytes]]:
    with OpusEncoder() as enc:
        alice = speech_like(1.2, seed=4)
        alice_packets = [enc.encode(alice[i * 960:(i + 1) * 960]) for i in range(60)]
    with OpusEncoder() as enc:
        bob = speech_like(1.2, seed=5, level=0.6)
        bob_packets = [enc.encode(bob[i * 960:(i + 1) * 960]) for i in range(60)]
    return {"alice": alice_packets, "bob": bob_packets}


def general_only(mixer: PlaybackMixer) -> PlaybackMixer:
    """``mixer`` with the lone-talker path switched off: every block mixed in general."""
    def never() -> None:
        mixer._solo = None

    mixer._refresh_solo = never  # type: ignore[method-assign]
    return mixer


def count_general_blocks(mixer: PlaybackMixer) -> list[int]:
    calls = [0]
    general = mixer._fill_mixed

    def counted(out: np.ndarray) -> bool:
        calls[0] += 1
        return general(out)

    mixer._fill_mixed = counted  # type: ignore[method-assign]
    return calls


Event = Callable[[PlaybackMixer], None]
Levels = list[tuple[float, float]]


def play(mixer: PlaybackMixer, clock: Clock, packets: dict[str, list[bytes]],
         events: dict[int, Event], blocks: int, *, bob_from: int = -1,
         bob_until: int = -1) -> tuple[list[np.ndarray], Levels]:
    """Alice sends a packet every fourth block from block 0; bob from ``bob_from`` to
    ``bob_until``; ``events`` happen before their block. The blocks and levels played."""
    played, levels = [], []
    for n in range(blocks):
        if n % 4 == 0 and n // 4 < len(packets["alice"]):
            mixer.receive("alice", n // 4, packets["alice"][n // 4], "g")
        if bob_from <= n < bob_until and n % 4 == 2:
            seq = (n - bob_from) // 4
            mixer.receive("bob", seq, packets["bob"][seq], "g")
        if n in events:
            events[n](mixer)
        out = np.zeros(BLOCK, dtype=np.float32)
        mixer.fill(out)
        played.append(out)
        levels.append((mixer.level.rms, mixer.level.peak))
        clock.now += BLOCK / 48000
    return played, levels


def both_ways(packets: dict[str, list[bytes]], events: dict[int, Event], blocks: int,
              **talkers: int) -> tuple[list[np.ndarray], list[np.ndarray], Levels, Levels, int]:
    clock, reference_clock = Clock(), Clock()
    mixer = PlaybackMixer(clock=clock, start_margin=0.005)
    general = count_general_blocks(mixer)
    reference = general_only(PlaybackMixer(clock=reference_clock, start_margin=0.005))
    played, levels = play(mixer, clock, packets, events, blocks, **talkers)
    expected, expected_levels = play(reference, reference_clock, packets, events, blocks,
                                     **talkers)
    return played, expected, levels, expected_levels, general[0]


def test_a_lone_talker_plays_sample_identical_to_the_general_path(
        packets: dict[str, list[bytes]]) -> None:
    played, expected, levels, expected_levels, general = both_ways(packets, {}, 200)
    for n, (block, reference) in enumerate(zip(played, expected, strict=True)):
        assert np.array_equal(block, reference), f"block {n} differs"
    assert levels == expected_levels
    assert sum(bool(np.any(block)) for block in played) > 150  # alice was heard
    assert general < 100  # most blocks were cut straight from the frame


def test_the_lone_talker_matches_the_talker_stream_itself(
        packets: dict[str, list[bytes]]) -> None:
    """Independent of the mixer's general path: the stream's own ``add_to``."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock, start_margin=0.005)
    stream = TalkerStream(start_margin=0.005)
    for n in range(120):
        if n % 4 == 0:
            mixer.receive("alice", n // 4, packets["alice"][n // 4])
            stream.put(n // 4, packets["alice"][n // 4], clock.now)
        out, reference = np.zeros(BLOCK, np.float32), np.zeros(BLOCK, np.float32)
        mixer.fill(out)
        stream.add_to(reference, clock.now)
        assert np.array_equal(out, reference), f"block {n} differs"
        clock.now += BLOCK / 48000


def test_a_second_talker_a_tone_and_the_monitor_are_mixed_as_before(
        packets: dict[str, list[bytes]]) -> None:
    tone = np.full(700, 0.5, dtype=np.float32)
    events: dict[int, Event] = {
        21: lambda m: m.play_tone(tone),  # in the middle of a frame
        90: lambda m: m.set_monitor(True),
        91: lambda m: m.feed_monitor(np.full(960, 0.1, dtype=np.float32)),
        92: lambda m: m.feed_monitor(np.full(960, 0.1, dtype=np.float32)),
        100: lambda m: m.set_monitor(False),
    }
    played, expected, levels, expected_levels, _ = both_ways(
        packets, events, 200, bob_from=41, bob_until=81)
    for n, (block, reference) in enumerate(zip(played, expected, strict=True)):
        assert np.array_equal(block, reference), f"block {n} differs"
    assert levels == expected_levels
    alone = PlaybackMixer(clock=Clock(), start_margin=0.005)
    alone_played, _ = play(alone, Clock(), packets, {}, 200)
    assert not np.array_equal(played[21], alone_played[21])  # the tone is heard at once
    assert not np.array_equal(played[50], alone_played[50])  # so is bob


def test_volume_mute_and_gains_over_one_are_applied_as_before(
        packets: dict[str, list[bytes]]) -> None:
    events: dict[int, Event] = {
        10: lambda m: setattr(m, "volume", 0.5),
        30: lambda m: setattr(m, "muted", True),
        41: lambda m: setattr(m, "muted", False),
        50: lambda m: setattr(m, "volume", 1.4),  # over 1: mixed blocks are clipped
        70: lambda m: setattr(m, "volume", 1.0),
        80: lambda m: m.set_user_volume("alice", 1.5),
        100: lambda m: m.set_user_volume("alice", 0.3),
        120: lambda m: m.set_interphone_volume("g", 0.0),
        140: lambda m: m.set_interphone_volume("g", 1.0),
    }
    played, expected, levels, expected_levels, _ = both_ways(packets, events, 200)
    for n, (block, reference) in enumerate(zip(played, expected, strict=True)):
        assert np.array_equal(block, reference), f"block {n} differs"
    for n, (level, reference_level) in enumerate(zip(levels, expected_levels, strict=True)):
        assert level == pytest.approx(reference_level, rel=1e-5, abs=1e-7), f"level {n}"
    assert not np.any(np.concatenate(played[31:41]))  # muted
    assert np.abs(np.concatenate(played)).max() <= 1.0
    assert levels[20][1] > 0.0 and levels[35] == (0.0, 0.0)


def test_the_stream_drains_and_is_dropped_after_the_lone_path(
        packets: dict[str, list[bytes]]) -> None:
    clock = Clock()
    mixer = PlaybackMixer(clock=clock, start_margin=0.005)
    for seq in range(3):
        mixer.receive("alice", seq, packets["alice"][seq])
    mixer.end_utterance("alice")
    playing = []
    for _ in range(40):  # 3 frames, then the jitter buffer's stalls (3 at most)
        out = np.zeros(BLOCK, dtype=np.float32)
        playing.append(mixer.fill(out))
        clock.now += BLOCK / 48000
    assert mixer.talkers() == [] and mixer.idle
    assert playing[:12] == [True] * 12 and not playing[-1]


def test_the_engine_takes_packets_in_the_media_sinks_order(
        packets: dict[str, list[bytes]]) -> None:
    engine = AudioEngine(ClockedBackend(None, collect_output=False), on_demand=True)
    try:
        engine.audio_sink("group_7", "alice", 0, packets["alice"][0])
        engine.receive_from_thread("bob", 0, packets["bob"][0], "group_7")
        assert sorted(engine.mixer.talkers()) == ["alice\x00group_7", "bob\x00group_7"]
    finally:
        engine.close()


class HookedClock(Clock):
    """A clock that runs ``hook`` at its first reading by ``fill`` from block ``at`` on:
    what another thread does between ``fill`` seeing a lone talker and taking the lock."""

    def __init__(self) -> None:
        super().__init__()
        self.block = -1  # the block being filled, -1 outside fill
        self.at = -1
        self.hook: Callable[[], None] | None = None
        self.read_in: set[int] = set()

    def __call__(self) -> float:
        if self.block < 0:
            return self.now
        self.read_in.add(self.block)
        if self.hook is not None and self.block >= self.at:
            hook, self.hook = self.hook, None
            hook()
        return self.now


def test_a_talker_arriving_as_the_next_frame_starts_is_mixed_in_that_block(
        packets: dict[str, list[bytes]]) -> None:
    def run(mixer: PlaybackMixer, clock: HookedClock, at: int) -> list[np.ndarray]:
        clock.at = at
        clock.hook = lambda: mixer.receive("bob", 0, packets["bob"][0], "g")
        played = []
        for n in range(40):
            if n % 4 == 0:
                mixer.receive("alice", n // 4, packets["alice"][n // 4], "g")
            out = np.zeros(BLOCK, dtype=np.float32)
            clock.block = n
            mixer.fill(out)
            clock.block = -1
            played.append(out)
            clock.now += BLOCK / 48000
        return played

    probe_clock = HookedClock()
    run(PlaybackMixer(clock=probe_clock, start_margin=0.005), probe_clock, 10**6)
    frame_starts = sorted(n for n in probe_clock.read_in if n >= 12)
    assert len(frame_starts) == 7  # the lone path reads the clock once a frame (4 blocks)
    clock, reference_clock = HookedClock(), HookedClock()
    played = run(PlaybackMixer(clock=clock, start_margin=0.005), clock, frame_starts[0])
    expected = run(general_only(PlaybackMixer(clock=reference_clock, start_margin=0.005)),
                   reference_clock, frame_starts[0])
    for n, (block, reference) in enumerate(zip(played, expected, strict=True)):
        assert np.array_equal(block, reference), f"block {n} differs"
