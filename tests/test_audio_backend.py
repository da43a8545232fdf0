"""Device selection, rate limiting and level helpers of the device boundary."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.backend import AudioDeviceError, DeviceInfo, RateLimiter, select_device
from app.audio.levels import SILENCE_DBFS, Level, measure, to_dbfs

DEVICES = [
    DeviceInfo(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2, 48000.0, True, True),
    DeviceInfo(1, "HDMI 0", 0, 8, 48000.0),
    DeviceInfo(2, "USB Headset Mic", 1, 0, 44100.0),
    DeviceInfo(3, "usb", 1, 2, 48000.0),
]


@pytest.mark.parametrize(
    ("spec", "direction", "index"),
    [
        (None, "input", 0),
        (None, "output", 0),
        (2, "input", 2),
        ("hdmi", "output", 1),
        ("USB", "input", 3),  # exact (case-insensitive) beats substring
        ("headset", "input", 2),
        ("  alc3246 ", "output", 0),
    ],
)
def test_select_device(spec: int | str | None, direction: str, index: int) -> None:
    assert select_device(DEVICES, spec, direction).index == index  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("devices", "spec", "direction", "message"),
    [
        ([], None, "input", "no input device available"),
        ([], None, "output", "no output device available"),
        (DEVICES[1:2], None, "input", "no input device available"),
        (DEVICES, "bluetooth", "output", "device 'bluetooth' not found"),
        (DEVICES, 9, "input", "device '9' not found"),
        (DEVICES, 1, "input", "device 1 has no input channels"),
        (DEVICES, "HDMI", "input", "device 'HDMI' not found"),
    ],
)
def test_select_device_errors(devices: list[DeviceInfo], spec: int | str | None,
                              direction: str, message: str) -> None:
    with pytest.raises(AudioDeviceError, match=message):
        select_device(devices, spec, direction)  # type: ignore[arg-type]


def test_default_falls_back_to_first_usable_device() -> None:
    devices = [DeviceInfo(4, "a", 0, 2, 48000.0), DeviceInfo(5, "b", 1, 0, 48000.0)]
    assert select_device(devices, None, "input").index == 5


def test_rate_limiter() -> None:
    limiter = RateLimiter(5.0)
    assert limiter.allow(0.0) == 0
    assert limiter.allow(1.0) is None
    assert limiter.allow(4.9) is None
    assert limiter.allow(5.0) == 2
    assert limiter.allow(5.1) is None


@pytest.mark.parametrize(
    ("pcm", "rms", "peak"),
    [
        (np.zeros(960, np.float32), 0.0, 0.0),
        (np.full(960, 0.5, np.float32), 0.5, 0.5),
        (np.array([1.0, -1.0, 1.0, -1.0], np.float32), 1.0, 1.0),
        (np.array([3.0, -3.0], np.float32), 1.0, 1.0),  # clipped to full scale
        (np.zeros(0, np.float32), 0.0, 0.0),
    ],
)
def test_measure(pcm: np.ndarray, rms: float, peak: float) -> None:
    level = measure(pcm)
    assert isinstance(level, Level)
    assert level == pytest.approx((rms, peak))


def test_sine_rms_and_dbfs() -> None:
    sine = np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000).astype(np.float32)
    level = measure(sine)
    assert level.rms == pytest.approx(1 / np.sqrt(2), abs=1e-3)
    assert to_dbfs(level.rms) == pytest.approx(-3.01, abs=0.01)
    assert to_dbfs(1.0) == 0.0
    assert to_dbfs(0.0) == SILENCE_DBFS
