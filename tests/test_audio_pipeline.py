"""AudioEngine over the clocked virtual device: real threads, real Opus, real loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from audio_helpers import correlation, fft_lag, speech_like
from waiting import wait_until

from app.audio import tones
from app.audio.backend import AudioDeviceError
from app.audio.clocked import ClockedBackend
from app.audio.pipeline import AudioEngine, TransmitState
from app.audio.sd_backend import SoundDeviceBackend


class Sent:
    """send_frame recorder: packets, and the thread each was sent on."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.threads: set[int] = set()

    def __call__(self, packet: bytes) -> None:
        self.packets.append(packet)
        self.threads.add(threading.get_ident())


Talker = tuple[AudioEngine, ClockedBackend, Sent]


async def captured(backend: ClockedBackend, blocks: int) -> None:
    """Until the microphone has delivered ``blocks`` more blocks and the loop has run what
    they scheduled: after this, a frame they should not have sent would have been sent."""
    target = backend.input_samples + blocks * 960
    await wait_until(lambda: backend.input_samples >= target, what=f"{blocks} captured blocks")
    await asyncio.sleep(0)  # the drain they may have scheduled with call_soon_threadsafe


async def played(backend: ClockedBackend, samples: int) -> None:
    """Until the speaker has collected ``samples`` more samples."""
    target = len(backend.collected_output()) + samples
    await wait_until(lambda: len(backend.collected_output()) >= target,
                     what=f"{samples} played samples")


@pytest.fixture
async def talker() -> AsyncIterator[Talker]:
    backend = ClockedBackend(speech_like(3.0, seed=5), loop_source=True)
    sent = Sent()
    engine = AudioEngine(backend, send_frame=sent, loop=asyncio.get_running_loop())
    engine.start()
    yield engine, backend, sent
    engine.close()


async def test_nothing_is_sent_before_start_transmit(talker: Talker) -> None:
    engine, backend, sent = talker
    await captured(backend, 10)
    assert sent.packets == []
    assert engine.counters.frames_sent == 0
    assert engine.transmit_state is TransmitState.IDLE
    assert engine.input_level.rms > 0.01  # the meter works while not transmitting


async def test_frames_are_encoded_and_sent_on_the_input_thread(talker: Talker) -> None:
    """The loop (the GUI thread in the app) is not woken for each 20 ms frame: the input
    device's thread encodes and sends."""
    engine, _, sent = talker
    engine.start_transmit()
    await wait_until(lambda: len(sent.packets) >= 10)
    input_thread = engine._input._thread  # type: ignore[union-attr]
    assert input_thread is not None
    assert sent.threads == {input_thread.ident}
    assert threading.get_ident() not in sent.threads
    assert all(0 < len(p) <= 1275 for p in sent.packets)
    assert engine.transmitting


async def test_release_delay_keeps_sending_then_stops(talker: Talker) -> None:
    engine, backend, sent = talker
    stopped: list[int] = []
    engine.on_transmit_stopped = lambda: stopped.append(len(sent.packets))
    engine.start_transmit()
    await wait_until(lambda: len(sent.packets) >= 5)
    engine.stop_transmit(150)
    at_stop = len(sent.packets)
    await wait_until(lambda: bool(stopped))
    await captured(backend, 8)
    after = len(sent.packets) - at_stop
    # ceil(150 / 20) = 8 frames captured after the release, plus at most a
    # couple that were captured before it but still queued.
    assert 8 <= after <= 10
    assert stopped == [len(sent.packets)]
    assert not engine.transmitting


async def test_stop_transmit_zero_stops_at_once(talker: Talker) -> None:
    engine, backend, sent = talker
    stopped: list[bool] = []
    engine.on_transmit_stopped = lambda: stopped.append(True)
    engine.start_transmit()
    await wait_until(lambda: len(sent.packets) >= 3)
    engine.stop_transmit(0)
    at_stop = len(sent.packets)
    assert stopped == [True]
    await captured(backend, 8)
    assert len(sent.packets) == at_stop


