"""A real-time virtual sound card: the fake used when there is no device.

Each stream runs a thread that calls its callback once per block period
against a fixed schedule (``start + n * period``, so it never drifts; when
the thread is late it catches up and counts an xrun; stalled for over
``MAX_CATCH_UP_S``, it skips the periods missed, as a sound card does). Input streams are fed
from a source (an array, optionally looped, or a function of the block
size; silence after its end or when None); what output callbacks write is
collected and can be read back with ``collected_output()``.

Timing model, for mouth-to-ear measurements: input sample ``i`` is captured
at ``t0 + i / 48000`` and its block is delivered when the block is complete;
the output block written at ``t0 + n * period`` is played one block later,
so output sample ``j`` plays at ``t0 + period + j / 48000``. The streams'
``sample_time`` methods return these monotonic times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

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

logger = logging.getLogger(__name__)

Source = np.ndarray | Callable[[int], np.ndarray] | None
BlockCallback = Callable[[np.ndarray], None]

MAX_BLOCK_TIMES = 12_000
"""Callback times a stream keeps (the last two minutes at 10 ms blocks; 100,000 kept
3.3 MB per stream, filled over an hour or more of talks by the app's simulated sound
card, which opens and stops the same streams on demand)."""
MAX_CATCH_UP_S = 0.5
"""Late by more than this, a stream skips the periods it missed (its ``t0`` moves on by
them) instead of catching up on each."""

DEVICE = DeviceInfo(0, "Clocked virtual device", 1, 1, float(SAMPLE_RATE), True, True)


class ClockedStream:
    """One paced stream; created by ClockedBackend.open_input/open_output."""

    def __init__(self, backend: ClockedBackend, direction: Direction,
                 callback: BlockCallback, blocksize: int,
                 on_error: ErrorCallback | None) -> None:
        if blocksize <= 0:
            raise AudioDeviceError(f"invalid block size {blocksize}",
                                   DeviceErrorReason.UNSUPPORTED, device=DEVICE.name,
                                   direction=direction, detail=f"block size {blocksize}")
        self.direction = direction
        self.blocksize = blocksize
        self.period = blocksize / SAMPLE_RATE
        self._backend = backend
        self._callback = callback
        self._on_error = on_error
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._xruns = 0
        self._blocks = 0
        self._callback_errors = 0
        self._error_log = RateLimiter(5.0)
        self._block = np.zeros(blocksize, dtype=np.float32)  # reused for every block
        self.t0: float | None = None
        # Monotonic wall time at which each recent callback actually ran.
        self.block_times: deque[float] = deque(maxlen=MAX_BLOCK_TIMES)

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    @property
    def xruns(self) -> int:
        return self._xruns

    @property
    def blocks(self) -> int:
        return self._blocks

    @property
    def callback_errors(self) -> int:
        return self._callback_errors

    def sample_time(self, index: int) -> float:
        """Monotonic time at which sample ``index`` is captured (input) or played."""
        if self.t0 is None:
            raise RuntimeError("stream has not started")
        offset = self.period if self.direction == "output" else 0.0
        return self.t0 + offset + index / SAMPLE_RATE

    def start(self) -> None:
        if self._closed:
            raise AudioDeviceError("stream is closed", DeviceErrorReason.CLOSED,
                                   device=DEVICE.name, direction=self.direction)
        if self.active:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"clocked-{self.direction}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
            if thread.is_alive():
                logger.warning("clocked %s thread did not stop", self.direction)

    def close(self) -> None:
        self.stop()
        self._closed = True
        self._backend._forget(self)

    def _run(self) -> None:
        # Everything a block needs is bound to a local once: this loop runs 100 times a
        # second per stream, and on a shared VM each attribute look-up on a cold cache
        # costs as much as the work (the pacing's own CPU is reported by bench/idle.py).
        t0 = time.monotonic()
        self.t0 = t0
        n = 0
        period = self.period
        stopping = self._stop.is_set
        monotonic, sleep = time.monotonic, time.sleep
        stamp = self.block_times.append
        block = self._block
        callback = self._callback
        backend = self._backend
        is_input = self.direction == "input"
        fill = backend._fill_source if is_input else None
        collect = backend._collect if backend._collect_output and not is_input else None
        due = t0 + period if is_input else t0  # input block n is complete at its end
        while True:
            delay = due - monotonic()
            if delay > 0:
                # A plain sleep, not Event.wait(delay): the wait builds a lock and a
                # condition per call, about as much CPU as the wake-up itself at 200
                # blocks a second. A stop is seen within one block.
                sleep(delay)
            elif -delay > MAX_CATCH_UP_S:
                # Stalled for long (the process stopped, the machine slept): a sound card
                # goes on from now rather than asking for every period it missed, which
                # would replay seconds of input or output back to back.
                skipped = int(-delay / period)
                t0 += skipped * period
                self.t0 = t0
                self._xruns += 1
            elif -delay > period:
                self._xruns += 1
            if stopping():
                break
            stamp(monotonic())
            if fill is not None:
                fill(block)
            else:
                block.fill(0.0)
            try:
                callback(block)
            except Exception:
                self._callback_failed()
            self._blocks += 1
            if collect is not None:
                collect(block)
            n += 1
            due = t0 + (n + is_input) * period  # from t0 each time: no drift

    def _callback_failed(self) -> None:
        self._callback_errors += 1
        suppressed = self._error_log.allow(time.monotonic())
        if suppressed is not None:
            logger.exception("clocked %s callback failed (%d similar suppressed)",
                             self.direction, suppressed)


class ClockedBackend(StreamOpener):
    """Real-time paced fake device; see the module docstring."""

    name = "clocked"

    def __init__(self, source: Source = None, loop_source: bool = False, *,
                 collect_output: bool = True, max_collected_seconds: float = 600.0) -> None:
        self._lock = threading.Lock()
        self._source: Source = None
        self._loop_source = loop_source
        self._position = 0
        self._input_samples = 0  # samples delivered to input callbacks so far
        self._collect_output = collect_output
        self._max_collected = int(max_collected_seconds * SAMPLE_RATE)
        self._collected: deque[np.ndarray] = deque()
        self._collected_len = 0  # samples held in _collected
        self._collected_samples = 0  # samples discarded before _collected[0]
        self._streams: list[ClockedStream] = []  # open streams
        self._latest: dict[str, ClockedStream] = {}  # latest opened, kept after close
        self.set_source(source, loop_source)

    # ---------------------------------------------------------------- backend
    def list_devices(self) -> list[DeviceInfo]:
        return [DEVICE]

    def _open(self, direction: Direction, callback: BlockCallback, blocksize: int,
              device: DeviceSpec, on_error: ErrorCallback | None) -> ClockedStream:
        select_device(self.list_devices(), device, direction)
        stream = ClockedStream(self, direction, callback, blocksize, on_error)
        with self._lock:
            self._streams.append(stream)
            self._latest[direction] = stream
        return stream

    def _forget(self, stream: ClockedStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def close(self) -> None:
        """Stop and close every stream still open."""
        for stream in list(self._streams):
            stream.close()

    # ----------------------------------------------------------------- source
    def set_source(self, source: Source, loop: bool | None = None) -> int:
        """Replace what the microphone hears, from the next block on.

        Returns the input sample index at which the new source starts.
        """
        if isinstance(source, np.ndarray):
            source = np.asarray(source, dtype=np.float32).reshape(-1).copy()
        with self._lock:
            self._source = source
            self._position = 0
            if loop is not None:
                self._loop_source = loop
            return self._input_samples

    @property
    def input_samples(self) -> int:
        """Samples delivered to input callbacks so far."""
        return self._input_samples

    def _read_source(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        self._fill_source(out)
        return out

    def _fill_source(self, out: np.ndarray) -> None:
        """Write the next ``len(out)`` source samples into ``out`` (silence past the end)."""
        n = len(out)
        with self._lock:
            self._input_samples += n
            source = self._source
            if source is None:
                out.fill(0.0)
            elif callable(source):
                block = np.asarray(source(n), dtype=np.float32).reshape(-1)[:n]
                out[:len(block)] = block
                out[len(block):] = 0.0
            elif self._position + n <= len(source):  # the usual block: one copy
                position = self._position
                out[:] = source[position:position + n]
                self._position = position + n
            else:
                self._read_array(source, out)

    def _read_array(self, source: np.ndarray, out: np.ndarray) -> None:
        n = len(out)
        filled = 0
        while filled < n and len(source):
            if self._position >= len(source):
                if not self._loop_source:
                    break
                self._position = 0
            take = min(n - filled, len(source) - self._position)
            out[filled:filled + take] = source[self._position:self._position + take]
            self._position += take
            filled += take
        out[filled:] = 0.0

    # ----------------------------------------------------------------- output
    def _collect(self, block: np.ndarray) -> None:
        if not self._collect_output:
            return
        with self._lock:
            self._collected.append(block.astype(np.float32, copy=True))
            self._collected_len += len(block)
            while self._collected_len > self._max_collected and len(self._collected) > 1:
                dropped = self._collected.popleft()
                self._collected_len -= len(dropped)
                self._collected_samples += len(dropped)

    def collected_output(self) -> np.ndarray:
        """Everything output callbacks wrote (the most recent blocks if capped)."""
        with self._lock:
            blocks = list(self._collected)
        if not blocks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(blocks)

    @property
    def output(self) -> np.ndarray:
        """Same as ``collected_output()``."""
        return self.collected_output()

    @property
    def collected_offset(self) -> int:
        """Output sample index of the first sample ``collected_output`` returns."""
        return self._collected_samples

    def clear_output(self) -> None:
        with self._lock:
            self._collected_samples += self._collected_len
            self._collected_len = 0
            self._collected.clear()

    # ----------------------------------------------------------------- timing
    def _last(self, direction: Direction) -> ClockedStream:
        stream = self._latest.get(direction)
        if stream is None:
            raise RuntimeError(f"no {direction} stream was opened")
        return stream

    @property
    def input_block_times(self) -> deque[float]:
        """Wall times of the input callbacks of the latest input stream."""
        return self._last("input").block_times

    @property
    def output_block_times(self) -> deque[float]:
        return self._last("output").block_times

    def input_sample_time(self, index: int) -> float:
        """Monotonic capture time of input sample ``index`` (latest input stream)."""
        return self._last("input").sample_time(index)

    def output_sample_time(self, index: int) -> float:
        """Monotonic play time of output sample ``index`` (latest output stream)."""
        return self._last("output").sample_time(index)
