"""Run every benchmark and regenerate docs/performance.md.

    .venv/bin/python bench/run_all.py            # full runs (several minutes)
    .venv/bin/python bench/run_all.py --quick    # each benchmark under 30 s
    .venv/bin/python bench/run_all.py --only access relay --no-doc
    .venv/bin/python bench/run_all.py --from saved.jsonl   # re-render a saved run
    .venv/bin/python bench/run_all.py --compare REF        # the relay of REF too
    .venv/bin/python bench/run_all.py --smoke --only cpu   # does it run? (seconds; no doc)

Each benchmark prints one JSON object on its last line of output; they are
collected in the order of ``ORDER``, printed, and written into the document
with the targets they are compared with (one table, by issue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOC = ROOT / "docs" / "performance.md"
ORDER = ["access", "relay", "join_storm", "cpu", "latency", "latency_encryption", "flood",
         "login_flood", "floor", "idle", "wake_floor", "listen_work",
         "cluster", "soak", "reload_stall"]
MODULES = {"latency": ["-m", "bench.latency"],  # written as modules of the bench package
           "latency_encryption": ["-m", "bench.latency", "--compare-encryption", "--runs", "5"]}
NO_QUICK = {"flood", "login_flood"}
"""Benchmarks that are short already and have no ``--quick``."""
SMOKE = {
    "access": ["--members", "5", "--busy-rooms", "1", "--per-room", "2", "--samples", "20"],
    "join_storm": ["--clients", "20", "--procs", "1", "--timeout", "15"],
    "cpu": ["--seconds", "1", "--sessions", "20"],
    "latency": ["--clicks", "4"],
    "latency_encryption": ["--runs", "1", "--clicks", "4", "--logins", "3"],  # the last --runs
    "flood": ["--seconds", "0.5", "--garbage-pps", "2000", "--login-rate", "20"],
    "login_flood": ["--seconds", "0.5", "--iterations", "1000"],
    "idle": ["--quick", "--seconds", "0.5", "--warmup", "0.5", "--presses", "2", "--no-demo"],
    "wake_floor": ["--seconds", "0.3", "--rounds", "1"],
    "listen_work": ["--frames", "50", "--rounds", "1"],
    "reload_stall": ["--users", "60", "--groups", "10", "--max-groups", "4", "--sessions", "30",
                     "--drop", "20", "--window", "1"],
    "cluster": ["--clients", "20", "--storm-one", "20", "--procs", "1", "--rounds", "10",
                "--listeners", "2", "--offered", "1000", "--seconds", "0.3",
                "--hop-packets", "20", "--timeout", "20"],
}
"""``--smoke``: the smallest sizes each benchmark accepts, so that it runs in seconds (its
figures mean nothing); the others (relay, floor, soak: minutes even so) run ``--quick``.
tests/test_bench_smoke.py runs these commands."""


def command(name: str, quick: bool, compare: str | None = None,
            smoke: bool = False) -> list[str]:
    args = [sys.executable, *MODULES.get(name, [str(BENCH / f"{name}.py")])]
    if name == "relay" and compare:
        args += ["--compare", compare]
    if smoke and name in SMOKE:
        return args + SMOKE[name]
    quick = quick or smoke
    return args + (["--quick"] if quick and name not in NO_QUICK else [])


def run(name: str, quick: bool, compare: str | None = None,
        smoke: bool = False) -> dict[str, Any]:
    print(f"== {name}", file=sys.stderr, flush=True)
    proc = subprocess.run(command(name, quick, compare, smoke), cwd=ROOT,
                          stdout=subprocess.PIPE,
                          text=True,
                          timeout=1800)
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            result.setdefault("benchmark", name)
            if proc.returncode:
                result["exit_code"] = proc.returncode
            return result
    return {"benchmark": name, "error": f"no JSON output (exit code {proc.returncode})"}


# ---- the document --------------------------------------------------------------------------------

Check = Callable[[dict[str, Any]], tuple[str, str, str] | None]


def _row(name: str, measured: str, target: str, ok: bool | None) -> tuple[str, str, str, str]:
    verdict = "—" if ok is None else ("met" if ok else "**missed**")
    return name, measured, target, verdict


def target_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    a = results.get("access", {})
    if "p95_ms" in a:
        rows.append(_row(f"floor access p95 ({a['members']} members, busy server)",
                         f"{a['p95_ms']:.2f} ms (p50 {a['p50_ms']:.2f} ms)", "≤ 5 ms",
                         a["p95_ms"] <= 5.0))
    r = results.get("relay", {})
    if "ratio" in r:
        basis = "" if r.get("ratio_basis") == "held" else " (by CPU per packet: neither saturated)"
        rows.append(_row("relay / bare fan-out baseline", f"{r['ratio']}{basis}", "≥ 0.7",
                         r["ratio"] is not None and r["ratio"] >= 0.7))
        capped = " (not saturated)" if r.get("relay_capped") else ""
        rows.append(_row("relay capacity, one core, ≤ 1 % loss",
                         f"{r['listener_streams']} listener streams, {r['pps']:,} packets/s"
                         f"{capped}", "recorded", None))
        if r.get("capacity_vs_compare") is not None:
            rows.append(_row(f"relay capacity / {r['compare_ref']}'s, same run",
                             f"{r['capacity_vs_compare']} ({r['compare_pps']:,} packets/s)",
                             "≥ 1.5", r["capacity_vs_compare"] >= 1.5))
    if "fixed_us" in r:
        rows.append(_row("relay CPU per incoming datagram, fixed part",
                         f"{r['fixed_us']} µs (+ {r['per_listener_us']} µs per listener)",
                         "≤ 100 µs", r["fixed_us"] <= 100.0))
        if r.get("fixed_over_floor_us") is not None:
            per_n = ", ".join(f"N={n}: {v}" for n, v in r.get("cost_vs_floor", {}).items())
            rows.append(_row("relay fixed part over the bare blocking loop, same rounds",
                             f"{r['fixed_over_floor_us']} µs (× {r['fixed_vs_floor']}; whole "
                             f"cost against the loop's {per_n})", "recorded", None))
        rows.append(_row("relay CPU per delivered listener-packet, 20 listeners",
                         f"{r['us_per_listener_packet_n20']} µs",
                         "≤ murmur 1.3.4's UDP path (13.5 µs in issue 17)",
                         r["us_per_listener_packet_n20"] <= 13.5))
    k = r.get("kernel_floor", {})
    if "sendto_us" in k:
        rows.append(_row("kernel floor per listener-packet (no Python): sendto / sendmmsg",
                         f"{k['sendto_us']} / {k['sendmmsg_us']} µs; the relay's "
                         f"{r.get('us_per_packet')} µs is {r.get('kernel_share')} kernel",
                         "recorded", None))
    j = results.get("join_storm", {})
    if "clients" in j:
        seconds = j["seconds"]
        measured = (f"{seconds:.2f} s" if seconds is not None
                    else f"{j['converged']}/{j['clients']} models converged (client bug)")
        if j.get("all_joined_s") is not None:
            measured += f"; server answered every join in {j['all_joined_s']:.2f} s"
        limit = j.get("target_seconds", 2.0)
        rows.append(_row(f"join storm of {j['clients']} (bench/join_storm.py)", measured,
                         f"≤ {limit:g} s", seconds is not None and seconds <= limit))
    c = results.get("cpu", {})
    if "talk_cpu_pct" in c:
        rows.append(_row("client CPU talking", f"{c['talk_cpu_pct']} % of one core", "≤ 5 %",
                         c["talk_cpu_pct"] <= 5.0))
        rows.append(_row("client CPU listening", f"{c['listen_cpu_pct']} % of one core",
                         "≤ 5 %", c["listen_cpu_pct"] <= 5.0))
        rows.append(_row("server RSS per 1,000 idle sessions",
                         f"{c['server_rss_mb_per_1000']} MB", "≤ 100 MB",
                         c["server_rss_mb_per_1000"] <= 100.0))
    lat = results.get("latency", {})
    for key in ("p95_ms", "mouth_to_ear_p95_ms"):
        if key in lat:
            rows.append(_row("mouth-to-ear p95 (bench/latency.py)", f"{lat[key]} ms",
                             "< 300 ms (target)", lat[key] < 300))
            break
    rows += security_rows(results)
    rows += desktop_rows(results)
    rows += cluster_rows(results)
    rows += soak_rows(results)
    rows += reload_stall_rows(results)
    return rows


def security_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Issue 12: the cost of encryption, floods."""
    rows = []
    e = results.get("latency_encryption", {})
    if "encrypted_m2e_delta_ms" in e:
        paired = "pair_deltas_ms" in e
        rows.append(_row("mouth-to-ear p50, encrypted − plain"
                         + (" (median of pairs run at one clock phase)" if paired
                            else " (runs alternated)"),
                         f"{e['encrypted_m2e_delta_ms']} ms ({e['m2e_p50_ms_plain']} vs "
                         f"{e['m2e_p50_ms_encrypted']} ms"
                         + (f"; pairs {e['pair_deltas_ms']}" if paired else "") + ")",
                         "within 1 ms", abs(e["encrypted_m2e_delta_ms"]) <= 1.0))
        rows.append(_row("per-packet transit, encrypted − plain",
                         f"{e['encrypted_transit_delta_ms']} ms", "recorded", None))
        rows.append(_row("login over TLS p95 (InterphoneClient.connect)",
                         f"{e['tls_login_p95_ms']} ms (plain {e['plain_login_p95_ms']} ms)",
                         "≤ 20 ms", e["tls_login_p95_ms"] <= 20.0))
    r = results.get("relay", {})
    if r.get("encrypted_ratio") is not None:
        rows.append(_row("relay with encrypted media / plain", f"{r['encrypted_ratio']}",
                         "≥ 0.95", r["encrypted_ratio"] >= 0.95))
    f = results.get("flood", {})
    if "legit_loss_pct" in f:
        rows.append(_row(f"a real talk under {f['garbage_pps']:,} garbage datagrams/s",
                         f"{f['legit_loss_pct']} % lost", "≤ 1 %", f["legit_loss_pct"] <= 1.0))
    if "legit_login_p95_ms" in f:
        rows.append(_row(f"legitimate login p95 under {f.get('login_flood_rate', 200)} wrong "
                         "hashed logins/s", f"{f['legit_login_p95_ms']} ms", "≤ 50 ms",
                         f["legit_login_p95_ms"] <= 50.0))
        rows.append(_row("floors revoked during that login flood", f"{f['floors_revoked']}",
                         "0", f["floors_revoked"] == 0))
    return rows


