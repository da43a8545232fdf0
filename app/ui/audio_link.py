"""The UI's side of the audio engine: device choice, fallback, tones, levels.

:class:`AudioPort` is what the presenter needs; :class:`EngineAudio` provides
it over :class:`app.audio.pipeline.AudioEngine` (on demand: no stream runs while
nothing is sent or played). :func:`open_audio` prefers a
sound card and falls back to the clocked virtual device when there is none
(or it will not open), saying so in :attr:`EngineAudio.note` (and why the card
would not open in :attr:`EngineAudio.refusal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol

import numpy as np
from PySide6.QtCore import QCoreApplication

from app.audio import tones
from app.audio.backend import (
    AudioBackend,
    AudioDeviceError,
    DeviceInfo,
    DeviceSpec,
    select_device,
)
from app.audio.clocked import ClockedBackend
from app.audio.constants import SAMPLE_RATE
from app.audio.pipeline import AudioEngine
from app.audio.talker_stream import TalkerQuality
from app.client.turn import TurnTone
from app.ui import floor_cues
from app.ui.view_types import DeviceChoice

logger = logging.getLogger(__name__)


class Tone(StrEnum):
    TALK_PERMIT = "talk_permit"
    BUSY = "busy"
    END_OF_TRANSMISSION = "end_of_transmission"
    INCOMING_CALL = "incoming_call"
    ACTIVITY = "activity"  # someone speaks in a joined interphone other than the talk target
    QUEUED = "queued"
    YOUR_TURN = "your_turn"
    PREEMPTED = "preempted"
    TIME_WARNING_10S = "time_warning_10s"
    TIME_WARNING_3S = "time_warning_3s"
    CUT_OFF = "cut_off"
    EMERGENCY = "emergency"


_TONES: dict[Tone, Callable[[], np.ndarray]] = {
    Tone.TALK_PERMIT: tones.talk_permit,
    Tone.BUSY: tones.busy,
    Tone.END_OF_TRANSMISSION: tones.end_of_transmission,
    Tone.INCOMING_CALL: tones.incoming_call,
    Tone.ACTIVITY: tones.activity,
    **{Tone(name): cue for name, cue in floor_cues.CUES.items()},
}
TURN_TONES: dict[TurnTone, Tone] = {
    TurnTone.PERMIT: Tone.TALK_PERMIT, TurnTone.BUSY: Tone.BUSY, TurnTone.QUEUED: Tone.QUEUED,
    TurnTone.YOUR_TURN: Tone.YOUR_TURN, TurnTone.PREEMPTED: Tone.PREEMPTED,
    TurnTone.TIME_WARNING_10S: Tone.TIME_WARNING_10S,
    TurnTone.TIME_WARNING_3S: Tone.TIME_WARNING_3S, TurnTone.CUT_OFF: Tone.CUT_OFF,
}
"""The cue of each of the turn machine's tones."""
TONE_VOLUME = 0.6


def tone_ms(tone: Tone) -> int:
    """How long ``tone`` plays."""
    return round(len(_TONES[tone]()) * 1000 / SAMPLE_RATE)


class AudioPort(Protocol):
    """The audio operations the presenter uses."""

    note: str

    def start_transmit(self) -> None: ...
    def stop_transmit(self, release_delay_ms: int = 0) -> None: ...
    async def wait_transmit_stopped(self, timeout: float) -> bool: ...
    def receive(self, uid: str, seq: int, payload: bytes, interphone: str = "") -> None: ...
    def receive_from_thread(self, uid: str, seq: int, payload: bytes,
                            interphone: str = "") -> None: ...
    def end_utterance(self, uid: str, interphone: str = "") -> None: ...
    def set_interphone_volume(self, interphone: str, gain: float) -> None: ...
    def play_tone(self, tone: Tone) -> None: ...
    def levels(self) -> tuple[float, float]: ...
    def set_volume(self, gain: float) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def set_monitor(self, enabled: bool) -> None: ...
    def set_expected_loss(self, pct: int) -> None: ...
    def report_loss(self, worst_pct: float, p90_pct: float) -> None: ...
    def receive_quality(self) -> Mapping[str, TalkerQuality]: ...


