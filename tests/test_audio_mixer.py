"""PlaybackMixer driven directly, with the clock passed in."""

from __future__ import annotations

import numpy as np
import pytest
from audio_helpers import Clock, peak_allocation, speech_like

from app.audio.codec import OpusEncoder
from app.audio.mixer import STALE_STREAM_SECONDS, PlaybackMixer


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    speech = speech_like(0.4, seed=9)
    with OpusEncoder() as enc:
        return [enc.encode(speech[i * 960:(i + 1) * 960]) for i in range(20)]


def block(mixer: PlaybackMixer, clock: Clock) -> np.ndarray:
    out = np.zeros(960, dtype=np.float32)
    mixer.fill(out)
    clock.now += 0.02
    return out


def test_two_talkers_are_mixed_and_user_gain_applies(packets: list[bytes]) -> None:
    clock = Clock()
    solo, duo = PlaybackMixer(clock=clock), PlaybackMixer(clock=clock)
    duo.set_user_volume("bob", 0.0)
    for k in range(10):
        solo.receive("alice", k, packets[k])
        duo.receive("alice", k, packets[k])
        duo.receive("bob", k, packets[k + 10])
        a, b = block(solo, clock), block(duo, clock)
        np.testing.assert_allclose(a, b, atol=1e-6)  # bob is muted per user
    assert set(duo.talkers()) == {"alice", "bob"}
    assert duo.quality()["bob"].packets == 10


def test_end_utterance_drains_then_drops(packets: list[bytes]) -> None:
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    for k in range(3):
        mixer.receive("alice", k, packets[k])
    mixer.end_utterance("alice")
    heard = [np.any(block(mixer, clock)) for _ in range(8)]
    assert heard[:3] == [True, True, True]  # what was buffered still plays
    assert mixer.talkers() == []


def test_silent_talker_without_end_is_dropped_when_stale(packets: list[bytes]) -> None:
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    mixer.receive("alice", 0, packets[0])
    for _ in range(6):
        block(mixer, clock)
    assert mixer.talkers() == ["alice"]
    clock.now += STALE_STREAM_SECONDS
    block(mixer, clock)
    assert mixer.talkers() == []


def test_a_new_utterance_revives_an_ending_talker(packets: list[bytes]) -> None:
    """The same talker speaks again (its seq restarts at 0): the stream is not dropped
    when the first utterance has drained."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    for k in range(3):
        mixer.receive("alice", k, packets[k])
    mixer.end_utterance("alice")
    mixer.receive("alice", 0, packets[3])
    for _ in range(10):
        block(mixer, clock)
    assert mixer.talkers() == ["alice"]


def test_a_late_packet_of_an_ending_utterance_is_played_and_the_stream_still_ends(
        packets: list[bytes]) -> None:
    """The utterance's last packet can come after its end (the floor's end travels on
    TCP, audio on UDP): it is played, and the stream is dropped once drained, so the
    output does not run on until the talker is stale."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    for k in range(3):
        mixer.receive("alice", k, packets[k])
    mixer.end_utterance("alice")
    mixer.receive("alice", 3, packets[3])
    heard = [np.any(block(mixer, clock)) for _ in range(10)]
    assert heard[:4] == [True] * 4  # the late packet's frame is played too
    assert mixer.talkers() == [] and mixer.idle


def test_overlapping_tones_and_clipping() -> None:
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    mixer.play_tone(np.full(1500, 0.7, dtype=np.float32))
    mixer.play_tone(np.full(500, 0.7, dtype=np.float32))
    first = block(mixer, clock)
    assert first[:500].tolist() == [1.0] * 500  # 1.4 clipped
    assert np.allclose(first[500:], 0.7)
    second = block(mixer, clock)
    assert np.allclose(second[:540], 0.7) and not np.any(second[540:])
    assert mixer.level.peak == pytest.approx(0.7)


def test_monitor_feeds_only_when_enabled() -> None:
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    mic = np.full(960, 0.25, dtype=np.float32)
    mixer.feed_monitor(mic)
    assert not np.any(block(mixer, clock))
    mixer.set_monitor(True)
    for _ in range(6):
        mixer.feed_monitor(mic)
    assert mixer.monitor_drops == 2  # latency is capped, oldest blocks go
    assert np.allclose(block(mixer, clock), 0.25)


def test_receive_after_close_is_ignored(packets: list[bytes]) -> None:
    mixer = PlaybackMixer()
    mixer.close()
    mixer.receive("alice", 0, packets[0])
    assert mixer.talkers() == []