def desktop_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Issue 13 (floor hand-over) and issue 14 (the desktop app at rest)."""
    rows = []
    fl = results.get("floor", {})
    if "handover_ms" in fl:
        h, p = fl["handover_ms"], fl.get("preemption_start_ms", {})
        rows.append(_row("speak off → queued head's first packet heard, p95",
                         f"{h['p95']} ms", "≤ 150 ms", h["p95"] <= 150.0))
        if "p95" in p:
            rows.append(_row("dispatcher pre-emption → its first packet heard, p95",
                             f"{p['p95']} ms", "≤ 100 ms", p["p95"] <= 100.0))
    i = results.get("idle", {})
    for key, what, limit in (("idle_cpu_pct", "desktop app idle, joined to "
                              f"{i.get('joined_interphones')} interphones", 0.5),
                             ("listen_cpu_pct", "desktop app receiving one speaker", 3.0),
                             ("talk_cpu_pct", "desktop app talking", 4.0),
                             ("demo_idle_cpu_pct", "`interphone --demo` after its introduction, "
                              "whole window (nobody talking)", 1.0)):
        if i.get(key) is not None:
            rows.append(_row(what, f"{i[key]} % of one core", f"≤ {limit} %", i[key] <= limit))
    if i.get("listen_hidden_cpu_pct") is not None:
        rows.append(_row("desktop app receiving one speaker, window hidden to the tray",
                         f"{i['listen_hidden_cpu_pct']} % of one core", "(no target)", None))
    w = results.get("wake_floor", {})
    kinds = [("c_sleep_us", "C"), ("python_sleep_us", "Python"),
             ("clocked_card_us", "simulated card"), ("sounddevice_jack_us", "PortAudio (JACK)")]
    shown = [(what, w[key]) for key, what in kinds if w.get(key) is not None]
    if shown:
        rows.append(_row("one audio wake-up with nothing done (bench/wake_floor.py): "
                         + " / ".join(what for what, _ in shown),
                         " / ".join(f"{value} µs" for _, value in shown)
                         + (f"; listening's 150 a second at Python's: "
                            f"{w['floor_listen_cpu_pct']} % of one core"
                            if w.get("floor_listen_cpu_pct") is not None else ""),
                         "(no target)", None))
    work = results.get("listen_work", {})
    if work.get("work_listen_cpu_pct") is not None:
        rows.append(_row("listening's own work with warm caches (bench/listen_work.py): a "
                         "datagram received, a 20 ms frame played (two output blocks)",
                         f"{work['rx_us_per_packet']} µs + {work['output_us_per_frame']} µs; "
                         f"50 a second: {work['work_listen_cpu_pct']} % of one core",
                         "(no target)", None))
    if work.get("paced_listen_cpu_pct") is not None:
        rows.append(_row("the same work at the app's pace, one thread, three wake-ups a frame "
                         "(bench/listen_work.py)",
                         f"{work['paced_work_us_per_frame']} µs of work and "
                         f"{work['sleeps_cpu_us_per_frame']} µs of wake-ups a frame: "
                         f"{work['paced_listen_cpu_pct']} % of one core; the work costs "
                         f"{work['paced_work_over_hot']} times its warm cost",
                         "(no target)", None))
    if work.get("one_wake_listen_cpu_pct") is not None:
        rows.append(_row("the bound of fewer wake-ups: the same work after one wake-up a "
                         "frame (bench/listen_work.py)",
                         f"{work['one_wake_work_us_per_frame']} µs of work a frame: "
                         f"{work['one_wake_listen_cpu_pct']} % of one core with its wake-up",
                         "(no target)", None))
    floor = [i.get(f"sim_card_{d}_floor_cpu_pct") for d in ("output", "input")]
    if None not in floor:
        rows.append(_row("of which the simulated sound card's own pacing (empty callbacks): "
                         "output (listening), input (talking)",
                         f"{floor[0]} %, {floor[1]} %", "(no target)", None))
    if i.get("press_to_packet_p95_ms") is not None:
        rows.append(_row("key press → first audio packet, p95 (input opened on press)",
                         f"{i['press_to_packet_p95_ms']} ms", "≤ 40 ms",
                         i["press_to_packet_p95_ms"] <= 40.0))
    return rows


def cluster_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Issue 15: several nodes on one Redis."""
    rows = []
    c = results.get("cluster", {})
    one = c.get("storm_one_node", {})
    if one.get("seconds") is not None:
        rows.append(_row(f"join storm of {one['clients']}, one node", f"{one['seconds']} s",
                         "≤ 2 s", one["seconds"] <= 2.0))
    if c.get("seconds") is not None:
        answered = c.get("server_answered_all_s")
        rows.append(_row(f"{c['clients']:,} clients joining over {c['nodes']} nodes, every "
                         "client's model complete", f"{c['seconds']} s" + (
                             f" (the nodes answered every join in {answered} s)"
                             if answered is not None else ""),
                         "≤ 6 s", c["seconds"] <= 6.0))
    if c.get("scaling") is not None:
        projected = c.get("scaling_per_cpu_projected")
        hop = c.get("hop_ms", {})
        rows.append(_row(f"relay with {c['nodes']} nodes / one node, listeners spread",
                         f"{c['scaling']}" + (f" (per CPU-second: {projected})"
                                              if projected is not None else "")
                         + (f"; node-to-node hop p50 {hop['p50']} ms" if hop else ""),
                         "≥ 1.6", c["scaling"] >= 1.6))
    if c.get("cross_node_access_p95_ms") is not None:
        rows.append(_row("floor access across nodes, p95", f"{c['cross_node_access_p95_ms']} ms",
                         "≤ 10 ms", c["cross_node_access_p95_ms"] <= 10.0))
    if c.get("failover_seconds") is not None:
        rows.append(_row("a killed node's clients talking again", f"{c['failover_seconds']} s",
                         "≤ 5 s", c["failover_seconds"] <= 5.0))
    return rows


