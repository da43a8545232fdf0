"""WAV reading (many encodings) and writing."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from app.audio.wavio import AudioFileError, read_wav, write_wav


def tone(rate: int, seconds: float = 0.25, freq: float = 440.0, level: float = 0.5
         ) -> np.ndarray:
    return level * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def riff(path: Path, tag: int, channels: int, rate: int, bits: int, data: bytes,
         extensible: bool = False) -> None:
    block = channels * bits // 8
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        sub_guid = struct.pack("<H", tag) + guid_tail
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits) \
            + struct.pack("<HHI", 22, bits, 0) + sub_guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd chunk with pad byte
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def stdlib_wav(path: Path, channels: int, rate: int, width: int, frames: bytes) -> None:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(channels)
        wf.setsampwidth(width)
        wf.setframerate(rate)
        wf.writeframes(frames)


def expected(rate: int) -> np.ndarray:
    n = -(-round(rate * 0.25) * 48000 // rate)
    return 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(n) / 48000)


def check(pcm: np.ndarray, rate: int, tol: float = 2e-3) -> None:
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    ideal = expected(rate)
    assert len(pcm) == len(ideal)
    edge = 200
    assert np.max(np.abs(pcm[edge:-edge] - ideal[edge:-edge])) < tol


@pytest.mark.parametrize("rate", [48000, 44100, 16000, 8000])
def test_int16_mono_any_rate(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "a.wav"
    stdlib_wav(path, 1, rate, 2, (tone(rate) * 32767).astype("<i2").tobytes())
    check(read_wav(path), rate)


def test_int16_stereo_is_averaged(tmp_path: Path) -> None:
    left, right = tone(48000) * 1.5, tone(48000) * 0.5  # average is the reference tone
    frames = np.stack([left, right], axis=1) * 32767
    path = tmp_path / "s.wav"
    stdlib_wav(path, 2, 48000, 2, np.clip(frames, -32768, 32767).astype("<i2").tobytes())
    check(read_wav(path), 48000)


def test_uint8(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    stdlib_wav(path, 1, 48000, 1, np.round(tone(48000) * 127 + 128).astype(np.uint8).tobytes())
    check(read_wav(path), 48000, tol=1e-2)


def test_int24_and_int32(tmp_path: Path) -> None:
    ints = np.round(tone(44100) * (2**23 - 1)).astype("<i4")
    b24 = np.frombuffer(ints.tobytes(), dtype=np.uint8).reshape(-1, 4)[:, :3].tobytes()
    stdlib_wav(tmp_path / "24.wav", 1, 44100, 3, b24)
    check(read_wav(tmp_path / "24.wav"), 44100)
    i32 = np.round(tone(44100) * (2**31 - 1)).astype("<i4").tobytes()
    stdlib_wav(tmp_path / "32.wav", 1, 44100, 4, i32)
    check(read_wav(tmp_path / "32.wav"), 44100)


@pytest.mark.parametrize(("bits", "extensible"), [(32, False), (64, False), (32, True)])
def test_float_wav_via_riff_parser(tmp_path: Path, bits: int, extensible: bool) -> None:
    path = tmp_path / "f.wav"
    samples = np.stack([tone(44100), tone(44100)], axis=1).astype(f"<f{bits // 8}")
    riff(path, 3, 2, 44100, bits, samples.tobytes(), extensible=extensible)
    check(read_wav(path), 44100)


def test_extensible_int16(tmp_path: Path) -> None:
    path = tmp_path / "e.wav"
    riff(path, 1, 1, 48000, 16, (tone(48000) * 32767).astype("<i2").tobytes(), extensible=True)
    check(read_wav(path), 48000)


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    pcm = tone(48000).astype(np.float32)
    pcm[10] = 3.0  # clipped, not wrapped
    write_wav(path, pcm)
    with wave.open(str(path), "rb") as wf:
        assert (wf.getnchannels(), wf.getsampwidth(), wf.getframerate()) == (1, 2, 48000)
    back = read_wav(path)
    assert back[10] == pytest.approx(1.0, abs=1e-4)
    pcm[10] = 1.0
    np.testing.assert_allclose(back, pcm, atol=1 / 32767)


def test_write_rejects_stereo(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_wav(tmp_path / "x.wav", np.zeros((10, 2), np.float32))


@pytest.mark.parametrize("content", [b"", b"hello, not audio at all" * 10,
                                     b"RIFF\x10\x00\x00\x00WAVEjunk", b"\x89PNG\r\n\x1a\n" * 8])
def test_non_audio_file_raises_audio_file_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError):
        read_wav(path)


def test_unsupported_encoding_raises(tmp_path: Path) -> None:
    path = tmp_path / "alaw.wav"
    riff(path, 6, 1, 8000, 8, b"\x00" * 100)  # A-law
    with pytest.raises(AudioFileError, match="unsupported"):
        read_wav(path)
