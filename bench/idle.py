"""The desktop app's CPU at rest, listening and talking; key press to first packet.

    python bench/idle.py [--quick]

The app process is the real one (``app.ui.runtime.Runtime``, offscreen Qt, qasync, the
GUI-thread collector, the simulated sound card on demand), signed in with "remember me"
to a server in its own process and rejoined to its interphones. Each window measures the
app process's own ``time.process_time()`` (every thread) after a warm-up:

- ``idle_cpu_pct``: nobody talking (target <= 0.5 % of a core);
- ``listen_cpu_pct``: one speaker (another process, speech-like signal) talking into the
  joined interphone (target <= 3 %);
- ``listen_hidden_cpu_pct``: the same speaker with the window hidden to the tray (the app
  in the background): its meters and clocks wait, the audio and the quality reports go on
  (no target of its own; the target is ``listen_cpu_pct``'s, with the window shown);
- ``talk_cpu_pct``: the app holds the talk key and transmits (target <= 4 %);
- ``press_to_packet_p95_ms``: the talk key goes down (the global key's path) -> the first
  Opus packet handed to the socket, the floor request and opening the input included
  (target <= 40 ms).

``sim_card_output_floor_cpu_pct`` / ``sim_card_input_floor_cpu_pct``: the simulated sound
card's own thread with an empty callback at the app's block sizes (10 ms out, 20 ms in),
measured in the app's process while it is idle: the share of the listening and talking
figures that is the stand-in device's pacing (a real card's driver thread has its own).

``demo_idle_cpu_pct``: ``interphone --demo`` under Xvfb (when installed), measured from
outside (/proc, 1-second samples at 10 ms tick resolution) after a warm-up of at least
12 s, bots included. The demo's bots introduce it in its first seconds (alice greets at
2 s, carol speaks elsewhere at 5 s, each a clip of about 2 s) and then speak only in
answer to the user, so the window is the demo joined with nobody talking (target <= 1 %).
``demo_quiet_cpu_pct`` is the mean of the seconds at or under 3 % (``demo_quiet_seconds``
of them): a second in which a bot talked (encoding, relaying and playing in the app's
process: 6-15 % of a core) would stand out.

"Remember me" rejoins every interphone that was joined: the app starts joined to all
three (``joined_interphones``), the last one its talk target; the speaker talks there.
"""

from __future__ import annotations

import argparse
import asyncio
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

from _app import run_app
from _common import (
    HOST,
    ROOT,
    ServerProcess,
    emit,
    end_process,
    log,
    machine,
    percentile,
    proc_cpu_seconds,
    thread_cpu,
    write_config,
)

GROUPS = ["idle1", "idle2", "idle3"]
QUIET_SECOND_PCT = 3.0  # a demo second at or under this: nobody talked in it
DEMO_INTRO_S = 12.0  # the demo's bots have introduced it by then (app/demo.py)


# --- the talker (its own process) ----------------------------------------------------------
async def talker_role(port: int, interphone: str, seconds: float) -> None:
    from cpu import speech_like

    from app.audio.clocked import ClockedBackend
    from app.audio.pipeline import AudioEngine
    from app.client import FloorBusy, InterphoneClient

    client = InterphoneClient(HOST, port, "talker", "x", reconnect=False)
    await client.connect()
    await client.join(interphone)
    backend = ClockedBackend(speech_like(), loop_source=True, collect_output=False)
    def send(packet: bytes) -> None:
        client.send_audio(packet)

    engine = AudioEngine(backend, send_frame=send, loop=asyncio.get_running_loop())
    engine.start()
    while True:
        try:
            if await client.talk_start():
                break
        except FloorBusy:
            pass
        await asyncio.sleep(0.1)
    engine.start_transmit()
    await asyncio.sleep(seconds)
    engine.stop_transmit(0)
    await client.talk_stop()
    engine.close()
    await client.close()


# --- the app (its own process) --------------------------------------------------------------
def app_role(port: int, seconds: float, warmup: float, presses: int) -> dict[str, Any]:
    try:
        return run_app(port, GROUPS,
                       lambda runtime: _drive(runtime, port, seconds, warmup, presses),
                       "idle-bench-")
    except BaseException as exc:
        log(f"idle: the app role failed: {exc!r}")
        raise


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def _cpu_pct(seconds: float, threads: dict[str, float] | None = None,
                   wakes: dict[str, list[float]] | None = None) -> float:
    """The process's CPU over ``seconds`` in % of a core; ``threads`` gets each thread's
    share (threads under 0.05 % left out), ``wakes`` their times scheduled in a second and
    the CPU each cost in µs (``[per_s, us_each]``)."""
    cpu0, wall0, per0 = time.process_time(), time.perf_counter(), thread_cpu()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall0
    if threads is not None:
        for name, (used, slices) in thread_cpu().items():
            used0, slices0 = per0.get(name, (0.0, 0))
            pct = round(100 * (used - used0) / wall, 2)
            if pct >= 0.05:
                threads[name] = pct
                if wakes is not None and slices > slices0:
                    wakes[name] = [round((slices - slices0) / wall),
                                   round(1e6 * (used - used0) / (slices - slices0))]
    return round(100 * (time.process_time() - cpu0) / wall, 2)


