"""Reload and mass-drop stalls: how long a client waits for an answer while the server
reloads a big directory (SIGHUP) or ends hundreds of lost sessions at once.

    python bench/reload_stall.py [--quick] [--sessions 465] [--drop 400] [--port 17310]

The real server (``python -m app.server``, as deployed) serves an open directory of
``--users`` users in ``--groups`` groups, each user in 1 to ``--max-groups`` of them.
``--sessions`` sessions ask the features ``roster presence`` (their contacts: every other
user), each sending a presence sync after its login and again after each ``<roster>``
notice, as the product's client does; they run in one worker process. One more client,
the prober (this process, another user), asks the members of a group every 50 ms and
times each answer.

Three windows of ``--window`` seconds, in turn: nothing happens (the baseline); a SIGHUP
with a changed directory (users renamed and memberships moved: every session's roster
changes, so each is sent a ``<roster>`` notice and asks a sync again); ``--drop`` of the
sessions' sockets closed at once (an office's router rebooting: each end tells every
remaining session ``offline``).

Output keys: ``baseline_max_answer_ms``, ``reload_max_answer_ms``, ``drop_max_answer_ms``
(the longest round trip of the prober's requests sent in each window; one never answered
counts as its age at the window's end), ``*_max_answer_at_s`` (when that request was sent,
from the window's start), ``*_p50_answer_ms``, ``*_answers``, ``*_server_cpu_s`` (the
server process's CPU time in the window, the event included);
``reload_served_s`` (the server logged the reload, after the SIGHUP), ``reload_rosters``
and ``reload_syncs`` (roster notices received and syncs answered in the window),
``reload_last_sync_s``; ``drop_offline_told`` (``offline`` notices the remaining sessions
received; expected: remaining x dropped), ``drop_last_told_s``. Without ``--quick`` the
reload is made ``--reloads`` times (``reload_max_answer_ms``: the longest of all, and
``reload_max_answer_ms_each``, ``reload_max_answer_at_s_each``).

The server process is pinned to one CPU and the clients to the other where there are two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    ROOT,
    emit,
    end_process,
    log,
    machine,
    pin,
    proc_cpu_seconds,
    raise_nofile,
    split_cpus,
)

from app.protocol import FrameDecoder, InterphoneId, encode_frame, encode_message
from app.protocol.messages import Body, Login, MembersRequest, Message
from app.protocol.presence import PresenceSyncRequest

PROBE_EVERY = 0.05
PROBER = "prober"
PROBED = "g000"
_SEQ = re.compile(rb'seq="([^"]*)"')


# ---- the directory -------------------------------------------------------------------------------

def write_directory(path: Path, users: int, groups: int, max_groups: int,
                    variant: int) -> None:
    """The directory file; each ``variant`` renames some users and moves some
    memberships (every roster lists every user as a contact: each one changes)."""
    rng = random.Random(7)
    members: list[list[str]] = [[] for _ in range(groups)]
    uids = [f"u{n:04d}" for n in range(users)]
    for uid in uids:
        for g in rng.sample(range(groups), rng.randint(1, max_groups)):
            members[g].append(uid)
    moved = random.Random(100 + variant)
    for _ in range(20 * variant):
        g = moved.randrange(groups)
        if members[g]:
            members[g].pop(moved.randrange(len(members[g])))
        members[moved.randrange(groups)].append(moved.choice(uids))
    members[0].append(PROBER)
    settings = {
        "auth": '"open"', "keepalive": "3600", "login_timeout": "600", "max_sessions": "20000",
        "rate_limit": "1000", "rate_burst": "1000", "max_sessions_per_address": "20000",
        "max_unauthenticated_per_address": "20000",
    }
    lines = ["[server]", *(f"{key} = {value}" for key, value in settings.items())]
    for n, uid in enumerate([*uids, PROBER]):
        renamed = " (renamed)" if variant and n % 50 == variant % 50 else ""
        lines += ["", "[[users]]", f'uid = "{uid}"', f'name = "User {uid}{renamed}"']
    for g, names in enumerate(members):
        listed = ", ".join(f'"{uid}"' for uid in sorted(set(names)))
        lines += ["", "[[groups]]", f'id = "g{g:03d}"', f'name = "Group {g}"',
                  f"members = [{listed}]"]
    path.write_text("\n".join(lines) + "\n")


# ---- the server ----------------------------------------------------------------------------------

class Server:
    """``python -m app.server`` with the directory file, its log read by a thread (the
    moments of the lines that say a reload was served)."""

    def __init__(self, config: Path, port: int, cpu: int | None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.server", "--config", str(config), "--port", str(port),
             "--host", HOST, "--log-level", "INFO"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, {cpu})
        self.serving = threading.Event()
        self.reloads: list[float] = []
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        if not self.serving.wait(30):
            self.close()
            raise RuntimeError("the server did not start: " + "".join(self.lines[-5:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            if "serving on" in line:
                self.serving.set()
            elif "directory reloaded" in line:
                self.reloads.append(time.monotonic())
            elif "ERROR" in line or "Traceback" in line:
                self.lines.append(line)

    def reload(self) -> float:
        self.proc.send_signal(signal.SIGHUP)
        return time.monotonic()

    def close(self) -> None:
        end_process(self.proc)


def free_port(first: int) -> int:
    """The first of ``first``... (20 tried) free for TCP and UDP on the loopback."""
    for port in range(first, first + 20):
        try:
            with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                tcp.bind((HOST, port))
                udp.bind((HOST, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free port from {first}")


def frame(seq: int, body: Body) -> bytes:
    return encode_frame(encode_message(Message.request(str(seq), body)))


# ---- the sessions (a worker process) -------------------------------------------------------------

class Session(asyncio.Protocol):
    """A session of ``roster presence`` that syncs after its login and each roster notice,
    counting what it is told."""

    def __init__(self, uid: str, counts: dict[str, Any]) -> None:
        self.uid = uid
        self.counts = counts
        self.decoder = FrameDecoder()
        self.seq = 0
        self.transport: asyncio.Transport | None = None
        self.logged_in: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def send(self, body: Body) -> None:
        self.seq += 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(self.seq, body))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send(Login(self.uid, "", features=("roster", "presence")))

    def data_received(self, data: bytes) -> None:
        counts = self.counts
        for item in self.decoder.feed(data):
            head = item[:160]
            if b'type="notification"' in head:
                if b"<roster" in head:
                    counts["rosters"] += 1
                    self.send(PresenceSyncRequest())
                elif b'status="offline"' in head:
                    counts["offline"] += 1
                    counts["last_offline"] = time.monotonic()
            elif b"<login" in head:
                if not self.logged_in.done():
                    self.logged_in.set_result(b"errcode" not in head)
                self.send(PresenceSyncRequest())
            elif b"<presence" in head:
                counts["syncs"] += 1
                counts["last_sync"] = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.logged_in.done():
            self.logged_in.set_result(False)


def sessions_main(conn: Connection, port: int, count: int, cpu: int | None) -> None:
    pin(cpu)
    raise_nofile()
    asyncio.run(_sessions(conn, port, count))


async def _sessions(conn: Connection, port: int, count: int) -> None:
    loop = asyncio.get_running_loop()
    counts: dict[str, Any] = {"rosters": 0, "syncs": 0, "offline": 0,
                              "last_sync": 0.0, "last_offline": 0.0}
    sessions: list[Session] = []

    def logging_in(n: int) -> Callable[[], Session]:
        return lambda: Session(f"u{n:04d}", counts)

    for start in range(0, count, 50):
        made = await asyncio.gather(*(loop.create_connection(logging_in(n), HOST, port)
                                      for n in range(start, min(count, start + 50))))
        batch = [protocol for _, protocol in made]
        if not all(await asyncio.gather(*(s.logged_in for s in batch))):
            raise RuntimeError("a session's login was refused")
        sessions += batch
    while counts["syncs"] < count:
        await asyncio.sleep(0.05)
    conn.send({"ready": count})
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command[0] == "stop":
            break
        if command[0] == "drop":
            at = time.monotonic()
            for session in sessions[:command[1]]:  # in one callback: the server sees all
                if session.transport is not None:
                    session.transport.abort()
            sessions = sessions[command[1]:]
            conn.send({"at": at})
        else:  # "counts"
            conn.send(dict(counts))
    for session in sessions:
        if session.transport is not None:
            session.transport.close()
    conn.send({})


class Worker:
    def __init__(self, port: int, count: int, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=sessions_main, args=(child, port, count, cpu),
                                daemon=True)
        self.proc.start()
        child.close()

    def wait(self, timeout: float) -> dict[str, Any]:
        if not self.conn.poll(timeout):
            raise TimeoutError("the sessions' worker did not answer")
        return self.conn.recv()

    def call(self, *command: Any) -> dict[str, Any]:
        self.conn.send(command)
        return self.wait(60)

    def close(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError, EOFError, TimeoutError):
                self.call("stop")
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


# ---- the prober ----------------------------------------------------------------------------------

class Prober(asyncio.Protocol):
    """Asks the members of :data:`PROBED` every :data:`PROBE_EVERY` seconds; each answer's
    round trip, by the moment its request was sent."""

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.sent: dict[bytes, float] = {}
        self.times: list[tuple[float, float]] = []
        self.logged_in = asyncio.get_running_loop().create_future()
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(frame(0, Login(PROBER, "")))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        for item in self.decoder.feed(data):
            match = _SEQ.search(item[:80])
            if match is None:
                continue
            if match.group(1) == b"0":
                self.logged_in.set_result(b"errcode" not in item[:160])
                continue
            sent = self.sent.pop(match.group(1), None)
            if sent is not None:
                self.times.append((sent, now - sent))

    async def run(self) -> None:
        while True:
            self.seq += 1
            self.sent[str(self.seq).encode()] = time.monotonic()
            assert self.transport is not None
            self.transport.write(frame(self.seq, MembersRequest(InterphoneId.group(PROBED))))
            await asyncio.sleep(PROBE_EVERY)

    def window(self, start: float, end: float) -> dict[str, Any]:
        """The round trips (ms) of the requests sent from ``start`` to ``end``."""
        trips = [(1000 * rtt, sent) for sent, rtt in self.times if start <= sent < end]
        trips += [(1000 * (end - sent), sent) for sent in self.sent.values()
                  if start <= sent < end]
        if not trips:
            return {"max": None, "p50": None, "answers": 0, "max_at": None}
        longest, at = max(trips)
        return {"max": round(longest, 1), "max_at": round(at - start, 2),
                "p50": round(statistics.median(trip for trip, _ in trips), 1),
                "answers": len(trips)}


async def measure(args: argparse.Namespace, config: Path, server: Server,
                  worker: Worker) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    _, prober = await loop.create_connection(Prober, HOST, server.port)
    if not await asyncio.wait_for(prober.logged_in, 30):
        raise RuntimeError("the prober's login was refused")
    probing = loop.create_task(prober.run())
    result: dict[str, Any] = {}

    def cpu() -> float:
        return proc_cpu_seconds(server.proc.pid)

    async def window(name: str, start: float, cpu_before: float) -> dict[str, Any]:
        await asyncio.sleep(max(0.0, start + args.window - time.monotonic()) + 0.5)
        result[f"{name}_server_cpu_s"] = round(cpu() - cpu_before, 2)
        figures = prober.window(start, start + args.window)
        result[f"{name}_max_answer_ms"] = figures["max"]
        result[f"{name}_max_answer_at_s"] = figures["max_at"]
        result[f"{name}_p50_answer_ms"] = figures["p50"]
        result[f"{name}_answers"] = figures["answers"]
        return figures

    try:
        await asyncio.sleep(1.0)
        await window("baseline", time.monotonic(), cpu())
        each: list[float] = []
        at: list[float] = []
        for reload in range(1, args.reloads + 1):
            before = await loop.run_in_executor(None, worker.call, "counts")
            write_directory(config, args.users, args.groups, args.max_groups, reload)
            cpu_before = cpu()
            sighup = server.reload()
            figures = await window("reload", sighup, cpu_before)
            after = await loop.run_in_executor(None, worker.call, "counts")
            each.append(figures["max"])
            at.append(figures["max_at"])
            served = [t - sighup for t in server.reloads if t >= sighup]
            result.update(
                reload_served_s=round(served[0], 2) if served else None,
                reload_rosters=after["rosters"] - before["rosters"],
                reload_syncs=after["syncs"] - before["syncs"],
                reload_last_sync_s=round(after["last_sync"] - sighup, 2)
                if after["syncs"] > before["syncs"] else None)
        result["reload_max_answer_ms"] = max(each)
        if args.reloads > 1:
            result["reload_max_answer_ms_each"] = each
            result["reload_max_answer_at_s_each"] = at
        cpu_before = cpu()
        dropped = await loop.run_in_executor(None, worker.call, "drop", args.drop)
        await window("drop", dropped["at"], cpu_before)
        counts = await loop.run_in_executor(None, worker.call, "counts")
        result.update(drop_offline_told=counts["offline"],
                      drop_last_told_s=round(counts["last_offline"] - dropped["at"], 2)
                      if counts["offline"] else None)
    finally:
        probing.cancel()
        if prober.transport is not None:
            prober.transport.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under ~60 s")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--max-groups", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=465)
    parser.add_argument("--drop", type=int, default=400)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured after "
                        "each event")
    parser.add_argument("--reloads", type=int, help="reloads measured (3; quick: 1)")
    parser.add_argument("--port", type=int, default=17310, help="the first port tried")
    args = parser.parse_args(argv)
    args.reloads = args.reloads or (1 if args.quick else 3)
    raise_nofile()
    server_cpu, load_cpu = split_cpus()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "directory.toml"
        write_directory(config, args.users, args.groups, args.max_groups, 0)
        server = Server(config, free_port(args.port), server_cpu)
        worker: Worker | None = None
        try:
            worker = Worker(server.port, args.sessions, load_cpu)
            worker.wait(120)
            log(f"reload_stall: {args.sessions} sessions logged in and synced "
                f"({time.monotonic() - started:.1f} s)")
            figures = asyncio.run(measure(args, config, server, worker))
        finally:
            if worker is not None:
                worker.close()
            server.close()
        if server.lines:
            log("server errors:", "".join(server.lines[:10]))
    result: dict[str, Any] = {
        "benchmark": "reload_stall", "quick": args.quick, "users": args.users,
        "groups": args.groups, "max_groups": args.max_groups, "sessions": args.sessions,
        "dropped": args.drop, "window_s": args.window, **figures,
        "drop_offline_expected": (args.sessions - args.drop) * args.drop,
        "seconds": round(time.monotonic() - started, 1),
    }
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
