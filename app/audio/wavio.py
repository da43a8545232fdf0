"""WAV files to and from the pipeline's 48 kHz mono float32 PCM.

Reading accepts integer PCM of 8, 16, 24 or 32 bits and IEEE float of 32 or
64 bits, plain or WAVE_FORMAT_EXTENSIBLE, any rate and channel count; the
channels are averaged and the rate converted to 48 kHz. The stdlib ``wave``
module reads plain integer PCM; float and extensible files (which ``wave``
rejects on Python 3.11) go through a small RIFF chunk parser. Writing
produces 48 kHz mono 16-bit PCM.
"""

from __future__ import annotations

import logging
import os
import struct
import wave
from dataclasses import dataclass

import numpy as np

from app.audio.codec import float_to_int16
from app.audio.constants import SAMPLE_RATE
from app.audio.resample import resample

logger = logging.getLogger(__name__)

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_MAX_CHANNELS = 32

PathLike = str | os.PathLike[str]


class AudioFileError(ValueError):
    """The file is not a WAV file this module can read."""


@dataclass(frozen=True, slots=True)
class _Format:
    tag: int
    channels: int
    rate: int
    bits: int


def read_wav(path: PathLike) -> np.ndarray:
    """Read a WAV file as 48 kHz mono float32 in [-1, 1].

    Raises AudioFileError when the file is not a readable WAV file and
    OSError when it cannot be opened.
    """
    try:
        with wave.open(os.fspath(path), "rb") as wf:
            fmt = _Format(_FORMAT_PCM, wf.getnchannels(), wf.getframerate(),
                          wf.getsampwidth() * 8)
            data = wf.readframes(wf.getnframes())
    except (wave.Error, EOFError, struct.error) as exc:
        logger.debug("wave module cannot read %s (%s); parsing RIFF chunks", path, exc)
        fmt, data = _parse_riff(path)
    pcm = _to_float(data, fmt)
    if fmt.rate != SAMPLE_RATE:
        pcm = resample(pcm, fmt.rate, SAMPLE_RATE)
    return np.clip(pcm, -1.0, 1.0).astype(np.float32)


def write_wav(path: PathLike, pcm: np.ndarray) -> None:
    """Write 48 kHz mono 16-bit PCM (samples outside [-1, 1] are clipped)."""
    samples = np.asarray(pcm, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono 1-D PCM, got shape {samples.shape}")
    with wave.open(os.fspath(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(float_to_int16(samples).astype("<i2").tobytes())


def _parse_riff(path: PathLike) -> tuple[_Format, bytes]:
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise AudioFileError(f"{os.fspath(path)!r} is not a WAV file")
    fmt: _Format | None = None
    data: bytes | None = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id = raw[pos:pos + 4]
        (size,) = struct.unpack_from("<I", raw, pos + 4)
        body = raw[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body, path)
        elif chunk_id == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise AudioFileError(f"{os.fspath(path)!r}: WAV file without fmt or data chunk")
    return fmt, data


def _parse_fmt(body: bytes, path: PathLike) -> _Format:
    if len(body) < 16:
        raise AudioFileError(f"{os.fspath(path)!r}: truncated fmt chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _FORMAT_EXTENSIBLE:
        if len(body) < 26:
            raise AudioFileError(f"{os.fspath(path)!r}: truncated extensible fmt chunk")
        (tag,) = struct.unpack_from("<H", body, 24)  # first field of the sub-format GUID
    return _Format(tag, channels, rate, bits)


def _to_float(data: bytes, fmt: _Format) -> np.ndarray:
    if not 1 <= fmt.channels <= _MAX_CHANNELS:
        raise AudioFileError(f"unsupported channel count {fmt.channels}")
    if not 1000 <= fmt.rate <= 768_000:
        raise AudioFileError(f"unsupported sample rate {fmt.rate}")
    width = fmt.bits // 8
    if fmt.tag == _FORMAT_FLOAT and fmt.bits in (32, 64):
        samples = np.frombuffer(_whole(data, width * fmt.channels), dtype=f"<f{width}")
        pcm: np.ndarray = np.nan_to_num(samples.astype(np.float64))
    elif fmt.tag == _FORMAT_PCM and fmt.bits == 8:
        pcm = (np.frombuffer(_whole(data, fmt.channels), dtype=np.uint8) - 128.0) / 128.0
    elif fmt.tag == _FORMAT_PCM and fmt.bits in (16, 32):
        ints = np.frombuffer(_whole(data, width * fmt.channels), dtype=f"<i{width}")
        pcm = ints / float(2 ** (fmt.bits - 1))
    elif fmt.tag == _FORMAT_PCM and fmt.bits == 24:
        raw = np.frombuffer(_whole(data, 3 * fmt.channels), dtype=np.uint8).reshape(-1, 3)
        ints = (raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8)
                | (raw[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        pcm = ints / float(1 << 23)
    else:
        raise AudioFileError(f"unsupported WAV encoding: format {fmt.tag:#06x}, {fmt.bits} bits")
    return pcm.reshape(-1, fmt.channels).mean(axis=1).astype(np.float32)


def _whole(data: bytes, frame_bytes: int) -> bytes:
    """Drop a trailing partial frame (truncated files)."""
    return data[: len(data) - len(data) % frame_bytes]
