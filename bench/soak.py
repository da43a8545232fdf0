"""The desktop app left running: memory, descriptors, threads and CPU over a long session.

    python bench/soak.py [--quick] [--minutes M] [--restart-every S] [--profile-gui FILE]

A walkie-talkie runs all day in the background. This runs the real app process as
``bench/idle.py`` does (``app.ui.runtime.Runtime``, offscreen Qt, qasync, the simulated
sound card on demand, signed in with "remember me" and rejoined to three interphones)
against a real ``interphone-server`` process, while a team (another process: two bots,
each a real ``InterphoneClient`` with its own clocked sound card) talks in turns into
all three interphones, the talk target and the others; the app talks itself every
``TALK_EVERY_S`` (the global talk key's path), and the server is stopped and started
again on the same port every ``--restart-every`` seconds (the app reconnects and
rejoins by itself). Every ``SAMPLE_S`` the app samples itself:

- ``rss_mb``: resident memory (``/proc/self/status`` VmRSS);
- ``fds``: open descriptors; ``threads``: threads of the process;
- ``gc_objects``: objects the collector tracks; ``replay_mb``: the replay store's audio
  (up to 8 MiB of the last 10 minutes by design, so it grows in the first minutes);
- ``cpu_pct``: the process's CPU since the last sample, in % of a core.

Keys: ``rss_growth_mb_per_hour`` (least-squares slope of ``rss_mb`` minus ``replay_mb``
after the first third of the run: the warm-up, the first caches and pools), the same
for ``gc_objects_growth_per_hour`` (``gc_types_grown``: the types that grew most from
the end of the first third to the end); ``fds_start``/``fds_end`` and ``threads_start``/
``threads_end`` (after the first third and at the end: a leak of either grows at each
restart); ``cpu_pct_second_third``/``cpu_pct_last_third`` (CPU creep);
``server_restarts`` and ``rejoined_after_restarts`` (the app joined to all three again
after each), ``utterances`` the team spoke and ``heard_after_last_restart`` (audio
reached the app after the last restart); ``samples`` has every sample, with each
thread's share of the CPU (``threads_cpu_pct``). ``--profile-gui FILE``: a cProfile of
the GUI thread over the run's last minute (``python -m pstats FILE``), to find what grows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _app import run_app
from _common import HOST, ROOT, emit, end_process, log, machine, thread_cpu, write_config

GROUPS = ["soak1", "soak2", "soak3"]
TEAM = ["bob", "carol"]
SAMPLE_S = 10.0
TURN_S = 2.0  # one bot's utterance
GAP_S = 1.0  # between utterances
TALK_EVERY_S = 30.0  # the app's own utterance, 1.5 s
PROFILE_S = 60.0  # --profile-gui: the run's last minute


# --- the team (its own process) ----------------------------------------------------------------
async def team_role(port: int, seconds: float) -> None:
    from cpu import speech_like

    from app.audio.clocked import ClockedBackend
    from app.audio.pipeline import AudioEngine
    from app.client import FloorBusy, InterphoneClient

    loop = asyncio.get_running_loop()
    bots = []
    for uid in TEAM:
        client = InterphoneClient(HOST, port, uid, "x", backoff=(0.2, 1.0))
        await client.connect()
        for group in GROUPS:
            await client.join(f"group_{group}")
        backend = ClockedBackend(speech_like(), loop_source=True, collect_output=False)
        engine = AudioEngine(backend, send_frame=client.send_audio, loop=loop)
        engine.start()
        bots.append((client, engine))
    deadline = time.monotonic() + seconds
    turn = spoken = 0
    while time.monotonic() < deadline:
        client, engine = bots[turn % len(bots)]
        group = f"group_{GROUPS[turn % len(GROUPS)]}"
        turn += 1
        try:
            if not client.connected or group not in map(str, client.joined_ids):
                await asyncio.sleep(GAP_S)  # reconnecting after a server restart
                continue
            await client.set_talk_target(group)
            if not await client.talk_start():
                await asyncio.sleep(GAP_S)
                continue
            engine.start_transmit()
            await asyncio.sleep(TURN_S)
            engine.stop_transmit(0)
            await client.talk_stop()
            spoken += 1
        except (FloorBusy, ConnectionError, TimeoutError, OSError) as exc:
            log(f"soak team: turn {turn} in {group}: {exc!r}")
        except Exception as exc:  # a refused request while the server restarts
            log(f"soak team: turn {turn} in {group}: {exc!r}")
        await asyncio.sleep(GAP_S)
    for client, engine in bots:
        engine.close()
        await client.close()
    print(json.dumps({"utterances": spoken}), flush=True)


# --- the app (its own process) -----------------------------------------------------------------
def app_role(port: int, seconds: float, profile: str | None = None) -> dict[str, Any]:
    return run_app(port, GROUPS, lambda runtime: _drive(runtime, seconds, profile), "soak-bench-")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _census() -> Counter[str]:
    """The collector's objects by type (what grows, when ``gc_objects`` grows)."""
    return Counter(type(obj).__qualname__ for obj in gc.get_objects())