class SimulatedVoice:
    """A clocked microphone that "says" a clip while the engine transmits, else silence.

    Called on the clocked device's thread with a block size; reads only a flag.
    """

    def __init__(self, clip: np.ndarray | None) -> None:
        self._clip = clip if clip is not None and clip.size else None
        self._position = 0
        self.speaking = threading.Event()

    def __call__(self, frames: int) -> np.ndarray:
        if self._clip is None or not self.speaking.is_set():
            self._position = 0
            return np.zeros(frames, dtype=np.float32)
        clip = self._clip
        indices = (self._position + np.arange(frames)) % clip.size
        self._position = (self._position + frames) % clip.size
        return clip[indices]


class ReceiveFromThread(Protocol):
    def __call__(self, uid: str, seq: int, payload: bytes, interphone: str = "") -> None: ...


class EngineAudio:
    """:class:`AudioPort` over an :class:`AudioEngine` (started, on the running loop)."""

    receive_from_thread: ReceiveFromThread
    """:meth:`receive` from the client's media receive thread: the engine's own
    :meth:`AudioEngine.receive_from_thread` (no layer of this class per packet)."""
    audio_sink: Callable[[str, str, int, bytes], None]
    """The same as a media endpoint's ``audio_sink`` (``interphone, uid, seq, payload``):
    :meth:`AudioEngine.audio_sink`, to be set as the sink itself."""

    def __init__(self, engine: AudioEngine, note: str = "",
                 voice: SimulatedVoice | None = None,
                 refusal: AudioDeviceError | None = None) -> None:
        self.engine = engine
        self.receive_from_thread = engine.receive_from_thread
        self.audio_sink = engine.audio_sink
        self.note = note
        self.refusal = refusal  # why the sound card was not used (None: it is, or there is none)
        self.simulated = isinstance(engine.backend, ClockedBackend)
        self._voice = voice
        self._stopped = asyncio.Event()
        self._stopped.set()
        engine.on_transmit_stopped = self._stopped.set
        self.device_error: AudioDeviceError | None = None  # the last failure; None: all works
        self.on_device_error: Callable[[AudioDeviceError], None] | None = None
        engine.on_device_error = self._on_device_error

    def _on_device_error(self, error: AudioDeviceError) -> None:
        self.device_error = error
        if self.on_device_error is not None:
            self.on_device_error(error)

    @property
    def backend(self) -> AudioBackend:
        return self.engine.backend

    @property
    def streaming(self) -> bool:
        """A device stream runs (something is captured or played): meters are worth polling."""
        return self.engine.input_active or self.engine.output_active

    def prepare_transmit(self) -> None:
        """The talk key went down: open the microphone while the floor is being asked for."""
        self.engine.arm()

    def cancel_transmit(self) -> None:
        """The talk key went up: close the microphone unless a transmission uses it."""
        self.engine.disarm()

    def start_transmit(self) -> None:
        self._stopped.clear()
        if self._voice is not None:
            self._voice.speaking.set()
        self.engine.start_transmit()

    def stop_transmit(self, release_delay_ms: int = 0) -> None:
        self.engine.stop_transmit(release_delay_ms)
        if release_delay_ms <= 0:
            self._stopped.set()
            if self._voice is not None:
                self._voice.speaking.clear()

    async def wait_transmit_stopped(self, timeout: float) -> bool:
        """Wait until the utterance's last frame went out; False on timeout (then stops)."""
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
            stopped = True
        except TimeoutError:
            self.engine.stop_transmit(0)
            stopped = False
        if self._voice is not None and not self.engine.transmitting:
            self._voice.speaking.clear()
        return stopped

    def receive(self, uid: str, seq: int, payload: bytes, interphone: str = "") -> None:
        self.engine.receive(uid, seq, payload, interphone)

    def end_utterance(self, uid: str, interphone: str = "") -> None:
        self.engine.end_utterance(uid, interphone)

    def set_interphone_volume(self, interphone: str, gain: float) -> None:
        """Volume of one joined interphone, 0 (muted) .. 1.5, times the output volume."""
        self.engine.set_interphone_volume(interphone, gain)

    def play_tone(self, tone: Tone) -> None:
        self.engine.play_tone(_TONES[tone](), TONE_VOLUME)

    def levels(self) -> tuple[float, float]:
        return self.engine.input_level.peak, self.engine.output_peak

    def set_volume(self, gain: float) -> None:
        self.engine.volume = max(0.0, min(1.5, gain))

    def set_muted(self, muted: bool) -> None:
        self.engine.muted = muted

    def set_monitor(self, enabled: bool) -> None:
        if self._voice is not None:
            if enabled:
                self._voice.speaking.set()
            elif not self.engine.transmitting:
                self._voice.speaking.clear()
        self.engine.set_monitor(enabled)

    def set_expected_loss(self, pct: int) -> None:
        """Expected packet loss (%) for the encoder's in-band FEC, kept within 0..30."""
        self.engine.set_expected_loss(max(0, min(30, pct)))

    def report_loss(self, worst_pct: float, p90_pct: float) -> None:
        """What our listeners lose (the server's feedback notice): the FEC policy follows."""
        self.engine.report_listener_loss(worst_pct, p90_pct)

    def receive_quality(self) -> Mapping[str, TalkerQuality]:
        """Per talker being heard: loss, jitter, FEC (``AudioEngine.receive_quality``)."""
        return self.engine.receive_quality()

    def devices(self) -> tuple[list[DeviceChoice], list[DeviceChoice]]:
        """Input and output devices offered in the settings (keyed by name)."""
        try:
            devices = self.engine.backend.list_devices()
        except AudioDeviceError as exc:
            logger.warning("listing devices: %s", exc)
            return [], []
        inputs = [DeviceChoice(d.name, self._label(d)) for d in devices
                  if d.max_input_channels > 0]
        outputs = [DeviceChoice(d.name, self._label(d)) for d in devices
                   if d.max_output_channels > 0]
        return inputs, outputs

    def _label(self, device: DeviceInfo) -> str:
        """A user's name for a device: the virtual one is "simulated", not engine jargon."""
        if self.simulated:
            return QCoreApplication.translate("EngineAudio", "Simulated audio (no sound card)")
        return device.name

    def close(self) -> None:
        self.engine.on_streams_changed = None
        self.engine.on_transmit_stopped = None
        self.engine.on_device_error = None
        self.on_device_error = None
        self.engine.close()
        with contextlib.suppress(Exception):
            backend = self.engine.backend
            if isinstance(backend, ClockedBackend):
                backend.close()