def soak_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Issue 14: the desktop app left running."""
    s = results.get("soak", {})
    if s.get("rss_growth_mb_per_hour") is None:
        return []
    what = (f"desktop app left running {s['minutes']} min (a team talking in turns, the "
            f"server restarted {s['server_restarts']} times)")
    return [
        _row(f"{what}: memory growth net of the replay store",
             f"{s['rss_growth_mb_per_hour']} MB an hour ({s['rss_start_mb']} → "
             f"{s['rss_end_mb']} MB; descriptors {s['fds_start']} → {s['fds_end']}, "
             f"threads {s['threads_start']} → {s['threads_end']})", "(no target)", None),
        _row(f"{what}: CPU, second third / last third",
             f"{s['cpu_pct_second_third']} % / {s['cpu_pct_last_third']} % of one core",
             "(no target)", None),
        _row(f"{what}: interphones all rejoined after each restart",
             f"{s['rejoined_after_restarts']} of {s['server_restarts']}",
             f"{s['server_restarts']} of {s['server_restarts']}",
             s["rejoined_after_restarts"] == s["server_restarts"]),
    ]



def reload_stall_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """The server's answers while it reloads a big directory or loses a crowd at once."""
    r = results.get("reload_stall", {})
    if r.get("baseline_max_answer_ms") is None:
        return []
    crowd = (f"{r['users']} users, {r['groups']} groups, {r['sessions']} sessions with "
             f"roster and presence")
    return [
        _row(f"longest answer to another client, {crowd}: nothing happening / SIGHUP reload",
             f"{r['baseline_max_answer_ms']} ms / {r['reload_max_answer_ms']} ms (reload "
             f"served {r['reload_served_s']} s after the signal, {r['reload_syncs']} syncs "
             f"answered)", "(no target)", None),
        _row(f"longest answer to another client, {r['dropped']} of the {r['sessions']} "
             f"connections lost at once",
             f"{r['drop_max_answer_ms']} ms ({r['drop_offline_told']} offline notices of "
             f"{r['drop_offline_expected']} told)", "(no target)", None),
    ]