def _sample(runtime: Any, cpu0: float, wall0: float,
            threads0: dict[str, tuple[float, int]]) -> dict[str, Any]:
    wall = max(time.perf_counter() - wall0, 1e-6)
    threads = {name: round(100 * (used - threads0.get(name, (0.0, 0))[0]) / wall, 2)
               for name, (used, _) in thread_cpu().items()}
    return {"t": round(time.monotonic(), 1),
            "rss_mb": round(_status_kb("VmRSS") / 1024, 2),
            "fds": len(os.listdir("/proc/self/fd")),
            "threads": _status_kb("Threads"),
            "gc_objects": len(gc.get_objects()),
            "replay_mb": round(runtime.presenter.replay.bytes_used / 2**20, 2),
            "joined": len(runtime.client.model.joined_ids),
            "heard": sum(runtime.presenter.received.values()),
            "cpu_pct": round(100 * (time.process_time() - cpu0) / wall, 2),
            "threads_cpu_pct": {name: pct for name, pct in threads.items() if pct >= 0.05}}


async def _drive(runtime: Any, seconds: float, profile: str | None) -> dict[str, Any]:
    main = asyncio.ensure_future(runtime.run())
    await asyncio.wait_for(runtime.ready.wait(), 15)
    window = runtime.window
    samples: list[dict[str, Any]] = []
    start = time.monotonic()
    next_talk = start + TALK_EVERY_S
    cpu0, wall0, threads0 = time.process_time(), time.perf_counter(), thread_cpu()
    next_sample = start + SAMPLE_S
    talks = 0
    profiler = None
    census: Counter[str] | None = None
    while time.monotonic() - start < seconds:
        if profile and profiler is None and time.monotonic() - start >= seconds - PROFILE_S:
            import cProfile

            profiler = cProfile.Profile()  # the GUI thread's last minute
            profiler.enable()
        await asyncio.sleep(0.2)
        now = time.monotonic()
        if now >= next_talk:
            next_talk = now + TALK_EVERY_S
            window.hold_global_key(True)
            await asyncio.sleep(1.5)
            window.hold_global_key(False)
            talks += 1
        if now >= next_sample:
            next_sample = now + SAMPLE_S
            samples.append(_sample(runtime, cpu0, wall0, threads0))
            if census is None and now - start >= seconds / 3:
                census = _census()
            cpu0, wall0, threads0 = time.process_time(), time.perf_counter(), thread_cpu()
            print(json.dumps({"sample": samples[-1]}), flush=True)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    grown = (_census() - census).most_common(12) if census is not None else []
    runtime.quit()
    await asyncio.wait_for(main, 10)
    return {"app_talks": talks, "samples": samples, "gc_types_grown": dict(grown)}


# --- the server, restarted on its port -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _start_server(config: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "app.server", "--config", str(config),
                               "--host", HOST, "--port", str(port), "--log-level", "WARNING"],
                              cwd=ROOT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}") from None
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start within 15 s")


