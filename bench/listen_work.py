"""What listening's own work costs with warm caches: the app's objects in a tight loop.

    python bench/listen_work.py [--quick] [--frames 1500] [--rounds 7]

``bench/idle.py`` measures the running app listening: about 150 wake-ups a second (100
output blocks, 50 datagrams), each on caches the other threads and processes have used
since. This benchmark runs the same work one frame after another in one thread, so that
the difference between the two is what the wake-ups and cold caches cost:

- ``rx_us_per_packet``: one datagram through the app's receive path: sent to a real UDP
  socket on 127.0.0.1, ``recvfrom`` (the packet is already there: no wait), then
  ``MediaEndpoint.datagram_received`` (source check, reading, loss meter, the queue of
  the GUI's batch) with ``AudioEngine.audio_sink`` as its sink (mixer, talker stream,
  jitter buffer), as in the app;
- ``output_us_per_frame``: the output callback (``AudioEngine``'s, through the mixer)
  for the two 10 ms blocks of each 20 ms frame: jitter pop, Opus decode (real libopus,
  wideband speech-like packets at 24 kbit/s with FEC), the quiet check, the clip;
- ``work_listen_cpu_pct``: 50 frames a second of both, in % of one core.

Then the same work at the app's pace, in this one thread: each part after a sleep to
its place in the 20 ms frame (the datagram, then each output block: three wake-ups a
frame, as the app's receive and output threads wake), so each runs on caches that went
cold while the process slept:

- ``paced_cpu_us_per_frame``: the process's CPU per frame, wake-ups included;
- ``empty_wakes_cpu_us_per_frame``: the same three sleeps a frame with nothing done
  but the ``sendto`` that feeds the receive path (the talker's part, not the app's);
- ``sleeps_cpu_us_per_frame``: the three sleeps alone;
- ``paced_work_us_per_frame``: paced - empty, the app's work after its sleeps, and
  ``paced_work_over_hot``: that over (rx + output), how many times its warm cost the same
  work costs when it runs after a sleep;
- ``paced_listen_cpu_pct``: (paced work + sleeps) at 50 frames a second, in % of one
  core: listening's audio work and wake-ups alone, without the GUI thread, a second
  thread or the sound card's own pacing.

The bound of fewer wake-ups: the same work with the frame's datagram and both output
blocks after one sleep (as if one thread received and played a 20 ms block per frame):

- ``one_wake_cpu_us_per_frame`` and ``one_wake_empty_cpu_us_per_frame``: the process's
  CPU per frame, and with nothing done after the one sleep but the ``sendto``;
- ``one_wake_work_us_per_frame``: their difference;
- ``one_wake_listen_cpu_pct``: that work and one sleep (a third of the three sleeps) at
  50 frames a second: what listening's audio would cost on this machine with a single
  wake-up a frame, before the GUI thread and the sound card's pacing.

Compare them with ``bench/idle.py``'s ``listen_cpu_pct`` and ``bench/wake_floor.py``'s
per-wake floor, in the same sitting. The clock is simulated (each frame 20 ms later) so
the jitter buffer sees a steady stream; the medians of the rounds are printed with their
ranges (the paced rounds alternate with the empty ones).
"""

from __future__ import annotations

import argparse
import gc
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, ROOT, emit, machine

sys.path.insert(0, str(ROOT))

INTERPHONE = "group_work"
FRAME_S = 0.02
PACED_FRAMES, PACED_FRAMES_QUICK = 500, 250  # 10 s, 5 s of audio
PACED_ROUNDS, PACED_ROUNDS_QUICK = 3, 1


class _NoLoop:
    """Stands for the app's event loop in the receive path's hand-over (the GUI polls
    the queue, so nothing is scheduled per packet: see ``MediaEndpoint.set_polled``)."""

    def call_soon_threadsafe(self, *args: Any) -> None:
        pass

    def is_closed(self) -> bool:
        return False


