"""The input callback's direct path (a block encoded straight from the device's buffer
while transmitting) sends the same packets as the queued path (the pre-roll kept before
the grant and sent at it, or found still queued by the input thread)."""

from __future__ import annotations

import asyncio

import numpy as np
from audio_helpers import speech_like

from app.audio.clocked import ClockedBackend
from app.audio.pipeline import AudioEngine, TransmitState

FRAME = 960
FRAMES = 20
PREROLL = 7


def _engine(sent: list[bytes]) -> AudioEngine:
    """An on-demand engine never started: the test is its input device, calling
    ``_on_input`` itself, one block after the other, through one reused buffer."""
    backend = ClockedBackend(lambda frames: np.zeros(frames, dtype=np.float32))
    return AudioEngine(backend, send_frame=sent.append, loop=asyncio.get_running_loop(),
                       on_demand=True)


def _feed(engine: AudioEngine, frames: list[np.ndarray], buffer: np.ndarray) -> None:
    for frame in frames:
        buffer[:] = frame  # a device reuses its buffer once the callback has returned
        engine._on_input(buffer)


async def test_direct_and_queued_frames_make_the_same_packets() -> None:
    signal = speech_like(FRAMES * FRAME / 48000, seed=11).astype(np.float32)
    frames = [signal[i * FRAME:(i + 1) * FRAME] for i in range(FRAMES)]
    buffer = np.empty(FRAME, dtype=np.float32)

    direct: list[bytes] = []  # every frame through the direct path
    engine = _engine(direct)
    engine.start_transmit()
    _feed(engine, frames, buffer)
    engine.close()

    at_grant: list[bytes] = []  # a pre-roll sent by the grant's flush, then direct
    engine = _engine(at_grant)
    engine.arm()
    _feed(engine, frames[:PREROLL], buffer)
    assert at_grant == [] and engine.transmit_state is TransmitState.ARMED
    engine.start_transmit()
    assert len(at_grant) == PREROLL
    _feed(engine, frames[PREROLL:], buffer)
    engine.close()

    by_input: list[bytes] = []  # the pre-roll still queued when the next block comes
    engine = _engine(by_input)
    engine.arm()
    _feed(engine, frames[:PREROLL], buffer)
    flush = engine.transmitter.drain
    engine.transmitter.drain = lambda: None  # type: ignore[method-assign]  # the grant's flush is late
    engine.start_transmit()
    engine.transmitter.drain = flush  # type: ignore[method-assign]
    assert by_input == []
    _feed(engine, frames[PREROLL:], buffer)
    assert engine.counters.capture_drops == 0
    engine.close()

    assert len(direct) == FRAMES
    assert at_grant == direct
    assert by_input == direct


async def test_the_direct_path_ends_the_utterance_after_the_release() -> None:
    sent: list[bytes] = []
    engine = _engine(sent)
    stopped = asyncio.Event()
    engine.on_transmit_stopped = stopped.set
    buffer = np.full(FRAME, 0.1, dtype=np.float32)
    engine.start_transmit()
    _feed(engine, [buffer.copy()] * 3, buffer)
    engine.stop_transmit(40)  # two more frames
    _feed(engine, [buffer.copy()] * 4, buffer)
    assert len(sent) == 5
    await asyncio.wait_for(stopped.wait(), 5)
    assert not engine.transmitting
    engine.close()
