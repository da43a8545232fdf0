"""Relay cost model and capacity on one core, against the plainest Python fan-out loop.

    python bench/relay.py [--quick] [--per-room 20] [--compare main] [--skip-ramp]
                          [--skip-encrypted] [--repeats 5]

**Cost model** (first). One talker at 50 audiopackets/s, N = 5, 20, 50 listeners
in one interphone, each N on a fresh server pinned to one CPU (talker and
listeners on the other). The listeners' sockets are read only after each
window, so no listener is waiting and the server's ``sendto`` wakes nobody (a
wake-up would be billed to the server). Server CPU over the window is the sum
of its threads' on-CPU time (/proc/PID/task/*/schedstat, nanoseconds), divided
by the packets the talker sent in it; the median of the repeats per N is fitted
by least squares as ``fixed_us + per_listener_us * N``. Every listener must
have received every packet of the window (``complete``), else the point is
not one of relaying. Keys: ``fixed_us``, ``per_listener_us``,
``us_per_listener_packet_n20`` (CPU per delivered listener-packet at N=20),
``cost_points`` (N -> median us per incoming packet), ``idle_cpu_pct`` (the
server with nobody talking). The same is measured, under ``cost``, for the
``baseline`` (below) and for ``bare``: the baseline's fan-out in a thread blocked
in ``recvfrom_into``, the floor for any Python relay with one socket (one ``sendto``
per listener). Per N the variants take turns window by window (``--repeats`` rounds,
5; quick: 3), and each variant is also compared with the bare floor round by round:
``fixed_over_floor_us`` / ``per_listener_over_floor_us`` fit the medians of the
per-round differences, ``fixed_vs_floor`` is the fixed part's ratio to the floor's
and ``cost_vs_floor`` the median per-round ratio per N. The fixed cost of any Python
loop on this shared machine moves with the load of the other tenants (cold caches);
the ratio to the floor of the same minutes does much less.

**Encrypted media** (then; ``--skip-encrypted`` leaves it out). ``bench/_encrypted.py``:
one server with ``media_encryption = "optional"`` serves ``--encrypted-rooms`` rooms of
one speaker and 20 listeners with base-contract clients and as many with media-auth
clients (sealed audio, authenticated registrations); plain and sealed windows take
turns, the server's CPU per relayed incoming packet is compared:
``encrypted_ratio`` = plain cost / sealed cost (issue 12: >= 0.95), under
``encrypted`` the costs and losses.

**Kernel floor** (``kernel_floor``, ``bench/_kernel_floor.py`` pinned to the server's
CPU): a bare Python loop sending a 94-byte datagram to ``--per-room`` loopback sockets,
CPU per message by ``sendto`` and by one ``sendmmsg`` per datagram: the kernel's share
of a listener-packet, which bounds the capacity of any relay on one core
(``kernel_share``: that floor over the relay's ``us_per_packet`` in the ramp).

**Capacity ramp** (then).

Rooms of one speaker and ``--per-room`` listeners; every speaker sends 50
audiopackets/s (crc filled, 60-byte frames). The number of active rooms grows
(x ``--factor`` per step, then bisection) until more than 1 % of the expected
listener packets are lost. The server runs pinned to one CPU; the load
generator and the receivers run pinned to the other, in their own processes.
The same ramp runs against ``_server.py --baseline`` (an asyncio
DatagramProtocol that sends each datagram to the N addresses of its room), all
servers set up at once and stepped in turn: each room count is measured for
every variant within seconds (one talks at a time), so that the load of the
shared machine falls on all alike.

Loss is counted at the relay: a packet the server handed to the kernel either
reached a receiver's socket buffer (counted by seq by the receiver process) or
was dropped at that full buffer (the kernel's per-socket ``drops`` counter in
/proc/net/udp). Only what the server never sent counts as lost, so a slow
receiver process cannot pass for a slow relay; ``e2e_loss`` shows both.

A step that loses more than 1 % is measured once more before the ramp stops
(the machine is shared; one stall of another process should not end it).

Output keys: ``listener_streams`` (largest held), ``pps`` (packets/s forwarded
there), ``baseline_streams``, ``baseline_pps``, ``ratio`` (pps/baseline_pps),
``us_per_packet`` / ``baseline_us_per_packet`` (server CPU per forwarded packet).

``--compare REF`` also measures the relay of git revision REF (``git archive`` of
its ``app`` and ``bench``, served by its own ``bench/_server.py``; or of a checkout
if REF is a folder) in the same run: its cost model under ``compare``, its ramp as ``compare_pps`` /
``compare_streams``, and ``capacity_vs_compare`` = pps / compare_pps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _encrypted
from _common import (
    ROOT,
    ServerProcess,
    emit,
    log,
    machine,
    pin,
    raise_nofile,
    split_cpus,
    udp_drops,
    write_config,
)
from _load import PERIOD
from _procs import listeners, talkers

LOSS_LIMIT = 0.01


COST_LISTENERS = (5, 20, 50)


def fit_line(points: dict[int, float]) -> tuple[float, float]:
    """Least-squares ``(intercept, slope)`` of y against x."""
    xs, ys = list(points), list(points.values())
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    return mean_y - slope * mean_x, slope


class CostSetup:
    """One server (``mode``) with one talker and ``n`` quiet listeners in one interphone."""

    def __init__(self, mode: str, root: Path, n: int, config: Path) -> None:
        server_cpu, load_cpu = split_cpus()
        load = "baseline" if mode in ("baseline", "bare") else "relay"  # recvbegin only
        self.mode, self.n = mode, n
        self.server = ServerProcess(config, baseline=mode == "baseline", bare=mode == "bare",
                                    cpu=server_cpu, root=root)
        self.talk = talkers(self.server.port, load, load_cpu)
        self.listen = listeners(self.server.port, load, load_cpu)
        self.listen.call("add", ["r0"], n, True)
        self.talk.call("add", ["r0"])

    def idle_share(self, seconds: float) -> float:
        """Share of one CPU the server uses with nobody talking."""
        cpu0, wall0 = self.server.run_seconds(), time.perf_counter()
        time.sleep(seconds)
        return (self.server.run_seconds() - cpu0) / (time.perf_counter() - wall0)

    def window(self, args: argparse.Namespace) -> dict[str, Any]:
        self.talk.call("active", 1)
        time.sleep(args.settle)
        self.listen.call("drain")
        first = self.talk.call("tick")["tick"]
        drops0 = self.listen.call("count", 0, 0)["drops"]
        cpu0 = self.server.run_seconds()
        time.sleep(args.cost_window)
        cpu1 = self.server.run_seconds()
        end = self.talk.call("tick")["tick"]
        self.talk.call("active", 0)
        time.sleep(0.1)  # the last packets of the window reach the sockets
        self.listen.call("drain")
        count = self.listen.call("count", first, end)
        packets = end - first
        return {
            "packets": packets,
            "us_per_packet": round(1e6 * (cpu1 - cpu0) / packets, 1),
            "complete": count["window"] == packets * self.n,
            "kernel_drops": count["drops"] - drops0,
        }

    def close(self) -> None:
        self.talk.close()
        self.listen.close()
        self.server.close()


def cost_models(variants: dict[str, Path], args: argparse.Namespace,
                config: Path) -> dict[str, dict[str, Any]]:
    """Server CPU per incoming packet against the number of listeners (see the module), for
    every variant; per N the variants take turns, window by window, so that a change in
    the machine's load falls on all of them alike."""
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {mode: {} for mode in variants}
    idle: dict[str, list[float]] = {mode: [] for mode in variants}
    for n in COST_LISTENERS:
        setups: list[CostSetup] = []
        try:
            for mode, root in variants.items():
                setups.append(CostSetup(mode, root, n, config))
            time.sleep(args.settle)
            for setup in setups:
                idle[setup.mode].append(setup.idle_share(args.cost_window / 2))
                runs[setup.mode][n] = []
            for _ in range(args.repeats):
                for setup in setups:
                    runs[setup.mode][n].append(setup.window(args))
            for setup in setups:
                log(f"{setup.mode} cost, {n} listeners: {runs[setup.mode][n]}")
        finally:
            for setup in setups:
                setup.close()
    models: dict[str, dict[str, Any]] = {}
    floor = runs.get("bare")
    for mode, by_n in runs.items():
        points = {n: statistics.median(r["us_per_packet"] for r in rs) for n, rs in by_n.items()}
        fixed, per_listener = fit_line(points)
        models[mode] = {
            "fixed_us": round(fixed, 1),
            "per_listener_us": round(per_listener, 2),
            "us_per_listener_packet_n20": round(points[20] / 20, 2),
            "cost_points": {str(n): cost for n, cost in points.items()},
            "complete": all(r["complete"] for rs in by_n.values() for r in rs),
            "idle_cpu_pct": round(100 * statistics.median(idle[mode]), 2),
            "cost_runs": {str(n): rs for n, rs in by_n.items()},
        }
        if floor is not None and mode != "bare":
            models[mode].update(floor_gap(by_n, floor))
    return models


