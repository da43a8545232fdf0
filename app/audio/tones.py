"""Audio cues generated in code: short, faded, and distinct from each other.

Each cue is a sequence of tone segments (frequencies in Hz, duration in ms,
amplitude); every segment gets a raised-cosine fade in and out so no cue
clicks. All cues are float32 mono at SAMPLE_RATE and shorter than 400 ms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache

import numpy as np

from app.audio.constants import SAMPLE_RATE

logger = logging.getLogger(__name__)

FADE_MS = 6.0
DEFAULT_LEVEL = 0.35

# (frequencies summed, duration ms, relative amplitude); frequency () = pause.
Segment = tuple[tuple[float, ...], float, float]


def _fade(n: int, fade: int) -> np.ndarray:
    env = np.ones(n)
    fade = min(fade, n // 2)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        env[:fade] = ramp
        env[n - fade:] = ramp[::-1]
    return env


def render(segments: Sequence[Segment], level: float = DEFAULT_LEVEL) -> np.ndarray:
    """Concatenate faded tone segments into one float32 cue."""
    parts = []
    fade = round(FADE_MS * SAMPLE_RATE / 1000)
    for freqs, ms, amp in segments:
        n = round(ms * SAMPLE_RATE / 1000)
        if not freqs:
            parts.append(np.zeros(n))
            continue
        t = np.arange(n) / SAMPLE_RATE
        wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
        parts.append(amp * wave * _fade(n, fade))
    out = np.concatenate(parts) if parts else np.zeros(0)
    return (level * out).astype(np.float32)


@cache
def _rendered(name: str) -> np.ndarray:
    cue = render(_CUES[name])
    cue.setflags(write=False)
    return cue


def _cached(name: str) -> np.ndarray:
    return _rendered(name).copy()


_CUES: dict[str, list[Segment]] = {
    # Two rising blips: "go ahead".
    "talk_permit": [((880.0,), 70, 1.0), ((), 30, 0), ((1320.0,), 90, 1.0)],
    # Three low, harsh bursts: "floor taken".
    "busy": [((425.0, 475.0), 80, 1.0), ((), 40, 0), ((425.0, 475.0), 80, 1.0), ((), 40, 0),
             ((425.0, 475.0), 80, 1.0)],
    # Falling pair: "over" (roger beep).
    "end_of_transmission": [((1200.0,), 60, 0.9), ((), 20, 0), ((750.0,), 110, 0.9)],
    # Fast warble: someone calls you one-to-one.
    "incoming_call": [((1000.0,), 45, 1.0), ((1400.0,), 45, 1.0), ((1000.0,), 45, 1.0),
                      ((1400.0,), 45, 1.0), ((), 40, 0), ((1000.0,), 45, 1.0),
                      ((1400.0,), 45, 1.0)],
    # One soft, short high blip: activity in another joined interphone (scan list).
    "activity": [((1760.0,), 40, 0.6), ((), 25, 0), ((2093.0,), 40, 0.45)],
}


def talk_permit() -> np.ndarray:
    """Cue played when the floor is granted (the user may speak)."""
    return _cached("talk_permit")


def busy() -> np.ndarray:
    """Cue played when the floor is denied (someone else is talking)."""
    return _cached("busy")


def end_of_transmission() -> np.ndarray:
    """Cue played when a transmission (own or received) ends."""
    return _cached("end_of_transmission")


def incoming_call() -> np.ndarray:
    """Cue for an incoming one-to-one call."""
    return _cached("incoming_call")


def activity() -> np.ndarray:
    """Cue for someone starting to speak in a joined interphone other than the talk target."""
    return _cached("activity")
