"""Real-time mixing of received audio: one SpeakerStream per talker, one frame per period.

:class:`MixClock` is the output clock of a headless listener: every period
(``start + n * frame``) it pulls one frame's worth of samples from each
talker's jitter buffer and decoder, sums them and hands the result to a sink;
when nobody speaks the sink gets silence, so pauses keep their length.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from app.audio.constants import ALLOWED_FRAME_MS, DEFAULT_FRAME_MS, frame_samples
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


class _Talker:
    """One talker: a SpeakerStream at the talker's own frame size, and leftover samples."""

    __slots__ = ("frame_ms", "last_heard", "pending", "stream")

    def __init__(self, frame_ms: int, now: float) -> None:
        self.frame_ms = frame_ms
        self.stream = SpeakerStream(frame_ms)
        self.pending = np.zeros(0, dtype=np.float32)
        self.last_heard = now

    def take(self, count: int, now: float) -> np.ndarray | None:
        """``count`` samples for this output period (zero-padded at the end), or None."""
        while len(self.pending) < count:
            pcm = self.stream.read(now)
            if pcm is None:
                break
            self.pending = np.concatenate([self.pending, pcm])
        if not len(self.pending):
            return None
        out = np.zeros(count, dtype=np.float32)
        used = min(count, len(self.pending))
        out[:used] = self.pending[:used]
        self.pending = self.pending[used:]
        return out


class MixClock:
    """Feed with :meth:`on_audio` (the client's callback); run with :meth:`run`.

    Each talker may use any allowed frame duration: its packets are decoded at
    their own size and re-cut to the clock's ``frame_ms``.
    """

    def __init__(self, sink: FrameSink, frame_ms: int = DEFAULT_FRAME_MS) -> None:
        self._sink = sink
        self._frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        self._talkers: dict[str, _Talker] = {}
        self._loop = asyncio.get_running_loop()
        self.frames_out = 0
        self.frames_with_audio = 0
        self.bad_packets = 0

    def on_audio(self, uid: str, seq: int, payload: bytes) -> None:
        duration = opus_packet_ms(payload)
        if duration not in ALLOWED_FRAME_MS:
            self.bad_packets += 1
            if self.bad_packets in (1, 100):
                logger.warning("%s sent a packet of %s ms; dropped", uid, duration)
            return
        now = self._loop.time()
        talker = self._talkers.get(uid)
        if talker is None or talker.frame_ms != duration:
            if talker is not None:
                talker.stream.close()
            talker = self._talkers[uid] = _Talker(int(duration), now)
        talker.stream.put(seq, payload, now)
        talker.last_heard = now

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
        for uid in list(self._talkers):
            talker = self._talkers[uid]
            pcm = talker.take(self._frame_samples, now)
            if pcm is not None:
                out += pcm
                heard = True
            elif talker.stream.idle and now - talker.last_heard > _IDLE_DROP_SECONDS:
                talker.stream.close()
                del self._talkers[uid]
        self.frames_out += 1
        if heard:
            self.frames_with_audio += 1
        return np.clip(out, -1.0, 1.0)

    def close(self) -> None:
        for talker in self._talkers.values():
            talker.stream.close()
        self._talkers.clear()
