"""Signals and measurements shared by the audio tests."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np

from app.audio.constants import SAMPLE_RATE

# Vowel formants (Hz): a, i, u, e, o.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
           (570, 840, 2410))


class Clock:
    """A clock the test moves (``now``, in seconds; 100 at first), for the ``clock`` a
    mixer reads."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def speech_like(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Voiced, speech-like float32 signal: gliding pitch, changing vowels, syllables.

    Harmonics of a 100–200 Hz pitch contour shaped by moving formant bumps
    and a 4 Hz syllable envelope; deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 140.0 + 40.0 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) \
        + 15.0 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    # Formants glide between vowels every 250 ms.
    seg = np.minimum((t / 0.25).astype(int), 10_000)
    order = rng.integers(0, len(_VOWELS), size=seg.max() + 2)
    frac = (t / 0.25) - seg
    formants = np.array(_VOWELS, dtype=float)
    fa, fb = formants[order[seg]], formants[order[seg + 1]]
    fm = fa + (fb - fa) * frac[:, None] ** 2
    out = np.zeros(n)
    for h in range(1, 30):
        fh = h * f0
        amp = sum(np.exp(-0.5 * ((fh - fm[:, k]) / (80 + 40 * k)) ** 2) / (k + 1)
                  for k in range(3))
        amp = amp * (fh < 4000) / h**0.5
        out += amp * np.sin(h * phase)
    env = 0.55 - 0.45 * np.cos(2 * np.pi * 4.0 * t)
    out *= env
    out *= level / max(np.max(np.abs(out)), 1e-9)
    return out.astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length signals (0 when one is flat)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def best_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Lag (samples, 0..max_lag) at which ``signal`` best matches ``reference``."""
    best = (0, -2.0)
    n = len(reference)
    for lag in range(0, max_lag + 1):
        seg = signal[lag: lag + n]
        if len(seg) < n:
            break
        c = correlation(reference, seg)
        if c > best[1]:
            best = (lag, c)
    return best


def fft_lag(reference: np.ndarray, signal: np.ndarray) -> int:
    """Delay of ``signal`` relative to ``reference`` by FFT cross-correlation."""
    n = len(reference) + len(signal)
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(signal, size) * np.conj(np.fft.rfft(reference, size))
    xc = np.fft.irfft(spec, size)
    return int(np.argmax(xc[: len(signal)]))


def peak_allocation(action: Callable[[], object]) -> int:
    """Bytes allocated at the peak of one call of ``action`` (numpy buffers included)."""
    tracemalloc.start()
    try:
        action()  # warm up: lazy caches, first-call set-up
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
