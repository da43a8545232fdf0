"""Real sound devices through sounddevice (PortAudio), in callback mode.

Streams are mono float32 with ``latency='low'`` at 48 kHz; a device that
refuses 48 kHz is opened at its default rate and converted (see
``rate_adapt``), so callbacks always see 48 kHz blocks of the requested size.
Every PortAudio failure becomes an ``AudioDeviceError``: a missing library
("PortAudio library not found"), no device ("Error querying device -1"), a
refused setting; its ``reason`` follows PortAudio's error code
(:func:`portaudio_reason`). Over- and underflows reported by PortAudio count as xruns
and are logged at most every few seconds. A stream that stops on its own
(device unplugged) is reported to ``on_error``, never raised on the audio
thread. sounddevice is imported lazily so the app starts without PortAudio.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Any

import numpy as np

from app.audio.backend import (
    AudioDeviceError,
    DeviceErrorReason,
    DeviceInfo,
    DeviceSpec,
    Direction,
    ErrorCallback,
    RateLimiter,
    StreamOpener,
    select_device,
)
from app.audio.constants import SAMPLE_RATE
from app.audio.rate_adapt import CaptureConverter, PlaybackConverter

logger = logging.getLogger(__name__)

BlockCallback = Any  # InputCallback or OutputCallback, see app.audio.backend

_PA_UNANTICIPATED_HOST_ERROR = -9999
_PORTAUDIO_REASONS: dict[int, DeviceErrorReason] = {
    # PaErrorCode values (portaudio.h), the second of PortAudioError.args.
    -10000: DeviceErrorReason.AUDIO_SYSTEM,  # paNotInitialized
    -9998: DeviceErrorReason.NO_CHANNELS,  # paInvalidChannelCount
    -9997: DeviceErrorReason.UNSUPPORTED,  # paInvalidSampleRate
    -9996: DeviceErrorReason.NOT_FOUND,  # paInvalidDevice
    -9994: DeviceErrorReason.UNSUPPORTED,  # paSampleFormatNotSupported
    -9993: DeviceErrorReason.UNSUPPORTED,  # paBadIODeviceCombination
    -9991: DeviceErrorReason.UNSUPPORTED,  # paBufferTooBig
    -9990: DeviceErrorReason.UNSUPPORTED,  # paBufferTooSmall
    -9987: DeviceErrorReason.UNAVAILABLE,  # paTimedOut
    -9985: DeviceErrorReason.UNAVAILABLE,  # paDeviceUnavailable
    -9984: DeviceErrorReason.UNSUPPORTED,  # paIncompatibleHostApiSpecificStreamInfo
    -9979: DeviceErrorReason.AUDIO_SYSTEM,  # paHostApiNotFound
    -9978: DeviceErrorReason.AUDIO_SYSTEM,  # paInvalidHostApi
}
_NO_SUCH_DEVICE = "Error querying device"
"""sounddevice's own words (no code) for a device index PortAudio does not know."""


def portaudio_reason(exc: Exception, otherwise: DeviceErrorReason
                     ) -> tuple[DeviceErrorReason, str]:
    """The reason for sounddevice's ``exc`` and the library's words worth showing.

    A ``PortAudioError`` carries ``(text, PaErrorCode[, (host API, host code,
    host text)])``: a known code gives the reason and its text says nothing
    more (""), a host error's own text is kept; anything else is ``otherwise``
    with the exception's words.
    """
    args = exc.args
    code = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    if code is None and str(args[0] if args else "").startswith(_NO_SUCH_DEVICE):
        return DeviceErrorReason.NOT_FOUND, ""
    if code == _PA_UNANTICIPATED_HOST_ERROR and len(args) > 2:
        host_text = str(args[2][2]) if isinstance(args[2], tuple) and len(args[2]) > 2 else ""
        return otherwise, host_text or str(exc)
    if code in _PORTAUDIO_REASONS:
        return _PORTAUDIO_REASONS[code], ""
    return otherwise, str(exc)


def _device_error(message: str, exc: Exception, otherwise: DeviceErrorReason,
                  device: str = "", direction: Direction | None = None) -> AudioDeviceError:
    reason, detail = portaudio_reason(exc, otherwise)
    return AudioDeviceError(message, reason, device=device, direction=direction,
                            detail=detail)