@pytest.mark.parametrize("size", [240, 400, 960, 1500])
def test_output_blocks_of_any_size_play_the_same_stream(packets: list[bytes],
                                                        size: int) -> None:
    """Frames are re-cut to the output block: 5 ms blocks, odd sizes, longer ones."""
    reference_clock, clock = Clock(), Clock()
    reference, mixer = PlaybackMixer(clock=reference_clock), PlaybackMixer(clock=clock)
    for k in range(10):
        reference.receive("alice", k, packets[k])
        mixer.receive("alice", k, packets[k])
    expected = np.concatenate([block(reference, reference_clock) for _ in range(10)])
    pieces = []
    for _ in range(-(-len(expected) // size)):
        out = np.zeros(size, dtype=np.float32)
        mixer.fill(out)
        clock.now += size / 48000
        pieces.append(out)
    np.testing.assert_allclose(np.concatenate(pieces)[:len(expected)], expected, atol=1e-6)


def test_monitor_is_re_cut_to_short_output_blocks() -> None:
    mixer = PlaybackMixer(clock=Clock())
    mixer.set_monitor(True)
    ramp = np.arange(1920, dtype=np.float32) / 4000
    mixer.feed_monitor(ramp[:960])
    mixer.feed_monitor(ramp[960:])
    played = []
    for _ in range(8):
        out = np.zeros(240, dtype=np.float32)
        mixer.fill(out)
        played.append(out)
    np.testing.assert_allclose(np.concatenate(played), ramp, atol=1e-7)


def test_mixing_with_user_gain_allocates_nothing_per_sample() -> None:
    speech = speech_like(0.24, seed=9)
    with OpusEncoder(frame_ms=60) as enc:
        packets = [enc.encode(speech[i * 2880:(i + 1) * 2880]) for i in range(4)]
    clock = Clock()
    mixer = PlaybackMixer(60, clock=clock)
    mixer.set_user_volume("bob", 0.5)
    for seq, packet in enumerate(packets):
        mixer.receive("bob", seq, packet)
    clock.now += 0.3
    out = np.zeros(960, dtype=np.float32)  # a third of a frame: no decode in between
    mixer.fill(out)

    def play_from_the_frame() -> None:
        out.fill(0.0)
        mixer.fill(out)

    # A fixed few hundred bytes of numpy bookkeeping, no block-sized temporaries.
    assert peak_allocation(play_from_the_frame) < 2000
    assert np.any(out != 0.0)


def test_interphone_gain_mutes_or_scales_one_interphone_only(packets: list[bytes]) -> None:
    clock = Clock()
    solo, both = PlaybackMixer(clock=clock), PlaybackMixer(clock=clock)
    both.set_interphone_volume("group_58", 0.0)  # muted: only discuss_12 is heard
    for k in range(10):
        solo.receive("alice", k, packets[k], "discuss_12")
        both.receive("alice", k, packets[k], "discuss_12")
        both.receive("alice", k, packets[k + 10], "group_58")  # same uid, other interphone
        np.testing.assert_allclose(block(solo, clock), block(both, clock), atol=1e-6)
    assert len(both.talkers()) == 2  # one stream per (interphone, uid)
    both.end_utterance("alice", "group_58")
    both.set_interphone_volume("group_58", 1.0)


def test_interphone_gain_scales_a_running_stream(packets: list[bytes]) -> None:
    clock = Clock()
    full, half = PlaybackMixer(clock=clock), PlaybackMixer(clock=clock)
    for k in range(4):
        full.receive("bob", k, packets[k], "group_58")
        half.receive("bob", k, packets[k], "group_58")
    half.set_interphone_volume("group_58", 0.5)  # applies to the stream already playing
    for _ in range(4):
        a, b = block(full, clock), block(half, clock)
        np.testing.assert_allclose(a * 0.5, b, atol=1e-6)
        assert np.any(a)


@pytest.mark.parametrize("how", ["user gain", "interphone gain", "output volume", "plain"])
def test_a_lone_loud_talker_never_leaves_full_scale(how: str) -> None:
    """One talker skips the block's clipping (its frames are clipped when decoded); a gain
    or volume over 1 still ends within [-1, 1], and the level is measured when read."""
    loud = (0.99 * np.sign(np.sin(np.arange(960 * 12) * 2 * np.pi * 300 / 48000))
            ).astype(np.float32)
    with OpusEncoder(bitrate=64000) as enc:
        loud_packets = [enc.encode(loud[i * 960:(i + 1) * 960]) for i in range(12)]
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    if how == "user gain":
        mixer.set_user_volume("alice", 1.5)
    elif how == "interphone gain":
        mixer.set_interphone_volume("g", 1.5)
    elif how == "output volume":
        mixer.volume = 1.5
    for k, packet in enumerate(loud_packets):
        mixer.receive("alice", k, packet, "g")
    played = np.concatenate([block(mixer, clock) for _ in range(10)])
    assert np.abs(played).max() <= 1.0
    assert np.abs(played).max() > 0.9  # it is loud: the bound is the clipping, not silence
    assert 0.0 < mixer.level.peak <= 1.0
    assert mixer.level.peak == pytest.approx(float(np.abs(played[-960:]).max()), abs=1e-6)
    assert mixer.peak == pytest.approx(mixer.level.peak, abs=1e-6)  # the meter's read


def test_peak_of_is_the_measured_peak() -> None:
    """The meter's peak-only read agrees with ``measure`` (full scale and silence too)."""
    from app.audio.levels import measure, peak_of

    rng = np.random.default_rng(7)
    for scale in (0.01, 0.3, 0.9, 4.0):
        pcm = (scale * rng.standard_normal(480)).astype(np.float32)
        assert peak_of(pcm) == measure(pcm).peak
    assert peak_of(np.array([0.25, -0.75], dtype=np.float32)) == 0.75  # a negative peak
    assert peak_of(np.array([-3.0, 2.0], dtype=np.float32)) == 1.0  # clipped to full scale
    assert peak_of(np.zeros(0, dtype=np.float32)) == 0.0


def test_clip_in_place_matches_numpy_clip() -> None:
    """The wrapper-free clip gives np.clip's result, into the same or another array."""
    from app.audio.levels import clip_in_place

    pcm = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5, np.inf, -np.inf, np.nan],
                   dtype=np.float32)
    expected = np.clip(pcm, -1.0, 1.0)
    other = np.empty_like(pcm)
    clip_in_place(pcm.astype(np.float64), other)
    assert np.array_equal(other, expected, equal_nan=True)
    clip_in_place(pcm, pcm)
    assert np.array_equal(pcm, expected, equal_nan=True)