METHOD = """\
## Method

Everything runs on 127.0.0.1. The server under test is the real `InterphoneServer`
(the class `python -m app.server` runs, on its event loop: uvloop where installed) in its
own process, started by `bench/_server.py`, which only adds counters (relayed packets, notifications
queued) and answers `stats` on stdin. With two or more CPUs the server is pinned to
the first and every load process to the second, so the load never takes the server's
core; the machine is shared with other work, so its load average is recorded with
each run.

- **access** (`bench/access.py`): 50 members in one interphone (49 idle sessions in a
  load process and the probe); meanwhile 10 other interphones talk, each a speaker
  sending 50 audiopackets/s relayed to 10 listeners. The probe is a blocking socket:
  the time runs from writing `speak on` to decoding its response (the grant), which
  includes the server notifying all 50 members. Each grant is released and the next
  request follows after a random 10–30 ms. The same is measured through
  `InterphoneClient.talk_start()` (`client_p50_ms`/`client_p95_ms`).
- **relay cost model** (`bench/relay.py`, first): one talker at 50 packets/s and N = 5,
  20, 50 listeners in one interphone, on a fresh server per N. The listeners' sockets are
  read only after each window, so none is waiting and the server's `sendto` wakes no
  process (a wake-up would be billed to the server). Server CPU over a window is the sum
  of its threads' on-CPU time (/proc/PID/task/*/schedstat, ns) divided by the packets
  sent in it; the median of 3 windows of 10 s per N (quick: one of 2 s) is fitted by
  least squares as `fixed_us + per_listener_us × N`; `us_per_listener_packet_n20` is the
  CPU per delivered listener-packet at N = 20. Every listener must have received every
  packet of the window (`complete`). The same runs, window by window in turn (so a
  change in the machine's load falls on all alike), for the bare asyncio fan-out
  baseline, for `bare` (that fan-out in a thread blocked in `recvfrom_into`: the floor
  of a Python relay with one socket) and, with `--compare REF`, for the relay of git
  revision REF served by its own `bench/_server.py`.
- **relay** (`bench/relay.py`): rooms of one speaker and 20 listeners (quick: 40),
  every speaker sending 50 packets/s (60-byte frames, crc filled, speakers spread over
  the 20 ms period as independent talkers are). Active rooms grow ×1.4 per step, then
  bisection, until more than 1 % of the expected listener packets are lost (a failing
  step is measured twice). Receivers are non-blocking UDP sockets drained by one
  process's event loop; each packet is counted by its seq, so windows are exact. A
  packet the server handed to the kernel either reached a receiver's buffer or was
  dropped at that full buffer (the kernel's per-socket drop counter): only what the
  server never sent counts as lost, so a slow receiver process cannot pass for a slow
  relay. The same ramp runs, step by step in turn (all servers set up at once, one
  talking at a time), for the previous relay (`--compare REF`) and for the baseline: an
  asyncio DatagramProtocol that sends each datagram from a speaker's address to its
  room's N addresses, with no parsing at all (same socket buffer size as the relay).
  `ratio` = relay packets/s held / baseline packets/s held; when neither saturates
  within the stream cap it is the ratio of server CPU per forwarded packet
  (`ratio_basis`: `cpu`). Each step also
  records the share of the window the server was runnable but waiting for its CPU
  (`server_wait_pct`, from /proc/PID/schedstat): other work taking the server's core.
  `BENCH_WATCH=1` makes `_server.py` report event-loop lag and GC pauses.
- **join_storm** (`bench/join_storm.py`): 500 `InterphoneClient`s in 4 worker
  processes connect first (login and sync: each watches the interphone); at one
  agreed instant all call `join()`. The time is until every client's model lists
  500 members. Notifications are counted by the server.
- **cpu** (`bench/cpu.py`): one process per role, each an `InterphoneClient` with an
  `AudioEngine` on the `ClockedBackend` (capture and playback threads paced at 48 kHz,
  Opus 24 kbit/s, 20 ms frames, FEC on). The talker transmits a speech-like signal;
  the listener plays what it receives. `time.process_time()` (all threads) over the
  same window, as % of one core. Server memory: RSS of a fresh server process before
  and after 2,000 sessions (quick: 1,000) log in and sync, scaled to 1,000.
- **latency** (`python -m bench.latency`): mouth-to-ear through the server, a click
  captured by a talker's virtual sound card found in a listener's output; see that
  script's docstring.
- **latency_encryption** (`python -m bench.latency --compare-encryption --runs 5`): the
  same, plain and over TLS with encrypted voice (`media-auth`), in pairs that start the
  talker's sound card at one chosen phase of the listener's 10 ms output block (the phase
  alone moves a run's latency by up to 10 ms); the delta is the median of the pairs'
  differences. Then 50 logins of the real client over TLS and in plain.
- **flood** / **login_flood** (issue 12): a real talk → listen (the client engine, TLS,
  sealed voice) while 50,000 garbage datagrams/s hit the media port, then while 200
  wrong hashed-token logins/s arrive; loss counted where it happened. See bench/NOTES.md.
- **floor** (issue 13): floor hand-over and pre-emption with the app's turn machine.
- **idle** (issue 14): the desktop app (`Runtime`, offscreen Qt, the clocked sound card)
  signed in and joined to 3 interphones: CPU idle, listening, talking, press → first
  packet, and `interphone --demo` under Xvfb.
- **wake_floor** (issue 14): what one audio wake-up costs with nothing done in it, in C,
  in Python, on the simulated sound card and on the real PortAudio path (a JACK dummy
  server): the machine's floor under the listening figure.
- **listen_work** (issue 14): listening's own work (a datagram through the receive path,
  a frame through the output callback, real socket and libopus) in a tight loop, warm
  caches, then at the app's pace (three wake-ups a frame, one thread): how much of the
  listening figure is the work, the wake-ups, and the work running on cold caches; and
  the same work after a single wake-up a frame, the bound of any design that wakes less.
- **cluster** (issue 15): two nodes on one real `redis-server`: a join storm of 2,000
  product clients spread over both, floor access across nodes, a killed node, relay
  capacity with listeners spread over both nodes against one node.

- **soak** (issue 14): the desktop app (as in idle) left running for 30 minutes while a
  team of two bots talks in turns into its three interphones, the app talks every 30 s
  and the server is restarted every 5 minutes: memory net of the replay store's audio,
  descriptors, threads, the CPU of each thread over time.
- **reload_stall**: the real server with a directory of 1,000 users in 300 groups and 465
  sessions asking roster and presence; another client asks members every 50 ms and times
  each answer while nothing happens, while a SIGHUP reload changes every roster, and
  while 400 of the sessions' connections are lost at once.

Timing thresholds are never asserted in unit tests; these figures are benchmarks.
"""


