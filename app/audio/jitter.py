"""Adaptive jitter buffer for one talker's Opus packets (pure, time passed in).

The network side calls ``put(seq, payload, now, frame_ms)`` for every
packet; the playback side calls ``pop(now)`` whenever it needs the next
frame and gets what to decode:

- ``audio``: the packet of the slot;
- ``fec``: the slot's packet is lost but the next one is here: rebuild the
  slot from the next packet's in-band FEC (``payload`` is the *next* packet;
  it stays buffered and is played as audio next);
- ``plc``: the slot is lost and nothing follows it closely: conceal it;
- ``stall``: nothing has come yet (the buffer ran dry): play one concealed
  frame *without* using up the slot, waiting for the late packet (counted in
  ``stalls`` once a packet comes; when none comes within ``max_conceal_frames``
  the stream has ended and those frames count as ``faded``);
- ``None``: nothing to play (not started, drained, or a long gap).

Rules that make it never worse than plain concealment:

- **A lost slot is concealed once.** A stall stands for the slot it waited
  for: if that packet then comes, it plays (the stall was an inserted frame:
  one frame more delay, as the jitter asked for); if a later packet comes
  instead, the slot counts as concealed by the stall and is skipped, not
  concealed again.
- **The delay changes only where it is inaudible.** The buffer measures the
  *slack* of each packet played: how long it waited between its arrival and
  its pop. Each output carries ``resize``: +1 when a packet of the last
  ``deficit_window`` pops had less slack than the jitter's 95th percentile
  (at least ``GROW_MARGIN``; plus one frame after recent loss, or while the
  talker sends FEC, so that the next packet is there for FEC); -1 when every
  packet of the last ``excess_window`` pops had a frame more than that (plus
  ``SHRINK_MARGIN``). The caller (who decodes, see ``talker_stream``) acts
  only in a pause: it drops a quiet frame (-1) or plays a frame of silence
  where speech resumes after a pause between phrases (+1), then calls
  ``resized(delta)``. The buffer itself skips a lost slot instead of
  concealing it when it wants to shrink (a concealed frame is the one that
  goes); when it has wanted to grow for ``GROW_PATIENCE`` pops without a
  pause, it keeps a stall as that frame and rebuilds the slot the stall
  waited for from the next packet's FEC. Queued audio is dropped unasked
  only past ``max_delay_frames``.
- **A stall of the playout side is not a delay to keep.** When the output stopped
  for longer than the buffer (the process was stopped, the device hung), the
  caller says so (``resync``): the slots that queued meanwhile
  are late, and so are those the network side then hands over at once (a stopped
  process's socket queue): for ``RESYNC_WINDOW_S`` the buffer keeps only the newest
  ``target`` slots, and none that the playout clock of before the stall had already
  passed (``target`` frames of slack), however slowly the backlog is handed over;
  those arrivals, bunched by the stop and not by the network, are left out of the
  jitter measure.
- **No added stall at start.** Playout starts as soon as the target depth
  is buffered, or the first packet has waited ``(target - 1)`` frames plus
  ``start_margin``; with the minimum target of one frame, at once.

The target follows the 95th percentile of the inter-arrival deviation
``|ΔR - ΔS|`` (RFC 3550's ``D``) over a window: ``min_delay_frames`` on a
clean network, growing at once under jitter, shrinking by one frame at most
every ``shrink_interval`` seconds; after recent loss at least one frame
above the minimum, so that the next packet is there in time for FEC (and
so while the talker's packets carry FEC data: some listener loses packets).

The slot period follows the packets (``frame_ms`` of ``put``): a talker may
change its frame duration in the middle of an utterance.

Sequence numbers: the first packet of a stream may have any ``seq`` (late
joiner). A ``seq`` of 0 after later packets of the current utterance starts
a new utterance; a jump of more than ``max_seq_jump`` either way resets.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from app.audio.constants import DEFAULT_FRAME_MS, frame_samples

logger = logging.getLogger(__name__)

OutputKind = Literal["audio", "fec", "plc", "stall"]

_LOSS_WINDOW = 250  # slots over which the loss fraction is measured (5 s at 20 ms)
_JITTER_WINDOW = 250  # arrivals over which the deviation percentile is taken
_FEC_WINDOW = 50  # packets over which "the talker sends FEC" is judged
_PLAYED_MEMORY = 64  # recently played seqs kept to tell duplicates from late
EXCESS_WINDOW = 100  # pops (2 s at 20 ms) of ample slack before asking to shrink
DEFICIT_WINDOW = 5  # recent pops whose slack decides growing
GROW_MARGIN = 0.002  # seconds: less slack than this asks for one frame more delay
SHRINK_MARGIN = 0.002  # seconds kept above the margin after shrinking by a frame
GROW_PATIENCE = 50  # pops a growth for FEC waits for a pause before a stall may be kept for it
RESYNC_WINDOW_S = 0.1
"""After ``resync``, how long the backlog that arrives is dropped down to the target: the
receive thread of a process that was stopped drains its socket's queue within a few ms
of the output's first callback, before or after it."""


