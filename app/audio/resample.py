"""Sample-rate conversion with a windowed-sinc interpolator (numpy only).

``StreamResampler`` converts a stream block by block with exact rational
timing (integer arithmetic, no drift) and keeps the filter history between
blocks, so a device running at 44.1 kHz can feed a 48 kHz pipeline.
``resample`` converts a whole signal at once (for WAV files).

Output sample ``n`` sits at input position ``n * src / dst``; it is
interpolated from the ``2 * half_width`` nearest input samples with a
Blackman-windowed sinc whose cut-off is the lower of the two Nyquist
frequencies (anti-aliasing when downsampling). Streaming latency is
``half_width`` input samples.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from app.audio.constants import SAMPLE_RATE

logger = logging.getLogger(__name__)

DEFAULT_HALF_WIDTH = 16
_CHUNK = 8192  # output samples computed per vectorised step (bounds memory)
_MAX_TABLE_PHASES = 4096  # precompute kernels per phase up to this many phases


class StreamResampler:
    """Block-by-block rate converter with state carried across blocks."""

    def __init__(self, src_rate: int, dst_rate: int,
                 half_width: int = DEFAULT_HALF_WIDTH) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
        g = math.gcd(int(src_rate), int(dst_rate))
        self.src_rate = int(src_rate)
        self.dst_rate = int(dst_rate)
        self._up = self.dst_rate // g  # output samples per _down input samples
        self._down = self.src_rate // g
        self._cutoff = min(1.0, self.dst_rate / self.src_rate)
        self._half = max(1, math.ceil(half_width / self._cutoff))
        self._taps = np.arange(-self._half + 1, self._half + 1)
        # Virtual zeros before the first input sample, so output 0 is centred on input 0.
        self._buf = np.zeros(self._half, dtype=np.float64)
        self._buf_start = -self._half  # absolute input index of _buf[0]
        self._received = 0  # input samples received so far
        self._produced = 0  # output samples produced so far
        self._table: np.ndarray | None = None
        if self._up <= _MAX_TABLE_PHASES and not self.identity:
            phases = np.arange(self._up) / self._up
            self._table = self._kernel(phases[:, None] - self._taps[None, :])

    @property
    def latency_samples(self) -> int:
        """Input samples the stream must receive before an output depends on them."""
        return self._half

    @property
    def identity(self) -> bool:
        return self._up == self._down

    def output_length(self, input_length: int) -> int:
        """Output samples a whole signal of ``input_length`` samples maps to."""
        return -(-input_length * self._up // self._down)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed input samples; return every output sample now computable."""
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        if self.identity:
            self._received += len(x)
            self._produced += len(x)
            return x.astype(np.float32)
        if len(x):
            self._buf = np.concatenate((self._buf, x))
            self._received += len(x)
        # Output n reads input up to floor(n * down / up) + half, which must be < received.
        last = ((self._received - self._half) * self._up - 1) // self._down
        return self._produce(last)

    def flush(self, total_input: int | None = None) -> np.ndarray:
        """End of stream: return the remaining outputs, padding with silence.

        With ``total_input`` given, stops at ``output_length(total_input)``.
        """
        if self.identity:
            return np.zeros(0, dtype=np.float32)
        end = self.output_length(self._received if total_input is None else total_input)
        self._buf = np.concatenate((self._buf, np.zeros(self._half)))
        return self._produce(end - 1)

    def _produce(self, last: int) -> np.ndarray:
        chunks = []
        while self._produced <= last:
            stop = min(last + 1, self._produced + _CHUNK)
            chunks.append(self._compute(self._produced, stop))
            self._produced = stop
        self._trim()
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32)

    def _compute(self, start: int, stop: int) -> np.ndarray:
        n = np.arange(start, stop, dtype=np.int64)
        pos = n * self._down
        base = pos // self._up
        phase = pos % self._up
        idx = base[:, None] + self._taps[None, :] - self._buf_start
        if self._table is not None:
            kernel = self._table[phase]
        else:
            kernel = self._kernel((phase / self._up)[:, None] - self._taps[None, :])
        return np.einsum("ij,ij->i", self._buf[idx], kernel)

    def _kernel(self, dist: np.ndarray) -> np.ndarray:
        """Windowed sinc at distances ``dist`` (input samples) from the output point."""
        c = self._cutoff
        window = 0.42 + 0.5 * np.cos(np.pi * dist / self._half) \
            + 0.08 * np.cos(2 * np.pi * dist / self._half)
        return c * np.sinc(c * dist) * window

    def _trim(self) -> None:
        next_base = (self._produced * self._down) // self._up
        keep_from = next_base - self._half + 1
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Convert a whole mono signal from ``src_rate`` to ``dst_rate`` (float32)."""
    x = np.asarray(pcm, dtype=np.float32).reshape(-1)
    if src_rate == dst_rate:
        return x.copy()
    rs = StreamResampler(src_rate, dst_rate)
    head = rs.process(x)
    tail = rs.flush(total_input=len(x))
    return np.concatenate((head, tail))
