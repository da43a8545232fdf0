"""Instant replay: the last minutes of transmissions, kept as their Opus frames.

Pure: no I/O, no decoding, the clock passed in. The receive path hands every
audio packet it accepts to :meth:`ReplayStore.add_frame`; the UI lists
:meth:`ReplayStore.transmissions` (newest first), plays one with
:meth:`ReplayStore.playback` (frames in order, ``b""`` where a packet was lost:
play ``OpusDecoder.conceal()`` there) and marks it heard.

A *transmission* is one utterance of one speaker on one interphone: it starts
with the first frame after a different speaker, a packet whose ``seq`` is 0
(PROTOCOL.md §5: each grant restarts at 0), a pause longer than ``gap`` seconds,
or :meth:`ReplayStore.close`. The last packets of an utterance often arrive just
after the speaker-change notice that closed it (UDP and TCP race): a packet of the
same speaker continuing its ``seq`` (above the last one) within ``gap`` still
joins the closed transmission (which stays closed) rather than starting a stray one.
One closed because the link was lost (``close(..., cut=True)``: nothing said the
speaker stopped) is open again when its speaker's packets go on after a reconnect.

The user's own talks are kept too (:meth:`ReplayStore.add_own_frame`: every frame sent,
with its seq), in the same store under the same bound, listed among the others
(``own``), never unheard. One is open at a time, apart from the received ones (a late
packet of the speaker before cannot split it); it ends at :meth:`ReplayStore.end_own`
(the floor released or lost), its late frames joining it as above; a new grant
(``seq`` 0) or another interphone starts the next.

Memory bound: the store counts ``len(frame) + FRAME_OVERHEAD`` bytes per frame
and ``TRANSMISSION_OVERHEAD`` per transmission, and never lets that total
exceed ``max_bytes`` (default 8 MiB, about 22 minutes of continuous 24 kbit/s
speech in 20 ms frames: far more than the default 10 minutes of age). To stay
under it, the oldest transmissions (any interphone) are dropped first; a
single transmission that would exceed the bound on its own stops growing
(``truncated``). Transmissions whose last frame is older than ``max_age``
seconds (default 600) are dropped by :meth:`ReplayStore.prune`, which every
listing calls.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 600.0
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_GAP = 1.0
FRAME_OVERHEAD = 64
"""Bytes counted per frame besides its payload (the bytes object, its list slot, its seq)."""
TRANSMISSION_OVERHEAD = 512
"""Bytes counted per transmission (its record and bookkeeping)."""
_OWN = "\x00own"
"""The open-transmission slot of the user's own talk (received ones use their interphone)."""
MAX_CONCEALED = 25
"""Lost packets filled with concealment at most per gap (500 ms of 20 ms frames)."""

_SILK_MS = (10.0, 20.0, 40.0, 60.0)
_HYBRID_MS = (10.0, 20.0)
_CELT_MS = (2.5, 5.0, 10.0, 20.0)


def opus_packet_duration(packet: bytes) -> float:
    """Seconds of audio in one Opus packet, from its TOC byte (RFC 6716 §3.1); 0 if invalid."""
    if not packet:
        return 0.0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame_ms = _SILK_MS[config & 3]
    elif config < 16:
        frame_ms = _HYBRID_MS[config & 1]
    else:
        frame_ms = _CELT_MS[config & 3]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    elif len(packet) >= 2:
        count = packet[1] & 0x3F
    else:
        return 0.0
    total_ms = frame_ms * count
    return total_ms / 1000 if 0 < total_ms <= 120 else 0.0


@dataclass(frozen=True, slots=True)
class TransmissionInfo:
    """A transmission as the UI lists it."""

    number: int  # unique in this store, increasing with arrival
    interphone: str
    speaker: str
    started_at: float  # the caller's clock at the first frame
    duration: float  # seconds of audio, lost packets included
    frame_count: int
    heard: bool
    receiving: bool  # still open: more frames may come
    truncated: bool
    own: bool = False  # the user's own talk


@dataclass(frozen=True, slots=True)
class Stored:
    """Where :meth:`ReplayStore.add_frame` put a packet."""

    number: int
    """Its transmission's number; 0 if the packet was a duplicate or too late to keep."""
    reopened: bool = False
    """It opened again a transmission cut by a lost link (its speaker went on after a
    reconnect): that transmission is receiving again."""