def _packets(count: int) -> list[bytes]:
    from cpu import speech_like

    from app.audio.codec import OpusEncoder
    from app.protocol.udp import AudioPacker

    pcm = speech_like(10.0)
    encoder = OpusEncoder(20, 24000, fec=True)
    frames = [encoder.encode(pcm[i:i + 960]) for i in range(0, len(pcm) - 960, 960)]
    packer = AudioPacker(INTERPHONE, "talker")
    return [packer.pack(seq, frames[seq % len(frames)]) for seq in range(count)]


WAKE_OFFSETS_S = (0.0, 0.005, 0.015)
"""When the paced rounds wake in each 20 ms frame: the datagram, then the output's two
10 ms blocks (the app's three wake-ups per frame while listening)."""
ONE_WAKE_OFFSETS_S = (0.005, 0.005, 0.005)
"""The bound of fewer wake-ups: the frame's datagram and both blocks after one sleep."""


def _sleep_until(due: float) -> None:
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def one_round(packets: list[bytes], paced: bool = False,
              offsets: tuple[float, float, float] = WAKE_OFFSETS_S) -> tuple[float, float]:
    """µs per packet received and per frame played, one run through ``packets`` (wall
    time of each part, back to back); ``paced``: the process's CPU per frame (both
    parts and the wake-ups, the second value 0), each part after a sleep to its place
    in the frame (``offsets``: ``WAKE_OFFSETS_S``, as the app's threads wake)."""
    import numpy as np

    from app.audio.clocked import ClockedBackend
    from app.audio.pipeline import AudioEngine
    from app.client.media import MediaEndpoint

    now = [1000.0]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind((HOST, 0))
    receiver.bind((HOST, 0))
    server = sender.getsockname()
    engine = AudioEngine(ClockedBackend(collect_output=False), clock=lambda: now[0])
    endpoint = MediaEndpoint(server, "me", lambda *args: None)
    endpoint._loop = _NoLoop()  # type: ignore[assignment]
    endpoint.set_polled(True)
    endpoint._registered[INTERPHONE] = None
    endpoint.audio_sink = engine.audio_sink
    block = np.zeros(engine.output_block_samples, dtype=np.float32)
    blocks = round(FRAME_S * 1000) // engine.output_block_ms
    receive, deliver, fill = receiver.recvfrom, endpoint.datagram_received, engine._fill
    target = receiver.getsockname()
    clock = time.perf_counter_ns
    rx_ns = out_ns = 0
    heard = 0  # frames whose last block played (the clip has a noise floor: never zeros)
    cpu0, frame_start = time.process_time(), time.monotonic()
    try:
        for packet in packets:
            sender.sendto(packet, target)
            now[0] += FRAME_S
            if paced:
                _sleep_until(frame_start + offsets[0])
            start = clock()
            data, address = receive(2048)
            deliver(data, address)
            received = clock()
            for index in range(blocks):
                if paced:
                    _sleep_until(frame_start + offsets[1 + index % 2])
                block.fill(0.0)
                fill(block)
            out_ns += clock() - received
            heard += bool(block.any())
            rx_ns += received - start
            endpoint.flush()  # the GUI's poll (its cost is the GUI thread's, not counted)
            frame_start += FRAME_S
    finally:
        engine.close()
        sender.close()
        receiver.close()
    if engine.mixer.frames_received != len(packets):
        raise RuntimeError(f"{engine.mixer.frames_received} of {len(packets)} packets "
                           "reached the mixer")
    if heard < 0.8 * len(packets):  # all but the jitter buffer's start
        raise RuntimeError(f"{heard} frames of {len(packets)} played sound")
    if paced:
        return (time.process_time() - cpu0) * 1e6 / len(packets), 0.0
    return rx_ns / len(packets) / 1000, out_ns / len(packets) / 1000


