"""Regenerate the demo clips: ``python resources/clips/generate.py``.

Speech comes from espeak-ng when it is installed (``apt-get install espeak-ng``),
resampled to 48 kHz mono 16-bit; without it, short synthesized chirps are
written instead. Each clip stays under 200 KB (about two seconds).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 48000
MAX_SECONDS = 2.0
HERE = Path(__file__).resolve().parent
CLIPS = {
    "alice_radio_check": ("en-us+f3", 200, "Alice here. Radio check."),
    "carol_all_quiet": ("en+f4", 185, "Night shift: all quiet here."),
    "bob_zh_received": ("cmn", 170, "收到，马上到。"),
}


def resample(pcm: np.ndarray, rate: int) -> np.ndarray:
    if rate == RATE:
        return pcm
    positions = np.arange(int(len(pcm) * RATE / rate)) * rate / RATE
    return np.interp(positions, np.arange(len(pcm)), pcm).astype(np.float32)


def speak(voice: str, speed: int, text: str) -> np.ndarray | None:
    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
                       check=True, capture_output=True)
        with wave.open(str(path)) as wav:
            rate = wav.getframerate()
            data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return trim(resample(data.astype(np.float32) / 32768.0, rate))


def trim(pcm: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop leading and trailing silence, keeping 50 ms either side."""
    loud = np.flatnonzero(np.abs(pcm) > threshold)
    if loud.size == 0:
        return pcm
    margin = RATE // 20
    return pcm[max(0, loud[0] - margin): loud[-1] + margin]


def chirp(seed: int) -> np.ndarray:
    t = np.arange(int(1.2 * RATE)) / RATE
    start, end = 300 + 120 * seed, 900 + 150 * seed
    phase = 2 * np.pi * (start * t + (end - start) * t * t / (2 * t[-1]))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (0.4 * np.sin(phase) * envelope).astype(np.float32)


def write(path: Path, pcm: np.ndarray) -> None:
    pcm = pcm[: int(MAX_SECONDS * RATE)]
    peak = float(np.max(np.abs(pcm))) or 1.0
    pcm = pcm * (0.7 / peak)
    fade = min(len(pcm), 480)
    pcm[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())


def main() -> int:
    for seed, (name, (voice, speed, text)) in enumerate(CLIPS.items()):
        pcm = speak(voice, speed, text)
        write(HERE / f"{name}.wav", chirp(seed) if pcm is None else pcm)
        print(name, (HERE / f"{name}.wav").stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