@pytest.mark.parametrize("straggler", [1, 2], ids=["reordered", "duplicate"])
def test_a_straggler_of_an_ending_utterance_does_not_keep_the_stream(
        packets: list[bytes], straggler: int) -> None:
    """A reordered or duplicated packet of the utterance (a seq already reached) that
    comes just after its end is no new utterance: the stream still ends when drained."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    for k in (0, 2, 1) if straggler == 1 else (0, 1, 2):
        mixer.receive("alice", k, packets[k])
    block(mixer, clock)
    mixer.end_utterance("alice")
    clock.now += 0.01
    mixer.receive("alice", straggler, packets[straggler])
    for _ in range(10):
        block(mixer, clock)
    assert mixer.talkers() == [] and mixer.idle


def test_a_new_utterance_whose_first_packet_is_lost_revives_an_ending_talker(
        packets: list[bytes]) -> None:
    """The talker speaks again after a release and a new grant; its seq 0 is lost, seq 1
    comes first: still a new utterance, the stream is kept for it."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    for k in range(3):
        mixer.receive("alice", k, packets[k])
    mixer.end_utterance("alice")
    clock.now += 0.3
    for k in (1, 2, 3):
        mixer.receive("alice", k, packets[k + 3])
    for _ in range(10):
        block(mixer, clock)
    assert mixer.talkers() == ["alice"]


def test_a_dropped_stream_is_logged_as_text(packets: list[bytes], caplog) -> None:
    """The stream's key (uid, NUL, interphone) went into the log as it was: every
    transmission wrote a NUL byte into a verbose log, which grep then took for binary."""
    clock = Clock()
    mixer = PlaybackMixer(clock=clock)
    mixer.receive("alice", 0, packets[0], interphone="group_58")
    mixer.end_utterance("alice", interphone="group_58")
    with caplog.at_level("DEBUG", logger="app.audio.mixer"):
        for _ in range(8):
            block(mixer, clock)
    assert mixer.talkers() == []
    dropped = [r.getMessage() for r in caplog.records if "drained and dropped" in r.getMessage()]
    assert dropped == ["stream of alice in group_58 drained and dropped"]
