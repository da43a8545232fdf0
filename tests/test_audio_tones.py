"""Audio cues: shape, length, no clicks, distinct."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from app.audio import tones
from app.audio.constants import SAMPLE_RATE

CUES: dict[str, Callable[[], np.ndarray]] = {
    "talk_permit": tones.talk_permit,
    "busy": tones.busy,
    "end_of_transmission": tones.end_of_transmission,
    "incoming_call": tones.incoming_call,
}


@pytest.mark.parametrize("name", CUES)
def test_cue_shape(name: str) -> None:
    cue = CUES[name]()
    assert cue.dtype == np.float32 and cue.ndim == 1
    assert 0.05 * SAMPLE_RATE < len(cue) < 0.4 * SAMPLE_RATE
    assert 0.1 < np.max(np.abs(cue)) <= 1.0


@pytest.mark.parametrize("name", CUES)
def test_cue_fades_in_and_out_without_clicks(name: str) -> None:
    cue = CUES[name]()
    assert abs(cue[0]) < 1e-3 and abs(cue[-1]) < 1e-3
    # No sample-to-sample step larger than a 1.5 kHz sine at full level can make.
    max_step = 2 * np.pi * 1500 / SAMPLE_RATE * np.max(np.abs(cue))
    assert np.max(np.abs(np.diff(cue))) <= max_step


@pytest.mark.parametrize("name", CUES)
def test_cue_is_a_fresh_copy(name: str) -> None:
    a = CUES[name]()
    a[:] = 0
    assert np.any(CUES[name]() != 0)


def _spectrum(cue: np.ndarray) -> np.ndarray:
    mag = np.abs(np.fft.rfft(cue, SAMPLE_RATE))[:4000]
    return mag / np.linalg.norm(mag)


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(CUES, 2)))
def test_cues_are_distinct(a: str, b: str) -> None:
    cue_a, cue_b = CUES[a](), CUES[b]()
    assert float(np.dot(_spectrum(cue_a), _spectrum(cue_b))) < 0.5
