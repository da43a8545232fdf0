"""AudioEngine on demand: no stream runs while nothing is sent or played (clocked device)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from audio_helpers import speech_like

from app.audio import tones
from app.audio.clocked import ClockedBackend
from app.audio.codec import OpusEncoder
from app.audio.pipeline import OUTPUT_IDLE_STOP_S, START_MARGIN_MS, AudioEngine, TransmitState


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def engine_and_sent() -> AsyncIterator[tuple[AudioEngine, ClockedBackend, list[bytes]]]:
    backend = ClockedBackend(speech_like(3.0, seed=3), loop_source=True)
    sent: list[bytes] = []
    engine = AudioEngine(backend, send_frame=sent.append, loop=asyncio.get_running_loop(),
                         on_demand=True)
    engine.start()
    yield engine, backend, sent
    engine.close()


async def test_an_idle_engine_runs_no_callback(engine_and_sent) -> None:
    engine, backend, _ = engine_and_sent
    await asyncio.sleep(0.2)
    assert engine.running
    assert not engine.input_active and not engine.output_active
    assert len(backend.input_block_times) == 0
    assert len(backend.output_block_times) == 0


async def test_input_starts_with_the_transmission_and_stops_after_its_last_frame(
        engine_and_sent) -> None:
    engine, _, sent = engine_and_sent
    engine.start_transmit()
    assert engine.input_active
    await wait_until(lambda: len(sent) >= 5)
    engine.stop_transmit(100)  # the release delay keeps the input running
    assert engine.input_active
    await wait_until(lambda: not engine.transmitting)
    await wait_until(lambda: not engine.input_active)
    count = len(sent)
    await asyncio.sleep(0.1)
    assert len(sent) == count
    assert engine.input_level.peak == 0.0
    assert engine.input_starts == 1


async def test_armed_capture_is_kept_and_sent_at_the_grant(engine_and_sent) -> None:
    engine, _, sent = engine_and_sent
    engine.arm()
    assert engine.input_active
    assert engine.transmit_state is TransmitState.ARMED
    assert not engine.transmitting
    await asyncio.sleep(0.1)  # the floor request is under way
    assert sent == []
    engine.start_transmit()
    await wait_until(lambda: len(sent) >= 3)
    # what was captured while armed went out at once, not 20 ms later each
    assert len(sent) >= 3
    engine.stop_transmit(0)
    await wait_until(lambda: not engine.input_active)


async def test_disarm_without_a_grant_closes_the_input(engine_and_sent) -> None:
    engine, _, sent = engine_and_sent
    engine.arm()
    await asyncio.sleep(0.05)
    engine.disarm()
    assert not engine.input_active
    assert engine.transmit_state is TransmitState.IDLE
    engine.start_transmit()  # a later grant still opens it
    await wait_until(lambda: len(sent) >= 1)
    engine.stop_transmit(0)


async def test_output_starts_with_a_tone_and_stops_after_a_second_of_silence(
        engine_and_sent) -> None:
    engine, backend, _ = engine_and_sent
    engine.play_tone(tones.talk_permit())
    assert engine.output_active
    await wait_until(lambda: not engine.mixer.idle or engine.output_active)
    await wait_until(lambda: engine.mixer.idle)
    assert engine.output_active  # still on within the second of silence
    await wait_until(lambda: not engine.output_active, OUTPUT_IDLE_STOP_S + 3.0)
    blocks = len(backend.output_block_times)
    await asyncio.sleep(0.1)
    assert len(backend.output_block_times) == blocks
    engine.play_tone(tones.busy())
    assert engine.output_active and engine.output_starts == 2


async def test_received_packets_start_the_output(engine_and_sent) -> None:
    engine, _, sent = engine_and_sent
    engine.start_transmit()
    await wait_until(lambda: len(sent) >= 3)
    engine.stop_transmit(0)
    assert not engine.output_active
    for seq, packet in enumerate(sent[:3]):
        engine.receive("bob", seq, packet)
    assert not engine.output_active  # it starts a start margin after the first packet
    await wait_until(lambda: engine.output_active)
    assert engine.output_starts == 1


async def test_a_packet_started_output_plays_the_packet_in_its_first_block() -> None:
    """The output's callbacks follow the start: started a start margin after the first
    packet, the first block already plays it (started at once, the first block would
    come before the margin and be silent: the frame would wait a whole block more)."""
    backend = ClockedBackend(collect_output=True)
    engine = AudioEngine(backend, loop=asyncio.get_running_loop(), on_demand=True)
    engine.start()
    try:
        signal = speech_like(0.2, seed=5)
        with OpusEncoder(20, 24000) as encoder:
            packet = encoder.encode(signal[:960])
        received: list[float] = []
        thread = threading.Thread(target=lambda: (received.append(time.monotonic()),
                                                  engine.receive_from_thread("bob", 0, packet)))
        thread.start()
        thread.join()
        await wait_until(lambda: len(backend.output_block_times) >= 1)
        first_block = backend.output_block_times[0]
        assert first_block >= received[0] + START_MARGIN_MS / 1000.0
        await wait_until(lambda: len(backend.collected_output()) >= engine.output_block_samples)
        first = backend.collected_output()[:engine.output_block_samples]
        assert np.abs(first).max() > 0.0
    finally:
        engine.close()


async def test_the_microphone_test_runs_both_streams_until_it_stops(engine_and_sent) -> None:
    engine, _, _ = engine_and_sent
    engine.set_monitor(True)
    assert engine.input_active and engine.output_active
    await wait_until(lambda: engine.input_level.peak > 0)
    engine.set_monitor(False)
    assert not engine.input_active
    await wait_until(lambda: not engine.output_active, OUTPUT_IDLE_STOP_S + 3.0)


# --- the same over a real PortAudio device (JACK's dummy driver), where it is installed -----
from test_audio_jack import (  # noqa: E402
    jack_server,  # noqa: F401 - the fixture
    jackd_installed,  # noqa: F401 - the fixture
    tone_into,
)


async def test_on_demand_streams_restart_on_a_real_device(jack_server: str) -> None:  # noqa: F811
    from app.audio.sd_backend import SoundDeviceBackend

    backend = SoundDeviceBackend()
    sent: list[bytes] = []
    engine = AudioEngine(backend, send_frame=sent.append, loop=asyncio.get_running_loop(),
                         input_device="system", output_device="system", on_demand=True)
    with tone_into(engine, backend):
        assert not engine.input_active and not engine.output_active
        for turn in range(3):  # press, talk, release: the input opens and closes each time
            count = len(sent)
            engine.arm()
            engine.start_transmit()
            await wait_until(lambda: len(sent) >= count + 10)  # noqa: B023
            engine.stop_transmit(40)
            await wait_until(lambda: not engine.input_active)
            assert engine.input_starts == turn + 1
        engine.play_tone(tones.talk_permit())
        assert engine.output_active
        await wait_until(lambda: not engine.output_active, OUTPUT_IDLE_STOP_S + 3.0)


async def test_packets_from_another_thread_start_the_output_on_the_loop(engine_and_sent) -> None:
    engine, _, _ = engine_and_sent
    changes: list[bool] = []
    engine.on_streams_changed = lambda: changes.append(
        threading.current_thread() is threading.main_thread())
    with OpusEncoder(engine.frame_ms, 24000) as encoder:
        packets = [encoder.encode(frame) for frame in
                   np.split(speech_like(0.2, seed=5)[:9600], 10)]

    def network() -> None:  # the client's media receive thread
        for seq, packet in enumerate(packets):
            engine.receive_from_thread("bob", seq, packet, "group_1")

    receiver = threading.Thread(target=network)
    receiver.start()
    receiver.join()
    assert engine.mixer.frames_received == 10  # in the mixer at once, not via the loop
    await wait_until(lambda: engine.output_active)
    assert engine.output_starts == 1
    assert changes == [True]  # the stream was started (and the meters told) on the loop
    await wait_until(lambda: engine.output_level.peak > 0.01)
