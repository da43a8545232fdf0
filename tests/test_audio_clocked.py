"""Clocked virtual device: real threads, real-time pacing, sources and output."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest
from waiting import wait_for

from app.audio import clocked
from app.audio.backend import AudioBackend, AudioDeviceError, AudioStream, select_device
from app.audio.clocked import ClockedBackend

BLOCK = 960
PERIOD = BLOCK / 48000


def test_implements_the_backend_interface() -> None:
    backend = ClockedBackend()
    assert isinstance(backend, AudioBackend)
    stream = backend.open_input(lambda block: None, BLOCK)
    assert isinstance(stream, AudioStream)
    stream.close()


def test_input_is_paced_in_real_time_without_drift() -> None:
    backend = ClockedBackend()
    blocks: list[int] = []
    stream = backend.open_input(lambda block: blocks.append(len(block)), BLOCK)
    started = time.monotonic()
    stream.start()
    wait_for(lambda: len(blocks) >= 25)
    elapsed = time.monotonic() - started
    stream.stop()
    count = len(blocks)
    assert not stream.active  # stop() joined the device thread: nothing can come after it
    assert len(blocks) == count
    assert set(blocks) == {BLOCK}
    assert 0.45 < elapsed < 1.0  # 25 blocks of 20 ms (upper bound loose: shared CI cores)
    assert stream.t0 is not None
    times = np.array(list(stream.block_times)[:25])
    schedule = stream.t0 + PERIOD * (np.arange(25) + 1)  # input: at the end of each block
    errors = times - schedule
    assert np.all(errors > -0.001)  # never early
    assert np.median(errors) < 0.01  # on time, bar OS scheduling hiccups
    assert np.max(errors) < 0.25
    # No drift: late blocks do not push the later ones back.
    assert abs(np.median(errors[-8:]) - np.median(errors[:8])) < 0.01
    assert stream.xruns == 0
    stream.close()


def test_slow_callback_catches_up_on_the_fixed_schedule() -> None:
    backend = ClockedBackend()
    calls: list[float] = []

    def slow(block: np.ndarray) -> None:
        calls.append(time.monotonic())
        if len(calls) == 3:
            time.sleep(0.07)  # misses three and a half periods

    stream = backend.open_output(slow, BLOCK)
    stream.start()
    wait_for(lambda: len(calls) >= 15)
    stream.close()
    assert stream.xruns >= 1
    assert stream.t0 is not None
    # Block 14 is still requested at t0 + 14 periods: the clock did not slip.
    assert calls[14] - (stream.t0 + 14 * PERIOD) == pytest.approx(0.0, abs=0.03)


def test_a_long_stall_skips_the_periods_missed_instead_of_replaying_them() -> None:
    """A process stopped for a while (a machine asleep): the card goes on from now, as
    a sound card does, instead of asking for every block it missed back to back."""
    backend = ClockedBackend()
    calls: list[float] = []
    stall_s = 1.2

    def stalls_once(block: np.ndarray) -> None:
        calls.append(time.monotonic())
        if len(calls) == 3:
            time.sleep(stall_s)  # 60 periods

    stream = backend.open_output(stalls_once, BLOCK)
    stream.start()
    t0 = None
    wait_for(lambda: stream.t0 is not None)
    t0 = stream.t0
    wait_for(lambda: len(calls) >= 12, timeout=5.0)
    stream.close()
    assert stream.xruns >= 1
    after = np.array(calls[3:12])
    # Paced from the stall's end: 9 calls over about 8 periods, not a burst.
    assert after[-1] - after[0] > 6 * PERIOD
    assert stream.blocks < 30  # nowhere near the 60 periods missed
    # The schedule moved on by whole periods missed, so sample times stay true.
    assert stream.t0 is not None and t0 is not None
    moved = stream.t0 - t0
    assert moved > stall_s - 0.2
    assert moved / PERIOD == pytest.approx(round(moved / PERIOD), abs=1e-6)
    index = (len(calls) - 1) * BLOCK  # the last block's first sample
    assert stream.sample_time(index) - calls[-1] == pytest.approx(PERIOD, abs=0.03)


def test_source_array_then_silence_and_collected_output() -> None:
    source = np.linspace(-0.5, 0.5, 3 * BLOCK + 100, dtype=np.float32)
    backend = ClockedBackend(source)
    captured: list[np.ndarray] = []
    lock = threading.Lock()
    fifo: list[np.ndarray] = []

    def mic(block: np.ndarray) -> None:
        captured.append(block.copy())
        with lock:
            fifo.append(block.copy())

    def speaker(block: np.ndarray) -> None:
        with lock:
            if fifo:
                block[:] = fifo.pop(0)

    inp = backend.open_input(mic, BLOCK)
    out = backend.open_output(speaker, BLOCK)
    inp.start()
    out.start()
    wait_for(lambda: len(captured) >= 6)
    inp.stop()
    time.sleep(0.1)
    out.stop()
    got = np.concatenate(captured)
    np.testing.assert_array_equal(got[:len(source)], source)
    assert not np.any(got[len(source):])  # silence after the end
    collected = backend.collected_output()
    assert collected.dtype == np.float32
    assert np.count_nonzero(collected) >= len(source) - 2  # looped through the speaker
    assert backend.collected_offset == 0
    backend.close()


def test_loop_source_and_callable_source() -> None:
    backend = ClockedBackend(np.array([0.1, 0.2, 0.3], dtype=np.float32), loop_source=True)
    assert backend._read_source(7).tolist() == pytest.approx([0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1])
    backend.set_source(lambda n: np.full(n // 2, 0.25, dtype=np.float32))
    assert backend._read_source(4).tolist() == [0.25, 0.25, 0.0, 0.0]
    backend.set_source(None)
    assert not np.any(backend._read_source(4))


def test_set_source_at_runtime_reports_start_index() -> None:
    backend = ClockedBackend()
    captured: list[np.ndarray] = []
    stream = backend.open_input(lambda b: captured.append(b.copy()), BLOCK)
    stream.start()
    wait_for(lambda: len(captured) >= 3)
    click = np.zeros(BLOCK, dtype=np.float32)
    click[10] = 0.9
    start_index = backend.set_source(click)
    wait_for(lambda: len(captured) * BLOCK > start_index + BLOCK)
    stream.close()
    got = np.concatenate(captured)
    assert start_index % BLOCK == 0
    assert np.flatnonzero(got).tolist() == [start_index + 10]
    # Sample times follow the stream clock.
    assert stream.sample_time(48000) - stream.sample_time(0) == pytest.approx(1.0)


def test_output_sample_time_is_one_block_after_request() -> None:
    backend = ClockedBackend()
    stream = backend.open_output(lambda b: None, BLOCK)
    stream.start()
    wait_for(lambda: stream.blocks >= 1)
    stream.close()
    assert stream.t0 is not None
    assert backend.output_sample_time(0) == pytest.approx(stream.t0 + PERIOD)


def test_collected_output_is_capped() -> None:
    backend = ClockedBackend(max_collected_seconds=0.05)
    for _ in range(10):
        backend._collect(np.ones(BLOCK, dtype=np.float32))
    assert len(backend.collected_output()) <= 0.05 * 48000 + BLOCK
    assert backend.collected_offset + len(backend.collected_output()) == 10 * BLOCK


def test_callback_exception_is_logged_and_stream_keeps_running(
        caplog: pytest.LogCaptureFixture) -> None:
    backend = ClockedBackend()

    def broken(block: np.ndarray) -> None:
        raise ZeroDivisionError("bug")

    stream = backend.open_output(broken, BLOCK)
    stream.start()
    wait_for(lambda: stream.blocks >= 3)
    stream.close()
    assert stream.callback_errors >= 3
    assert "callback failed" in caplog.text


@pytest.mark.parametrize(("device", "message"), [("usb headset", "device 'usb headset' not found"),
                                                 (7, "device '7' not found")])
def test_unknown_device_is_refused(device: int | str, message: str) -> None:
    with pytest.raises(AudioDeviceError, match=message):
        ClockedBackend().open_input(lambda b: None, BLOCK, device=device)


@pytest.mark.parametrize("spec", [None, 0, "clocked", "VIRTUAL", "Clocked virtual device"])
def test_device_selection_by_name_and_index(spec: int | str | None) -> None:
    backend = ClockedBackend()
    (virtual,) = backend.list_devices()
    # Default, index, substring (any case) and exact name all pick the virtual device...
    assert select_device(backend.list_devices(), spec, "input") == virtual
    assert select_device(backend.list_devices(), spec, "output") == virtual
    # ...and a stream opened with that spec runs on it.
    blocks: list[int] = []
    stream = backend.open_output(lambda out: blocks.append(len(out)), BLOCK, device=spec)
    stream.start()
    wait_for(lambda: blocks, what="a block from the stream")
    stream.close()
    assert blocks[0] == BLOCK


def test_output_blocks_without_collection_allocate_no_audio_buffers() -> None:
    """The pacing loop reuses one block: 20 blocks allocate less than one block's worth
    (3,840 bytes at 960 samples), the time stamps of ``block_times`` included."""
    backend = ClockedBackend(collect_output=False)
    blocks: list[int] = [0]

    def count(out: np.ndarray) -> None:
        blocks[0] += 1

    stream = backend.open_output(count, 960)
    tracemalloc.start()
    try:
        stream.start()
        wait_for(lambda: blocks[0] >= 5, what="the stream's first blocks")
        tracemalloc.reset_peak()
        before, start = tracemalloc.get_traced_memory()[0], blocks[0]
        wait_for(lambda: blocks[0] >= start + 20, what="20 more blocks")
        grown = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        stream.close()
    assert grown < 3000, grown


def test_a_stream_started_again_and_again_keeps_a_bounded_record_of_its_blocks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's simulated sound card opens its streams once and starts and stops them on
    demand for every talk and every received transmission: their callback times grew
    over the whole run (3.3 MB per stream after an hour). Only the last
    ``MAX_BLOCK_TIMES`` are kept, whatever the number of starts."""
    monkeypatch.setattr(clocked, "MAX_BLOCK_TIMES", 30)
    backend = ClockedBackend(collect_output=False)
    blocks = [0]

    def count(out: np.ndarray) -> None:
        blocks[0] += 1

    stream = backend.open_output(count, 48)  # 1 ms blocks
    try:
        for _ in range(3):
            target = blocks[0] + 25
            stream.start()
            wait_for(lambda target=target: blocks[0] >= target, what="25 more blocks")
            stream.stop()
    finally:
        stream.close()
    assert blocks[0] >= 75
    assert len(backend.output_block_times) == 30
