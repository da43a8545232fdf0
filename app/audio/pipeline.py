"""The live audio pipeline: microphone → Opus frames out, packets in → speaker.

``AudioEngine`` knows nothing about the network or the GUI. It is given a
device back-end, a ``send_frame(opus_bytes)`` function and the asyncio loop.

Capture. The input callback (device thread) measures the level, feeds the
monitor and hands the block to the ``Transmitter`` (see ``transmit``: the transmit
states, the pre-roll queue, the encoder), which while transmitting encodes it and
sends it *in that thread*: ``send_frame`` is called on the input device's thread, so
it must be thread-safe (the client's ``send_audio`` is: a non-blocking ``sendto`` on
the media socket). The event loop (the GUI thread in the app) is not woken for each
20 ms frame, which under Qt costs more than the encoding itself. The end of an
utterance (``on_transmit_stopped``, stopping the input) is handed to the loop; a
``start_transmit`` before that continues the same utterance. ``stop_transmit(0)``
stops at once and discards queued frames (floor revoked).

Playback is ``PlaybackMixer`` (see ``mixer``): ``receive`` feeds a per-talker
jitter buffer and decoder, the output callback mixes at the device's pace.
The output stream runs in blocks of ``output_block_ms`` (10 ms, the audio
callback of WebRTC's and Mumble's clients), shorter than the frame: a frame
starts playing within one block of its arrival instead of waiting for the
next frame-sized block, and the device's one-block output buffer is short
too. A frame waits at least ``START_MARGIN_MS`` (5 ms) after its arrival
before the block that starts it, its margin against jitter. Why 10 ms (5 ms
and 20 ms blocks were measured): docs/latency.md. On demand, a packet that
finds the output stopped has it started in phase with it (``output_start``).

Levels (``input_level``/``output_level``) are ``Level(rms, peak)``, linear
0..1, of the last block, measured when read (from any thread).

On demand (``on_demand=True``, what the desktop app uses): ``start()`` opens
both streams but starts neither, so an idle engine runs no callback at all.
The input starts at ``arm()`` (the talk key went down: the floor request is
under way) or ``start_transmit()``, and from then on every captured block is
kept (at most ``PREROLL_MS``) so what is said before the grant is sent, not
lost; it stops once the utterance's last frame was sent (the release delay
keeps it running that long) unless the engine is armed again or the
microphone test runs. The output starts with the first packet, tone or
microphone test and stops after ``OUTPUT_IDLE_STOP_S`` of nothing to play.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import numpy as np

from app.audio.backend import AudioBackend, AudioDeviceError, AudioStream, DeviceSpec
from app.audio.codec import OpusEncoder
from app.audio.constants import DEFAULT_BITRATE, DEFAULT_FRAME_MS, frame_samples
from app.audio.engine_types import EngineCounters, TransmitState
from app.audio.fec_policy import EncoderSetting, FecPolicy, LossReport
from app.audio.levels import SILENT, Level, measure
from app.audio.mixer import PlaybackMixer
from app.audio.output_start import PhasedStart
from app.audio.talker_stream import TalkerQuality
from app.audio.transmit import CAPTURE_QUEUE_FRAMES, Transmitter

logger = logging.getLogger(__name__)

_copyto = np.copyto  # bound once: the input callback runs fifty times a second

__all__ = ["AudioEngine", "EngineCounters", "TransmitState"]

DEFAULT_RELEASE_MS = 150
OUTPUT_BLOCK_MS = 10  # output callback block (capped at the frame)
START_MARGIN_MS = 5  # a frame's least wait after its arrival (capped at the block)
OUTPUT_IDLE_STOP_S = 1.0  # on demand: the output stops after this long with nothing to play


class AudioEngine:
    """Capture/encode/send and receive/decode/mix over one device back-end."""

    def __init__(
        self,
        backend: AudioBackend,
        frame_ms: int = DEFAULT_FRAME_MS,
        bitrate: int = DEFAULT_BITRATE,
        send_frame: Callable[[bytes], object] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        input_device: DeviceSpec = None,
        output_device: DeviceSpec = None,
        fec: bool = True,
        capture_queue_frames: int = CAPTURE_QUEUE_FRAMES,
        max_jitter_frames: int = 10,
        clock: Callable[[], float] = time.monotonic,
        output_block_ms: int = OUTPUT_BLOCK_MS,
        on_demand: bool = False,
    ) -> None:
        self.backend = backend
        self.frame_ms = frame_ms
        self.frame_samples = frame_samples(frame_ms)
        self.input_device = input_device
        self.output_device = output_device
        self.on_transmit_stopped: Callable[[], None] | None = None
        self.on_device_error: Callable[[AudioDeviceError], None] | None = None
        self._loop = loop
        self._clock = clock
        self.transmitter = Transmitter(
            OpusEncoder(frame_ms, bitrate, fec=fec), FecPolicy(bitrate), self._call_on_loop,
            self._end_of_release, send_frame=send_frame,
            capture_queue_frames=capture_queue_frames, clock=clock)
        if output_block_ms <= 0:
            raise ValueError(f"output block must be positive, not {output_block_ms} ms")
        self.output_block_ms = min(output_block_ms, frame_ms)
        self.output_block_samples = self.frame_samples * self.output_block_ms // frame_ms
        start_margin = min(self.output_block_ms, START_MARGIN_MS) / 1000.0
        self.mixer = PlaybackMixer(frame_ms, clock=clock, max_jitter_frames=max_jitter_frames,
                                   start_margin=start_margin)
        self._input: AudioStream | None = None
        self._output: AudioStream | None = None
        # the last captured block, measured when the level is read (the meter reads it ten
        # times a second, the device delivers fifty blocks)
        self._input_copy = np.zeros(self.frame_samples, dtype=np.float32)
        self._input_fresh = False  # a block came after the last measurement
        self._input_level: Level = SILENT
        self._closed = False
        self.on_demand = on_demand
        self._quiet_blocks = 0  # output blocks in a row with nothing to play
        self._quiet_limit = max(1, math.ceil(OUTPUT_IDLE_STOP_S * 1000 / self.output_block_ms))
        # on demand: the output stream may be stopped (False once it is known to run, True
        # again before it is stopped or when a device reports an error): the receive
        # thread reads this flag, not the stream, for each packet
        self._output_may_be_stopped = on_demand
        # on demand: a packet that found the output stopped starts it a margin later
        self._output_start = PhasedStart(self._ensure_output, clock, start_margin)
        self.input_starts = 0  # times the input stream was started (on demand)
        self.output_starts = 0
        # on demand: called on the loop after a stream started or stopped (level meters)
        self.on_streams_changed: Callable[[], None] | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open and start both device streams.

        Raises AudioDeviceError (with a message for the user) when a device is
        missing or refuses to open; nothing is left open in that case.
        """
        if self._closed:
            raise RuntimeError("engine is closed")
        if self._input is not None:
            return
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError("AudioEngine.start() needs a loop: pass loop= "
                                   "or call it from the running event loop") from None
        try:
            self._input = self.backend.open_input(
                self._on_input, self.frame_samples, self.input_device, self._on_stream_error)
            self._output = self.backend.open_output(
                self._fill, self.output_block_samples, self.output_device,
                self._on_stream_error)
            if not self.on_demand:
                self._output.start()
                self._input.start()
        except AudioDeviceError:
            self._close_streams()
            raise
        logger.info("audio engine started on %s (%d ms frames)", self.backend.name,
                    self.frame_ms)

    def close(self) -> None:
        """Stop the devices and release the codecs (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._output_start.cancel()
        self._close_streams()
        self.transmitter.close()
        self.mixer.close()
        self._forget_input_level()

    def _close_streams(self) -> None:
        for stream in (self._input, self._output):
            if stream is not None:
                try:
                    stream.close()
                except AudioDeviceError as exc:
                    logger.warning("closing audio stream: %s", exc)
        self._input = self._output = None

    @property
    def running(self) -> bool:
        """Started and not closed (on demand, the streams may still be stopped)."""
        if self._input is None:
            return False
        return self.on_demand or self._input.active

    @property
    def input_active(self) -> bool:
        return self._input is not None and self._input.active

    @property
    def output_active(self) -> bool:
        return self._output is not None and self._output.active

    # ----------------------------------------------------- on-demand streams
    def _ensure_input(self) -> None:
        """On demand: start the input stream if it is stopped (on the loop)."""
        stream = self._input
        if not self.on_demand or stream is None or self._closed or stream.active:
            return
        try:
            stream.start()
            self.input_starts += 1
        except AudioDeviceError as exc:
            self._report_device_error(exc)
        self._streams_changed()

    def _input_needed(self) -> bool:
        return self.transmitter.needs_input or self.mixer.monitor

    def _stop_input_if_unneeded(self) -> None:
        stream = self._input
        if not self.on_demand or stream is None or self._input_needed():
            return
        if stream.active:
            stream.stop()
            self._streams_changed()
        self._forget_input_level()

    def _ensure_output(self) -> None:
        """On demand: start the output stream if it is stopped (on the loop)."""
        self._quiet_blocks = 0
        stream = self._output
        if not self.on_demand or stream is None or self._closed:
            return
        if stream.active:
            self._output_may_be_stopped = False
            return
        try:
            stream.start()
            self.output_starts += 1
            self._output_may_be_stopped = False
        except AudioDeviceError as exc:
            self._report_device_error(exc)
        self._streams_changed()

    def _fill(self, out: np.ndarray) -> None:
        """Output callback: the mixer's block; on demand, ask the loop to stop when quiet."""
        if self.mixer.fill(out) or not self.on_demand:
            self._quiet_blocks = 0
            return
        self._quiet_blocks += 1
        if self._quiet_blocks == self._quiet_limit:
            self._call_on_loop(self._stop_output_if_quiet)

    def _stop_output_if_quiet(self) -> None:
        stream = self._output
        if (stream is not None and stream.active and not self._closed
                and self._quiet_blocks >= self._quiet_limit and self.mixer.idle):
            self._output_may_be_stopped = True
            stream.stop()
            self._streams_changed()

    def _streams_changed(self) -> None:
        if self.on_streams_changed is not None:
            try:
                self.on_streams_changed()
            except Exception:
                logger.exception("on_streams_changed failed")

    # -------------------------------------------------------------- capture
    @property
    def fec_policy(self) -> FecPolicy:
        """The transmitter's: sets the encoder from the listeners' loss reports."""
        return self.transmitter.fec_policy

    @property
    def send_frame(self) -> Callable[[bytes], object] | None:
        """Called with each Opus frame to send, on the input device's thread."""
        return self.transmitter.send_frame

    @send_frame.setter
    def send_frame(self, send: Callable[[bytes], object] | None) -> None:
        self.transmitter.send_frame = send

    def arm(self) -> None:
        """The talk key went down: start the input now, keep what it captures until
        ``start_transmit`` (on demand; otherwise nothing to do)."""
        if not self.on_demand or self._closed:
            return
        self.transmitter.arm()
        self._ensure_input()

    def disarm(self) -> None:
        """The talk key went up without a transmission (refused, released early)."""
        self.transmitter.disarm()
        self._stop_input_if_unneeded()

    def start_transmit(self) -> None:
        """Start (or continue) sending captured frames."""
        pending = self.transmitter.start()
        self._ensure_input()
        if pending:
            self.transmitter.drain()  # the pre-roll leaves at the grant, not a block later

    def stop_transmit(self, release_delay_ms: int = DEFAULT_RELEASE_MS) -> None:
        """Stop sending after ``release_delay_ms`` more audio; 0 stops at once."""
        if self.transmitter.stop(release_delay_ms):
            self._finish_utterance()

    @property
    def transmit_state(self) -> TransmitState:
        return self.transmitter.state

    @property
    def transmitting(self) -> bool:
        """True from start_transmit until the utterance's last frame was sent."""
        return self.transmitter.transmitting

    def set_expected_loss(self, pct: int) -> None:
        """Encoder's expected packet loss (drives in-band FEC); call on the loop.

        Overridden by the next ``report_loss``: prefer that.
        """
        self.transmitter.set_expected_loss(pct)

    def report_loss(self, report: LossReport) -> EncoderSetting:
        """The listeners' loss (from the wire): the FEC policy sets the encoder; on the loop."""
        return self.transmitter.report_loss(report)

    def report_listener_loss(self, worst_pct: float, p90_pct: float) -> EncoderSetting:
        """:meth:`report_loss` for a report received now (the engine's clock); on the loop."""
        return self.report_loss(LossReport(worst_pct, p90_pct, self._clock()))

    @property
    def expected_loss(self) -> int:
        return self.transmitter.expected_loss

    def _on_input(self, block: np.ndarray) -> None:
        """Input device callback: the block kept for the level, the monitor, then the
        transmitter's share."""
        copy = self._input_copy
        if len(copy) != len(block):
            copy = self._input_copy = np.empty(len(block), dtype=np.float32)
        _copyto(copy, block)
        self._input_fresh = True
        self.mixer.feed_monitor(block)
        self.transmitter.captured(block)

    def _call_on_loop(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        try:
            if loop is not None:
                loop.call_soon_threadsafe(callback)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _end_of_release(self) -> None:
        """On the loop: the release delay's last frame was sent."""
        if self.transmitter.release_ended():
            self._finish_utterance()

    def _finish_utterance(self) -> None:
        if self.transmitter.finish() and self.on_transmit_stopped is not None:
            try:
                self.on_transmit_stopped()
            except Exception:
                logger.exception("on_transmit_stopped failed")
        self._stop_input_if_unneeded()

    # ------------------------------------------------------------- playback
    def receive(self, uid: str, seq: int, payload: bytes, interphone: str = "") -> None:
        """One Opus packet from talker ``uid`` in ``interphone`` (call on the loop thread)."""
        self.mixer.receive(uid, seq, payload, interphone)
        loop = self._loop
        if self._output_stopped() and loop is not None:
            self._output_start.request()
            self._output_start.schedule(loop)
        else:
            self._ensure_output()

    def receive_from_thread(self, uid: str, seq: int, payload: bytes,
                            interphone: str = "") -> None:
        """:meth:`receive` from any thread (the client's media receive thread): the packet
        goes to the mixer at once; a stopped output (on demand) is started on the loop."""
        self.mixer.receive(uid, seq, payload, interphone)
        if self._output_may_be_stopped:
            self._start_output_soon()

    def audio_sink(self, interphone: str, uid: str, seq: int, payload: bytes) -> None:
        """:meth:`receive_from_thread` with the arguments in the order of the media
        endpoint's ``audio_sink`` (it can be that sink itself: no layer in between)."""
        self.mixer.receive(uid, seq, payload, interphone)
        if self._output_may_be_stopped:
            self._start_output_soon()

    def _output_stopped(self) -> bool:
        stream = self._output
        return self.on_demand and stream is not None and not stream.active and not self._closed

    def _start_output_soon(self) -> None:
        """A packet found the output stopped (any thread): the loop starts it so that its
        first callback comes ``START_MARGIN_MS`` after the packet's arrival."""
        if self._output_stopped():
            self._output_start.request()
            self._call_on_loop(self._schedule_output_start)

    def _schedule_output_start(self) -> None:
        if self._loop is not None:
            self._output_start.schedule(self._loop)

    def end_utterance(self, uid: str, interphone: str = "") -> None:
        """``uid`` stopped talking: play out what is buffered, then drop the stream."""
        self.mixer.end_utterance(uid, interphone)

    def play_tone(self, pcm: np.ndarray, volume: float = 1.0) -> None:
        self.mixer.play_tone(pcm, volume)
        self._ensure_output()

    def set_user_volume(self, uid: str, gain: float) -> None:
        self.mixer.set_user_volume(uid, gain)

    def set_interphone_volume(self, interphone: str, gain: float) -> None:
        self.mixer.set_interphone_volume(interphone, gain)

    @property
    def volume(self) -> float:
        """Output volume, 0..1.5."""
        return self.mixer.volume

    @volume.setter
    def volume(self, value: float) -> None:
        self.mixer.volume = value

    @property
    def muted(self) -> bool:
        return self.mixer.muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self.mixer.muted = value

    def set_monitor(self, enabled: bool) -> None:
        """Microphone test: play the captured input back locally."""
        self.mixer.set_monitor(enabled)
        if enabled:
            self._ensure_output()
            self._ensure_input()
        else:
            self._stop_input_if_unneeded()

    def receive_quality(self) -> dict[str, TalkerQuality]:
        """Per current talker: loss, jitter, concealed and FEC-recovered frames."""
        return self.mixer.quality()

    def loss_fraction(self) -> float:
        """Highest recent loss among current talkers (0..1, what a listener reports)."""
        quality = self.mixer.quality()
        return max((q.recent_loss_pct for q in quality.values()), default=0.0) / 100.0

    # ------------------------------------------------------ levels, health
    @property
    def input_level(self) -> Level:
        """(rms, peak) of the last captured block, linear 0..1 (any thread: a block
        captured while it is measured gives a level between the two)."""
        if self._input_fresh:
            self._input_fresh = False
            self._input_level = measure(self._input_copy)
        return self._input_level

    def _forget_input_level(self) -> None:
        self._input_fresh = False
        self._input_level = SILENT

    @property
    def output_level(self) -> Level:
        """(rms, peak) of the last played block, linear 0..1."""
        return self.mixer.level

    @property
    def output_peak(self) -> float:
        """``output_level.peak`` alone (the meter's 10 reads a second)."""
        return self.mixer.peak

    @property
    def counters(self) -> EngineCounters:
        return EngineCounters(
            frames_sent=self.transmitter.frames_sent,
            frames_received=self.mixer.frames_received,
            capture_drops=self.transmitter.capture_drops,
            monitor_drops=self.mixer.monitor_drops,
            input_overruns=self._input.xruns if self._input is not None else 0,
            output_underruns=self._output.xruns if self._output is not None else 0,
            send_errors=self.transmitter.send_errors,
        )

    def _on_stream_error(self, error: AudioDeviceError) -> None:
        """From a device thread: report on the loop."""
        self._output_may_be_stopped = self.on_demand  # the next packet looks at the stream
        loop = self._loop
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._report_device_error, error)
                return
        except RuntimeError:  # loop already closed
            pass
        logger.error("audio device error: %s", error)

    def _report_device_error(self, error: AudioDeviceError) -> None:
        logger.error("audio device error: %s", error)
        if self.on_device_error is not None:
            self.on_device_error(error)
