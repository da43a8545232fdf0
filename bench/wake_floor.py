"""What one audio wake-up costs on this machine before the app does any work.

    python bench/wake_floor.py [--quick] [--seconds 5] [--rounds 3]

Listening wakes the app 100 times a second for the output device (10 ms blocks) and 50
for the received datagrams. This benchmark measures the CPU each such wake-up costs with
nothing done in it, four ways, each in a process of its own (so the figure is that
process's ``time.process_time()`` over the window, divided by the wake-ups):

- ``c_sleep``: a C thread sleeping to an absolute 10 ms schedule (``clock_nanosleep``),
  compiled here with ``cc`` (skipped without one): the kernel's and the machine's part;
- ``python_sleep``: a Python thread doing the same with ``time.sleep`` (the interpreter's
  part on top: the GIL, the loop);
- ``clocked_card``: the simulated sound card (``app.audio.clocked``) with an empty
  output callback at 480-sample blocks (what ``bench/idle.py`` reports as
  ``sim_card_output_floor_cpu_pct``);
- ``sounddevice_jack``: the product's real device path (``SoundDeviceBackend``: PortAudio's
  callback thread, sounddevice's CFFI callback) on a private JACK server with its dummy
  driver (a real-time "sound card" with no hardware), an empty callback at 480-sample
  blocks and 10 ms JACK periods (skipped without ``jackd``).

The rounds alternate the variants (the machine is shared: compare them within one run).
Output: one JSON line with each variant's median µs per wake-up, its range, and
``floor_listen_cpu_pct`` = 150 wake-ups a second at ``python_sleep``'s median: the share
of a core that listening's device and receive threads cost on this machine before the
app's own work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, end_process, log, machine

BLOCK = 480  # 10 ms at 48 kHz: the app's output block
PERIOD_S = BLOCK / 48000
LISTEN_WAKES_PER_S = 150  # 100 output blocks and 50 datagrams

C_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    double seconds = atof(argv[1]);
    long wakes = (long)(seconds * 100), i;
    struct timespec due, used;
    clock_gettime(CLOCK_MONOTONIC, &due);
    for (i = 0; i < wakes; i++) {
        due.tv_nsec += 10000000;
        if (due.tv_nsec >= 1000000000) { due.tv_nsec -= 1000000000; due.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    printf("{\"us_per_wake\": %.2f}\n", (used.tv_sec * 1e9 + used.tv_nsec) / wakes / 1e3);
    return 0;
}
"""


# --- the variants, each in its own process -------------------------------------------------
def _python_sleep(seconds: float) -> dict[str, float]:
    wakes = int(seconds / PERIOD_S)
    used0 = time.process_time()
    due = time.monotonic()
    for _ in range(wakes):
        due += PERIOD_S
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return {"us_per_wake": round(1e6 * (time.process_time() - used0) / wakes, 2)}


def _device(seconds: float, open_stream: Any) -> dict[str, float]:
    calls = [0]

    def empty(block: Any) -> None:
        calls[0] += 1

    stream = open_stream(empty)
    stream.start()
    try:
        time.sleep(1.0)  # the stream settles
        used0, calls0 = time.process_time(), calls[0]
        time.sleep(seconds)
        used, wakes = time.process_time() - used0, calls[0] - calls0
    finally:
        stream.close()
    return {"us_per_wake": round(1e6 * used / max(wakes, 1), 2), "wakes_per_s":
            round(wakes / seconds, 1)}


def _clocked_card(seconds: float) -> dict[str, float]:
    from app.audio.clocked import ClockedBackend

    card = ClockedBackend(collect_output=False)
    return _device(seconds, lambda callback: card.open_output(callback, BLOCK))


def _sounddevice_jack(seconds: float) -> dict[str, float]:
    from app.audio.sd_backend import SoundDeviceBackend

    backend = SoundDeviceBackend()
    return _device(seconds, lambda callback: backend.open_output(callback, BLOCK, "system"))


def run_variant(name: str, seconds: float) -> dict[str, float]:
    variants = {"python_sleep": _python_sleep, "clocked_card": _clocked_card,
                "sounddevice_jack": _sounddevice_jack}
    return variants[name](seconds)


# --- the driver ----------------------------------------------------------------------------
class JackServer:
    """A private JACK server with the dummy driver, 10 ms periods (or why there is none)."""

    def __init__(self) -> None:
        self.name = f"interphone-bench-{os.getpid()}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.missing = ""
        if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
            self.missing = "jackd not installed"
            return
        self.proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", "48000",
             "-p", str(BLOCK), "-C", "1", "-P", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"],
                               capture_output=True, timeout=15, check=False)
        if ready.returncode != 0 or self.proc.poll() is not None:
            self.missing = "jackd did not start"
            self.close()

    def env(self) -> dict[str, str]:
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def close(self) -> None:
        if self.proc is not None:
            end_process(self.proc, 5)
            self.proc = None


def _compile_c(directory: Path) -> Path | None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source, program = directory / "wake.c", directory / "wake"
    source.write_text(C_SOURCE)
    built = subprocess.run([compiler, "-O2", "-o", str(program), str(source)],
                           capture_output=True, text=True, check=False)
    return program if built.returncode == 0 else None


def _child(command: list[str], env: dict[str, str] | None = None) -> dict[str, float] | None:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          check=False, timeout=120)
    if done.returncode != 0:
        log(f"wake_floor: {command[-1]} failed: {done.stderr.strip()[-300:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 3.0, 2
    if args.variant:
        emit(run_variant(args.variant, args.seconds))
        return
    samples: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    jack = JackServer()
    with tempfile.TemporaryDirectory() as tmp:
        program = _compile_c(Path(tmp))
        if program is None:
            notes["c_sleep"] = "no C compiler"
        if jack.missing:
            notes["sounddevice_jack"] = jack.missing
        try:
            for _ in range(args.rounds):
                if program is not None:
                    got = _child([str(program), str(args.seconds)])
                    if got is not None:
                        samples.setdefault("c_sleep", []).append(got["us_per_wake"])
                for variant in ("python_sleep", "clocked_card", "sounddevice_jack"):
                    if variant == "sounddevice_jack" and jack.missing:
                        continue
                    got = _child([sys.executable, __file__, "--seconds", str(args.seconds),
                                  "--variant", variant],
                                 jack.env() if variant == "sounddevice_jack" else None)
                    if got is not None:
                        samples.setdefault(variant, []).append(got["us_per_wake"])
        finally:
            jack.close()
    result: dict[str, Any] = {"benchmark": "wake_floor", "seconds": args.seconds,
                              "rounds": args.rounds}
    for variant, values in samples.items():
        result[f"{variant}_us"] = round(statistics.median(values), 1)
        result[f"{variant}_us_range"] = [min(values), max(values)]
    if "python_sleep_us" in result:
        result["floor_listen_cpu_pct"] = round(
            LISTEN_WAKES_PER_S * result["python_sleep_us"] / 1e4, 2)
    if notes:
        result["skipped"] = notes
    result.update(machine())
    emit(result)


if __name__ == "__main__":
    main()