@dataclass(slots=True, eq=False)
class _Transmission:
    number: int
    interphone: str
    speaker: str
    started_at: float
    heard: bool
    own: bool = False
    last_frame_at: float = 0.0
    last_seq: int = -1
    duration: float = 0.0
    size: int = TRANSMISSION_OVERHEAD
    truncated: bool = False
    cut: bool = False  # closed by a lost link, not by its speaker's end
    frames: list[bytes] = field(default_factory=list)
    lost_before: list[int] = field(default_factory=list)  # concealed frames before each frame

    def info(self, receiving: bool) -> TransmissionInfo:
        return TransmissionInfo(self.number, self.interphone, self.speaker, self.started_at,
                                self.duration, len(self.frames), self.heard, receiving,
                                self.truncated, self.own)

    @property
    def slot(self) -> str:
        """Its key among the open and just-closed transmissions."""
        return _OWN if self.own else self.interphone


class ReplayStore:
    """Received transmissions of every interphone, bounded by age and by bytes."""

    def __init__(self, *, max_age: float = DEFAULT_MAX_AGE, max_bytes: int = DEFAULT_MAX_BYTES,
                 gap: float = DEFAULT_GAP) -> None:
        if not (math.isfinite(max_age) and max_age > 0 and math.isfinite(gap) and gap > 0):
            raise ValueError("max_age and gap must be positive")
        if max_bytes < TRANSMISSION_OVERHEAD + FRAME_OVERHEAD:
            raise ValueError(f"max_bytes must be at least {TRANSMISSION_OVERHEAD + FRAME_OVERHEAD}")
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.gap = gap
        self._all: dict[int, _Transmission] = {}  # by number, oldest first
        self._open: dict[str, _Transmission] = {}  # slot -> the one receiving
        self._closed: dict[str, _Transmission] = {}  # slot -> the one just closed
        self._numbers = 0
        self._bytes = 0
        self._selected: str | None = None

    @property
    def bytes_used(self) -> int:
        """The bytes counted against ``max_bytes`` (see the module docstring)."""
        return self._bytes

    # ---- input -------------------------------------------------------------------------------

    def select(self, interphone: str | None) -> None:
        """The interphone the user is looking at: what arrives for it counts as heard."""
        self._selected = interphone
        current = self._open.get(interphone) if interphone is not None else None
        if current is not None:
            current.heard = True

    def add_frame(self, interphone: str, speaker: str, seq: int, frame: bytes,
                  now: float) -> Stored:
        """Store one received audio packet; returns where it went (:class:`Stored`)."""
        current = self._open.get(interphone)
        if current is None:  # late packets of the transmission closed last?
            closed = self._late_of(interphone, interphone, speaker, seq, now)
            if closed is not None:
                reopened = closed.cut
                if reopened:  # the link is back and they still speak: receiving again
                    closed.cut = False
                    self._open[interphone] = self._closed.pop(interphone)
                self._append(closed, seq, frame, now)
                return Stored(closed.number, reopened)
        if current is not None and not self._continues(current, speaker, seq, now):
            current = None
        elif current is not None and seq <= current.last_seq:
            return Stored(0)  # duplicate or late: the replay keeps arrival order of the first copy
        if current is None:
            current = self._start(interphone, speaker, now)
        self._append(current, seq, frame, now)
        return Stored(current.number)

    def add_own_frame(self, interphone: str, speaker: str, seq: int, frame: bytes,
                      now: float) -> int:
        """Store one frame the user sent (``speaker``: our uid); returns its transmission's
        number, or 0 if it was not kept (a repeated seq)."""
        current = self._open.get(_OWN)
        if current is None:  # late frames of the talk just ended?
            closed = self._late_of(_OWN, interphone, speaker, seq, now)
            if closed is not None:
                self._append(closed, seq, frame, now)
                return closed.number
        elif (current.interphone != interphone or current.speaker != speaker
              or seq == 0):  # (no gap ends it: a stalled loop hands frames over late)
            current = None
        elif seq <= current.last_seq:
            return 0
        if current is None:
            current = self._start(interphone, speaker, now, own=True)
        self._append(current, seq, frame, now)
        return current.number

    def end_own(self) -> bool:
        """The user's talk ended (the floor released or lost); returns whether one was open."""
        current = self._open.pop(_OWN, None)
        if current is None:
            return False
        self._closed[_OWN] = current
        return True

    def _late_of(self, slot: str, interphone: str, speaker: str, seq: int,
                 now: float) -> _Transmission | None:
        """The transmission closed last in ``slot`` if this frame is a late one of it (a
        higher ``seq`` of the same speaker within ``gap``; a lower one is their next grant)."""
        closed = self._closed.get(slot)
        if (closed is not None and closed.interphone == interphone
                and self._continues(closed, speaker, seq, now) and seq > closed.last_seq):
            return closed
        return None

    def _continues(self, transmission: _Transmission, speaker: str, seq: int,
                   now: float) -> bool:
        return (transmission.speaker == speaker and seq != 0
                and now - transmission.last_frame_at <= self.gap)

    def _append(self, current: _Transmission, seq: int, frame: bytes, now: float) -> None:
        lost = min(max(seq - current.last_seq - 1, 0), MAX_CONCEALED) if current.frames else 0
        cost = len(frame) + FRAME_OVERHEAD
        self._make_room(cost, keep=current)
        if self._bytes + cost > self.max_bytes:
            current.truncated = True
        else:
            duration = opus_packet_duration(frame)
            current.frames.append(bytes(frame))
            current.lost_before.append(lost)
            current.duration += duration * (1 + lost)
            current.size += cost
            self._bytes += cost
        current.last_seq = seq
        current.last_frame_at = now

    def close(self, interphone: str, speaker: str = "", *, cut: bool = False) -> None:
        """The speaker of ``interphone`` is now ``speaker`` ("": nobody): a transmission of
        anyone else stops receiving; the next frame starts a new one unless it is a late
        packet of that one (module docstring). One of ``speaker`` stays open: its first
        packets often arrive before the notice that they speak. ``cut``: the link was
        lost (the speaker may still speak: their next packets open it again)."""
        current = self._open.get(interphone)
        if current is not None and (not speaker or current.speaker != speaker):
            self._closed[interphone] = self._open.pop(interphone)
            current.cut = cut

    def forget(self, interphone: str) -> None:
        """Drop everything of ``interphone`` (e.g. it left the roster)."""
        for number in [n for n, t in self._all.items() if t.interphone == interphone]:
            self._drop(number)

    def mark_heard(self, number: int) -> None:
        transmission = self._all.get(number)
        if transmission is not None:
            transmission.heard = True

    # ---- output ------------------------------------------------------------------------------

    def prune(self, now: float) -> None:
        """Drop transmissions whose last frame is older than ``max_age``."""
        horizon = now - self.max_age
        for number in [n for n, t in self._all.items() if t.last_frame_at < horizon]:
            self._drop(number)

    def transmissions(self, interphone: str | None, now: float) -> list[TransmissionInfo]:
        """Newest first, of one interphone or (None) of all."""
        self.prune(now)
        return [self._info(t) for t in reversed(self._all.values())
                if interphone is None or t.interphone == interphone]

    def last(self, interphone: str | None, now: float) -> TransmissionInfo | None:
        """The newest transmission ("replay last"), or None."""
        listing = self.transmissions(interphone, now)
        return listing[0] if listing else None

    def unheard(self, interphone: str | None, now: float) -> int:
        return sum(1 for t in self.transmissions(interphone, now) if not t.heard)

    def playback(self, number: int) -> tuple[bytes, ...]:
        """The frames to decode, in order, with ``b""`` for each lost packet; () if gone."""
        transmission = self._all.get(number)
        if transmission is None:
            return ()
        out: list[bytes] = []
        for lost, frame in zip(transmission.lost_before, transmission.frames, strict=True):
            out.extend([b""] * lost)
            out.append(frame)
        return tuple(out)

    # ---- internals ---------------------------------------------------------------------------

    def _info(self, transmission: _Transmission) -> TransmissionInfo:
        return transmission.info(self._open.get(transmission.slot) is transmission)

    def _start(self, interphone: str, speaker: str, now: float, *,
               own: bool = False) -> _Transmission:
        self._numbers += 1
        transmission = _Transmission(self._numbers, interphone, speaker, now,
                                     heard=own or interphone == self._selected, own=own,
                                     last_frame_at=now)
        self._make_room(TRANSMISSION_OVERHEAD, keep=None)
        self._all[transmission.number] = transmission
        self._open[transmission.slot] = transmission
        self._closed.pop(transmission.slot, None)
        self._bytes += TRANSMISSION_OVERHEAD
        return transmission

    def _make_room(self, cost: int, keep: _Transmission | None) -> None:
        while self._bytes + cost > self.max_bytes:
            oldest = next((n for n, t in self._all.items() if t is not keep), None)
            if oldest is None:
                return
            logger.debug("replay: dropping transmission %d to stay under %d bytes",
                         oldest, self.max_bytes)
            self._drop(oldest)

    def _drop(self, number: int) -> None:
        transmission = self._all.pop(number)
        self._bytes -= transmission.size
        if self._open.get(transmission.slot) is transmission:
            del self._open[transmission.slot]
        if self._closed.get(transmission.slot) is transmission:
            del self._closed[transmission.slot]
