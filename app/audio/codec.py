"""Opus encoder and decoder for 48 kHz mono speech frames.

A thin wrapper over ``opuslib_next``'s ctypes API. The libopus states are
owned through ``weakref.finalize`` so they are destroyed exactly once: by
``close()``, by garbage collection, or at interpreter exit while the modules
are still alive (opuslib's own ``__del__`` prints errors when it runs during
interpreter teardown, so its high-level classes are not used).

In-band FEC is switched on with ``OPUS_SET_INBAND_FEC`` but only costs bits
when ``packet_loss_perc`` > 0 (and libopus 1.3 makes none at 24 kbit/s up to
5); ``app.audio.fec_policy`` picks the setting from the listeners' loss.
"""

from __future__ import annotations

import ctypes
import logging
import weakref
from typing import Any

import numpy as np

from app.audio.constants import (
    ALLOWED_FRAME_MS,
    CHANNELS,
    DEFAULT_BITRATE,
    DEFAULT_FRAME_MS,
    DEFAULT_MAX_BANDWIDTH,
    MAX_OPUS_PACKET,
    SAMPLE_RATE,
    frame_samples,
)
from app.audio.levels import clip_in_place

logger = logging.getLogger(__name__)

try:  # libopus missing raises a bare Exception at import time
    import opuslib_next
    import opuslib_next.api.ctl as _ctl
    import opuslib_next.api.decoder as _dec
    import opuslib_next.api.encoder as _enc

    _IMPORT_ERROR: Exception | None = None
except Exception as exc:
    _IMPORT_ERROR = exc

# Longest duration an Opus packet can hold: 120 ms.
_MAX_PACKET_SAMPLES = SAMPLE_RATE * 120 // 1000
_INT16_SCALE = 32767.0
_ALLOWED_SAMPLES = frozenset(frame_samples(ms) for ms in ALLOWED_FRAME_MS)
_INT16_PTR = ctypes.POINTER(ctypes.c_int16)
_FLOAT_PTR = ctypes.POINTER(ctypes.c_float)

OPUS_BANDWIDTHS: dict[str, int] = {  # OPUS_BANDWIDTH_* of libopus's opus_defines.h
    "narrowband": 1101,  # 4 kHz
    "mediumband": 1102,  # 6 kHz
    "wideband": 1103,  # 8 kHz
    "superwideband": 1104,  # 12 kHz
    "fullband": 1105,  # 20 kHz
}


class CodecError(ValueError):
    """Wrong frame size, corrupt packet, closed codec or libopus unavailable."""


def _require_opus() -> None:
    if _IMPORT_ERROR is not None:
        raise CodecError(f"libopus is not available: {_IMPORT_ERROR}")


def _opus_message(exc: Exception) -> str:
    try:
        return str(exc)
    except Exception:  # strerror lookup itself failed
        return repr(exc)


def _strerror(code: int) -> str:
    return _opus_message(opuslib_next.OpusError(code))


def _destroy(destroy: Any, state: Any, alive: list[bool]) -> None:
    """The finalizer of a codec state: marks it dead (``alive``, read for each frame:
    cheaper than ``weakref.finalize.alive``), then frees it."""
    alive[0] = False
    destroy(state)


def _check_loss(pct: int) -> int:
    pct = int(pct)
    if not 0 <= pct <= 100:
        raise ValueError(f"expected loss must be 0..100 %, got {pct}")
    return pct


def float_to_int16(pcm: np.ndarray) -> np.ndarray:
    """Float PCM in [-1, 1] to int16, clipping out-of-range samples."""
    scaled = np.clip(np.asarray(pcm, dtype=np.float32), -1.0, 1.0) * _INT16_SCALE
    return np.round(scaled).astype(np.int16)


def _toc_samples_per_frame(toc: int) -> int:
    """Samples per frame at 48 kHz that a TOC byte announces (RFC 6716 §3.1; the same
    arithmetic as libopus' ``opus_packet_get_samples_per_frame``)."""
    if toc & 0x80:  # CELT-only: 2.5, 5, 10, 20 ms
        return (SAMPLE_RATE << ((toc >> 3) & 3)) // 400
    if toc & 0x60 == 0x60:  # hybrid: 10, 20 ms
        return SAMPLE_RATE // 50 if toc & 0x08 else SAMPLE_RATE // 100
    size = (toc >> 3) & 3  # SILK-only: 10, 20, 40, 60 ms
    return SAMPLE_RATE * 60 // 1000 if size == 3 else (SAMPLE_RATE << size) // 100