def floor_gap(runs: dict[int, list[dict[str, Any]]],
              floor: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """The variant against the bare floor measured in the same rounds: window i of a
    variant and window i of the floor ran seconds apart, so the load of the shared machine
    weighs on both; the median of the per-round differences and ratios per N is fitted
    like the cost itself. ``fixed_vs_floor`` is the fixed part's ratio to the floor's,
    ``fixed_over_floor_us`` its excess in microseconds."""
    gaps: dict[int, float] = {}
    ratios: dict[int, float] = {}
    for n, windows in runs.items():
        pairs = list(zip(windows, floor[n], strict=False))
        gaps[n] = statistics.median(a["us_per_packet"] - b["us_per_packet"] for a, b in pairs)
        ratios[n] = statistics.median(a["us_per_packet"] / b["us_per_packet"] for a, b in pairs)
    over_fixed, over_per_listener = fit_line(gaps)
    floor_fixed, _ = fit_line({n: statistics.median(r["us_per_packet"] for r in rs)
                               for n, rs in floor.items()})
    return {
        "fixed_over_floor_us": round(over_fixed, 1),
        "per_listener_over_floor_us": round(over_per_listener, 2),
        "fixed_vs_floor": round((floor_fixed + over_fixed) / floor_fixed, 3),
        "cost_vs_floor": {str(n): round(r, 3) for n, r in ratios.items()},
    }


def encrypted_phase(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Plain against media-auth sealed audio on one server (``bench/_encrypted.py``), the
    load in this process pinned to the load CPU for the while."""
    server_cpu, load_cpu = split_cpus()
    affinity = os.sched_getaffinity(0)
    pin(load_cpu)
    try:
        return _encrypted.measure(folder, server_cpu, args.encrypted_rooms, 20,
                                  args.cost_window, args.repeats)
    finally:
        os.sched_setaffinity(0, affinity)


def kernel_floor(targets: int) -> dict[str, Any]:
    """bench/_kernel_floor.py pinned to the server's CPU: the kernel's cost per listener-
    packet with (almost) no Python, by ``sendto`` and by ``sendmmsg``."""
    server_cpu, _ = split_cpus()
    command = [sys.executable, str(ROOT / "bench" / "_kernel_floor.py"),
               "--targets", str(targets)]
    if server_cpu is not None:
        command += ["--cpu", str(server_cpu)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    floor: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return floor


def checkout(ref: str, into: Path) -> Path:
    """The ``app`` and ``bench`` folders of git revision ``ref``, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "app", "bench"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


class Ramp:
    def __init__(self, mode: str, args: argparse.Namespace, config: Path,
                 root: Path = ROOT) -> None:
        self.mode = mode
        self.args = args
        server_cpu, load_cpu = split_cpus()
        self.server = ServerProcess(config, baseline=mode == "baseline", cpu=server_cpu,
                                    root=root)
        mode = "baseline" if mode == "baseline" else "relay"  # the load of a compared relay
        self.talk = talkers(self.server.port, mode, load_cpu)
        self.listen = listeners(self.server.port, mode, load_cpu)
        self.rooms = 0
        self.steps: list[dict[str, Any]] = []
        self.good: dict[str, Any] | None = None
        self.bad_rooms: int | None = None
        self.low = 0
        self.next_grow = args.start_rooms
        self.refined = 0
        self.stopped = False

    def close(self) -> None:
        self.talk.close()
        self.listen.close()
        self.server.close()

    def grow(self, rooms: int) -> None:
        if rooms > self.rooms:
            names = [f"r{i}" for i in range(self.rooms, rooms)]
            began = time.perf_counter()
            self.listen.call("add", names, self.args.per_room)
            self.talk.call("add", names)
            self.rooms = rooms
            log(f"{self.mode}: {rooms} rooms set up in {time.perf_counter() - began:.1f} s")

    def measure(self, rooms: int) -> dict[str, Any]:
        args = self.args
        self.grow(rooms)
        self.talk.call("active", rooms)
        time.sleep(args.settle)
        first = self.talk.call("tick")
        drops0 = self.listen.call("count", 0, 0)["drops"]
        server_drops0 = udp_drops({self.server.port})
        wait0 = self.server.wait_seconds()
        cpu0, wall0 = self.server.cpu_seconds(), time.perf_counter()
        time.sleep(args.window)
        end = self.talk.call("tick")
        cpu1, wall1 = self.server.cpu_seconds(), time.perf_counter()
        self.talk.call("active", 0)  # quiet while the other ramps of the race measure
        wait = self.server.wait_seconds() - wait0
        count = self._settled_count(first["tick"], end["tick"])
        ticks = end["tick"] - first["tick"]
        expected = ticks * rooms * args.per_room
        drops = count["drops"] - drops0
        server_drops = udp_drops({self.server.port}) - server_drops0
        forwarded = min(expected, count["window"] + drops)
        seconds = ticks * PERIOD
        cpu = cpu1 - cpu0
        step = {
            "rooms": rooms,
            "listener_streams": rooms * args.per_room,
            "expected": expected,
            "loss": round(1 - forwarded / expected, 4) if expected else 1.0,
            "e2e_loss": round(1 - count["window"] / expected, 4) if expected else 1.0,
            "pps": round(forwarded / seconds),
            "server_cpu_pct": round(100 * cpu / (wall1 - wall0), 1),
            # runnable but not running: its CPU was taken by other work (shared machine)
            "server_wait_pct": round(100 * wait / (wall1 - wall0), 1),
            "us_per_packet": round(1e6 * cpu / forwarded, 2) if forwarded else None,
            "server_rx_drops": server_drops,
            "late_ticks": end["late"] - first["late"],
        }
        log(f"{self.mode}: {step}")
        self.steps.append(step)
        return step

    def _settled_count(self, first: int, end: int) -> dict[str, Any]:
        """Wait until the receivers have read what is in flight, then count."""
        previous = -1
        deadline = time.monotonic() + 5.0
        while True:
            time.sleep(0.25)
            count = self.listen.call("count", first, end)
            if count["received"] == previous or time.monotonic() > deadline:
                return count
            previous = count["received"]

    def next_rooms(self) -> int | None:
        """The room count to measure next: growing ×factor until the loss limit, then
        bisecting between the last held and the first lost; None when done."""
        args = self.args
        if self.bad_rooms is None:
            if self.stopped or self.next_grow * args.per_room > args.max_streams:
                return None
            return self.next_grow
        middle = (self.low + self.bad_rooms) // 2
        return middle if self.refined < args.refine and middle > self.low else None

    def advance(self, rooms: int) -> None:
        """Measure ``rooms`` (twice if it loses: the machine is shared) and move the search."""
        step = self.measure(rooms)
        if step["loss"] > LOSS_LIMIT:
            step = self.measure(rooms)
        held = step["loss"] <= LOSS_LIMIT
        if self.bad_rooms is not None:
            self.refined += 1
        if held:
            self.good, self.low = step, rooms
            self.next_grow = max(rooms + 1, round(rooms * self.args.factor))
        else:
            self.bad_rooms = rooms

    def result(self) -> dict[str, Any]:
        return {"held": self.good, "capped": self.bad_rooms is None, "steps": self.steps}


def race(ramps: list[Ramp], budget: float) -> None:
    """Step every ramp in turn, each room count measured for all at about the same time, so
    that a change in the machine's load falls on all of them alike."""
    started = time.monotonic()  # the budget bounds the growth, not the set-up
    while True:
        todo = [(ramp, rooms) for ramp in ramps if (rooms := ramp.next_rooms()) is not None]
        if not todo:
            return
        for ramp, rooms in todo:
            ramp.advance(rooms)
        if time.monotonic() - started > budget * len(ramps):
            for ramp in ramps:
                ramp.stopped = True


def cpu_cost(steps: list[dict[str, Any]]) -> float | None:
    """Median server CPU per forwarded packet (us) over the steps without loss."""
    costs = sorted(s["us_per_packet"] for s in steps
                   if s["us_per_packet"] and s["loss"] <= LOSS_LIMIT and s["pps"] >= 20000)
    return costs[len(costs) // 2] if costs else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a coarse run of about a minute")
    parser.add_argument("--per-room", type=int, help="listeners per room (20; quick: 40)")
    parser.add_argument("--max-streams", type=int, help="stop growing here (8000; quick: 3200)")
    parser.add_argument("--compare", metavar="REF",
                        help="also measure the relay of this git revision (e.g. main)")
    parser.add_argument("--skip-ramp", action="store_true", help="the cost model only")
    parser.add_argument("--skip-encrypted", action="store_true",
                        help="without the media-auth phase (encrypted_ratio)")
    parser.add_argument("--encrypted-rooms", type=int, default=10,
                        help="rooms of 1 speaker + 20 listeners, plain and sealed (10)")
    parser.add_argument("--repeats", type=int,
                        help="cost windows per variant and N, median taken (5; quick: 3)")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_room = args.per_room or 40
        args.max_streams = args.max_streams or 3200
        args.start_rooms, args.factor, args.refine = 20, 2.0, 1
        args.window, args.settle, args.budget = 1.0, 0.3, 20.0
        args.cost_window, args.repeats = 2.0, args.repeats or 3
    else:
        args.per_room = args.per_room or 20
        args.max_streams = args.max_streams or 8000
        args.start_rooms, args.factor, args.refine = 20, 1.4, 3
        args.window, args.settle, args.budget = 3.0, 1.0, 240.0
        args.cost_window, args.repeats = 10.0, args.repeats or 5
    raise_nofile()
    result: dict[str, Any] = {"benchmark": "relay", "quick": args.quick,
                              "per_room": args.per_room, "packet_rate": 50}
    with tempfile.TemporaryDirectory() as tmp:
        rooms = args.max_streams // args.per_room + 1
        config = write_config(Path(tmp) / "relay.toml", [f"r{i}" for i in range(rooms)])
        variants: dict[str, Path] = {"relay": ROOT, "baseline": ROOT}
        if args.compare:
            variants["compare"] = Path(args.compare) if Path(args.compare).is_dir() \
                else checkout(args.compare, Path(tmp))
            result["compare_ref"] = args.compare
        costs = cost_models({**variants, "bare": ROOT}, args, config)
        result.update({k: v for k, v in costs["relay"].items() if k != "cost_runs"})
        result["cost"] = costs
        if not args.skip_encrypted:
            encrypted = encrypted_phase(args, Path(tmp))
            result["encrypted_ratio"] = encrypted["encrypted_ratio"]
            result["encrypted"] = encrypted
        result["kernel_floor"] = kernel_floor(args.per_room)
        if args.skip_ramp:
            result.update(machine())
            emit(result)
            return 0
        ramps: list[Ramp] = []
        try:
            for mode, root in variants.items():
                ramps.append(Ramp(mode, args, config, root))
            race(ramps, args.budget)
        finally:
            for ramp in ramps:
                ramp.close()
        outcome = {ramp.mode: ramp.result() for ramp in ramps}
    relay, base = outcome["relay"], outcome["baseline"]
    held, base_held = relay["held"] or {}, base["held"] or {}
    result.update(
        listener_streams=held.get("listener_streams", 0),
        pps=held.get("pps", 0),
        baseline_streams=base_held.get("listener_streams", 0),
        baseline_pps=base_held.get("pps", 0),
        us_per_packet=cpu_cost(relay["steps"]),
        baseline_us_per_packet=cpu_cost(base["steps"]),
        relay_capped=relay["capped"],
        baseline_capped=base["capped"],
    )
    if result["us_per_packet"] and result["baseline_us_per_packet"]:
        result["cpu_ratio"] = round(result["baseline_us_per_packet"] / result["us_per_packet"], 3)
    if relay["capped"] and base["capped"]:
        # Neither saturated within --max-streams: the held figures are equal by construction,
        # so the ratio is that of the CPU each needs per forwarded packet.
        result["ratio"], result["ratio_basis"] = result.get("cpu_ratio"), "cpu"
    else:
        result["ratio"] = round(result["pps"] / result["baseline_pps"], 3) \
            if result["baseline_pps"] else None
        result["ratio_basis"] = "held"
    floor = result["kernel_floor"]
    if result["pps"]:
        # the ramp's CPU per forwarded packet against the kernel's alone (bench/_kernel_floor)
        result["kernel_share"] = round(floor["sendmmsg_us"] / result["us_per_packet"], 3) \
            if result["us_per_packet"] else None
    if "compare" in outcome:
        compare = outcome["compare"]
        compare_held = compare["held"] or {}
        result.update(compare_streams=compare_held.get("listener_streams", 0),
                      compare_pps=compare_held.get("pps", 0),
                      compare_us_per_packet=cpu_cost(compare["steps"]),
                      compare_capped=compare["capped"])
        result["capacity_vs_compare"] = round(result["pps"] / result["compare_pps"], 3) \
            if result["compare_pps"] else None
        result["compare_steps"] = compare["steps"]
    result.update(relay_steps=relay["steps"], baseline_steps=base["steps"])
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
