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

Compare ``work_listen_cpu_pct`` with ``bench/idle.py``'s ``listen_cpu_pct`` and
``bench/wake_floor.py``'s per-wake floor, in the same sitting. The clock is simulated
(each frame 20 ms later) so the jitter buffer sees a steady stream; the medians of
``--rounds`` runs are printed with their ranges.
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


def one_round(packets: list[bytes]) -> tuple[float, float]:
    """µs per packet received and per frame played, one run through ``packets``."""
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
    try:
        for packet in packets:
            sender.sendto(packet, target)
            now[0] += FRAME_S
            start = clock()
            data, address = receive(2048)
            deliver(data, address)
            received = clock()
            for _ in range(blocks):
                block.fill(0.0)
                fill(block)
            out_ns += clock() - received
            heard += bool(block.any())
            rx_ns += received - start
            endpoint.flush()  # the GUI's poll (its cost is the GUI thread's, not counted)
    finally:
        engine.close()
        sender.close()
        receiver.close()
    if engine.mixer.frames_received != len(packets):
        raise RuntimeError(f"{engine.mixer.frames_received} of {len(packets)} packets "
                           "reached the mixer")
    if heard < 0.8 * len(packets):  # all but the jitter buffer's start
        raise RuntimeError(f"{heard} frames of {len(packets)} played sound")
    return rx_ns / len(packets) / 1000, out_ns / len(packets) / 1000


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
        results = [one_round(packets) for _ in range(rounds)]
    finally:
        gc.enable()
    rx = [round(r[0], 1) for r in results]
    out = [round(r[1], 1) for r in results]
    rx_us, out_us = statistics.median(rx), statistics.median(out)
    emit({"benchmark": "listen_work", "frames": frames, "rounds": rounds,
          "rx_us_per_packet": rx_us, "rx_us_range": [min(rx), max(rx)],
          "output_us_per_frame": out_us, "output_us_range": [min(out), max(out)],
          "work_listen_cpu_pct": round((rx_us + out_us) / FRAME_S / 1e4, 2),
          **machine()})


if __name__ == "__main__":
    main()