async def test_restart_during_release_continues_the_utterance(talker: Talker) -> None:
    engine, _, sent = talker
    stopped: list[bool] = []
    engine.on_transmit_stopped = lambda: stopped.append(True)
    engine.start_transmit()
    await wait_until(lambda: len(sent.packets) >= 3)
    engine.stop_transmit(300)
    await asyncio.sleep(0.05)
    engine.start_transmit()
    count = len(sent.packets)
    await asyncio.sleep(0.4)
    assert stopped == []
    assert len(sent.packets) > count + 15


async def test_a_stalled_loop_does_not_delay_or_drop_frames() -> None:
    backend = ClockedBackend(speech_like(1.0))
    sent = Sent()
    engine = AudioEngine(backend, send_frame=sent, loop=asyncio.get_running_loop(),
                         capture_queue_frames=5)
    engine.start()
    engine.start_transmit()
    time.sleep(0.3)  # the loop is blocked for 15 frame periods: frames still go out
    sent_while_blocked = len(sent.packets)
    counters = engine.counters
    engine.close()
    assert sent_while_blocked >= 10
    assert counters.capture_drops == 0
    assert counters.input_overruns == 0  # the device thread kept its pace


def test_starting_without_a_sound_card_raises_audio_device_error() -> None:
    engine = AudioEngine(SoundDeviceBackend(), loop=asyncio.new_event_loop())
    try:
        if SoundDeviceBackend().list_devices():
            pytest.skip("a sound card is present")
        with pytest.raises(AudioDeviceError, match="no input device available"):
            engine.start()
        assert not engine.running
    finally:
        engine.close()


async def test_unknown_device_raises_and_leaves_nothing_open() -> None:
    backend = ClockedBackend()
    engine = AudioEngine(backend, output_device="no such speaker")
    with pytest.raises(AudioDeviceError, match="device 'no such speaker' not found"):
        engine.start()
    assert backend._streams == []
    engine.close()


async def test_expected_loss_reaches_the_encoder(talker: Talker) -> None:
    engine, _, _ = talker
    engine.set_expected_loss(12)
    assert engine.expected_loss == 12


async def test_loss_report_sets_the_encoder_through_the_fec_policy(talker: Talker) -> None:
    from app.audio.fec_policy import LossReport

    engine, _, _ = talker
    setting = engine.report_loss(LossReport(worst_pct=4.0, p90_pct=1.0, at=time.monotonic()))
    assert setting.fec_on and engine.expected_loss == setting.packet_loss_perc == 10
    later = time.monotonic() + engine.fec_policy.hold_seconds
    assert engine.report_loss(LossReport(0.0, 0.0, at=later)).packet_loss_perc == 0
    assert engine.expected_loss == 0


async def test_two_engines_talker_is_heard_by_listener() -> None:
    loop = asyncio.get_running_loop()
    speech = speech_like(1.2, seed=7)
    mic = ClockedBackend()
    speaker = ClockedBackend()
    listener = AudioEngine(speaker, loop=loop)
    seq = 0

    def forward(packet: bytes) -> None:
        nonlocal seq
        listener.receive("alice", seq, packet)
        seq += 1

    talker = AudioEngine(mic, send_frame=forward, loop=loop)
    listener.start()
    talker.start()
    await asyncio.sleep(0.05)
    talker.start_transmit()
    start_index = mic.set_source(speech)
    await asyncio.sleep(len(speech) / 48000 + 0.1)
    talker.stop_transmit(100)
    await asyncio.sleep(0.25)
    listener_stats = listener.receive_quality()
    listener.end_utterance("alice")
    await wait_until(lambda: listener.mixer.talkers() == [])
    heard = speaker.collected_output()
    stats = listener.counters
    talker.close()
    listener.close()

    assert stats.frames_received == seq and seq >= 55
    lag = fft_lag(speech, heard)
    # Compare 200 ms pieces, each at its best nearby lag: under CPU load a
    # concealed frame may shift the rest of the stream by a frame.
    scores = []
    for start in range(0, len(speech) - 9600, 9600):
        piece = speech[start:start + 9600]
        window = heard[max(0, lag + start - 3 * 960):lag + start + 9600 + 3 * 960]
        local = min(fft_lag(piece, window), len(window) - len(piece))
        scores.append(correlation(piece, window[local:local + len(piece)]))
    assert float(np.median(scores)) > 0.8, (scores, listener_stats)
    # Mouth-to-ear on the two stream clocks: capture, encode, jitter buffer,
    # decode, one output block. Well under the 300 ms target.
    latency = speaker.output_sample_time(lag + speaker.collected_offset) \
        - mic.input_sample_time(start_index)
    assert 0.0 < latency < 0.3


