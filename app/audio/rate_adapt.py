"""Re-blocking and rate conversion between a device and the 48 kHz pipeline.

A device may run at another rate (44.1 kHz) or deliver blocks of another
size than one pipeline frame. ``CaptureConverter`` turns whatever the device
captures into exact 48 kHz frames; ``PlaybackConverter`` fills device blocks
by pulling exact 48 kHz frames from the pipeline's output callback. Both are
pure (no threads); the device back-end calls them from its callbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from app.audio.constants import SAMPLE_RATE
from app.audio.resample import StreamResampler

logger = logging.getLogger(__name__)


class CaptureConverter:
    """Device-rate blocks of any size in, 48 kHz frames of ``frame_samples`` out."""

    def __init__(self, device_rate: int, frame_samples: int) -> None:
        self.device_rate = int(device_rate)
        self.frame_samples = frame_samples
        self._resampler = StreamResampler(self.device_rate, SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        """Add captured samples; return the complete frames now available.

        A frame may be a view of ``block`` (keep it only by copying).
        """
        if self._resampler.identity and not len(self._pending) \
                and len(block) == self.frame_samples and block.dtype == np.float32:
            return [block]  # the usual case: a 48 kHz device delivering whole frames
        converted = self._resampler.process(block)
        pending = np.concatenate((self._pending, converted)) if len(self._pending) else converted
        count = len(pending) // self.frame_samples
        frames = [pending[i * self.frame_samples:(i + 1) * self.frame_samples].copy()
                  for i in range(count)]
        self._pending = pending[count * self.frame_samples:].astype(np.float32, copy=True)
        return frames


class PlaybackConverter:
    """Fills device-rate blocks of any size from 48 kHz frames pulled on demand."""

    def __init__(self, device_rate: int, frame_samples: int,
                 pull: Callable[[np.ndarray], None]) -> None:
        self.device_rate = int(device_rate)
        self.frame_samples = frame_samples
        self._pull = pull
        self._resampler = StreamResampler(SAMPLE_RATE, self.device_rate)
        self._pending = np.zeros(0, dtype=np.float32)

    def fill(self, out: np.ndarray) -> None:
        """Write ``len(out)`` device-rate samples into ``out``."""
        if self._resampler.identity and not len(self._pending) \
                and len(out) == self.frame_samples:
            out.fill(0.0)  # the usual case: a 48 kHz device pulling whole frames
            self._pull(out)
            return
        need = len(out)
        parts = [self._pending]
        have = len(self._pending)
        while have < need:
            frame = np.zeros(self.frame_samples, dtype=np.float32)
            self._pull(frame)
            converted = self._resampler.process(frame)
            parts.append(converted)
            have += len(converted)
        pending = np.concatenate(parts) if len(parts) > 1 else self._pending
        out[:] = pending[:need]
        self._pending = pending[need:].copy()