@dataclass(slots=True)
class JitterOutput:
    """What to decode for one playout slot, and whether the delay should change
    (read-only by convention: not frozen, whose checks cost ~0.35 µs per frame)."""

    kind: OutputKind
    payload: bytes | None
    seq: int
    resize: int = 0  # -1: drop this frame if quiet; +1: add silence after it if quiet


@dataclass(slots=True)
class JitterStats:
    """Counters since creation (``reset()`` keeps them)."""

    received: int = 0
    late: int = 0
    duplicate: int = 0
    lost: int = 0  # slots whose packet never played
    concealed_fec: int = 0  # lost slots handed over for FEC recovery
    concealed_plc: int = 0  # lost slots concealed (by PLC or by the stall before them)
    stalls: int = 0  # concealed frames played while waiting for a packet that then came
    faded: int = 0  # concealed frames played at a stream's end (no packet came: it stopped)
    inserted: int = 0  # stalls kept as a frame of added delay (the slot recovered by FEC)
    dropped: int = 0  # slots skipped to bring the delay down (lost ones, or past the cap)
    resets: int = 0
    loss_fraction: float = 0.0
    jitter_ms: float = 0.0
    target_delay_frames: int = 1

    @property
    def expected_loss_pct(self) -> int:
        """Recent loss as an integer percentage."""
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
        deficit_window: int = DEFICIT_WINDOW,
    ) -> None:
        frame_samples(frame_ms)  # validates the duration
        if not 1 <= min_delay_frames <= max_delay_frames:
            raise ValueError("need 1 <= min_delay_frames <= max_delay_frames")
        if start_margin < 0 or excess_window < 1 or deficit_window < 1:
            raise ValueError("need start_margin >= 0 and windows >= 1")
        self.frame_ms = frame_ms
        self._period = frame_ms / 1000.0
        self.min_delay = min_delay_frames
        self.max_delay = max_delay_frames
        self.max_conceal = max_conceal_frames
        self.max_seq_jump = max_seq_jump
        self.shrink_interval = shrink_interval
        self.start_margin = start_margin
        self.excess_window = excess_window
        self.deficit_window = deficit_window
        self._stats = JitterStats(target_delay_frames=min_delay_frames)
        self._deviations: deque[float] = deque(maxlen=_JITTER_WINDOW)
        self._sorted_deviations: list[float] = []  # the same values, kept in order
        self._loss_window: deque[int] = deque(maxlen=_LOSS_WINDOW)
        self._loss_count = 0
        self._fec_flags: deque[bool] = deque(maxlen=_FEC_WINDOW)
        self._fec_count = 0  # packets with FEC data among the last _FEC_WINDOW
        self._p95_deviation = 0.0
        self._target = min_delay_frames
        self._last_shrink = -math.inf
        self._resync_until = -math.inf  # see resync
        self._last_pop = -math.inf  # when pop was last called
        self._measured = 0  # deviations measured so far
        self._measured_at_pop = 0  # ... at the last pop (those since came while it stalled)
        self._clear_stream()

    # ----------------------------------------------------------------- state
    def _clear_stream(self) -> None:
        self._packets: dict[int, bytes] = {}
        self._arrivals: dict[int, float] = {}
        self._no_fec: set[int] = set()  # buffered packets known to carry no FEC data
        self._slacks: deque[float] = deque(maxlen=max(self.excess_window, self.deficit_window))
        self._grow_wanted = 0  # consecutive pops that asked for one frame more
        self._next: int | None = None  # seq of the next slot to play
        self._highest: int | None = None
        self._playing = False
        self._first_arrival: float | None = None  # while buffering
        self._last_arrival: tuple[int, float] | None = None
        self._stalled = 0  # stall frames played for the slot ``_next``
        self._concealed_run = 0  # consecutive lost slots concealed
        self._played: deque[int] = deque(maxlen=_PLAYED_MEMORY)
        self._played_set: set[int] = set()
        self._zero_seen = False
        self._started = False  # some slot of this stream has been played
        # see resync: (the slot due next, since when) as the stall began; not for a new
        # stream, the old one's playout clock is no guide to it
        self._resync_clock: tuple[int, float] | None = None

    def reset(self) -> None:
        """Forget the current stream (packets, position); keep stats and jitter."""
        self._clear_stream()

    def carry_history(self, previous: JitterBuffer) -> None:
        """Start from what ``previous`` (the same talker's last stream) learnt:
        jitter, loss and FEC windows and the target, so that a new utterance
        starts with the delay the network asked for, not one frame."""
        self._deviations = deque(previous._deviations, maxlen=_JITTER_WINDOW)
        self._sorted_deviations = sorted(self._deviations)
        self._p95_deviation = previous._p95_deviation
        self._loss_window = deque(previous._loss_window, maxlen=_LOSS_WINDOW)
        self._loss_count = previous._loss_count
        self._fec_flags = deque(previous._fec_flags, maxlen=_FEC_WINDOW)
        self._fec_count = previous._fec_count
        self._target = min(self.max_delay, max(self.min_delay, previous._target))
        self._stats.target_delay_frames = self._target

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
    def protecting(self) -> bool:
        """Loss was seen lately or the talker sends FEC: the delay is kept a frame up so
        that the next packet is there in time for FEC (a growth for that is urgent: each
        loss meanwhile is concealed instead of rebuilt)."""
        return bool(self._loss_count or self._fec_count)

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
    def put(self, seq: int, payload: bytes, now: float, frame_ms: int | None = None,
            *, fec: bool | None = None) -> None:
        """Accept one packet that arrived at ``now`` (seconds), of ``frame_ms`` if known.

        ``fec``: whether the packet carries FEC data for the slot before it
        (``codec.packet_has_lbrr``), None when unknown. A talker sending FEC
        does so because some listener loses packets: the buffer then keeps
        the next packet in hand, as after a loss of its own.
        """
        if frame_ms is not None and frame_ms != self.frame_ms:
            frame_samples(frame_ms)
            self.frame_ms = frame_ms
            self._period = frame_ms / 1000.0
        self._stats.received += 1
        if self._starts_new_stream(seq):
            if self._highest is not None:
                self._stats.resets += 1
                logger.debug("new utterance or misorder at seq %d, reset", seq)
            self._clear_stream()
        if self._next is None:
            self._next = seq
        if seq in self._packets or seq in self._played_set:
            self._stats.duplicate += 1
            return
        if seq < self._next:
            if self._started:
                self._stats.late += 1
                return
            self._next = seq  # reordered start of the stream: begin earlier
        self._packets[seq] = bytes(payload)
        self._arrivals[seq] = now
        if fec is not None:
            if not fec:
                self._no_fec.add(seq)
            flags = self._fec_flags
            if len(flags) == flags.maxlen:
                self._fec_count -= flags[0]  # about to leave the window
            flags.append(fec)
            self._fec_count += fec  # kept as sum(flags) without summing per packet
        if seq == 0:
            self._zero_seen = True
        if self._highest is None or seq > self._highest:
            self._highest = seq
        if self._first_arrival is None:
            self._first_arrival = now
        # the inter-arrival deviation (inlined: once per received packet)
        last = self._last_arrival
        if last is not None and now >= self._resync_until:  # (a stall's backlog: not jitter)
            self._measured += 1
            deviation = abs((now - last[1]) - (seq - last[0]) * self._period)
            deviations, ordered = self._deviations, self._sorted_deviations  # kept sorted
            if len(deviations) == _JITTER_WINDOW:
                del ordered[bisect.bisect_left(ordered, deviations[0])]
            deviations.append(deviation)
            bisect.insort(ordered, deviation)
            self._p95_deviation = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        self._last_arrival = (seq, now)
        self._update_target(now)

    def _starts_new_stream(self, seq: int) -> bool:
        if self._next is None or self._highest is None:
            return False
        if seq == 0 and 0 not in self._packets and (self._zero_seen or self._started):
            return True
        reference = self._next if self._packets else self._highest
        return abs(seq - reference) > self.max_seq_jump

    def _update_target(self, now: float) -> None:
        # Half a frame of phase margin comes free from the playout clock.
        extra = max(0, math.ceil(self._p95_deviation / self._period - 0.5))
        wanted = self.min_delay + extra
        if self._loss_count or self._fec_count:
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
        self._measured_at_pop = self._measured
        self._last_pop = now
        if not self._playing and not self._start_playout(now):
            return None
        assert self._next is not None and self._highest is not None
        if now < self._resync_until:
            self._drop_backlog(now)
        elif self._highest - self._next >= self.max_delay:  # depth over the cap
            self._enforce_cap()
        resize = self._resize_wanted()
        self._grow_wanted = self._grow_wanted + 1 if resize > 0 else 0
        packets = self._packets
        if packets and (self._stalled or resize < 0):  # else there is nothing to skip
            recovered = self._skip_covered_slots(
                shrink=resize < 0, grow=self._grow_wanted > GROW_PATIENCE)
            if recovered is not None:
                return recovered
        seq = self._next
        payload = packets.pop(seq, None)
        self._no_fec.discard(seq)
        if payload is not None:  # the common case, inlined: _advance and _remember_played
            self._slacks.append(now - self._arrivals.pop(seq, now))
            self._next = seq + 1
            window = self._loss_window  # _record_slot(lost=False)
            if len(window) == _LOSS_WINDOW:
                self._loss_count -= window[0]
            window.append(0)
            played = self._played
            if len(played) == _PLAYED_MEMORY:
                self._played_set.discard(played[0])
            played.append(seq)
            self._played_set.add(seq)
            self._stalled = 0
            self._concealed_run = 0
            return JitterOutput("audio", payload, seq, resize)
        if self._packets:  # a hole: later packets are here, this slot is lost
            self._advance(lost=True)
            self._stalled = 0
            return self._conceal(seq, resize)
        # Ran dry: wait for the late packet with a concealed frame, a few times.
        self._stalled += 1
        if self._stalled > self.max_conceal:
            # Nothing came: the stall frames were the end of the talk fading out, not a
            # wait for a late packet (a perfect network ends every utterance this way).
            faded = self._stalled - 1
            self._stats.stalls -= faded
            self._stats.faded += faded
            self._stop_playout()
            return None
        self._stats.stalls += 1
        return JitterOutput("stall", None, seq, 0)

    def _skip_covered_slots(self, shrink: bool, grow: bool) -> JitterOutput | None:
        """Skip lost slots already concealed by a stall, and one more lost slot to shrink.

        When the delay should grow anyway (after loss the next packet must be
        there in time for FEC) and no pause came for it for
        ``GROW_PATIENCE`` pops, and the next packet carries FEC data, the last
        stall is kept as that frame of growth and the slot it waited for is
        recovered from the FEC instead: concealed by nothing, rebuilt once.
        """
        assert self._next is not None
        while self._stalled and self._next not in self._packets:
            seq = self._next
            if grow and self._stalled == 1 and seq + 1 in self._packets \
                    and seq + 1 not in self._no_fec:
                self._stalled = 0
                self._stats.inserted += 1
                self._advance(lost=True)
                self._concealed_run = 1
                self._stats.concealed_fec += 1
                self.resized(+1)
                return JitterOutput("fec", self._packets[seq + 1], seq, 0)
            self._stalled -= 1
            self._stats.concealed_plc += 1
            self._advance(lost=True)
        if shrink and self._next not in self._packets and self._next + 1 in self._packets:
            self._stats.dropped += 1  # a concealed frame is the one that goes
            self._advance(lost=True)
            self.resized(-1)
        return None

    def _conceal(self, seq: int, resize: int) -> JitterOutput | None:
        self._concealed_run += 1
        if self._concealed_run > self.max_conceal:
            return None  # a long hole is silence, not endless PLC
        following = self._packets.get(seq + 1)
        if following is not None and seq + 1 not in self._no_fec:
            self._stats.concealed_fec += 1
            return JitterOutput("fec", following, seq, resize)
        self._stats.concealed_plc += 1
        return JitterOutput("plc", None, seq, resize)

    def _resize_wanted(self) -> int:
        slacks = self._slacks
        if not slacks:
            return 0
        need = max(GROW_MARGIN, self._p95_deviation) \
            + (self._period if self._loss_count or self._fec_count else 0.0)
        recent = min(islice(reversed(slacks), self.deficit_window))
        if recent < need and self.depth < self.max_delay:
            return 1
        excess = need + self._period + SHRINK_MARGIN
        # the recent slacks are among all of them: when they fall short, so does the
        # minimum (which then need not be taken over the whole window, ~1.4 µs)
        if len(slacks) >= self.excess_window and recent >= excess and min(slacks) >= excess:
            return -1
        return 0

    def resized(self, delta: int) -> None:
        """The caller dropped (-1) or added (+1) a frame: measure the slack anew."""
        logger.debug("delay changed by %+d frame", delta)
        self._slacks.clear()
        self._grow_wanted = 0

    def _enforce_cap(self) -> None:
        """Past ``max_delay_frames`` queued, drop the oldest slots whatever they hold."""
        assert self._next is not None
        while self.depth > self.max_delay:
            self._arrivals.pop(self._next, None)
            self._no_fec.discard(self._next)
            if self._packets.pop(self._next, None) is not None:
                self._stats.dropped += 1
                self._remember_played(self._next)
                self._record_slot(lost=False)
                self._next += 1
            else:
                self._advance(lost=True)
            self._stalled = 0

    def resync(self, now: float) -> None:
        """The playout side stalled for longer than the buffer (the caller's output
        stopped: the process was stopped, the device hung): what is queued is late.

        Until ``RESYNC_WINDOW_S`` from ``now`` each pop keeps only the newest ``target``
        slots (the backlog the network side hands over once it runs again is dropped
        too, whether it came before this call or after). The arrivals since the last
        pop, and those of the window, came bunched by the stall, not by the network:
        they leave the jitter measure, and the target is what the rest asks for.
        """
        logger.debug("playout stalled: resync to the newest %d slots", self._target)
        self._resync_until = now + RESYNC_WINDOW_S
        # the slot that was due next when the stall began, and when: the backlog is
        # handed over at the receive thread's pace, so "the newest slots" alone may keep
        # a slot long late when a pop comes before the newest have
        self._resync_clock = (self._next, self._last_pop) \
            if self._playing and self._next is not None else None
        deviations, ordered = self._deviations, self._sorted_deviations
        for _ in range(min(len(deviations), self._measured - self._measured_at_pop)):
            del ordered[bisect.bisect_left(ordered, deviations.pop())]
        self._measured = self._measured_at_pop
        self._p95_deviation = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] \
            if ordered else 0.0
        self._target = self.min_delay  # then what the network asks for, at once
        self._last_shrink = -math.inf
        self._update_target(now)
        self._slacks.clear()
        self._grow_wanted = 0

    def _drop_backlog(self, now: float) -> None:
        """During a resync: drop the slots older than the newest ``target``, and those
        the playout clock of before the stall passed more than ``target`` frames ago
        (late, not lost: the loss window is left as it was; a slot not come yet is
        counted late when it comes)."""
        assert self._next is not None and self._highest is not None
        keep_from = self._highest - self._target + 1
        if self._resync_clock is not None:
            due, since = self._resync_clock
            passed = due - 1 + int((now - since) / self._period) - self._target
            keep_from = max(keep_from, passed)
        if self._next >= keep_from:
            return
        while self._next < keep_from:
            seq = self._next
            self._arrivals.pop(seq, None)
            self._no_fec.discard(seq)
            if self._packets.pop(seq, None) is not None:
                self._remember_played(seq)  # a duplicate of it is not played later
            if seq <= self._highest:
                self._stats.dropped += 1
            self._next = seq + 1
        self._stalled = 0
        self._concealed_run = 0
        self._slacks.clear()

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
        self._stalled = 0
        self._concealed_run = 0
        return True

    def _stop_playout(self) -> None:
        self._playing = False
        self._first_arrival = None
        self._stalled = 0
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
