"""Client CPU while talking and while listening; server memory per 1,000 idle sessions.

    python bench/cpu.py [--quick]

Client CPU: two processes, one per role, each an ``InterphoneClient`` with an
``AudioEngine`` on a ``ClockedBackend`` (the real-time virtual sound card:
capture and playback threads paced at 48 kHz, 20 ms blocks), as the app runs
them. The talker holds the floor and transmits a speech-like signal (Opus,
24 kbit/s, FEC on); the listener plays what it receives. Each process
measures its own ``time.process_time()`` (every thread) over the same
``--seconds`` window and reports it as % of one core. The server runs in a
third process.

Server memory: a fresh server process; its RSS before and after ``--sessions``
sessions log in and sync (then stay idle), scaled to 1,000.

Output keys: ``talk_cpu_pct``, ``listen_cpu_pct``, ``server_rss_mb_per_1000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, ServerProcess, emit, log, machine, raise_nofile, write_config
from _procs import listeners

GROUP = "group_cpu"


def speech_like(seconds: float = 10.0, rate: int = 48000) -> Any:
    """Voiced harmonics with a wandering pitch, syllable-rate envelope and some noise."""
    import numpy as np

    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 150 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.5
    signal = 0.25 * voice * envelope + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


async def run_role(role: str, port: int, seconds: float) -> dict[str, Any]:
    from app.audio.clocked import ClockedBackend
    from app.audio.pipeline import AudioEngine
    from app.client import InterphoneClient

    loop = asyncio.get_running_loop()
    client = InterphoneClient(HOST, port, role, "x", reconnect=False)
    source = speech_like() if role == "talker" else None
    backend = ClockedBackend(source, loop_source=True, collect_output=False)
    engine = AudioEngine(backend, send_frame=client.send_audio, loop=loop)
    client.on_audio = engine.receive
    await client.connect()
    await client.join(GROUP)
    engine.start()
    if role == "talker":
        while not await _try_talk(client):
            await asyncio.sleep(0.1)
        engine.start_transmit()
        await asyncio.sleep(0.5)
    else:
        while client.stats.rx_packets == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # past the start-up
    cpu0, wall0, rx0, tx0 = time.process_time(), time.perf_counter(), \
        client.stats.rx_packets, client.stats.tx_packets
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    result = {"role": role, "cpu_pct": round(100 * cpu / wall, 2),
              "rx_pps": round((client.stats.rx_packets - rx0) / wall, 1),
              "tx_pps": round((client.stats.tx_packets - tx0) / wall, 1)}
    if role == "talker":
        await asyncio.sleep(1.0)  # keep talking while the listener finishes its window
        engine.stop_transmit(0)
        await client.talk_stop()
    engine.close()
    await client.close()
    return result


async def _try_talk(client: Any) -> bool:
    from app.client.errors import FloorBusy

    try:
        return bool(await client.talk_start())
    except FloorBusy:
        return False


def client_cpu(port: int, seconds: float) -> dict[str, dict[str, Any]]:
    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, __file__, "--role", role, "--port", str(port),
                                 "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)

    listener = start("listener")
    time.sleep(1.0)
    talker = start("talker")
    out: dict[str, dict[str, Any]] = {}
    for proc in (talker, listener):
        stdout, _ = proc.communicate(timeout=seconds + 60)
        reply = json.loads(stdout.strip().splitlines()[-1])
        out[reply["role"]] = reply
    return out


def server_memory(config: Path, sessions: int) -> dict[str, Any]:
    server = ServerProcess(config)
    listen = listeners(server.port, "relay", None)
    try:
        time.sleep(0.5)
        before = server.rss_mb()
        listen.call("idle", sessions, "idle", [GROUP], None)
        time.sleep(1.0)
        stats = server.stats()
        after = server.rss_mb()
    finally:
        listen.close()
        server.close()
    return {"server_rss_mb_before": round(before, 1), "server_rss_mb_after": round(after, 1),
            "idle_sessions": stats["sessions"],
            "server_rss_mb_per_1000": round((after - before) * 1000 / sessions, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under 30 s")
    parser.add_argument("--seconds", type=float, help="CPU window per role (10; quick: 4)")
    parser.add_argument("--sessions", type=int, help="idle sessions (2000; quick: 1000)")
    parser.add_argument("--role", choices=["talker", "listener"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    if args.role:
        print(json.dumps(asyncio.run(run_role(args.role, args.port, seconds))), flush=True)
        return 0
    sessions = args.sessions or (1000 if args.quick else 2000)
    raise_nofile()
    result: dict[str, Any] = {"benchmark": "cpu", "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "cpu.toml", ["cpu"])
        server = ServerProcess(config)
        try:
            roles = client_cpu(server.port, seconds)
        finally:
            server.close()
        log(f"cpu: {roles}")
        result.update(talk_cpu_pct=roles["talker"]["cpu_pct"],
                      listen_cpu_pct=roles["listener"]["cpu_pct"],
                      talk_tx_pps=roles["talker"]["tx_pps"],
                      listen_rx_pps=roles["listener"]["rx_pps"],
                      window_s=seconds)
        result.update(server_memory(config, sessions))
    result.update(target_cpu_pct=5.0, target_rss_mb_per_1000=100.0)
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
