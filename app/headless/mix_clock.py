"""Real-time mixing of received audio for a headless listener: one TalkerStream per talker.

:class:`MixClock` is the output clock of the CLI's ``listen`` (and of any
headless listener): every period (``start + n * frame``) it pulls one clock
frame's worth of samples from each talker's stream, sums them and hands the
result to a sink; when nobody speaks the sink gets silence, so pauses keep
their length. Each talker's packets are decoded at their own duration by
:class:`~app.audio.talker_stream.TalkerStream` (the same stream the GUI uses).

A clock late by more than the jitter buffers hold (the process was stopped) catches up on
the frames it missed, and each talker's buffer drops the audio that queued meanwhile
(``JitterBuffer.resync``, as the GUI's mixer does): the frames after the stop are mixed
at the usual delay, not at the buffer's cap (200 ms) behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

import numpy as np

from app.audio.constants import DEFAULT_FRAME_MS, frame_samples
from app.audio.jitter import RESYNC_WINDOW_S, JitterBuffer
from app.audio.talker_stream import TalkerQuality, TalkerStream, summarize

logger = logging.getLogger(__name__)

FrameSink = Callable[[np.ndarray], None]

# A talker silent this long has its stream dropped (a new one starts with the next packet).
_IDLE_DROP_SECONDS = 5.0
MAX_TALKERS = 32
"""Talkers decoded at once at most: a hostile server cannot grow the client without limit."""
MAX_REMEMBERED_TALKERS = 256
"""Talkers whose history and quality records are kept (the oldest forgotten first)."""


# The first packet of a talker waits at least this long before it plays: on a
# frame-paced clock it could otherwise play with almost no slack (a random
# phase) and the next few ms of scheduling jitter would stall it.
START_MARGIN = 0.006
_STALL_FRAMES = 10
"""A frame mixed this many frames after the last one (a ``TalkerStream``'s jitter buffer
holds 10 at most) comes after a stall (see ``JitterBuffer.resync``)."""


class _Talker:
    __slots__ = ("last_heard", "stream")

    def __init__(self, now: float, history: JitterBuffer | None) -> None:
        self.stream = TalkerStream(start_margin=START_MARGIN, history=history)
        self.last_heard = now


class MixClock:
    """Feed with :meth:`on_audio` (the client's callback); run with :meth:`run`.

    ``quality()`` gives, per talker heard so far (including those whose
    stream was dropped after a silence), what the listener got.
    """

    def __init__(self, sink: FrameSink, frame_ms: int = DEFAULT_FRAME_MS) -> None:
        self._sink = sink
        self._frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        self._talkers: dict[str, _Talker] = {}
        self._finished: dict[str, list[TalkerQuality]] = {}
        self._history: dict[str, JitterBuffer] = {}  # a talker's last stream's network view
        self._loop = asyncio.get_running_loop()
        self._stall_gap = _STALL_FRAMES * frame_ms / 1000.0
        self._last_mix = math.inf  # when the last frame was mixed (inf: none yet)
        self._resync_until = -math.inf  # a talker new before this is resynced too
        self.frames_out = 0
        self.frames_with_audio = 0
        self.bad_packets = 0
        self._over_cap_logged = False

    def on_audio(self, uid: str, seq: int, payload: bytes) -> None:
        now = self._loop.time()
        talker = self._talkers.get(uid)
        if talker is None and len(self._talkers) >= MAX_TALKERS:
            self.bad_packets += 1
            if not self._over_cap_logged:
                self._over_cap_logged = True
                logger.warning("%d talkers at once already: ignoring more", MAX_TALKERS)
            return
        if talker is None:
            talker = self._talkers[uid] = _Talker(now, self._history.get(uid))
            if now < self._resync_until:  # its first packets came queued by the stall
                talker.stream.jitter.resync(now)
        if not talker.stream.put(seq, payload, now):
            self.bad_packets += 1
            return
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
                # Yield even when late: the packets that came meanwhile must be
                # read before the next frame is taken, or the buffers run dry.
                await asyncio.sleep(max(0.0, delay))
                self._sink(self._mix(self._loop.time()))
                n += 1
        finally:
            self.close()

    def _mix(self, now: float) -> np.ndarray:
        if now - self._last_mix > self._stall_gap:
            logger.info("late by %.2f s: audio that queued meanwhile dropped",
                        now - self._last_mix)
            self._resync_until = now + RESYNC_WINDOW_S
            for talker in self._talkers.values():
                talker.stream.jitter.resync(now)
        self._last_mix = now
        out = np.zeros(self._frame_samples, dtype=np.float32)
        heard = False
        for uid in list(self._talkers):
            talker = self._talkers[uid]
            pcm = talker.stream.read(self._frame_samples, now)
            if pcm is not None:
                out += pcm
                heard = True
            elif talker.stream.idle and now - talker.last_heard > _IDLE_DROP_SECONDS:
                self._retire(uid)
        self.frames_out += 1
        if heard:
            self.frames_with_audio += 1
        return np.clip(out, -1.0, 1.0)

    def _retire(self, uid: str) -> None:
        talker = self._talkers.pop(uid)
        self._finished.setdefault(uid, []).append(talker.stream.quality())
        self._history[uid] = talker.stream.jitter
        for table in (self._finished, self._history):
            while len(table) > MAX_REMEMBERED_TALKERS:
                del table[next(iter(table))]
        talker.stream.close()

    def quality(self) -> dict[str, list[TalkerQuality]]:
        """Per talker uid, the quality of each of its streams (oldest first)."""
        result = {uid: list(qs) for uid, qs in self._finished.items()}
        for uid, talker in self._talkers.items():
            result.setdefault(uid, []).append(talker.stream.quality())
        return result

    def current_quality(self) -> dict[str, TalkerQuality]:
        """Per talker with a live stream, what this listener gets now (what it reports)."""
        return {uid: talker.stream.quality() for uid, talker in self._talkers.items()}

    def speaker_summary(self) -> dict[str, dict[str, float | int]]:
        """Per speaker: loss %, jitter ms, concealed and FEC-recovered frames (and more)."""
        return {uid: summarize(qs) for uid, qs in self.quality().items()}

    def close(self) -> None:
        for uid in list(self._talkers):
            self._retire(uid)
