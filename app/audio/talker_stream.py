"""One talker's received audio: Opus packets in, PCM out, loss repaired.

This is the only place that turns received packets into speech: the GUI's
``PlaybackMixer``, the CLI's ``MixClock`` and the echo bot all use it.

- Each packet is decoded at its own duration (10, 20, 40 or 60 ms; a talker
  may change it in the middle of an utterance): the jitter buffer's slot
  period follows the packets, the decoder takes any size.
- A lost frame is rebuilt from the next packet's in-band FEC when that packet
  carries some (``packet_has_lbrr``), otherwise concealed (PLC) at the length
  of the last frame played. Either way exactly once (see ``jitter``).
- ``quality()`` tells what the listener got: loss, jitter, concealed and
  FEC-recovered frames, the figures a listener reports to the talker.

Pure: time is passed in; not thread-safe (the mixer holds a lock around it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from app.audio.codec import CodecError, OpusDecoder, packet_has_lbrr, packet_samples
from app.audio.constants import ALLOWED_FRAME_MS, DEFAULT_FRAME_MS, SAMPLE_RATE, frame_samples
from app.audio.jitter import JitterBuffer, JitterOutput
from app.audio.levels import clip_in_place

logger = logging.getLogger(__name__)

_ALLOWED_SAMPLES = {frame_samples(ms): ms for ms in ALLOWED_FRAME_MS}
_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class TalkerQuality:
    """What one listener got from one talker, since the stream was created."""

    packets: int  # packets accepted
    bad_packets: int  # not an Opus packet of an allowed duration: dropped
    fec_packets: int  # accepted packets that carry in-band FEC data
    frames_played: int  # frames output (decoded, recovered or concealed; stalls too)
    slots: int  # slots of the stream so far (played from a packet, or lost)
    lost: int  # slots whose packet never came in time
    late: int  # packets that came after their slot was played
    loss_pct: float  # lost / (lost + packets played), whole stream, percent
    recent_loss_pct: float  # the same over the last ~5 s of slots (what to report)
    jitter_ms: float  # 95th percentile of the inter-arrival deviation
    concealed: int  # lost frames made up by packet-loss concealment
    fec_recovered: int  # lost frames rebuilt from the next packet's FEC data
    stalls: int  # concealed frames played while waiting for a packet that then came
    faded: int  # concealed frames played at a stream's end, after its last packet
    dropped: int  # frames skipped to bring the delay down (quiet or lost ones)
    inserted: int  # frames added to raise the delay (quiet ones, or a stall kept before FEC)
    decode_errors: int
    target_delay_ms: float  # the jitter buffer's current target

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(qualities: list[TalkerQuality]) -> dict[str, float | int]:
    """One speaker's figures over several streams (utterances): what a listener reports.

    Counts add up; loss % is over all slots; jitter is the worst stream's.
    """
    lost = sum(q.lost for q in qualities)
    slots = sum(q.slots for q in qualities)
    return {
        "packets": sum(q.packets for q in qualities),
        "loss_pct": round(100.0 * lost / slots, 2) if slots else 0.0,
        "jitter_ms": round(max((q.jitter_ms for q in qualities), default=0.0), 2),
        "concealed": sum(q.concealed for q in qualities),
        "fec_recovered": sum(q.fec_recovered for q in qualities),
        "fec_packets": sum(q.fec_packets for q in qualities),
        "late": sum(q.late for q in qualities),
        "stalls": sum(q.stalls for q in qualities),
        "faded": sum(q.faded for q in qualities),
        "dropped": sum(q.dropped for q in qualities),
    }


class FrameRecovery:
    """An Opus decoder that also repairs lost frames: FEC when there is some, else PLC.

    Counts what it did; one per talker (the decoder state carries over).
    """

    def __init__(self) -> None:
        self._decoder = OpusDecoder(DEFAULT_FRAME_MS)
        self._last_samples = frame_samples(DEFAULT_FRAME_MS)
        self.decoded = 0
        self.concealed = 0  # frames made by PLC, whatever the reason
        self.fec_recovered = 0
        self.fec_missing = 0  # recoveries asked for when the next packet had no FEC data
        self.decode_errors = 0

    def decode(self, packet: bytes) -> np.ndarray:
        try:
            pcm = self._decoder.decode_any(packet)
        except CodecError as exc:
            self._error(exc)
            return self.conceal()
        self._last_samples = len(pcm)
        self.decoded += 1
        return pcm

    def recover(self, next_packet: bytes) -> np.ndarray:
        """The lost frame before ``next_packet``: from its FEC data, else concealed."""
        if not packet_has_lbrr(next_packet):
            self.fec_missing += 1
            return self.conceal()
        samples = packet_samples(next_packet) or self._last_samples
        try:
            pcm = self._decoder.decode_fec(next_packet, samples)
        except CodecError as exc:
            self._error(exc)
            return self.conceal()
        self.fec_recovered += 1
        self._last_samples = len(pcm)
        return pcm

    def conceal(self) -> np.ndarray:
        self.concealed += 1
        try:
            return self._decoder.conceal(self._last_samples)
        except CodecError:
            return np.zeros(self._last_samples, dtype=np.float32)

    def play(self, out: JitterOutput) -> np.ndarray:
        """Decode what the jitter buffer chose for one slot."""
        payload = out.payload
        if payload is not None:
            if out.kind == "audio":
                return self.decode(payload)
            if out.kind == "fec":
                return self.recover(payload)
        return self.conceal()

    def _error(self, exc: CodecError) -> None:
        self.decode_errors += 1
        if self.decode_errors <= 3 or self.decode_errors % 100 == 0:
            logger.warning("undecodable packet: %s (errors so far: %d)", exc,
                           self.decode_errors)

    def close(self) -> None:
        self._decoder.close()


class TalkerStream:
    """Turns one talker's ``(seq, packet)`` arrivals into PCM pulled at any block size.

    The jitter buffer asks for a change of delay (``JitterOutput.resize``);
    the stream does it only in a pause: it drops a quiet frame (shrink), or
    plays a frame of silence where speech resumes after at least ``PAUSE_MS``
    of quiet frames (grow): a pause between phrases, not the gap between two
    syllables, where a time warp is heard; a growth for FEC (loss seen, see
    ``JitterBuffer.protecting``) takes the first quiet frame, as each loss
    meanwhile is concealed instead of rebuilt. No speech is cut or stretched
    to change the delay.
    """

    def __init__(self, *, min_delay_frames: int = 1, max_delay_frames: int = 10,
                 start_margin: float = 0.0, history: JitterBuffer | None = None) -> None:
        """``history``: the same talker's previous stream's ``jitter`` (see
        ``JitterBuffer.carry_history``)."""
        self.jitter = JitterBuffer(DEFAULT_FRAME_MS, min_delay_frames, max_delay_frames,
                                   start_margin=start_margin)
        if history is not None:
            self.jitter.carry_history(history)
        self._recovery = FrameRecovery()
        # The frame being played and how many of its samples were: read and written by the
        # output thread only (``PlaybackMixer.fill``'s lone-talker path cuts blocks from it).
        self.frame = _EMPTY
        self.position = 0
        self._packets = 0
        self._bad_packets = 0
        self._fec_packets = 0
        self._frames_played = 0
        self._dropped_quiet = 0
        self._inserted_quiet = 0
        self._quiet_samples = 0  # of the quiet frames played last, in a row

    @property
    def idle(self) -> bool:
        """Nothing buffered, nothing playing, nothing left of the last frame."""
        return self.jitter.idle and self.position >= len(self.frame)

    def put(self, seq: int, payload: bytes, now: float) -> bool:
        """One packet arrived at ``now``; False when it is not usable audio (dropped)."""
        samples = packet_samples(payload)
        frame_ms = _ALLOWED_SAMPLES.get(samples or 0)
        if frame_ms is None:
            self._bad_packets += 1
            if self._bad_packets in (1, 100):
                logger.warning("packet of %s samples dropped (not 10/20/40/60 ms)", samples)
            return False
        self._packets += 1
        fec = packet_has_lbrr(payload)
        self._fec_packets += fec
        self.jitter.put(seq, payload, now, frame_ms, fec=fec)
        return True

    def next_frame(self, now: float) -> np.ndarray | None:
        """The next whole frame (its own length), or None when there is nothing to play."""
        while True:
            out = self.jitter.pop(now)
            if out is None:
                return None
            self._frames_played += 1
            pcm = self._recovery.play(out)
            quiet = bool(len(pcm)) and float(np.dot(pcm, pcm)) < _QUIET_ENERGY * len(pcm)
            paused = self._quiet_samples
            self._quiet_samples = paused + len(pcm) if quiet else 0
            if out.kind != "audio" or not out.resize:
                return pcm
            if out.resize > 0 and not quiet and paused and (
                    paused >= _PAUSE_SAMPLES or self.jitter.protecting):
                # One frame of silence more at the end of a pause, just before
                # the speech resumes (where the delay change is least heard).
                self._quiet_samples = 0
                self.jitter.resized(+1)
                self._inserted_quiet += 1
                return np.concatenate((np.zeros(len(pcm), dtype=np.float32), pcm))
            if out.resize < 0 and quiet:
                self.jitter.resized(-1)
                self._dropped_quiet += 1  # and play the next frame in its place
                self._frames_played -= 1
                continue
            return pcm

    def add_to(self, out: np.ndarray, now: float, gain: float = 1.0) -> bool:
        """Mix the next ``len(out)`` samples into ``out`` (in place, no block-sized
        temporaries: this runs in the output callback); False when nothing played.
        Each frame is scaled and clipped to [-1, 1] once, when it starts: a lone
        talker at a gain of at most 1 needs no clipping of the mixed block."""
        filled = 0
        heard = False
        while filled < len(out):
            if self.position >= len(self.frame) and not self.start_frame(now, gain):
                break
            n = min(len(out) - filled, len(self.frame) - self.position)
            out[filled:filled + n] += self.frame[self.position:self.position + n]
            self.position += n
            filled += n
            heard = True
        return heard

    def start_frame(self, now: float, gain: float = 1.0) -> bool:
        """The next frame starts playing (``frame``, from ``position`` 0), scaled by
        ``gain`` and clipped to [-1, 1] once; False when there is none to play."""
        frame = self.next_frame(now)
        if frame is None:
            return False
        if gain != 1.0:
            frame *= gain  # a fresh frame: scaled once, in place
        clip_in_place(frame, frame)
        self.frame, self.position = frame, 0
        return True

    def read(self, count: int, now: float) -> np.ndarray | None:
        """``count`` samples (zero-padded when the stream runs out), or None if none."""
        out = np.zeros(count, dtype=np.float32)
        return out if self.add_to(out, now) else None

    def quality(self) -> TalkerQuality:
        stats = self.jitter.stats
        slots = stats.lost + self._recovery.decoded + self._recovery.decode_errors
        return TalkerQuality(
            packets=self._packets,
            bad_packets=self._bad_packets,
            fec_packets=self._fec_packets,
            frames_played=self._frames_played,
            slots=slots,
            lost=stats.lost,
            late=stats.late,
            loss_pct=100.0 * stats.lost / slots if slots else 0.0,
            recent_loss_pct=100.0 * stats.loss_fraction,
            jitter_ms=stats.jitter_ms,
            concealed=stats.concealed_plc + self._recovery.fec_missing,
            fec_recovered=self._recovery.fec_recovered,
            stalls=stats.stalls,
            faded=stats.faded,
            dropped=stats.dropped + self._dropped_quiet,
            inserted=self._inserted_quiet + stats.inserted,
            decode_errors=self._recovery.decode_errors,
            target_delay_ms=float(stats.target_delay_frames * self.jitter.frame_ms),
        )

    def close(self) -> None:
        self._recovery.close()


QUIET_RMS = 0.0056  # -45 dBFS: below this a frame may be dropped or doubled unheard
PAUSE_MS = 60
"""A growth of the delay for jitter waits for this much quiet in a row (3 frames of
20 ms): in ``bench/speech_e2e.py``'s runs a frame added after the first quiet frame fell
between syllables and cost PESQ 0.13 under jitter alone (docs/audio-quality.md)."""
_PAUSE_SAMPLES = PAUSE_MS * SAMPLE_RATE // 1000


_QUIET_ENERGY = QUIET_RMS * QUIET_RMS  # per sample


def is_quiet(pcm: np.ndarray) -> bool:
    """RMS under QUIET_RMS (one dot product: no temporaries, once per decoded frame;
    ``TalkerStream.next_frame`` has it inlined)."""
    return bool(len(pcm)) and float(np.dot(pcm, pcm)) < _QUIET_ENERGY * len(pcm)


def decode_utterance(packets: Mapping[int, bytes]) -> np.ndarray:
    """Decode a whole recorded utterance in seq order, repairing gaps as a live stream would."""
    if not packets:
        return _EMPTY.copy()
    recovery = FrameRecovery()
    out: list[np.ndarray] = []
    try:
        for seq in range(min(packets), max(packets) + 1):
            payload = packets.get(seq)
            if payload is not None:
                out.append(recovery.decode(payload))
            elif seq + 1 in packets:
                out.append(recovery.recover(packets[seq + 1]))
            else:
                out.append(recovery.conceal())
    finally:
        recovery.close()
    return np.concatenate(out) if out else _EMPTY.copy()
