"""One talker's playback path: jitter buffer followed by the Opus decoder."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from app.audio.codec import CodecError, OpusDecoder
from app.audio.constants import DEFAULT_FRAME_MS
from app.audio.jitter import JitterBuffer, JitterStats

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpeakerStats:
    """Jitter-buffer counters plus decoder errors for one talker."""

    jitter: JitterStats
    decode_errors: int
    frames_played: int


class SpeakerStream:
    """Turns one talker's (seq, packet) arrivals into a PCM frame per period.

    Not thread-safe: the caller serialises ``put`` and ``read`` (the audio
    engine holds a lock around both).
    """

    def __init__(
        self,
        frame_ms: int = DEFAULT_FRAME_MS,
        min_delay_frames: int = 1,
        max_delay_frames: int = 10,
        *,
        start_margin: float = 0.0,
    ) -> None:
        self.frame_ms = frame_ms
        self.jitter = JitterBuffer(frame_ms, min_delay_frames, max_delay_frames,
                                   start_margin=start_margin)
        self._decoder = OpusDecoder(frame_ms)
        self._decode_errors = 0
        self._frames_played = 0

    @property
    def frame_samples(self) -> int:
        return self._decoder.frame_samples

    @property
    def stats(self) -> SpeakerStats:
        return SpeakerStats(self.jitter.stats, self._decode_errors, self._frames_played)

    @property
    def idle(self) -> bool:
        """Nothing buffered and nothing playing."""
        return self.jitter.idle

    def put(self, seq: int, payload: bytes, now: float) -> None:
        self.jitter.put(seq, payload, now)

    def read(self, now: float) -> np.ndarray | None:
        """One frame of PCM for this period, or None when there is nothing to play."""
        out = self.jitter.pop(now)
        if out is None:
            return None
        try:
            if out.kind == "audio":
                assert out.payload is not None
                pcm = self._decoder.decode(out.payload)
            elif out.kind == "fec":
                assert out.payload is not None
                pcm = self._decoder.decode_fec(out.payload)
            else:
                pcm = self._decoder.conceal()
        except CodecError as exc:
            self._decode_errors += 1
            if self._decode_errors <= 3 or self._decode_errors % 100 == 0:
                logger.warning("seq %d: %s (errors so far: %d)", out.seq, exc,
                               self._decode_errors)
            pcm = self._safe_conceal()
        self._frames_played += 1
        return pcm

    def _safe_conceal(self) -> np.ndarray:
        try:
            return self._decoder.conceal()
        except CodecError:
            return np.zeros(self.frame_samples, dtype=np.float32)

    def close(self) -> None:
        self._decoder.close()
