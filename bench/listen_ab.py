"""The listening path's CPU in two worktrees at once (A/B under the same machine load).

    python bench/listen_ab.py /work/main /work/wt/out6 [--rounds 8] [--seconds 15]
    python bench/listen_ab.py /work/main /work/main --bands fullband wideband

Each round starts one listener process per worktree, with that worktree's own
``.venv/bin/python`` (so ``app`` is that worktree's code), at the same time; one sender
paces the same Opus packets (speech-like, 20 ms) to both over loopback (``--bands``:
each side's packets coded up to its own band, e.g. the same worktree twice to see what
the band costs a listener). A listener is the product's playback path without the GUI:
``AudioEngine`` on the simulated sound card (on demand: the output alone runs, in the
engine's output blocks) and a receive thread named ``media-rx``
handing each datagram to ``AudioEngine.receive_from_thread``, as the app's media thread
does. Each listener reports its process CPU and, per thread, CPU % of a core, times
scheduled in a second and µs per wake-up (``/proc/self/task/*/schedstat``) over the
window. Running both at once cancels most of the shared machine's load swings, which
make alternating ``bench/idle.py`` runs differ by more than the changes measured; the
order of the two starts alternates between rounds.

Output: one JSON line per round, then a summary line with the medians and the per-round
differences (B - A).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

WARMUP_S = 3.0
THREADS = ("clocked-output", "media-rx")


def _threads() -> dict[str, tuple[int, int]]:
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    seen: dict[str, tuple[int, int]] = {}
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/schedstat") as handle:
            fields = handle.read().split()
        name = names.get(int(task), "other")
        used, slices = seen.get(name, (0, 0))
        seen[name] = (used + int(fields[0]), slices + int(fields[2]))
    return seen


def listener(seconds: float) -> None:
    """The listener role: prints its port, then its figures as one JSON line."""
    from app.audio.clocked import ClockedBackend
    from app.audio.pipeline import AudioEngine

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    engine = AudioEngine(ClockedBackend(None, collect_output=False),
                         loop=asyncio.new_event_loop(), on_demand=True)
    engine.start()
    engine._ensure_output()  # as the first packet does on the loop in the app
    sink = engine.receive_from_thread

    def receive() -> None:
        while True:
            data, _ = sock.recvfrom(2048)
            sink("talker", int.from_bytes(data[:4], "big"), data[4:], "group_ab")

    threading.Thread(target=receive, name="media-rx", daemon=True).start()
    time.sleep(WARMUP_S)
    before, cpu0, wall0 = _threads(), time.process_time(), time.perf_counter()
    time.sleep(seconds)
    after, wall = _threads(), time.perf_counter() - wall0
    result: dict[str, Any] = {"cpu_pct": round(100 * (time.process_time() - cpu0) / wall, 3)}
    for name in THREADS:
        used0, slices0 = before.get(name, (0, 0))
        used, slices = after.get(name, (0, 0))
        result[name] = [round(100 * (used - used0) / 1e9 / wall, 3),
                        round((slices - slices0) / wall),
                        round((used - used0) / 1000 / max(1, slices - slices0), 1)]
    print(json.dumps(result), flush=True)
    os._exit(0)  # the daemon threads and the clocked card need no goodbye


def _packets(band: str | None = None) -> list[bytes]:
    """Speech-like 20 ms packets at 24 kbit/s, coded up to ``band`` (None: the encoder's
    default)."""
    from cpu import speech_like

    from app.audio.codec import OpusEncoder
    from app.audio.constants import DEFAULT_MAX_BANDWIDTH

    signal = speech_like(10.0)
    with OpusEncoder(20, 24000, fec=True,
                     max_bandwidth=band or DEFAULT_MAX_BANDWIDTH) as encoder:
        return [encoder.encode(signal[i * 960:(i + 1) * 960])
                for i in range(len(signal) // 960)]


def one_round(sides: list[tuple[str, str]], seconds: float,
              packets: dict[str, list[bytes]]) -> dict[str, Any]:
    """One listener per (side, tree), started together; ``packets[side]`` is what that
    side's listener receives. Returns each side's figures."""
    procs = {side: subprocess.Popen(
        [str(Path(tree) / ".venv" / "bin" / "python"), __file__, "--role", "listener",
         "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True, cwd="/")
        for side, tree in sides}
    trees = list(procs)
    try:
        ports = {}
        for tree, proc in procs.items():
            assert proc.stdout is not None
            ports[tree] = int(proc.stdout.readline())
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        start, count = time.monotonic(), 0
        while any(p.poll() is None for p in procs.values()) \
                and count < (seconds + WARMUP_S + 5) * 50:
            for side in trees:
                stream = packets[side]
                datagram = count.to_bytes(4, "big") + stream[count % len(stream)]
                sender.sendto(datagram, ("127.0.0.1", ports[side]))
            count += 1
            delay = start + count * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        results = {}
        for tree, proc in procs.items():
            assert proc.stdout is not None
            results[tree] = json.loads(proc.stdout.readline())
        return results
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", help="worktree A and worktree B")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--bands", nargs=2, metavar=("BAND_A", "BAND_B"),
                        help="the Opus band each side's packets are coded up to (e.g. "
                             "fullband wideband, with the same worktree twice: what the "
                             "band costs the listener); default: the encoder's default")
    parser.add_argument("--role", choices=["listener"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "listener":
        listener(args.seconds)
        return 0
    if len(args.trees) != 2:
        parser.error("give two worktrees")
    # the listeners run in "/": a relative worktree would not be found from there
    tree_a, tree_b = (str(Path(tree).resolve()) for tree in args.trees)
    for tree in (tree_a, tree_b):
        if not (Path(tree) / ".venv" / "bin" / "python").exists():
            parser.error(f"{tree} has no .venv/bin/python (bash scripts/dev.sh setup there)")
    band_a, band_b = args.bands or (None, None)
    packets = {"A": _packets(band_a), "B": _packets(band_b)}
    a, b = "A", "B"
    rounds = []
    for number in range(args.rounds):
        order = [(a, tree_a), (b, tree_b)] if number % 2 == 0 else [(b, tree_b), (a, tree_a)]
        result = one_round(order, args.seconds, packets)
        rounds.append(result)
        print(json.dumps({"round": number, "first": order[0][1], "A": result[a],
                          "B": result[b], "loadavg_1m": os.getloadavg()[0]}), flush=True)
    summary: dict[str, Any] = {"bench": "listen_ab", "A": tree_a, "B": tree_b,
                               "bands": [band_a, band_b], "rounds": args.rounds,
                               "seconds": args.seconds}
    for key in ("cpu_pct", *THREADS):
        def value(result: dict[str, Any], key: str = key) -> float:
            return float(result[key] if key == "cpu_pct" else result[key][0])
        summary[f"{key}_A"] = round(statistics.median(value(r[a]) for r in rounds), 3)
        summary[f"{key}_B"] = round(statistics.median(value(r[b]) for r in rounds), 3)
        summary[f"{key}_diffs"] = [round(value(r[b]) - value(r[a]), 3) for r in rounds]
        if key != "cpu_pct":
            summary[f"{key}_us_per_wake_A"] = statistics.median(r[a][key][2] for r in rounds)
            summary[f"{key}_us_per_wake_B"] = statistics.median(r[b][key][2] for r in rounds)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
