"""The capture side of the audio engine: transmit states, the pre-roll queue, the
encoder, and frames leaving in order.

``Transmitter`` is the part of :class:`~app.audio.pipeline.AudioEngine` that decides
what a captured block becomes. It opens no stream and knows no device: the engine
hands it each captured block (:meth:`Transmitter.captured`, on the input device's
thread) and the talk key's and the floor's decisions (on the loop), and is told back,
on the loop, when an utterance's last frame was sent (``on_released``).

States: idle → ``start()`` → on → ``stop(ms)`` → releasing (the next
``ceil(ms / frame_ms)`` captured frames are still sent so the last syllable is not
cut) → idle; ``arm()`` (the talk key went down, the floor not granted yet) keeps what
is captured, at most ``PREROLL_MS``, for ``start()`` to send at the grant.

A block is encoded and sent on the thread that captured it, straight from the
device's buffer; it is copied into the queue only before the grant (the pre-roll) or
behind a pre-roll the grant's flush has not taken yet. One lock (``_tx_lock``) keeps
the encoder and the order of frames: the input thread, the grant's flush (on the
loop) and the encoder's settings (FEC policy, on the loop) take it in turn. The
queue is bounded: full, its oldest block is dropped and counted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from app.audio.codec import CodecError, OpusEncoder
from app.audio.engine_types import TransmitState
from app.audio.fec_policy import EncoderSetting, FecPolicy, LossReport

logger = logging.getLogger(__name__)

CAPTURE_QUEUE_FRAMES = 25  # 0.5 s at 20 ms: how long the loop may stall
PREROLL_MS = 200  # capture kept between arm() and start()

SendFrame = Callable[[bytes], object]
CallOnLoop = Callable[[Callable[[], None]], None]


class Transmitter:
    """Captured blocks → Opus frames handed to ``send_frame``, by the transmit state."""

    def __init__(
        self,
        encoder: OpusEncoder,
        fec_policy: FecPolicy,
        call_on_loop: CallOnLoop,
        on_released: Callable[[], None],
        *,
        send_frame: SendFrame | None = None,
        capture_queue_frames: int = CAPTURE_QUEUE_FRAMES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send_frame = send_frame
        self.fec_policy = fec_policy
        self._encoder = encoder
        self._call_on_loop = call_on_loop
        self._on_released = on_released
        self._clock = clock
        self._lock = threading.Lock()  # guards the state and the queue
        self._tx_lock = threading.Lock()  # the encoder, and frames leaving in order
        self._queue: deque[np.ndarray] = deque()
        self._queue_max = max(1, capture_queue_frames)
        self._preroll_max = max(1, math.ceil(PREROLL_MS / encoder.frame_ms))
        self._state = TransmitState.IDLE
        self._release_left = 0
        self._utterance_open = False  # frames sent, the end not yet reported
        self._end_pending = False  # the end of the release is on its way to the loop
        self._closed = False
        self.frames_sent = 0
        self.capture_drops = 0
        self.send_errors = 0

    # ----------------------------------------------------------------- state
    @property
    def state(self) -> TransmitState:
        return self._state

    @property
    def transmitting(self) -> bool:
        """True from ``start()`` until the utterance's last frame was sent."""
        return self._state not in (TransmitState.IDLE, TransmitState.ARMED) \
            or self._utterance_open

    @property
    def needs_input(self) -> bool:
        """Armed, transmitting or releasing: the input must run."""
        return self._state is not TransmitState.IDLE or self._utterance_open

    def arm(self) -> None:
        """Keep what is captured from now on, for ``start()`` (the talk key went down)."""
        with self._lock:
            if self._state is TransmitState.IDLE and not self._utterance_open:
                self._state = TransmitState.ARMED
                self._queue.clear()

    def disarm(self) -> None:
        """The talk key went up without a transmission (refused, released early)."""
        with self._lock:
            if self._state is TransmitState.ARMED:
                self._state = TransmitState.IDLE
                self._queue.clear()

    def start(self) -> bool:
        """Start (or continue) sending captured frames; True when a pre-roll waits for
        :meth:`drain` (call it once the input runs: it leaves at the grant)."""
        with self._lock:
            armed = self._state is TransmitState.ARMED
            self._state = TransmitState.ON
            self._utterance_open = True
            return bool(self._queue) and armed

    def stop(self, release_delay_ms: int) -> bool:
        """Stop sending after ``release_delay_ms`` more audio; 0 stops at once and
        discards the queue. True when the utterance is over now (call :meth:`finish`)."""
        if release_delay_ms <= 0:
            with self._tx_lock, self._lock:  # a frame being encoded is the last one sent
                self._state = TransmitState.IDLE
                dropped = len(self._queue)
                self._queue.clear()
            if dropped:
                logger.debug("transmit stopped at once, %d queued frames discarded", dropped)
            return True
        with self._lock:
            if self._state is TransmitState.ON:
                self._state = TransmitState.RELEASING
                self._release_left = math.ceil(release_delay_ms / self._encoder.frame_ms)
        return False

    def release_ended(self) -> bool:
        """On the loop, after ``on_released``: whether the utterance is still over (a
        ``start()`` meanwhile continues it). True: call :meth:`finish`."""
        with self._lock:
            self._end_pending = False
            return self._state is TransmitState.IDLE and not self._queue

    def finish(self) -> bool:
        """Close the utterance; True when one was open (the encoder is reset for the next)."""
        if not self._utterance_open:
            return False
        self._utterance_open = False
        if not self._closed:
            with self._tx_lock:
                self._encoder.reset()  # the next utterance starts from a clean state
        return True

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._state = TransmitState.IDLE
            self._queue.clear()
        with self._tx_lock:
            self._encoder.close()

    # --------------------------------------------------------------- capture
    def captured(self, block: np.ndarray) -> None:
        """Input device callback's share: while transmitting, the block encoded and sent
        from this thread, after what the queue still holds (the pre-roll when the
        grant's flush has not taken it yet); only then is the block copied."""
        with self._tx_lock:
            with self._lock:
                state = self._state
                if state is TransmitState.IDLE:
                    return
                queue = self._queue
                if state is TransmitState.ARMED:  # before the grant: keep, do not send
                    if len(queue) >= self._preroll_max:
                        queue.popleft()
                    queue.append(block.copy())
                    return
                if state is TransmitState.RELEASING:
                    self._release_left -= 1
                    if self._release_left <= 0:
                        self._state = TransmitState.IDLE
                blocks: list[np.ndarray] | None = None
                if queue:  # frames wait: this one after them, in order
                    if len(queue) >= self._queue_max:
                        queue.popleft()
                        self.capture_drops += 1
                    queue.append(block.copy())
                    blocks = list(queue)
                    queue.clear()
                closed = self._closed
                ended = (self._state is TransmitState.IDLE and not closed
                         and self._utterance_ending())
            if not closed:
                self._send_blocks([block] if blocks is None else blocks)
        if ended:
            self._call_on_loop(self._on_released)

    def drain(self) -> None:
        """Encode and send every queued frame, in order (the loop: the pre-roll at the
        grant); the utterance's end goes to the loop."""
        with self._tx_lock:
            with self._lock:
                if self._state is TransmitState.ARMED:
                    return
                blocks = list(self._queue)
                self._queue.clear()
            if not blocks or self._closed:
                return
            self._send_blocks(blocks)
            with self._lock:
                ended = self._utterance_ending()
        if ended:
            self._call_on_loop(self._on_released)

    def _utterance_ending(self) -> bool:
        """With ``_lock`` held: whether the release's last frame is (being) sent, then
        handed to the loop once (which checks again: a ``start()`` meanwhile continues
        the utterance)."""
        if (self._state is TransmitState.IDLE and not self._queue and self._utterance_open
                and not self._end_pending):
            self._end_pending = True
            return True
        return False

    def _send_blocks(self, blocks: list[np.ndarray]) -> None:
        """Encode and send ``blocks`` in order (``_tx_lock`` held)."""
        if self.fec_policy.next_deadline() is not None:
            self.fec_policy.apply(self._encoder, self._clock())  # the hold may have run out
        send_frame = self.send_frame
        for block in blocks:
            try:
                packet = self._encoder.encode(block)
            except CodecError as exc:
                logger.error("encoding a captured frame failed: %s", exc)
                continue
            self.frames_sent += 1
            if send_frame is not None:
                try:
                    send_frame(packet)
                except Exception:
                    self.send_errors += 1
                    logger.exception("send_frame failed")

    # ---------------------------------------------------------- the encoder
    def set_expected_loss(self, pct: int) -> None:
        with self._tx_lock:
            self._encoder.set_expected_loss(pct)

    def report_loss(self, report: LossReport) -> EncoderSetting:
        with self._tx_lock:
            self.fec_policy.update(report)
            return self.fec_policy.apply(self._encoder, self._clock())

    @property
    def expected_loss(self) -> int:
        return self._encoder.expected_loss
