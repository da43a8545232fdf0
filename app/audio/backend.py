"""The sound-card boundary: a small interface that every back-end implements.

Callbacks have sounddevice's shape so the same pipeline code serves the real
device (``sd_backend``) and the real-time fake (``clocked``):

- an ``InputCallback`` receives one captured block, a ``(frames,)`` float32
  array at 48 kHz that it may keep only by copying;
- an ``OutputCallback`` fills a ``(frames,)`` float32 block in place (it is
  zeroed before the call).

Both run on the back-end's audio thread: they must be quick and must not
block. Device trouble is reported as ``AudioDeviceError``: raised by
``open_*``/``start`` and passed to ``on_error`` when a running stream dies. Its
message is English (logs, the CLI); its ``reason`` (a :class:`DeviceErrorReason`),
``device`` and ``detail`` let an interface word it in its own language.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

InputCallback = Callable[[np.ndarray], None]
OutputCallback = Callable[[np.ndarray], None]
DeviceSpec = int | str | None
Direction = Literal["input", "output"]


class DeviceErrorReason(enum.StrEnum):
    """Why a device cannot be used, for an interface to word in its own language."""

    NO_DEVICE = "no_device"  # no device at all for the direction
    NOT_FOUND = "not_found"  # the chosen device is not there (any more)
    NO_CHANNELS = "no_channels"  # the chosen device has none for the direction
    UNAVAILABLE = "unavailable"  # busy (another program) or refused by the system
    UNPLUGGED = "unplugged"  # a running stream stopped on its own
    UNSUPPORTED = "unsupported"  # refused sample rate, format, channel count or buffer
    AUDIO_SYSTEM = "audio_system"  # the audio library is missing or fails as a whole
    CLOSED = "closed"  # the stream was closed before this use
    OTHER = "other"  # see the message


class AudioDeviceError(RuntimeError):
    """No usable device, device not found, refused settings, or unplugged.

    ``str(error)`` is the English message given. ``reason`` says why as data;
    ``device`` names the device ("" when none is concerned or known) and
    ``direction`` its use (None when unknown); ``detail`` holds the audio
    library's own words where they say more than the reason ("" when they do
    not: e.g. PortAudio's "Device unavailable" beside ``UNAVAILABLE``).
    """

    def __init__(self, message: str, reason: DeviceErrorReason = DeviceErrorReason.OTHER,
                 *, device: str = "", direction: Direction | None = None,
                 detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.device = device
        self.direction = direction
        self.detail = detail


ErrorCallback = Callable[[AudioDeviceError], None]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One audio device as the back-end sees it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def channels(self, direction: Direction) -> int:
        return self.max_input_channels if direction == "input" else self.max_output_channels


@runtime_checkable
class AudioStream(Protocol):
    """A running (or startable) device stream."""

    @property
    def active(self) -> bool: ...

    @property
    def xruns(self) -> int:
        """Input overflows or output underflows reported so far."""
        ...

    @property
    def blocks(self) -> int:
        """Callbacks made so far (a watchdog can tell a dead device by it)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AudioBackend(Protocol):
    """Lists devices and opens 48 kHz mono float32 callback streams."""

    name: str

    def list_devices(self) -> list[DeviceInfo]: ...

    def open_input(self, callback: InputCallback, blocksize: int,
                   device: DeviceSpec = None,
                   on_error: ErrorCallback | None = None) -> AudioStream: ...

    def open_output(self, callback: OutputCallback, blocksize: int,
                    device: DeviceSpec = None,
                    on_error: ErrorCallback | None = None) -> AudioStream: ...


class StreamOpener:
    """``open_input``/``open_output`` once: a back-end subclasses this and implements ``_open``."""

    def open_input(self, callback: InputCallback, blocksize: int,
                   device: DeviceSpec = None,
                   on_error: ErrorCallback | None = None) -> AudioStream:
        return self._open("input", callback, blocksize, device, on_error)

    def open_output(self, callback: OutputCallback, blocksize: int,
                    device: DeviceSpec = None,
                    on_error: ErrorCallback | None = None) -> AudioStream:
        return self._open("output", callback, blocksize, device, on_error)

    def _open(self, direction: Direction, callback: Callable[[np.ndarray], None],
              blocksize: int, device: DeviceSpec,
              on_error: ErrorCallback | None) -> AudioStream:
        raise NotImplementedError


def select_device(devices: list[DeviceInfo], spec: DeviceSpec,
                  direction: Direction) -> DeviceInfo:
    """Pick the device for ``spec``: None (default), an index, or a name.

    Names match exactly first, then as a case-insensitive substring. Raises
    AudioDeviceError with a message fit for the user.
    """
    usable = [d for d in devices if d.channels(direction) > 0]
    if not usable:
        raise AudioDeviceError(f"no {direction} device available",
                               DeviceErrorReason.NO_DEVICE, direction=direction)
    if spec is None:
        for d in usable:
            if (d.is_default_input if direction == "input" else d.is_default_output):
                return d
        return usable[0]
    if isinstance(spec, int):
        for d in usable:
            if d.index == spec:
                return d
        for d in devices:
            if d.index == spec:
                raise AudioDeviceError(f"device {spec} has no {direction} channels",
                                       DeviceErrorReason.NO_CHANNELS, device=d.name,
                                       direction=direction)
        raise AudioDeviceError(f"device '{spec}' not found", DeviceErrorReason.NOT_FOUND,
                               device=str(spec), direction=direction)
    wanted = spec.strip().casefold()
    exact = [d for d in usable if d.name.casefold() == wanted]
    partial = [d for d in usable if wanted in d.name.casefold()]
    if exact or partial:
        return (exact or partial)[0]
    raise AudioDeviceError(f"device '{spec}' not found", DeviceErrorReason.NOT_FOUND,
                           device=spec, direction=direction)


class RateLimiter:
    """Lets an event through at most once per ``interval`` seconds.

    ``allow(now)`` returns how many events were suppressed since the last one
    let through (0 or more), or None when this one is suppressed.
    """

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def allow(self, now: float) -> int | None:
        if now - self._last >= self.interval:
            self._last = now
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed
        self._suppressed += 1
        return None