_SAMPLES_PER_FRAME = tuple(_toc_samples_per_frame(toc) for toc in range(256))


def packet_samples(packet: bytes) -> int | None:
    """Samples (at 48 kHz) an Opus packet holds, or None when it is not a valid packet.

    Read from the TOC byte in Python (what libopus' ``opus_packet_get_nb_frames`` and
    ``opus_packet_get_samples_per_frame`` compute): no ctypes call and no copy of the
    payload for each received packet."""
    if not packet:
        return None
    toc = packet[0]
    code = toc & 3
    if code == 0:
        frames = 1
    elif code != 3:
        frames = 2
    elif len(packet) < 2:
        return None
    else:
        frames = packet[1] & 0x3F
    return frames * _SAMPLES_PER_FRAME[toc]


def packet_ms(packet: bytes) -> float | None:
    """The duration an Opus packet holds in milliseconds, or None."""
    samples = packet_samples(packet)
    return None if samples is None else samples * 1000.0 / SAMPLE_RATE


def _lbrr_shift(toc: int) -> int:
    """Where a TOC byte's packet has its LBRR flag: the bit (from the right) of the first
    frame's first byte, or -1 when it can carry none (CELT-only, code 3)."""
    if toc >> 3 >= 16 or toc & 3 == 3:
        return -1
    per_frame = (480, 960, 1920, 2880)[(toc >> 3) % 4] if toc >> 3 < 12 \
        else (480, 960)[(toc >> 3) % 2]
    silk_frames = max(1, per_frame // 960)
    return 7 - silk_frames


_LBRR_SHIFT = tuple(_lbrr_shift(toc) for toc in range(256))


def packet_has_lbrr(packet: bytes) -> bool:
    """True when a mono Opus packet carries in-band FEC (SILK LBRR) data.

    The same test as libopus 1.5's ``opus_packet_has_lbrr`` (1.3 lacks it):
    in SILK and hybrid packets the first range-coded symbols are one VAD flag
    per 20 ms SILK frame, then the LBRR flag, each a 1-bit symbol of
    probability 1/2, which is exactly the next bit of the first frame byte.
    Handles the one-frame layout (TOC code 0) our encoder produces and the
    first frame of code 1/2 packets; CELT-only packets never carry FEC.
    Where the bit is comes from a table by TOC byte (once per received packet).
    """
    if len(packet) < 2:
        return False
    toc = packet[0]
    shift = _LBRR_SHIFT[toc]
    if shift < 0:
        return False
    if toc & 3 == 2:  # a length byte (or two) before the first frame
        first = 2 if packet[1] < 252 else 3
        if len(packet) <= first:
            return False
        return bool((packet[first] >> shift) & 1)
    return bool((packet[1] >> shift) & 1)


class OpusEncoder:
    """Encodes one frame of float32 PCM per call into one Opus packet."""

    def __init__(
        self,
        frame_ms: int = DEFAULT_FRAME_MS,
        bitrate: int = DEFAULT_BITRATE,
        fec: bool = True,
        expected_loss_pct: int = 0,
        max_bandwidth: str = DEFAULT_MAX_BANDWIDTH,
    ) -> None:
        _require_opus()
        if max_bandwidth not in OPUS_BANDWIDTHS:
            raise CodecError(f"unknown Opus bandwidth {max_bandwidth!r} "
                             f"(one of {', '.join(OPUS_BANDWIDTHS)})")
        self._frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        self._expected_loss = _check_loss(expected_loss_pct)
        try:
            state = _enc.create_state(SAMPLE_RATE, CHANNELS, opuslib_next.APPLICATION_VOIP)
        except opuslib_next.OpusError as exc:
            raise CodecError(f"cannot create Opus encoder: {_opus_message(exc)}") from exc
        self._state: Any = state
        self._alive = [True]  # False once the state is freed (see _destroy)
        self._finalizer = weakref.finalize(self, _destroy, _enc.destroy, state, self._alive)
        self._ctl(_ctl.set_bitrate, int(bitrate))
        self._ctl(_ctl.set_inband_fec, 1 if fec else 0)
        self._ctl(_ctl.set_max_bandwidth, OPUS_BANDWIDTHS[max_bandwidth])
        self.max_bandwidth = max_bandwidth
        self._ctl(_ctl.set_packet_loss_perc, self._expected_loss)
        self._lookahead = int(self._ctl(_ctl.get_lookahead))
        self._out = ctypes.create_string_buffer(MAX_OPUS_PACKET)
        self._pcm = np.empty(self._frame_samples, dtype=np.float32)  # the frame, clipped
        self._pcm_ptr = self._pcm.ctypes.data_as(_FLOAT_PTR)  # made once, not per frame
        logger.debug(
            "Opus encoder %d ms, %d bit/s, %s at most, fec=%s, loss=%d%%, lookahead=%d",
            frame_ms, bitrate, max_bandwidth, fec, self._expected_loss, self._lookahead,
        )

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    @property
    def frame_samples(self) -> int:
        return self._frame_samples

    @property
    def lookahead_samples(self) -> int:
        """Encoder algorithmic delay (look-ahead) in samples at 48 kHz."""
        return self._lookahead

    @property
    def expected_loss(self) -> int:
        return self._expected_loss

    @property
    def fec(self) -> bool:
        return bool(self._ctl(_ctl.get_inband_fec))

    @property
    def closed(self) -> bool:
        return not self._alive[0]

    def _ctl(self, request: Any, value: int | None = None) -> Any:
        if not self._alive[0]:
            raise CodecError("encoder is closed")
        return _enc.encoder_ctl(self._state, request, value)

    def set_expected_loss(self, pct: int) -> None:
        """Set OPUS packet_loss_perc (0..100); FEC redundancy grows with it."""
        pct = _check_loss(pct)
        if pct != self._expected_loss:
            self._ctl(_ctl.set_packet_loss_perc, pct)
            self._expected_loss = pct
            logger.debug("expected loss set to %d%%", pct)

    def set_bitrate(self, bitrate: int) -> None:
        self._ctl(_ctl.set_bitrate, int(bitrate))

    def reset(self) -> None:
        """Forget the signal history (start of a new utterance)."""
        self._ctl(_ctl.reset_state)

    def encode(self, pcm: np.ndarray) -> bytes:
        """Encode exactly ``frame_samples`` float32 samples into one packet."""
        if not self._alive[0]:
            raise CodecError("encoder is closed")
        arr = np.asarray(pcm)
        if arr.ndim != 1 or arr.shape[0] != self._frame_samples:
            raise CodecError(
                f"encoder expects {self._frame_samples} mono samples "
                f"({self._frame_ms} ms), got shape {arr.shape}"
            )
        # float input as libopus takes it (no int16 round trip: one clip into a buffer
        # kept for the purpose instead of four temporaries per frame)
        data = self._pcm
        if len(data) != arr.shape[0]:
            data = self._pcm = np.empty(arr.shape[0], dtype=np.float32)
            self._pcm_ptr = data.ctypes.data_as(_FLOAT_PTR)
        clip_in_place(arr, data)
        out = self._out
        n = _enc.libopus_encode_float(
            self._state,
            self._pcm_ptr,
            arr.shape[0],
            out,
            MAX_OPUS_PACKET,
        )
        if n < 0:
            raise CodecError(f"Opus encode failed: {_strerror(n)}")
        # a char array's slice is bytes, NULs included (typeshed says list): no ctypes call
        return out[:n]  # type: ignore[return-value]

    def encode_any(self, pcm: np.ndarray) -> bytes:
        """Encode one frame of any allowed duration (a talker changing its frame size)."""
        arr = np.asarray(pcm)
        if arr.ndim != 1 or arr.shape[0] not in _ALLOWED_SAMPLES:
            raise CodecError(f"not a frame of {ALLOWED_FRAME_MS} ms: shape {arr.shape}")
        saved = self._frame_samples
        self._frame_samples = arr.shape[0]
        try:
            return self.encode(arr)
        finally:
            self._frame_samples = saved

    def close(self) -> None:
        """Release the libopus state now (idempotent)."""
        self._finalizer()

    def __enter__(self) -> OpusEncoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class OpusDecoder:
    """Decodes Opus packets of ``frame_ms`` into float32 PCM frames."""

    def __init__(self, frame_ms: int = DEFAULT_FRAME_MS) -> None:
        _require_opus()
        self._frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        try:
            state = _dec.create_state(SAMPLE_RATE, CHANNELS)
        except opuslib_next.OpusError as exc:
            raise CodecError(f"cannot create Opus decoder: {_opus_message(exc)}") from exc
        self._state: Any = state
        self._alive = [True]  # False once the state is freed (see _destroy)
        self._finalizer = weakref.finalize(self, _destroy, _dec.destroy, state, self._alive)
        # Decoded into once per call, then the frame is copied out: one
        # allocation of the frame's size per decode (the output callback's path).
        self._pcm = np.empty(_MAX_PACKET_SAMPLES * CHANNELS, dtype=np.float32)
        self._pcm_ptr = self._pcm.ctypes.data_as(_FLOAT_PTR)  # made once, not per decode

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    @property
    def frame_samples(self) -> int:
        return self._frame_samples

    @property
    def closed(self) -> bool:
        return not self._alive[0]

    def _decode(self, packet: bytes, max_samples: int, fec: bool) -> np.ndarray:
        if not self._alive[0]:
            raise CodecError("decoder is closed")
        out = self._pcm
        n = _dec.libopus_decode_float(
            self._state,
            packet,
            len(packet),
            self._pcm_ptr,
            max_samples,
            1 if fec else 0,
        )
        if n < 0:
            raise CodecError(f"corrupt Opus packet: {_strerror(n)}")
        return out[: n * CHANNELS].copy()

    def decode(self, packet: bytes) -> np.ndarray:
        """Decode one packet; it must hold exactly one frame of ``frame_ms``."""
        if not packet:
            raise CodecError("empty packet (use conceal() for a lost frame)")
        pcm = self._decode(bytes(packet), _MAX_PACKET_SAMPLES, False)
        if pcm.shape[0] != self._frame_samples:
            self.reset()  # the state now holds a wrong-sized frame
            raise CodecError(
                f"packet holds {pcm.shape[0]} samples, decoder expects "
                f"{self._frame_samples} ({self._frame_ms} ms)"
            )
        return pcm

    def decode_any(self, packet: bytes) -> np.ndarray:
        """Decode one packet of any duration (a talker may change its frame size).

        ``_decode`` inlined: this is the output callback's once-per-frame call."""
        if not packet:
            raise CodecError("empty packet (use conceal() for a lost frame)")
        if not self._alive[0]:
            raise CodecError("decoder is closed")
        n = _dec.libopus_decode_float(self._state, bytes(packet), len(packet),
                                      self._pcm_ptr, _MAX_PACKET_SAMPLES, 0)
        if n < 0:
            raise CodecError(f"corrupt Opus packet: {_strerror(n)}")
        return self._pcm[: n * CHANNELS].copy()

    def decode_fec(self, next_packet: bytes, samples: int | None = None) -> np.ndarray:
        """Recover the lost frame *before* ``next_packet`` from its in-band FEC.

        ``samples`` is the lost frame's length (default: ``frame_samples``).
        When the packet carries no FEC data libopus falls back to concealment,
        so this never returns less than a frame (``packet_has_lbrr`` tells
        which). Decode ``next_packet`` itself normally afterwards.
        """
        if not next_packet:
            raise CodecError("empty packet")
        return self._decode(bytes(next_packet), samples or self._frame_samples, True)

    def conceal(self, samples: int | None = None) -> np.ndarray:
        """Packet-loss concealment for one lost frame of ``samples`` (default: a frame)."""
        # decode(None, n) raises in opuslib; an empty buffer means "lost".
        return self._decode(b"", samples or self._frame_samples, False)

    def reset(self) -> None:
        if self._alive[0]:
            _dec.decoder_ctl(self._state, _ctl.reset_state)

    def close(self) -> None:
        """Release the libopus state now (idempotent)."""
        self._finalizer()

    def __enter__(self) -> OpusDecoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