def _slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def summarize(samples: list[dict[str, Any]], restarts: list[float]) -> dict[str, Any]:
    """The keys of the module's docstring from the app's samples and the restart times."""
    third = len(samples) // 3
    steady = samples[third:]
    last = samples[2 * third:] or samples[-1:]
    middle = samples[third:2 * third] or steady
    rss = _slope_per_hour([(s["t"], s["rss_mb"] - s["replay_mb"]) for s in steady])
    objects = _slope_per_hour([(s["t"], s["gc_objects"]) for s in steady])
    rejoined = 0
    for when in restarts:
        later = [s for s in samples if s["t"] > when + SAMPLE_S]
        rejoined += bool(later) and later[0]["joined"] == len(GROUPS)
    heard_late = False
    if restarts:
        after = [s for s in samples if s["t"] > restarts[-1]]
        heard_late = len(after) >= 2 and after[-1]["heard"] > after[0]["heard"]
    return {
        "rss_start_mb": steady[0]["rss_mb"], "rss_end_mb": samples[-1]["rss_mb"],
        "rss_growth_mb_per_hour": None if rss is None else round(rss, 2),
        "gc_objects_growth_per_hour": None if objects is None else round(objects),
        "fds_start": steady[0]["fds"], "fds_end": samples[-1]["fds"],
        "threads_start": steady[0]["threads"], "threads_end": samples[-1]["threads"],
        "replay_mb_end": samples[-1]["replay_mb"],
        "cpu_pct_second_third": round(sum(s["cpu_pct"] for s in middle) / len(middle), 2),
        "cpu_pct_last_third": round(sum(s["cpu_pct"] for s in last) / len(last), 2),
        "server_restarts": len(restarts), "rejoined_after_restarts": rejoined,
        "heard_after_last_restart": heard_late,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 minutes (default 30)")
    parser.add_argument("--minutes", type=float, help="how long the app runs")
    parser.add_argument("--restart-every", type=float,
                        help="seconds between server restarts (300; quick: 60; 0: never)")
    parser.add_argument("--profile-gui", metavar="FILE",
                        help="write a cProfile of the GUI thread's last minute to FILE")
    parser.add_argument("--role", choices=["app", "team"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "team":
        asyncio.run(team_role(args.port, args.seconds))
        return 0
    if args.role == "app":
        print(json.dumps(app_role(args.port, args.seconds, args.profile_gui)), flush=True)
        return 0
    seconds = 60 * (args.minutes or (3.0 if args.quick else 30.0))
    every = args.restart_every if args.restart_every is not None else (
        60.0 if args.quick else 300.0)
    result: dict[str, Any] = {"benchmark": "soak", "quick": args.quick,
                              "minutes": round(seconds / 60, 1), "restart_every_s": every}
    restarts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "soak.toml", GROUPS)
        port = _free_port()
        server = _start_server(config, port)
        profile = ["--profile-gui", str(Path(args.profile_gui).resolve())] \
            if args.profile_gui else []
        app = subprocess.Popen([sys.executable, __file__, "--role", "app", "--port", str(port),
                                "--seconds", str(seconds), *profile], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
        team = subprocess.Popen([sys.executable, __file__, "--role", "team", "--port",
                                 str(port), "--seconds", str(seconds - 5)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        try:
            started = time.monotonic()
            next_restart = started + every if every > 0 else float("inf")
            while app.poll() is None and time.monotonic() - started < seconds + 60:
                time.sleep(0.5)
                if time.monotonic() >= next_restart and time.monotonic() - started < seconds - 30:
                    end_process(server)
                    restarts.append(time.monotonic())
                    log(f"soak: server restarted at {restarts[-1] - started:.0f} s")
                    server = _start_server(config, port)
                    next_restart = time.monotonic() + every
            app_out, _ = app.communicate(timeout=60)
            team_out, _ = team.communicate(timeout=60)
        finally:
            for proc in (app, team, server):
                if proc.poll() is None:
                    end_process(proc)
    if app.returncode != 0:
        raise RuntimeError(f"the app role exited with {app.returncode}")
    final = json.loads(app_out.strip().splitlines()[-1])
    samples = final["samples"]
    result.update(summarize(samples, restarts))
    result["app_talks"] = final["app_talks"]
    result["gc_types_grown"] = final["gc_types_grown"]
    team_lines = [line for line in team_out.splitlines() if line.startswith("{")]
    result["utterances"] = json.loads(team_lines[-1])["utterances"] if team_lines else None
    result["samples"] = samples
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