def import_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into AudioDeviceError."""
    try:
        import sounddevice
    except OSError as exc:  # "PortAudio library not found"
        raise AudioDeviceError(f"audio system unavailable: {exc}",
                               DeviceErrorReason.AUDIO_SYSTEM, detail=str(exc)) from exc
    return sounddevice


class SoundDeviceStream:
    """A PortAudio stream delivering/pulling 48 kHz blocks of ``blocksize``."""

    def __init__(self, sd: ModuleType, direction: Direction, device: DeviceInfo,
                 callback: BlockCallback, blocksize: int, latency: str | float,
                 on_error: ErrorCallback | None) -> None:
        self.direction = direction
        self.device = device
        self._sd = sd
        self._callback = callback
        self._on_error = on_error
        self._xruns = 0
        self._blocks = 0
        self._callback_errors = 0
        self._stopping = False
        self._closed = False
        self._reported = False
        self._xrun_log = RateLimiter(5.0)
        self._error_log = RateLimiter(5.0)
        self.samplerate = self._pick_rate()
        device_block = max(1, round(blocksize * self.samplerate / SAMPLE_RATE))
        if direction == "input":
            self._capture = CaptureConverter(self.samplerate, blocksize)
            stream_class = sd.InputStream
            audio_callback: Any = self._input_callback
        else:
            self._playback = PlaybackConverter(self.samplerate, blocksize, self._pull)
            stream_class = sd.OutputStream
            audio_callback = self._output_callback
        try:
            self._stream = stream_class(
                device=device.index, samplerate=self.samplerate, channels=1,
                dtype="float32", blocksize=device_block, latency=latency,
                callback=audio_callback, finished_callback=self._finished,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise _device_error(f"cannot open {direction} device '{device.name}': {exc}",
                                exc, DeviceErrorReason.OTHER, device.name, direction) from exc
        logger.info("opened %s device '%s' at %d Hz, %d-sample blocks", direction,
                    device.name, self.samplerate, device_block)

    def _pick_rate(self) -> int:
        check = (self._sd.check_input_settings if self.direction == "input"
                 else self._sd.check_output_settings)
        try:
            check(device=self.device.index, samplerate=SAMPLE_RATE, channels=1,
                  dtype="float32")
            return SAMPLE_RATE
        except (self._sd.PortAudioError, ValueError) as exc:
            rate = int(self.device.default_samplerate)
            logger.info("device '%s' refuses %d Hz (%s); using %d Hz and resampling",
                        self.device.name, SAMPLE_RATE, exc, rate)
            return rate

    # ---------------------------------------------------------------- control
    @property
    def active(self) -> bool:
        return not self._closed and bool(self._stream.active)

    @property
    def xruns(self) -> int:
        return self._xruns

    @property
    def blocks(self) -> int:
        return self._blocks

    @property
    def callback_errors(self) -> int:
        return self._callback_errors

    def start(self) -> None:
        if self._closed:
            raise AudioDeviceError("stream is closed", DeviceErrorReason.CLOSED,
                                   device=self.device.name, direction=self.direction)
        self._stopping = False
        self._reported = False
        try:
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise _device_error(
                f"cannot start {self.direction} device '{self.device.name}': {exc}", exc,
                DeviceErrorReason.OTHER, self.device.name, self.direction) from exc

    def stop(self) -> None:
        self._stopping = True
        try:
            self._stream.stop()
        except self._sd.PortAudioError as exc:
            logger.warning("stopping %s device '%s' failed: %s", self.direction,
                           self.device.name, exc)

    def close(self) -> None:
        if self._closed:
            return
        self._stopping = True
        self._closed = True
        try:
            self._stream.close()
        except self._sd.PortAudioError as exc:
            logger.warning("closing %s device '%s' failed: %s", self.direction,
                           self.device.name, exc)

    # ----------------------------------------------------- PortAudio callbacks
    def _note_status(self, status: Any) -> None:
        if not status:
            return
        self._xruns += 1
        suppressed = self._xrun_log.allow(time.monotonic())
        if suppressed is not None:
            logger.warning("%s device '%s': %s (%d xruns so far, %d not logged)",
                           self.direction, self.device.name, str(status).strip(),
                           self._xruns, suppressed)

    def _note_error(self) -> None:
        self._callback_errors += 1
        suppressed = self._error_log.allow(time.monotonic())
        if suppressed is not None:
            logger.exception("%s callback failed (%d similar not logged)", self.direction,
                             suppressed)

    def _input_callback(self, indata: np.ndarray, frames: int, when: Any,
                        status: Any) -> None:
        self._note_status(status)
        self._blocks += 1
        try:
            for block in self._capture.push(indata[:, 0]):
                self._callback(block)
        except Exception:
            self._note_error()

    def _pull(self, block: np.ndarray) -> None:
        try:
            self._callback(block)
        except Exception:
            block.fill(0.0)
            self._note_error()

    def _output_callback(self, outdata: np.ndarray, frames: int, when: Any,
                         status: Any) -> None:
        self._note_status(status)
        self._blocks += 1
        self._playback.fill(outdata[:, 0])

    def _finished(self) -> None:
        """PortAudio's finished callback: the stream became inactive."""
        if self._stopping or self._reported:
            return
        self._reported = True
        error = AudioDeviceError(
            f"device was unplugged ({self.direction} '{self.device.name}')",
            DeviceErrorReason.UNPLUGGED, device=self.device.name, direction=self.direction)
        logger.warning("%s", error)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:
                logger.exception("on_error handler failed")


class SoundDeviceBackend(StreamOpener):
    """Sound cards through PortAudio; see the module docstring."""

    name = "sounddevice"

    def __init__(self, latency: str | float = "low") -> None:
        self.latency = latency

    def list_devices(self) -> list[DeviceInfo]:
        """Devices PortAudio knows (empty when there is no sound card)."""
        sd = import_sounddevice()
        try:
            raw = list(sd.query_devices())
            default_in, default_out = (int(i) for i in sd.default.device)
        except (sd.PortAudioError, ValueError, TypeError) as exc:
            raise _device_error(f"cannot list audio devices: {exc}", exc,
                                DeviceErrorReason.AUDIO_SYSTEM) from exc
        devices = []
        for position, info in enumerate(raw):
            index = int(info.get("index", position))
            devices.append(DeviceInfo(
                index=index,
                name=str(info["name"]),
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            ))
        return devices

    def _open(self, direction: Direction, callback: BlockCallback, blocksize: int,
              device: DeviceSpec, on_error: ErrorCallback | None) -> SoundDeviceStream:
        if blocksize <= 0:
            raise AudioDeviceError(f"invalid block size {blocksize}",
                                   DeviceErrorReason.UNSUPPORTED, direction=direction,
                                   detail=f"block size {blocksize}")
        sd = import_sounddevice()
        chosen = select_device(self.list_devices(), device, direction)
        return SoundDeviceStream(sd, direction, chosen, callback, blocksize, self.latency,
                                 on_error)