async def test_tones_volume_and_mute() -> None:
    backend = ClockedBackend()
    engine = AudioEngine(backend, loop=asyncio.get_running_loop())
    engine.start()
    cue = tones.talk_permit()
    engine.play_tone(cue)
    await asyncio.sleep(len(cue) / 48000 + 0.1)
    out = backend.collected_output()
    lag = fft_lag(cue, out)
    np.testing.assert_allclose(out[lag:lag + len(cue)], cue, atol=1e-6)
    peak = engine.output_level.peak
    backend.clear_output()
    engine.volume = 0.5
    engine.play_tone(cue)
    await asyncio.sleep(len(cue) / 48000 + 0.1)
    half = backend.collected_output()
    assert np.max(np.abs(half)) == pytest.approx(0.5 * np.max(np.abs(cue)), rel=1e-3)
    backend.clear_output()
    engine.muted = True
    engine.play_tone(cue)
    await played(backend, len(cue) + 4800)
    assert not np.any(backend.collected_output())
    engine.volume = 9.0
    assert engine.volume == 1.5
    assert peak == 0.0  # the last block after the cue was silent
    engine.close()


async def test_monitor_plays_the_microphone_locally() -> None:
    tone = (0.3 * np.sin(2 * np.pi * 600 * np.arange(48000) / 48000)).astype(np.float32)
    backend = ClockedBackend(tone, loop_source=True)
    engine = AudioEngine(backend, loop=asyncio.get_running_loop())
    engine.start()
    await played(backend, 7200)
    assert not np.any(backend.collected_output())  # monitor off: silence
    engine.set_monitor(True)
    await asyncio.sleep(0.3)
    engine.close()
    out = backend.collected_output()
    heard = out[np.flatnonzero(out)[0]:]
    assert len(heard) > 0.15 * 48000
    rms = np.sqrt(np.mean(heard[:7200] ** 2))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


async def test_close_is_idempotent_and_stops_the_device(talker: Talker) -> None:
    engine, backend, _ = talker
    engine.close()
    engine.close()
    assert not engine.running
    assert backend._streams == []


@pytest.mark.parametrize(("frame_ms", "block_ms", "expected", "margin_ms"),
                         [(20, 5, 240, 5), (10, 5, 240, 5), (20, 10, 480, 5), (20, 40, 960, 5),
                          (20, 2, 96, 2)])
def test_output_runs_in_short_blocks(frame_ms: int, block_ms: int, expected: int,
                                     margin_ms: int) -> None:
    """The output block is shorter than the frame (capped at it): lower playout delay; a
    frame waits 5 ms after its arrival (at most one block) before it starts playing."""
    engine = AudioEngine(ClockedBackend(), frame_ms, output_block_ms=block_ms)
    assert engine.output_block_samples == expected
    assert engine.mixer._start_margin == pytest.approx(margin_ms / 1000)
    engine.close()


def test_the_default_output_block_is_10_ms() -> None:
    engine = AudioEngine(ClockedBackend())
    assert engine.output_block_ms == 10 and engine.output_block_samples == 480
    engine.close()
