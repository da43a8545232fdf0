"""A listener's process stopped (SIGSTOP) while a talker goes on talking: on SIGCONT the
audio that queued in its UDP socket meanwhile is dropped, not played late, and playout
comes back at its usual delay at once (not up to the jitter buffer's cap, 200 ms, late
for the rest of the talk). Real parts: a listener process with the desktop app's
``AudioEngine`` (on demand) on the clocked backend, fed by the client's media receive
thread (``ThreadedDatagramTransport``) from a real UDP socket; this process sends it Opus
frames in real time."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio.codec import OpusEncoder
from app.audio.constants import SAMPLE_RATE

ROOT = Path(__file__).resolve().parent.parent

LISTENER = """
import asyncio, socket, sys
import numpy as np
from app.audio.clocked import ClockedBackend
from app.audio.pipeline import AudioEngine
from app.client.media_thread import ThreadedDatagramTransport

class Sink:
    def __init__(self, engine):
        self.engine = engine
    def datagram_received(self, data, addr):
        self.engine.audio_sink("", "alice", int.from_bytes(data[:4], "big"), data[4:])
    def error_received(self, exc):
        pass

async def main(path):
    loop = asyncio.get_running_loop()
    backend = ClockedBackend()
    engine = AudioEngine(backend, loop=loop, on_demand=True)
    engine.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport = ThreadedDatagramTransport(sock, Sink(engine))
    transport.start()
    print("port", sock.getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    np.savez(path, out=backend.collected_output(),
             times=np.array(backend.output_block_times), block=engine.output_block_samples)
    transport.close()
    engine.close()
    print("saved", flush=True)

asyncio.run(main(sys.argv[1]))
"""

HEADLESS = """
import asyncio, socket, sys
import numpy as np
from app.client.media_thread import ThreadedDatagramTransport
from app.headless.mix_clock import MixClock

class Sink:
    def __init__(self, loop, clock):
        self.loop, self.clock = loop, clock
    def datagram_received(self, data, addr):
        self.loop.call_soon_threadsafe(self.clock.on_audio, "alice",
                                       int.from_bytes(data[:4], "big"), data[4:])
    def error_received(self, exc):
        pass

async def main(path):
    loop = asyncio.get_running_loop()
    frames, times = [], []
    def sink(frame):
        frames.append(frame)
        times.append(loop.time())
    clock = MixClock(sink)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport = ThreadedDatagramTransport(sock, Sink(loop, clock))
    transport.start()
    running = asyncio.ensure_future(clock.run())
    print("port", sock.getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    running.cancel()
    # the CLI's recording: frame n stands for start + n frames (a late one caught up)
    start = times[0]
    np.savez(path, out=np.concatenate(frames),
             times=start + 0.02 * np.arange(len(frames)), block=960)
    transport.close()
    print("saved", flush=True)

asyncio.run(main(sys.argv[1]))
"""
"""The CLI's ``listen``: a ``MixClock`` fed on the loop, as the client delivers audio."""

FRAME_S = 0.020
FRAME = int(FRAME_S * SAMPLE_RATE)
MARK_EVERY = 15  # frames (300 ms): more than the late playout's +200 ms, so that each
# loud onset is told apart as the mark sent last before it
BED, MARK = 0.05, 0.5  # the amplitude of the never-pausing tone, and of a marked frame
STOP_AT, CONT_AT, FRAMES = 50, 100, 165  # the listener is stopped for 1 s


def talk() -> list[bytes]:
    """Opus frames of a 400 Hz tone that never pauses (a jitter buffer shrinks only in
    a pause), every MARK_EVERY-th frame loud."""
    t = np.arange(FRAMES * FRAME) / SAMPLE_RATE
    amplitude = np.full(FRAMES * FRAME, BED)
    for seq in range(0, FRAMES, MARK_EVERY):
        amplitude[seq * FRAME:(seq + 1) * FRAME] = MARK
    pcm = (amplitude * np.sin(2 * np.pi * 400 * t)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        return [encoder.encode(pcm[i * FRAME:(i + 1) * FRAME]) for i in range(FRAMES)]


def onsets(out: np.ndarray, times: np.ndarray, block: int) -> list[float]:
    """Play times of the starts of the loud stretches of the output."""
    window = 48  # 1 ms
    usable = len(out) // window * window
    rms = np.sqrt(np.mean(out[:usable].reshape(-1, window) ** 2, axis=1))
    loud = rms > (BED + MARK) / 2 / np.sqrt(2)
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    period = block / SAMPLE_RATE
    # a sample of output block n is played one block after that block's callback ran
    return [float(times[s * window // block] + period + (s * window % block) / SAMPLE_RATE)
            for s in starts]


@pytest.mark.parametrize("script", [LISTENER, HEADLESS], ids=["app", "cli"])
def test_audio_queued_while_the_process_was_stopped_is_dropped_not_played_late(
        tmp_path: Path, script: str) -> None:
    packets = talk()
    saved = tmp_path / "out.npz"
    listener = subprocess.Popen([sys.executable, "-c", script, str(saved)], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    sent: list[float] = []
    stopped = resumed = 0.0
    try:
        assert listener.stdout is not None and listener.stdin is not None
        port = int(listener.stdout.readline().split()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            start = time.monotonic()
            for seq, packet in enumerate(packets):
                time.sleep(max(0.0, start + seq * FRAME_S - time.monotonic()))
                if seq == STOP_AT:
                    listener.send_signal(signal.SIGSTOP)
                    stopped = time.monotonic()
                elif seq == CONT_AT:
                    listener.send_signal(signal.SIGCONT)
                    resumed = time.monotonic()
                sent.append(time.monotonic())
                sock.sendto(seq.to_bytes(4, "big") + packet, ("127.0.0.1", port))
        listener.stdin.write("save\n")
        listener.stdin.flush()
        assert listener.stdout.readline().strip() == "saved"
    finally:
        listener.send_signal(signal.SIGCONT)
        listener.kill()
        listener.wait()
    data = np.load(saved)
    marks = [(sent[seq], seq) for seq in range(0, FRAMES, MARK_EVERY)]
    heard = []  # (played at, the mark sent last before, its delay)
    for played in onsets(data["out"], data["times"], int(data["block"])):
        sent_at, seq = max((m for m in marks if m[0] < played), default=(played, -1))
        heard.append((played, seq, played - sent_at))
    # (what the clocked backend plays while catching up after the resume carries the
    # times of the blocks it missed, between the stop and the resume: neither before
    # nor after; a sound card does not catch up)
    before = [delay for played, seq, delay in heard if played < stopped]
    after = [(seq, round(delay * 1000)) for played, seq, delay in heard if played > resumed]
    assert len(before) >= 3 and max(before) < 0.1, heard
    usual = float(np.median(before))
    # every mark sent after the resume is heard, each at the usual delay (a frame more at
    # most: the playout's phase against the packets is new); a mark that queued while the
    # listener was stopped is not heard (it would be heard seconds late)
    assert [seq for seq, _ in after] == [seq for _, seq in marks if seq >= CONT_AT], after
    assert all(delay / 1000 < usual + 0.030 for _, delay in after), (round(usual * 1000),
                                                                     after)
