"""Signal level measurement for meters.

Levels are linear amplitudes in 0..1 (1.0 is digital full scale); convert
with ``to_dbfs`` for display.
"""

from __future__ import annotations

import importlib
import logging
import math
from typing import NamedTuple

import numpy as np

logger = logging.getLogger(__name__)

SILENCE_DBFS = -120.0


class Level(NamedTuple):
    """RMS and peak of a block, linear, 0..1 (full scale = 1)."""

    rms: float
    peak: float


SILENT = Level(0.0, 0.0)


def measure(pcm: np.ndarray) -> Level:
    """RMS and absolute peak of a block (clipped to 1.0)."""
    if len(pcm) == 0:
        return SILENT
    x = np.asarray(pcm, dtype=np.float32)
    rms = math.sqrt(float(np.dot(x, x)) / len(x))
    peak = max(float(x.max()), -float(x.min()))  # no |x| temporary on the audio thread
    return Level(min(rms, 1.0), min(peak, 1.0))


try:  # the ufunc behind np.clip (numpy >= 2): one C call, without np.clip's Python layers
    _clip_ufunc: np.ufunc | None = importlib.import_module("numpy._core.umath").clip
except (ImportError, AttributeError):  # another numpy: two ufuncs instead
    _clip_ufunc = None


def clip_in_place(pcm: np.ndarray, out: np.ndarray) -> None:
    """``pcm`` clipped to [-1, 1] into ``out`` (may be ``pcm``): ``np.clip`` without its
    Python wrapper (its ufunc: ~1 µs against ~2.4 µs; called once per frame on the audio
    threads)."""
    if _clip_ufunc is not None:
        _clip_ufunc(pcm, -1.0, 1.0, out=out)
        return
    np.maximum(pcm, -1.0, out=out)
    np.minimum(out, 1.0, out=out)


def to_dbfs(value: float) -> float:
    """Linear amplitude to dBFS, with silence floored at SILENCE_DBFS."""
    if value <= 10 ** (SILENCE_DBFS / 20):
        return SILENCE_DBFS
    return 20.0 * math.log10(value)
