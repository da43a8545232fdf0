"""Resampler and device re-blocking."""

from __future__ import annotations

import numpy as np
import pytest
from audio_helpers import peak_allocation

from app.audio.rate_adapt import CaptureConverter, PlaybackConverter
from app.audio.resample import StreamResampler, resample


def sine(freq: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate).astype(np.float32)


RATES = [(44100, 48000), (48000, 44100), (8000, 48000), (16000, 48000), (22050, 48000),
         (96000, 48000), (48000, 16000), (47999, 48000)]


@pytest.mark.parametrize(("src", "dst"), RATES)
def test_resampled_sine_matches_ideal(src: int, dst: int) -> None:
    x = sine(1000, src)
    y = resample(x, src, dst)
    assert y.dtype == np.float32
    assert len(y) == -(-len(x) * dst // src)
    ideal = np.sin(2 * np.pi * 1000 * np.arange(len(y)) / dst)
    edge = dst // 100
    assert np.max(np.abs(y[edge:-edge] - ideal[edge:-edge])) < 1e-3


@pytest.mark.parametrize(("src", "dst"), RATES)
def test_streaming_equals_whole_signal(src: int, dst: int) -> None:
    x = sine(440, src, 0.3) * 0.5
    rs = StreamResampler(src, dst)
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(x):
        step = int(rng.integers(1, 700))
        parts.append(rs.process(x[i:i + step]))
        i += step
    parts.append(rs.flush(len(x)))
    np.testing.assert_allclose(np.concatenate(parts), resample(x, src, dst), atol=1e-6)


def test_downsampling_removes_content_above_new_nyquist() -> None:
    y = resample(sine(30000, 96000), 96000, 48000)
    assert np.sqrt(np.mean(y[500:-500] ** 2)) < 0.01


def test_same_rate_is_a_copy() -> None:
    x = sine(100, 48000, 0.01)
    y = resample(x, 48000, 48000)
    assert y is not x
    np.testing.assert_array_equal(x, y)


def test_rejects_bad_rates() -> None:
    with pytest.raises(ValueError):
        StreamResampler(0, 48000)


@pytest.mark.parametrize(("device_rate", "block"), [(48000, 960), (48000, 256), (44100, 882),
                                                    (44100, 1024)])
def test_capture_converter_yields_exact_frames(device_rate: int, block: int) -> None:
    conv = CaptureConverter(device_rate, 960)
    x = sine(500, device_rate, 1.0)
    frames = []
    for i in range(0, len(x) - block + 1, block):
        frames.extend(conv.push(x[i:i + block]))
    assert all(f.shape == (960,) and f.dtype == np.float32 for f in frames)
    produced = len(frames) * 960
    assert 48000 - 2 * 960 - 64 <= produced <= 48000
    out = np.concatenate(frames)
    ideal = sine(500, 48000, 1.0)[:len(out)]
    # The resampler is zero-phase: frames line up with the input, no lag.
    assert np.max(np.abs(out[100:] - ideal[100:])) < 0.02


@pytest.mark.parametrize(("device_rate", "block"), [(48000, 960), (48000, 512), (44100, 882),
                                                    (44100, 1024)])
def test_playback_converter_fills_device_blocks(device_rate: int, block: int) -> None:
    source = sine(500, 48000, 2.0)
    pos = 0

    def pull(frame: np.ndarray) -> None:
        nonlocal pos
        frame[:] = source[pos:pos + len(frame)]
        pos += len(frame)

    conv = PlaybackConverter(device_rate, 960, pull)
    blocks = []
    for _ in range(device_rate // block):
        out = np.full(block, np.nan, dtype=np.float32)
        conv.fill(out)
        blocks.append(out)
    played = np.concatenate(blocks)
    assert not np.any(np.isnan(played))
    # Pulls only what is needed: at most one frame plus the filter delay ahead.
    assert pos - len(played) * 48000 / device_rate <= 960 + 64
    ideal = np.sin(2 * np.pi * 500 * np.arange(len(played)) / device_rate)
    assert np.max(np.abs(played[100:] - ideal[100:])) < 0.02


def test_converters_at_the_pipeline_rate_do_not_allocate_per_block() -> None:
    block = np.full(960, 0.25, dtype=np.float32)
    capture = CaptureConverter(48000, 960)
    assert peak_allocation(lambda: capture.push(block)) < 1000
    assert [f.tolist() for f in capture.push(block)] == [block.tolist()]

    def pull(frame: np.ndarray) -> None:
        frame += 0.5

    playback = PlaybackConverter(48000, 960, pull)
    out = np.ones(960, dtype=np.float32)
    assert peak_allocation(lambda: playback.fill(out)) < 1000
    assert np.all(out == 0.5)  # the pulled frame started from silence