def _callbacks(engine: Any) -> int:
    return sum(stream.blocks for stream in (engine._input, engine._output)
               if stream is not None)


async def _simulated_card_floor(seconds: float, engine: Any) -> dict[str, float]:
    """What the simulated sound card's own pacing costs, callbacks empty, at the app's
    block sizes: the part of ``listen_cpu_pct`` (output) and ``talk_cpu_pct`` (input)
    that a real card's driver thread would spend instead (measured in this process,
    while the app is idle)."""
    from app.audio.clocked import ClockedBackend

    floor: dict[str, float] = {}
    for direction, samples in (("output", engine.output_block_samples),
                               ("input", engine.frame_samples)):
        card = ClockedBackend(collect_output=False)
        open_stream = card.open_output if direction == "output" else card.open_input
        stream = open_stream(lambda block: None, samples)
        stream.start()
        try:
            await asyncio.sleep(0.5)
            threads: dict[str, float] = {}
            await _cpu_pct(seconds, threads)
            floor[f"sim_card_{direction}_floor_cpu_pct"] = threads.get(f"clocked-{direction}",
                                                                       0.0)
        finally:
            card.close()
    return floor


async def _drive(runtime: Any, port: int, seconds: float, warmup: float,
                 presses: int) -> dict[str, Any]:
    from app.ui.view_types import TalkState

    main = asyncio.ensure_future(runtime.run())
    await asyncio.wait_for(runtime.ready.wait(), 15)
    client, window = runtime.client, runtime.window
    last = f"group_{GROUPS[-1]}"
    await _until(lambda: len(client.model.joined_ids) == len(GROUPS)
                 and str(client.model.talk_target) == last)
    result: dict[str, Any] = {"joined_interphones": len(client.model.joined_ids)}
    engine = runtime.audio.engine

    await asyncio.sleep(warmup)
    callbacks0 = _callbacks(engine)
    result["idle_cpu_pct"] = await _cpu_pct(seconds)
    result["idle_audio_callbacks"] = _callbacks(engine) - callbacks0

    result.update(await _simulated_card_floor(min(seconds, 6.0), engine))

    listen_threads: dict[str, float] = {}
    listen_wakes: dict[str, list[float]] = {}
    result["listen_threads_cpu_pct"] = listen_threads
    result["listen_threads_wakes_per_s_us_each"] = listen_wakes
    hidden_threads: dict[str, float] = {}
    hidden_wakes: dict[str, list[float]] = {}
    talker = subprocess.Popen([sys.executable, __file__, "--role", "talker", "--port",
                               str(port), "--interphone", last,
                               "--seconds", str(2 * seconds + warmup + 5)], cwd=ROOT)
    try:
        await _until(lambda: sum(runtime.presenter.received.values()) > 0, 15)
        await asyncio.sleep(1.0)
        result["listen_cpu_pct"] = await _cpu_pct(seconds, listen_threads, listen_wakes)
        window.hide()  # to the tray
        await asyncio.sleep(1.0)
        result["listen_hidden_cpu_pct"] = await _cpu_pct(seconds, hidden_threads, hidden_wakes)
        result["listen_hidden_threads_cpu_pct"] = hidden_threads
        result["listen_hidden_threads_wakes_per_s_us_each"] = hidden_wakes
        window.show()
    finally:
        talker.terminate()
        talker.wait(10)
    await _until(lambda: not client.model.speaker, 15)
    await _until(lambda: not engine.output_active, 15)

    talk_threads: dict[str, float] = {}
    result["talk_threads_cpu_pct"] = talk_threads
    window.hold_global_key(True)
    await _until(lambda: window.panel.talk_button.state is TalkState.TALKING)
    await asyncio.sleep(1.0)
    result["talk_cpu_pct"] = await _cpu_pct(seconds, talk_threads)
    window.hold_global_key(False)
    await _until(lambda: not engine.input_active)

    sent = engine.send_frame
    first = asyncio.Event()
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []

    def record(packet: bytes) -> None:  # on the audio input thread (or the loop at the grant)
        if not sent_at:
            sent_at.append(time.perf_counter())
            loop.call_soon_threadsafe(first.set)
        sent(packet)

    engine.send_frame = record
    delays: list[float] = []
    for _ in range(presses):
        await _until(lambda: window.panel.talk_button.state is TalkState.IDLE
                     and not engine.input_active and not engine.output_active)
        first.clear()
        sent_at.clear()
        start = time.perf_counter()
        window.hold_global_key(True)
        await asyncio.wait_for(first.wait(), 5)
        delays.append((sent_at[0] - start) * 1000)
        await asyncio.sleep(0.2)
        window.hold_global_key(False)
    engine.send_frame = sent
    result["press_to_packet_p50_ms"] = round(statistics.median(delays), 1)
    result["press_to_packet_p95_ms"] = round(percentile(delays, 95), 1)
    result["press_to_packet_max_ms"] = round(max(delays), 1)
    result["presses"] = presses
    result["input_starts"] = engine.input_starts
    runtime.quit()
    await asyncio.wait_for(main, 10)
    return result


