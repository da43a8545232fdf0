"""Real-time mixing of received audio: one SpeakerStream per talker, one frame per period.

:class:`MixClock` is the output clock of a headless listener: every period
(``start + n * frame``) it pulls one frame from each talker's jitter buffer and
decoder, sums them and hands the result to a sink; when nobody speaks the sink
gets silence, so pauses keep their length.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from app.audio.constants import DEFAULT_FRAME_MS, frame_samples
from app.audio.receiver import SpeakerStream

logger = logging.getLogger(__name__)

FrameSink = Callable[[np.ndarray], None]

# A talker silent this long has its stream dropped (a new one starts with the next packet).
_IDLE_DROP_SECONDS = 5.0


def opus_packet_ms(packet: bytes) -> float | None:
    """The duration an Opus packet holds, from its TOC byte (RFC 6716 3.1), or None."""
    if not packet:
        return None
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        size = (10.0, 20.0, 40.0, 60.0)[config % 4]
    elif config < 16:
        size = (10.0, 20.0)[config % 2]
    else:
        size = (2.5, 5.0, 10.0, 20.0)[config % 4]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            return None
        count = packet[1] & 0x3F
    return size * count


class MixClock:
    """Feed with :meth:`on_audio` (the client's callback); run with :meth:`run`."""

    def __init__(self, sink: FrameSink, frame_ms: int = DEFAULT_FRAME_MS) -> None:
        self._sink = sink
        self._frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        self._streams: dict[str, SpeakerStream] = {}
        self._last_heard: dict[str, float] = {}
        self._loop = asyncio.get_running_loop()
        self.frames_out = 0
        self.frames_with_audio = 0
        self.foreign_frames = 0

    def on_audio(self, uid: str, seq: int, payload: bytes) -> None:
        duration = opus_packet_ms(payload)
        if duration is not None and duration != self._frame_ms:
            self.foreign_frames += 1
            if self.foreign_frames in (1, 100):
                logger.warning("%s sends %g ms frames, this listener plays %d ms; dropped",
                               uid, duration, self._frame_ms)
            return
        now = self._loop.time()
        stream = self._streams.get(uid)
        if stream is None:
            stream = self._streams[uid] = SpeakerStream(self._frame_ms)
        stream.put(seq, payload, now)
        self._last_heard[uid] = now

    async def run(self, seconds: float | None = None) -> None:
        """Emit frames in real time for ``seconds`` (None: until cancelled)."""
        period = self._frame_ms / 1000.0
        total = None if seconds is None else max(0, round(seconds / period))
        start = self._loop.time()
        n = 0
        try:
            while total is None or n < total:
                delay = start + n * period - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._sink(self._mix(self._loop.time()))
                n += 1
        finally:
            self.close()

    def _mix(self, now: float) -> np.ndarray:
        out = np.zeros(self._frame_samples, dtype=np.float32)
        heard = False
        for uid in list(self._streams):
            stream = self._streams[uid]
            pcm = stream.read(now)
            if pcm is not None and pcm.shape[0] == self._frame_samples:
                out += pcm
                heard = True
            elif stream.idle and now - self._last_heard.get(uid, now) > _IDLE_DROP_SECONDS:
                stream.close()
                del self._streams[uid]
        self.frames_out += 1
        if heard:
            self.frames_with_audio += 1
        return np.clip(out, -1.0, 1.0)

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