def empty_wakes(packets: list[bytes], send: bool = True,
                offsets: tuple[float, ...] = WAKE_OFFSETS_S) -> float:
    """The process's CPU per frame for the paced rounds' sleeps and (``send``) their
    ``sendto`` (the talker's part, there only to feed the receive path), nothing else."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unread = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unread.bind((HOST, 0))  # a few hundred datagrams fit in its buffer: none is dropped
    target = unread.getsockname()
    cpu0, frame_start = time.process_time(), time.monotonic()
    try:
        for packet in packets:
            if send:
                sender.sendto(packet, target)
            for offset in offsets:
                _sleep_until(frame_start + offset)
            frame_start += FRAME_S
    finally:
        sender.close()
        unread.close()
    return (time.process_time() - cpu0) * 1e6 / len(packets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and rounds")
    parser.add_argument("--frames", type=int, help="frames per round (1500; quick: 500)")
    parser.add_argument("--rounds", type=int, help="rounds (7; quick: 3)")
    args = parser.parse_args()
    frames = args.frames or (500 if args.quick else 1500)
    rounds = args.rounds or (3 if args.quick else 7)
    packets = _packets(frames)
    one_round(packets[:100])  # warm-up: imports, first allocations
    gc.disable()  # a collection inside one timed frame would be counted to it
    try:
        hot = [one_round(packets) for _ in range(rounds)]
        paced_frames = packets[:PACED_FRAMES_QUICK if args.quick else PACED_FRAMES]
        paced, empty, sleeps, single, single_empty = [], [], [], [], []
        for _ in range(PACED_ROUNDS_QUICK if args.quick else PACED_ROUNDS):  # alternating
            paced.append(round(one_round(paced_frames, paced=True)[0], 1))
            empty.append(round(empty_wakes(paced_frames), 1))
            sleeps.append(round(empty_wakes(paced_frames, send=False), 1))
            single.append(round(one_round(paced_frames, True, ONE_WAKE_OFFSETS_S)[0], 1))
            single_empty.append(round(empty_wakes(paced_frames, offsets=(0.005,)), 1))
    finally:
        gc.enable()
    rx = [round(r[0], 1) for r in hot]
    out = [round(r[1], 1) for r in hot]
    rx_us, out_us = statistics.median(rx), statistics.median(out)
    paced_us, empty_us = statistics.median(paced), statistics.median(empty)
    sleeps_us = statistics.median(sleeps)
    cold_work_us = paced_us - empty_us  # the app's work after its sleeps
    single_us, single_empty_us = statistics.median(single), statistics.median(single_empty)
    one_sleep_us = sleeps_us / len(WAKE_OFFSETS_S)
    emit({"benchmark": "listen_work", "frames": frames, "rounds": rounds,
          "rx_us_per_packet": rx_us, "rx_us_range": [min(rx), max(rx)],
          "output_us_per_frame": out_us, "output_us_range": [min(out), max(out)],
          "work_listen_cpu_pct": round((rx_us + out_us) / FRAME_S / 1e4, 2),
          "paced_frames": len(paced_frames),
          "paced_cpu_us_per_frame": paced_us, "paced_cpu_us_range": [min(paced), max(paced)],
          "empty_wakes_cpu_us_per_frame": empty_us,
          "empty_wakes_cpu_us_range": [min(empty), max(empty)],
          "sleeps_cpu_us_per_frame": sleeps_us, "sleeps_cpu_us_range": [min(sleeps), max(sleeps)],
          "paced_work_us_per_frame": round(cold_work_us, 1),
          "paced_work_over_hot": round(cold_work_us / (rx_us + out_us), 1),
          "paced_listen_cpu_pct": round((cold_work_us + sleeps_us) / FRAME_S / 1e4, 2),
          "one_wake_cpu_us_per_frame": single_us,
          "one_wake_cpu_us_range": [min(single), max(single)],
          "one_wake_empty_cpu_us_per_frame": single_empty_us,
          "one_wake_work_us_per_frame": round(single_us - single_empty_us, 1),
          "one_wake_listen_cpu_pct": round(
              (single_us - single_empty_us + one_sleep_us) / FRAME_S / 1e4, 2),
          **machine()})


if __name__ == "__main__":
    main()
