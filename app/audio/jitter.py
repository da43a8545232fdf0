"""Adaptive jitter buffer for one talker's Opus packets (pure, time passed in).

The network side calls ``put(seq, payload, now)`` for every packet; the
playback clock calls ``pop(now)`` once per frame period and gets what to
decode for the next slot:

- ``audio``: the packet of that slot;
- ``fec``: the slot's packet is lost but the next one is here, so the
  decoder recovers the slot from the next packet's in-band FEC (``payload``
  is the *next* packet; it stays buffered and is played as audio next);
- ``plc``: nothing usable, conceal;
- ``None``: nothing to play (not started, drained, or a long gap).

Delay control. Playout of an utterance starts once ``target_delay`` frames
are buffered (or the first packet has waited that long). The target follows
the 95th percentile of the inter-arrival deviation ``|ΔR - ΔS|`` (RFC 3550's
``D``) over a window: it stays at ``min_delay_frames`` on a clean network,
grows at once under jitter and shrinks by one frame at most every
``shrink_interval`` seconds. After recent loss it is at least one frame
above the minimum so the next packet is there in time for FEC. When the
buffer runs dry the slot is concealed *without* advancing (the stream
stalls, absorbing late packets) for at most ``max_conceal_frames``, then
``pop`` returns None until data comes again. When more than
``target + 2`` frames are queued the oldest one is dropped to catch up, and
so is one frame when the buffer held more than the target at every pop of
the last ``excess_window`` pops (a stall or a bunch of late packets left a
frame of delay that a clean network would otherwise keep for good).

``start_margin`` (seconds) is for a playout clock that asks at a finer step
than a frame (an output block shorter than the frame): the first packet then
waits at least that long, since the half frame of phase margin a
frame-sized output block gives on average is not there.

Sequence numbers: the first packet of a stream may have any ``seq`` (late
joiner). A ``seq`` of 0 after later packets of the current utterance starts
a new utterance; a jump of more than ``max_seq_jump`` either way resets.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from app.audio.constants import DEFAULT_FRAME_MS, frame_samples

logger = logging.getLogger(__name__)

OutputKind = Literal["audio", "fec", "plc"]

_LOSS_WINDOW = 250  # slots over which the loss fraction is measured
_JITTER_WINDOW = 250  # arrivals over which the deviation percentile is taken
_PLAYED_MEMORY = 64  # recently played seqs kept to tell duplicates from late
_CATCH_UP_MARGIN = 2  # frames above target before dropping to catch up
EXCESS_WINDOW = 25  # pops (0.5 s at 20 ms) above target before one frame is dropped


@dataclass(frozen=True, slots=True)
class JitterOutput:
    """What to decode for one playout slot."""

    kind: OutputKind
    payload: bytes | None
    seq: int


@dataclass(slots=True)
class JitterStats:
    """Counters since creation (``reset()`` keeps them)."""

    received: int = 0
    late: int = 0
    duplicate: int = 0
    lost: int = 0
    concealed_fec: int = 0
    concealed_plc: int = 0
    dropped: int = 0
    resets: int = 0
    loss_fraction: float = 0.0
    jitter_ms: float = 0.0
    target_delay_frames: int = 1

    @property
    def expected_loss_pct(self) -> int:
        """Recent loss as an integer percentage, for ``set_expected_loss``."""
        return min(100, math.ceil(self.loss_fraction * 100 - 1e-9))


class JitterBuffer:
    """Reorders, de-duplicates and paces one talker's packets."""

    def __init__(
        self,
        frame_ms: int = DEFAULT_FRAME_MS,
        min_delay_frames: int = 1,
        max_delay_frames: int = 10,
        *,
        max_conceal_frames: int = 3,
        max_seq_jump: int = 100,
        shrink_interval: float = 2.0,
        start_margin: float = 0.0,
        excess_window: int = EXCESS_WINDOW,
    ) -> None:
        frame_samples(frame_ms)  # validates the duration
        if not 1 <= min_delay_frames <= max_delay_frames:
            raise ValueError("need 1 <= min_delay_frames <= max_delay_frames")
        if start_margin < 0 or excess_window < 0:
            raise ValueError("need start_margin >= 0 and excess_window >= 0")
        self.frame_ms = frame_ms
        self._period = frame_ms / 1000.0
        self.min_delay = min_delay_frames
        self.max_delay = max_delay_frames
        self.max_conceal = max_conceal_frames
        self.max_seq_jump = max_seq_jump
        self.shrink_interval = shrink_interval
        self.start_margin = start_margin
        self.excess_window = excess_window
        self._stats = JitterStats(target_delay_frames=min_delay_frames)
        self._deviations: deque[float] = deque(maxlen=_JITTER_WINDOW)
        self._loss_window: deque[int] = deque(maxlen=_LOSS_WINDOW)
        self._loss_count = 0
        self._p95_deviation = 0.0
        self._target = min_delay_frames
        self._last_shrink = -math.inf
        self._clear_stream()

    # ----------------------------------------------------------------- state
    def _clear_stream(self) -> None:
        self._packets: dict[int, bytes] = {}
        self._next: int | None = None  # seq of the next slot to play
        self._highest: int | None = None
        self._playing = False
        self._first_arrival: float | None = None  # while buffering
        self._last_arrival: tuple[int, float] | None = None
        self._concealed_run = 0
        self._played: deque[int] = deque(maxlen=_PLAYED_MEMORY)
        self._played_set: set[int] = set()
        self._zero_seen = False
        self._started = False  # some slot of this stream has been played
        self._excess_run = 0  # consecutive pops that found more than the target queued

    def reset(self) -> None:
        """Forget the current stream (packets, position); keep stats and jitter."""
        self._clear_stream()

    @property
    def stats(self) -> JitterStats:
        window = len(self._loss_window)
        return dataclasses.replace(
            self._stats,
            loss_fraction=self._loss_count / window if window else 0.0,
            target_delay_frames=self._target,
            jitter_ms=self._p95_deviation * 1000.0,
        )

    @property
    def target_delay(self) -> int:
        return self._target

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def buffered(self) -> int:
        """Packets waiting to be played."""
        return len(self._packets)

    @property
    def depth(self) -> int:
        """Slots from the next one to play up to the newest packet (holes included)."""
        if self._next is None or self._highest is None:
            return 0
        return max(0, self._highest - self._next + 1)

    @property
    def idle(self) -> bool:
        """True when nothing is buffered and nothing is being played."""
        return not self._packets and not self._playing

    # ------------------------------------------------------------------- put
    def put(self, seq: int, payload: bytes, now: float) -> None:
        """Accept one packet that arrived at time ``now`` (seconds)."""
        self._stats.received += 1
        if self._starts_new_stream(seq):
            if self._highest is not None:
                self._stats.resets += 1
                logger.debug("new utterance or misorder at seq %d, reset", seq)
            self._clear_stream()
        if self._next is None:
            self._next = seq
        assert self._next is not None
        if seq in self._packets or seq in self._played_set:
            self._stats.duplicate += 1
            return
        if seq < self._next:
            if self._started:
                self._stats.late += 1
                return
            self._next = seq  # reordered start of the stream: begin earlier
        self._packets[seq] = bytes(payload)
        if seq == 0:
            self._zero_seen = True
        if self._highest is None or seq > self._highest:
            self._highest = seq
        if self._first_arrival is None:
            self._first_arrival = now
        self._measure_jitter(seq, now)

    def _starts_new_stream(self, seq: int) -> bool:
        if self._next is None or self._highest is None:
            return False
        if seq == 0 and 0 not in self._packets and (self._zero_seen or self._started):
            return True
        reference = self._next if self._packets else self._highest
        return abs(seq - reference) > self.max_seq_jump

    def _measure_jitter(self, seq: int, now: float) -> None:
        if self._last_arrival is not None:
            last_seq, last_time = self._last_arrival
            deviation = abs((now - last_time) - (seq - last_seq) * self._period)
            self._deviations.append(deviation)
            ordered = sorted(self._deviations)
            self._p95_deviation = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        self._last_arrival = (seq, now)
        self._update_target(now)

    def _update_target(self, now: float) -> None:
        # Half a frame of phase margin comes free from the playout clock.
        extra = max(0, math.ceil(self._p95_deviation / self._period - 0.5))
        wanted = self.min_delay + extra
        if self._loss_count:
            wanted = max(wanted, self.min_delay + 1)
        wanted = min(wanted, self.max_delay)
        if wanted > self._target:
            self._target = wanted
            self._last_shrink = now
        elif wanted < self._target and now - self._last_shrink >= self.shrink_interval:
            self._target -= 1
            self._last_shrink = now

    # ------------------------------------------------------------------- pop
    def pop(self, now: float) -> JitterOutput | None:
        """What to play for the next slot, or None when there is nothing."""
        self._update_target(now)
        if not self._playing and not self._start_playout(now):
            return None
        assert self._next is not None
        seq = self._next
        self._note_excess(self.depth > self._target)
        payload = self._packets.pop(seq, None)
        if payload is not None:
            self._advance(lost=False)
            self._remember_played(seq)
            self._concealed_run = 0
            out: JitterOutput | None = JitterOutput("audio", payload, seq)
        elif self._packets:  # a hole: later packets are here, this one is lost
            self._advance(lost=True)
            out = self._conceal(seq)
        else:  # ran dry: conceal in place (stall) a few times, then stop
            self._concealed_run += 1
            if self._concealed_run > self.max_conceal:
                self._stop_playout()
                return None
            self._stats.concealed_plc += 1
            return JitterOutput("plc", None, seq)
        self._catch_up()
        return out

    def _conceal(self, seq: int) -> JitterOutput | None:
        self._concealed_run += 1
        if self._concealed_run > self.max_conceal:
            return None  # a long hole is silence, not endless PLC
        following = self._packets.get(seq + 1)
        if following is not None:
            self._stats.concealed_fec += 1
            return JitterOutput("fec", following, seq)
        self._stats.concealed_plc += 1
        return JitterOutput("plc", None, seq)

    def _start_playout(self, now: float) -> bool:
        if not self._packets or self._next is None:
            return False
        waited = now - (self._first_arrival if self._first_arrival is not None else now)
        margin = self.start_margin
        ready = (self.depth >= self._target and waited >= margin) \
            or waited >= (self._target - 1) * self._period + margin
        if not ready:
            return False
        first = min(self._packets)
        if first > self._next:  # resume after a gap: skip to the data
            for _ in range(first - self._next):
                self._advance(lost=True)
        self._playing = True
        self._started = True
        self._concealed_run = 0
        self._excess_run = 0
        return True

    def _stop_playout(self) -> None:
        self._playing = False
        self._first_arrival = None
        self._concealed_run = 0

    def _advance(self, lost: bool) -> None:
        assert self._next is not None
        self._next += 1
        self._record_slot(lost)
        if lost:
            self._stats.lost += 1

    def _record_slot(self, lost: bool) -> None:
        if len(self._loss_window) == self._loss_window.maxlen:
            self._loss_count -= self._loss_window[0]
        self._loss_window.append(1 if lost else 0)
        self._loss_count += 1 if lost else 0

    def _remember_played(self, seq: int) -> None:
        if len(self._played) == self._played.maxlen:
            self._played_set.discard(self._played[0])
        self._played.append(seq)
        self._played_set.add(seq)

    def _note_excess(self, excess: bool) -> None:
        self._excess_run = self._excess_run + 1 if excess else 0

    def _catch_up(self) -> None:
        """Drop one frame when far more is queued than the target delay, or
        more than the target has been queued for ``excess_window`` pops."""
        far_behind = self.depth > self._target + _CATCH_UP_MARGIN
        # Every one of the last pops found the slot after it already here:
        # skipping one frame leaves the target, still enough in time.
        persistent = 0 < self.excess_window <= self._excess_run and self.depth >= self._target
        if not (far_behind or persistent):
            return
        self._excess_run = 0
        assert self._next is not None
        seq = self._next
        if self._packets.pop(seq, None) is not None:
            self._stats.dropped += 1
            self._remember_played(seq)
            self._record_slot(lost=False)
            self._next += 1
        else:
            self._advance(lost=True)