# --- the demo under Xvfb ---------------------------------------------------------------------
def demo_cpu(seconds: float, warmup: float) -> dict[str, Any]:
    if shutil.which("Xvfb") is None:
        return {"demo_idle_cpu_pct": None, "demo_note": "Xvfb not installed"}
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp",
                             "-screen", "0", "1280x800x24"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = b""
        while not number.endswith(b"\n"):
            chunk = os.read(read_end, 16)
            if not chunk:
                return {"demo_idle_cpu_pct": None, "demo_note": "Xvfb did not start"}
            number += chunk
        env = {**os.environ, "DISPLAY": f":{number.decode().strip()}"}
        for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY"):
            env.pop(name, None)
        tmp = tempfile.mkdtemp(prefix="idle-demo-")
        demo = subprocess.Popen([sys.executable, "-m", "app", "--demo", "--simulated-audio",
                                 "--settings", str(Path(tmp) / "demo.ini")], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(warmup)
            samples = []
            start_cpu, start = proc_cpu_seconds(demo.pid), time.perf_counter()
            previous = start_cpu
            for _ in range(round(seconds)):
                time.sleep(1.0)
                now = proc_cpu_seconds(demo.pid)
                samples.append(100 * (now - previous))
                previous = now
            total = 100 * (previous - start_cpu) / (time.perf_counter() - start)
            # seconds in which no bot talked: a talking bot encodes, relays and plays
            # (6-15 % of a core), so those seconds stand out
            quiet = [value for value in samples if value <= QUIET_SECOND_PCT]
        finally:
            end_process(demo)
            shutil.rmtree(tmp, ignore_errors=True)
        return {"demo_idle_cpu_pct": round(total, 2),
                "demo_quiet_cpu_pct": round(statistics.mean(quiet), 2) if quiet else None,
                "demo_quiet_seconds": len(quiet),
                "demo_median_second_cpu_pct": round(statistics.median(samples), 2),
                "demo_seconds_cpu_pct": [round(v, 1) for v in samples],
                "demo_window_s": round(seconds), "demo_warmup_s": warmup}
    finally:
        os.close(read_end)
        xvfb.terminate()
        xvfb.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument("--seconds", type=float, help="CPU window per state (20; quick: 6)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo under Xvfb")
    parser.add_argument("--warmup", type=float,
                        help="seconds joined before the first window (12; quick: 3)")
    parser.add_argument("--role", choices=["app", "talker"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--interphone", help=argparse.SUPPRESS)
    parser.add_argument("--presses", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    warmup = args.warmup if args.warmup is not None else (3.0 if args.quick else 12.0)
    presses = args.presses or (10 if args.quick else 30)
    if args.role == "talker":
        asyncio.run(talker_role(args.port, args.interphone, seconds))
        return 0
    if args.role == "app":
        print(json.dumps(app_role(args.port, seconds, warmup, presses)), flush=True)
        return 0
    result: dict[str, Any] = {"benchmark": "idle", "quick": args.quick, "window_s": seconds}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "idle.toml", GROUPS)
        server = ServerProcess(config)
        try:
            app = subprocess.run([sys.executable, __file__, "--role", "app", "--port",
                                  str(server.port), "--seconds", str(seconds),
                                  "--presses", str(presses), "--warmup", str(warmup)]
                                 + (["--quick"] if args.quick else []),
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                 timeout=20 * seconds + 120, check=True)
        finally:
            server.close()
    result.update(json.loads(app.stdout.strip().splitlines()[-1]))
    log(f"idle: {result}")
    if not args.no_demo:
        result.update(demo_cpu(seconds, max(warmup, DEMO_INTRO_S)))
    result.update(target_idle_cpu_pct=0.5, target_listen_cpu_pct=3.0, target_talk_cpu_pct=4.0,
                  target_press_to_packet_p95_ms=40.0, target_demo_idle_cpu_pct=1.0)
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
