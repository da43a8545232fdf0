"""Playback mixing: every talker's stream, local cues and the mic monitor.

``PlaybackMixer.fill`` is the output device callback: at the device's pace
it pulls samples from each talker's ``TalkerStream`` (blocks of any length:
a frame is pulled whenever the previous one is used up, so an output block
shorter than the frame cuts the playout delay; each talker's frames are
decoded at their own duration, whatever the mixer's), adds queued cues
and (in microphone-test mode) the captured input, applies per-talker gain
(the user's volume times the volume of the interphone the talker speaks in,
for a client joined to several), the output volume and mute, and clips.
Network-side calls (``receive``, ``end_utterance``) and UI-side calls may
come from any thread; one lock
guards the streams and is held only for the cheap per-frame work (jitter
buffer pop and one Opus decode per talker).

The common case, one talker alone (no tone, no monitor, no gain or volume
over 1, not muted), has a short path: a block that the frame being played
still holds is a slice of it, copied without the lock or any other object;
the output callback runs 100 times a second (10 ms blocks) with cold caches, where each
function, lock and numpy call touched costs several times its hot price
(bench/NOTES.md, branch out6).

An output that stalled for longer than the jitter buffers hold (the process was stopped,
the device hung) finds them full of late audio, more when the receive thread then hands
over what queued in its socket: each talker's buffer is told (``JitterBuffer.resync``)
and drops it, so playout comes back at its usual delay instead of staying up to the
buffer's cap late for the rest of the talk. (A machine's sleep stops the monotonic clock
and the network with it: nothing queues then.)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.audio.constants import DEFAULT_FRAME_MS, frame_samples
from app.audio.jitter import RESYNC_WINDOW_S, JitterBuffer
from app.audio.levels import SILENT, Level, clip_in_place, measure, peak_of
from app.audio.talker_stream import TalkerQuality, TalkerStream

logger = logging.getLogger(__name__)

MAX_TALKERS = 32
"""Talkers decoded at once at most (each holds an Opus decoder and a jitter buffer): a
hostile server sending audio of ever-new uids cannot grow the client without limit."""

MAX_VOLUME = 1.5
MAX_TONES = 8
MONITOR_MAX_BLOCKS = 4  # beyond this the monitor drops the oldest block (latency cap)
MONITOR_PRIME_BLOCKS = 2  # one block of cushion: input and output clocks differ in phase
STALE_STREAM_SECONDS = 30.0  # a talker silent this long without end_utterance is dropped
HISTORY_TALKERS = 64  # talkers whose network history (jitter, loss) is kept between utterances
NEW_UTTERANCE_GAP_S = 0.1
"""After its end, a talker's packet of a seq already reached starts a new utterance when it
is seq 0 or comes at least this long after the talker's last packet: a new utterance
follows a release, a press and a new grant, while a duplicate or a reordered packet of the
ending one comes within a few frames of its neighbours (and would otherwise keep the stream,
and the output, running until stale)."""


@dataclass(slots=True)
class _Talker:
    stream: TalkerStream
    last_packet: float
    ending: bool = False
    gain: float = 1.0
    highest_seq: int = -1  # of its current utterance


@dataclass(slots=True)
class _Cue:
    pcm: np.ndarray
    pos: int = 0


class PlaybackMixer:
    """Mixes talkers, cues and monitor into the output blocks."""

    def __init__(self, frame_ms: int = DEFAULT_FRAME_MS, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_jitter_frames: int = 10,
                 start_margin: float = 0.0) -> None:
        self.frame_ms = frame_ms
        self.frame_samples = frame_samples(frame_ms)
        self._clock = clock
        self._max_jitter = max_jitter_frames
        self._start_margin = start_margin  # see JitterBuffer: the output block length
        # an output that took no frame for this long stalled (see _resync)
        self._stall_gap = max_jitter_frames * frame_ms / 1000.0
        self._last_take = math.inf  # when a frame was last taken; inf: not playing
        self._resync_until = -math.inf  # a talker new before this is resynced too
        self._lock = threading.Lock()
        self._talkers: dict[str, _Talker] = {}
        self._history: dict[str, JitterBuffer] = {}  # last stream's network view per talker
        self._user_gain: dict[str, float] = {}
        self._interphone_gain: dict[str, float] = {}  # interphone id -> gain (0: muted)
        self._tones: deque[_Cue] = deque()
        self._monitor_on = False
        self._monitor: deque[np.ndarray] = deque()
        self._monitor_pos = 0  # samples of _monitor[0] already played
        self._monitor_primed = False
        self._volume = 1.0
        self._muted = False
        # The last block played and the volume it was played at (its level, measured when
        # read): a copy of a mixed block, or a view of the lone talker's frame.
        self._last_played: tuple[np.ndarray, float] = (_NOTHING, 1.0)
        self._mixed = _NOTHING  # the copy of the last mixed block
        self._loud = False  # a talker's gain is over 1: its samples may need clipping
        self._solo: TalkerStream | None = None  # see _refresh_solo
        self.frames_received = 0
        self.monitor_drops = 0
        self._closed = False
        self._over_cap_logged = False

    # ------------------------------------------------------------ talkers
    def receive(self, uid: str, seq: int, payload: bytes, interphone: str = "") -> None:
        """One Opus packet of talker ``uid`` (speaking in ``interphone``: each interphone's
        talkers are separate streams with that interphone's gain)."""
        now = self._clock()
        key = f"{uid}{_KEY_SEPARATOR}{interphone}" if interphone else uid  # stream_key
        with self._lock:
            if self._closed:
                return
            talker = self._talkers.get(key)
            if talker is None:
                if len(self._talkers) >= MAX_TALKERS:
                    if not self._over_cap_logged:
                        self._over_cap_logged = True
                        logger.warning("%d talkers at once already: ignoring more",
                                       MAX_TALKERS)
                    return
                stream = TalkerStream(max_delay_frames=self._max_jitter,
                                      start_margin=self._start_margin,
                                      history=self._history.pop(uid, None))
                if now < self._resync_until:  # its first packets came queued by the stall
                    stream.jitter.resync(now)
                talker = _Talker(stream, now, gain=self._gain_of(uid, interphone))
                self._talkers[key] = talker
                self._loud = self._loud or talker.gain > 1.0
                self._refresh_solo()
            if talker.ending and seq <= talker.highest_seq and (
                    seq == 0 or now - talker.last_packet >= NEW_UTTERANCE_GAP_S):
                # a new utterance (its seq restarts at 0, PROTOCOL.md §5): not ending
                talker.ending = False
                talker.highest_seq = -1
            # else, while ending: the ending utterance's last packets, which can come
            # after the floor's end (UDP and TCP are not ordered), or a duplicate or a
            # reordered one: played if still due, and the stream still ends when drained
            # (not kept, and the output running, until stale)
            if seq > talker.highest_seq:
                talker.highest_seq = seq
            talker.last_packet = now
            talker.stream.put(seq, payload, now)
            self.frames_received += 1

    def end_utterance(self, uid: str, interphone: str = "") -> None:
        """Let ``uid``'s buffer (in ``interphone``) drain, then drop its stream."""
        with self._lock:
            talker = self._talkers.get(stream_key(uid, interphone))
            if talker is not None:
                talker.ending = True

    def set_user_volume(self, uid: str, gain: float) -> None:
        with self._lock:
            self._user_gain[uid] = _clamp_volume(gain)
            self._regain()

    def set_interphone_volume(self, interphone: str, gain: float) -> None:
        """Gain of everything heard in ``interphone`` (0 mutes it), times each user's."""
        with self._lock:
            self._interphone_gain[interphone] = _clamp_volume(gain)
            self._regain()

    def _gain_of(self, uid: str, interphone: str) -> float:
        return self._user_gain.get(uid, 1.0) * self._interphone_gain.get(interphone, 1.0)

    def _regain(self) -> None:
        for key, talker in self._talkers.items():
            uid, _, interphone = key.partition(_KEY_SEPARATOR)
            talker.gain = self._gain_of(uid, interphone)
        self._loud = any(t.gain > 1.0 for t in self._talkers.values())
        self._refresh_solo()

    def _refresh_solo(self) -> None:
        """Under the lock, after any change of talkers, tones, monitor, volume or mute:
        the lone talker's stream when ``fill`` may cut its blocks straight from the frame
        being played (one talker at a gain of at most 1, no tone, no monitor, not muted,
        an output volume of at most 1: the block is the frame's samples times the volume,
        with nothing to add and nothing to clip), else None."""
        solo = None
        if len(self._talkers) == 1 and not self._tones and not self._monitor_on \
                and not self._muted and self._volume <= 1.0 and not self._loud \
                and not self._closed:
            solo = next(iter(self._talkers.values())).stream
        self._solo = solo

    def talkers(self) -> list[str]:
        with self._lock:
            return list(self._talkers)

    def quality(self) -> dict[str, TalkerQuality]:
        """What each current talker's stream got (loss, jitter, concealed, FEC-recovered), by
        :func:`stream_key`."""
        with self._lock:
            return {uid: t.stream.quality() for uid, t in self._talkers.items()}

    # -------------------------------------------------------- local sound
    def play_tone(self, pcm: np.ndarray, volume: float = 1.0) -> None:
        """Queue a local cue; it is mixed over whatever else plays."""
        cue = np.asarray(pcm, dtype=np.float32).reshape(-1) * float(volume)
        with self._lock:
            if len(self._tones) >= MAX_TONES:
                self._tones.popleft()
            self._tones.append(_Cue(cue))
            self._solo = None

    def set_monitor(self, enabled: bool) -> None:
        with self._lock:
            self._monitor_on = enabled
            self._monitor.clear()
            self._monitor_pos = 0
            self._monitor_primed = False
            self._refresh_solo()

    @property
    def monitor(self) -> bool:
        return self._monitor_on

    @property
    def idle(self) -> bool:
        """Nothing to play: no talker stream, no tone, no microphone test."""
        return not self._talkers and not self._tones and not self._monitor_on

    def feed_monitor(self, block: np.ndarray) -> None:
        """Captured input for microphone-test mode (called by the input callback)."""
        if not self._monitor_on:
            return
        with self._lock:
            if len(self._monitor) >= MONITOR_MAX_BLOCKS:
                self._monitor.popleft()
                self._monitor_pos = 0
                self.monitor_drops += 1
            self._monitor.append(block.copy())

    # ------------------------------------------------------------- output
    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        with self._lock:
            self._volume = _clamp_volume(value)
            self._refresh_solo()

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        with self._lock:
            self._muted = bool(value)
            self._refresh_solo()

    @property
    def level(self) -> Level:
        """(rms, peak) of the last output block, linear 0..1 (measured when asked: the
        meters read it a few times a second, the device plays 100-200 blocks)."""
        if self._closed:
            return SILENT
        block, volume = self._last_played
        level = measure(block)
        if volume == 1.0:
            return level
        return Level(level.rms * volume, level.peak * volume)

    @property
    def peak(self) -> float:
        """The peak of :attr:`level` alone (what the meter reads 10 times a second)."""
        if self._closed:
            return 0.0
        block, volume = self._last_played
        return peak_of(block) * volume

    def fill(self, out: np.ndarray) -> bool:
        """Output callback: mix one block into ``out`` (zeroed by the caller); False when
        there is nothing to play any more (no talker, tone or monitor: see ``idle``).

        The common case, one talker whose current frame still holds the block's samples
        (see ``_refresh_solo``), is a copy of them, without the lock (the frame and the
        position in it belong to this thread; a talker, tone or setting arriving meanwhile
        is heard from the next block, as if it had come just after this one) and without
        any other object: no clipping (frames are clipped when they start playing,
        ``TalkerStream.add_to``), the level measured only when read. When that frame is
        used up at the block's start, the next one is taken under the lock and the block
        cut from it the same way (``_fill_solo_frame``)."""
        solo = self._solo
        if solo is not None:
            start = solo.position
            end = start + len(out)
            frame = solo.frame
            if end <= len(frame):
                self._play_slice(solo, frame, start, end, out)
                return True
            if start >= len(frame):
                playing = self._fill_solo_frame(solo, out)
                if playing is not None:
                    return playing
        return self._fill_mixed(out)

    def _fill_solo_frame(self, solo: TalkerStream, out: np.ndarray) -> bool | None:
        """``fill`` for a lone talker whose frame is used up: its next frame starts and
        the block is cut from it as in ``fill``; with no frame to play, the stream is
        dropped if it is done (as ``_mix_talkers`` does). None when the lone talker is
        no longer alone (checked under the lock): the general path mixes the block."""
        now = self._clock()
        with self._lock:
            if self._solo is not solo:
                return None
            if now - self._last_take > self._stall_gap:
                self._resync(now)
            self._last_take = now
            [(key, talker)] = self._talkers.items()
            if not solo.start_frame(now, talker.gain):
                if self._finished(talker, now):
                    self._drop([key])
                self._last_played = (_NOTHING, 1.0)
                if not self._talkers:
                    self._last_take = math.inf
                return bool(self._talkers)
            frame = solo.frame
            count = len(out)
            if count > len(frame):  # a frame shorter than the block: played in general
                solo.add_to(out, now, talker.gain)
                if self._volume != 1.0:
                    out *= self._volume
                self._keep_copy(out)
                return True
            self._play_slice(solo, frame, 0, count, out)
            return True

    def _play_slice(self, solo: TalkerStream, frame: np.ndarray, start: int, end: int,
                    out: np.ndarray) -> None:
        """The lone talker's block: ``frame[start:end]`` at the volume (the level is
        measured from it when read)."""
        block = frame[start:end]
        volume = self._volume
        if volume == 1.0:
            out[:] = block
        else:
            np.multiply(block, volume, out=out)
        solo.position = end
        self._last_played = (block, volume)

    def _fill_mixed(self, out: np.ndarray) -> bool:
        """``fill``'s general case: every source, under the lock, then volume, mute, clip."""
        now = self._clock()
        with self._lock:
            if now - self._last_take > self._stall_gap:
                self._resync(now)
            sources = self._mix_talkers(out, now)
            if self._tones:
                sources += self._mix_tones(out)
            if self._monitor_on:
                self._mix_monitor(out)
                sources += 1
            playing = bool(self._talkers) or bool(self._tones) or self._monitor_on
            # a later start of the output is no stall
            self._last_take = now if playing else math.inf
        if self._muted:
            out.fill(0.0)
        else:
            if self._volume != 1.0:
                out *= self._volume
            if sources > 1 or self._volume > 1.0 or self._loud:
                clip_in_place(out, out)
        self._keep_copy(out)
        return playing

    def _resync(self, now: float) -> None:
        """Under the lock: the output took no frame for longer than the jitter buffers
        hold (``fill`` stopped being called: the process was stopped, the device hung):
        what they hold, and what the receive thread hands over next, is late; each
        buffer drops it (``JitterBuffer.resync``)."""
        logger.info("output stalled for %.2f s: late audio dropped", now - self._last_take)
        self._resync_until = now + RESYNC_WINDOW_S
        for talker in self._talkers.values():
            talker.stream.jitter.resync(now)

    def _keep_copy(self, out: np.ndarray) -> None:
        """The block just mixed, for the level (``out`` is the device's buffer)."""
        last = self._mixed
        if len(last) != len(out):
            last = self._mixed = np.empty(len(out), dtype=np.float32)
        np.copyto(last, out)
        self._last_played = (last, 1.0)

    def _mix_talkers(self, out: np.ndarray, now: float) -> int:
        """Mix every talker's next samples into ``out``; how many were heard."""
        heard = 0
        finished = []
        for key, talker in self._talkers.items():
            if talker.stream.add_to(out, now, talker.gain):
                heard += 1
            elif self._finished(talker, now):
                finished.append(key)
        if finished:
            self._drop(finished)
        return heard

    @staticmethod
    def _finished(talker: _Talker, now: float) -> bool:
        """A talker that played nothing: done (drained after its end, or stale)?"""
        stale = now - talker.last_packet > STALE_STREAM_SECONDS
        return talker.stream.idle and (talker.ending or stale)

    def _drop(self, finished: list[str]) -> None:
        for key in finished:
            stream = self._talkers.pop(key).stream
            stream.close()
            uid, _, interphone = key.partition(_KEY_SEPARATOR)
            self._remember(uid, stream)
            logger.debug("stream of %s in %s drained and dropped", uid, interphone or "-")
        self._loud = any(t.gain > 1.0 for t in self._talkers.values())
        self._refresh_solo()

    def _remember(self, uid: str, stream: TalkerStream) -> None:
        """Keep what the talker's stream learnt of the network for its next utterance."""
        self._history[uid] = stream.jitter
        while len(self._history) > HISTORY_TALKERS:
            del self._history[next(iter(self._history))]

    def _mix_monitor(self, out: np.ndarray) -> None:
        if not self._monitor_primed:
            self._monitor_primed = len(self._monitor) >= MONITOR_PRIME_BLOCKS
            if not self._monitor_primed:
                return
        filled = 0
        while filled < len(out):
            if not self._monitor:
                self._monitor_primed = False  # ran dry: build the cushion again
                return
            block = self._monitor[0]
            n = min(len(out) - filled, len(block) - self._monitor_pos)
            out[filled:filled + n] += block[self._monitor_pos:self._monitor_pos + n]
            self._monitor_pos += n
            filled += n
            if self._monitor_pos >= len(block):
                self._monitor.popleft()
                self._monitor_pos = 0

    def _mix_tones(self, out: np.ndarray) -> int:
        """Mix the queued cues into ``out``; how many there were."""
        for cue in self._tones:
            n = min(len(out), len(cue.pcm) - cue.pos)
            out[:n] += cue.pcm[cue.pos:cue.pos + n]
            cue.pos += n
        count = len(self._tones)
        if any(cue.pos >= len(cue.pcm) for cue in self._tones):
            self._tones = deque(c for c in self._tones if c.pos < len(c.pcm))
            if not self._tones:
                self._refresh_solo()
        return count

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._solo = None
            for talker in self._talkers.values():
                talker.stream.close()
            self._talkers.clear()
            self._tones.clear()
            self._monitor.clear()


_KEY_SEPARATOR = "\x00"
_NOTHING = np.zeros(0, dtype=np.float32)


def stream_key(uid: str, interphone: str = "") -> str:
    """The key of a talker's stream: the uid alone, or uid and interphone."""
    return f"{uid}{_KEY_SEPARATOR}{interphone}" if interphone else uid


def _clamp_volume(value: float) -> float:
    return min(MAX_VOLUME, max(0.0, float(value)))