def render(results: dict[str, dict[str, Any]], quick: bool, argv: list[str]) -> str:
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    first = next(iter(results.values()), {})
    lines = [
        "# Performance",
        "",
        "Generated by `bench/run_all.py`; regenerate with one command:",
        "",
        "    .venv/bin/python bench/run_all.py" + (" --quick" if quick else ""),
        "",
        f"Figures from one run on {when}: {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other work; 1-minute load average at the start "
        f"of the first benchmark: {first.get('loadavg_1m', '?')}), Python "
        f"{platform.python_version()}, {'quick' if quick else 'full'} runs.",
        "",
        "## Targets",
        "",
        "| what | measured | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in target_rows(results)]
    lines += ["", METHOD, "## Details", ""]
    lines += details(results)
    lines += ["", "## Raw results", "", "One JSON object per benchmark, as printed:", ""]
    for result in results.values():
        lines += ["```json", json.dumps(result), "```"]
    notes = BENCH / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    return "\n".join(lines) + "\n"


def details(results: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    r = results.get("relay", {})
    costs = r.get("cost", {})
    if costs:
        out += ["relay cost model (server CPU per incoming packet, µs; median per N):", "",
                "| server | fixed | per listener | N = 5 | N = 20 | N = 50 "
                "| per listener-packet at 20 | all delivered |",
                "|---|---|---|---|---|---|---|---|"]
        for mode, c in costs.items():
            name = f"{mode} ({r['compare_ref']})" if mode == "compare" else mode
            p = c["cost_points"]
            out.append(f"| {name} | {c['fixed_us']} | {c['per_listener_us']} | {p['5']} | "
                       f"{p['20']} | {p['50']} | {c['us_per_listener_packet_n20']} | "
                       f"{'yes' if c['complete'] else 'no'} |")
        out.append("")
    for mode in ("relay", "baseline", "compare"):
        steps = r.get(f"{mode}_steps")
        if not steps:
            continue
        out += [f"{mode} ramp:", "",
                "| rooms | listener streams | packets/s forwarded | loss | server CPU "
                "| server waiting for its CPU | µs/packet | server rx drops |",
                "|---|---|---|---|---|---|---|---|"]
        out += [f"| {s['rooms']} | {s['listener_streams']} | {s['pps']:,} | "
                f"{100 * s['loss']:.2f} % | {s['server_cpu_pct']} % | "
                f"{s.get('server_wait_pct', '?')} % | {s['us_per_packet']} | "
                f"{s.get('server_rx_drops', '')} |" for s in steps]
        out.append("")
    j = results.get("join_storm", {})
    if "clients" in j:
        out += [f"join storm: {j['notifications']:,} notifications; the server spent "
                f"{j['server_cpu_s']} s of CPU; the last join was answered after "
                f"{j.get('all_joined_s')} s and the first model was complete after "
                f"{j.get('first_full_s')} s; {j['converged']}/{j['clients']} models "
                "converged.", ""]
    a = results.get("access", {})
    if "p95_ms" in a:
        out += [f"access: p99 {a['p99_ms']} ms, max {a['max_ms']} ms over {a['samples']} "
                f"grants; through InterphoneClient p50 {a['client_p50_ms']} ms, p95 "
                f"{a['client_p95_ms']} ms; meanwhile the server relayed {a['busy_pps']:,} "
                "listener packets/s.", ""]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=ORDER)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the document")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest sizes (seconds each; the figures mean nothing): "
                             "checks that the benchmarks run; implies --no-doc")
    parser.add_argument("--compare", metavar="REF",
                        help="also measure the relay of git revision REF (bench/relay.py "
                             "--compare), e.g. the relay before the media thread")
    parser.add_argument("--from", dest="saved", metavar="FILE",
                        help="render the document from the JSON lines a previous run printed")
    args = parser.parse_args(argv)
    names = list(args.only or ORDER)
    results: dict[str, dict[str, Any]] = {}
    if args.saved:
        for line in Path(args.saved).read_text().splitlines():
            if line.startswith("{"):
                result = json.loads(line)
                results[result.get("benchmark") or result.get("bench", "latency")] = result
        args.quick = any(r.get("quick") for r in results.values())
    for name in [] if args.saved else names:
        results[name] = run(name, args.quick, args.compare, args.smoke)
        print(json.dumps(results[name]), flush=True)
    if not (args.no_doc or args.smoke):
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(render(results, args.quick, sys.argv[1:]))
        print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
