"""SpeakerStream: jitter buffer + real Opus decoder."""

from __future__ import annotations

import numpy as np
import pytest
from audio_helpers import correlation, speech_like

from app.audio.codec import OpusEncoder
from app.audio.receiver import SpeakerStream

F = 0.020


@pytest.fixture(scope="module")
def packets_and_speech() -> tuple[list[bytes], np.ndarray, int]:
    speech = speech_like(2.0, seed=3)
    with OpusEncoder(20, expected_loss_pct=10) as enc:
        packets = [enc.encode(speech[i * 960:(i + 1) * 960]) for i in range(100)]
        return packets, speech, enc.lookahead_samples


def play(stream: SpeakerStream, packets: list[bytes], drop: tuple[int, ...] = (),
         extra_ticks: int = 6) -> list[np.ndarray | None]:
    frames = []
    for k in range(len(packets) + extra_ticks):
        if k < len(packets) and k not in drop:
            stream.put(k, packets[k], k * F)
        frames.append(stream.read(k * F + F / 2))
    return frames


def test_plays_what_was_sent(packets_and_speech: tuple[list[bytes], np.ndarray, int]) -> None:
    packets, speech, lookahead = packets_and_speech
    stream = SpeakerStream(20)
    frames = play(stream, packets)
    audio = [f for f in frames if f is not None]
    assert all(f.shape == (960,) and f.dtype == np.float32 for f in audio)
    out = np.concatenate(audio[:100])
    n = len(out) - lookahead
    assert correlation(speech[:n], out[lookahead:]) > 0.8
    assert frames[-1] is None  # drained: nothing invented after the talk
    stream.close()


def test_losses_are_concealed_and_counted(
        packets_and_speech: tuple[list[bytes], np.ndarray, int]) -> None:
    packets, _, _ = packets_and_speech
    stream = SpeakerStream(20)
    frames = play(stream, packets, drop=(10, 30, 31, 60))
    stats = stream.stats
    assert stats.jitter.lost == 4
    assert stats.jitter.concealed_fec >= 2
    assert stats.decode_errors == 0
    assert sum(f is not None for f in frames) >= 100
    stream.close()


def test_corrupt_packet_is_concealed_not_raised(
        packets_and_speech: tuple[list[bytes], np.ndarray, int]) -> None:
    packets, _, _ = packets_and_speech
    bad = list(packets[:20])
    bad[5] = b"\xff\xff\xff\xff\xff\xff"
    stream = SpeakerStream(20)
    frames = play(stream, bad)
    assert stream.stats.decode_errors == 1
    assert frames[5] is not None and frames[5].shape == (960,)
    stream.close()


def test_nothing_to_play_is_none() -> None:
    stream = SpeakerStream(20)
    assert stream.read(0.0) is None
    assert stream.idle
    stream.close()