def _spec(name: str) -> DeviceSpec:
    return name or None


def _sound_card() -> AudioBackend | None:
    """The sounddevice back-end when PortAudio sees at least one input and one output."""
    try:
        from app.audio.sd_backend import SoundDeviceBackend

        backend = SoundDeviceBackend()
        devices = backend.list_devices()
    except (AudioDeviceError, OSError, ImportError) as exc:
        logger.info("no sound card: %s", exc)
        return None
    if not any(d.max_input_channels for d in devices) or \
            not any(d.max_output_channels for d in devices):
        logger.info("no sound card: %d devices, none with both directions", len(devices))
        return None
    return backend


def _device_names(backend: AudioBackend, input_device: str, output_device: str) -> str:
    """``"in / out"`` names of the devices in use (one name when it is the same device)."""
    try:
        devices = backend.list_devices()
        names = [select_device(devices, _spec(input_device), "input").name,
                 select_device(devices, _spec(output_device), "output").name]
    except AudioDeviceError:
        return backend.name
    return names[0] if names[0] == names[1] else " / ".join(names)


def open_audio(send_frame: Callable[[bytes], object], *, frame_ms: int, bitrate: int,
               input_device: str = "", output_device: str = "", simulate: bool = False,
               voice_clip: np.ndarray | None = None) -> EngineAudio:
    """Start an engine on the sound card, or on the clocked virtual device.

    ``simulate`` forces the virtual device; ``voice_clip`` is what its
    microphone says while transmitting (silence when None).
    """
    loop = asyncio.get_running_loop()

    def send(payload: bytes) -> None:
        send_frame(payload)

    refusal: AudioDeviceError | None = None
    backend = None if simulate else _sound_card()
    if backend is not None:
        engine = AudioEngine(backend, frame_ms, bitrate, send, loop,
                             input_device=_spec(input_device), output_device=_spec(output_device),
                             on_demand=True)
        try:
            engine.start()
            return EngineAudio(engine, _device_names(backend, input_device, output_device))
        except AudioDeviceError as exc:
            logger.warning("sound card refused (%s); using the virtual device", exc)
            engine.close()
            refusal = exc
    voice = SimulatedVoice(voice_clip)
    clocked = ClockedBackend(voice, collect_output=False)
    engine = AudioEngine(clocked, frame_ms, bitrate, send, loop, on_demand=True)
    engine.start()
    return EngineAudio(engine, "no sound card", voice, refusal)
