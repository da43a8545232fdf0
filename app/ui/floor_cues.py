"""The floor extensions' audio cues, made with :func:`app.audio.tones.render`.

Each is distinct from the base cues (permit, busy, end of transmission, call):

- ``queued``: one soft mid blip, "you are in line";
- ``your_turn``: three rising blips, "the floor is yours now" (after waiting);
- ``preempted``: a falling glide of three low tones, "someone took the floor";
- ``time_warning_10s`` / ``time_warning_3s``: one / three short high pips;
- ``cut_off``: a long low tone, "your turn was ended";
- ``emergency``: a two-tone siren, repeated by the caller while the emergency is up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from app.audio.tones import Segment, render

_SEGMENTS: dict[str, list[Segment]] = {
    "queued": [((660.0,), 90, 0.8)],
    "your_turn": [((880.0,), 60, 1.0), ((), 25, 0), ((1100.0,), 60, 1.0), ((), 25, 0),
                  ((1320.0,), 90, 1.0)],
    "preempted": [((700.0,), 80, 1.0), ((560.0,), 80, 1.0), ((440.0,), 140, 1.0)],
    "time_warning_10s": [((1760.0,), 50, 0.8)],
    "time_warning_3s": [((1760.0,), 40, 0.9), ((), 40, 0), ((1760.0,), 40, 0.9), ((), 40, 0),
                        ((1760.0,), 40, 0.9)],
    "cut_off": [((330.0,), 300, 1.0)],
    "emergency": [((960.0,), 170, 1.0), ((770.0,), 170, 1.0)],
}


@cache
def _rendered(name: str) -> np.ndarray:
    cue = render(_SEGMENTS[name])
    cue.setflags(write=False)
    return cue


def _cue(name: str) -> Callable[[], np.ndarray]:
    return lambda: _rendered(name).copy()


CUES: dict[str, Callable[[], np.ndarray]] = {name: _cue(name) for name in _SEGMENTS}
"""Cue name (a :class:`app.ui.audio_link.Tone` value) -> a fresh float32 copy of it."""
