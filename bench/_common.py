"""Helpers shared by the benchmarks: the server process, /proc readings, configs, output.

Everything runs on loopback (127.0.0.1) only. Each benchmark prints exactly one
JSON object on its own line (see :func:`emit`); progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one line of output."""
    print(json.dumps(result, sort_keys=False), flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on (the machine is shared: the load matters)."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def drain(sockets: list[socket.socket]) -> int:
    """Receive and count every datagram waiting on the (non-blocking) ``sockets``."""
    got = 0
    for sock in sockets:
        while True:
            try:
                sock.recv(2048)
            except BlockingIOError:
                break
            got += 1
    return got


def pin(cpu: int | None) -> None:
    """Pin this process to one CPU (None: leave it)."""
    if cpu is not None and cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {cpu})


def split_cpus() -> tuple[int | None, int | None]:
    """(server cpu, load cpu): two different CPUs when there are two, else no pinning."""
    available = cpus()
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def end_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Terminate ``proc`` and wait for it; killed if it has not ended within ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# ---- /proc ---------------------------------------------------------------------------------------

def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_run_seconds(pid: int) -> float:
    """CPU seconds of a process, all its threads, in nanoseconds' precision: the sum of
    each task's on-CPU time in /proc/PID/task/*/schedstat (user + system, as the scheduler
    accounts it). Falls back to :func:`proc_cpu_seconds` (clock ticks) without schedstat.
    A thread that ended meanwhile is no longer counted: use it on long-lived threads."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[0])
    except (OSError, IndexError, ValueError):
        return proc_cpu_seconds(pid)
    return total / 1e9


def proc_wait_seconds(pid: int) -> float:
    """Seconds the process's threads were runnable but waiting for a CPU, summed (schedstat);
    0 where the kernel does not keep scheduler statistics."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return total / 1e9


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 1e6


def udp_drops(ports: set[int]) -> int:
    """Datagrams the kernel dropped on our receiving sockets (full buffers), by local port."""
    total = 0
    with open("/proc/net/udp") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in ports:
                total += int(fields[-1])
    return total


# ---- configuration -------------------------------------------------------------------------------

def write_config(path: Path, groups: list[str], **server: Any) -> Path:
    """An open-mode directory whose groups admit everyone; ``server`` overrides settings."""
    settings: dict[str, Any] = {
        "auth": "open", "max_talk": 86400, "keepalive": 3600, "silence_timeout": 3600,
        "max_sessions": 20000, "login_timeout": 600, "rate_burst": 1000,
        "max_sessions_per_address": 20000, "max_unauthenticated_per_address": 20000,
        # bench/access.py asks for the floor about 45 times a second from one session
        "floor_rate": 1000, "floor_burst": 1000,
    }
    settings.update(server)
    lines = ["[server]"]
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    for gid in groups:
        lines += ["", "[[groups]]", f'id = "{gid}"', f'name = "{gid}"', 'members = ["*"]']
    path.write_text("\n".join(lines) + "\n")
    return path


def thread_cpu() -> dict[str, tuple[float, int]]:
    """CPU seconds and times scheduled in (``schedstat``'s third field: about one per
    wake-up) of each of this process's threads, by name: the Python thread's name where
    there is one (the main thread is the GUI/asyncio thread), else the kernel's ``comm``
    (Qt's and the libraries' own threads)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    names[threading.main_thread().native_id] = "gui"
    seen: dict[str, tuple[float, int]] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/schedstat") as handle:
                fields = handle.read().split()
            used, slices = int(fields[0]) / 1e9, int(fields[2])
            name = names.get(int(task))
            if name is None:
                with open(f"/proc/self/task/{task}/comm") as handle:
                    name = handle.read().strip()
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        before = seen.get(name, (0.0, 0))
        seen[name] = (before[0] + used, before[1] + slices)
    return seen


# ---- the server process --------------------------------------------------------------------------

class ServerProcess:
    """``bench/_server.py`` in its own process: the real InterphoneServer (or the bare
    fan-out baseline), pinned to one CPU, answering ``stats`` on stdin."""

    def __init__(self, config: Path | None, *, baseline: bool = False,
                 cpu: int | None = None, cli: bool = False, root: Path = ROOT,
                 bare: bool = False) -> None:
        if cli:
            args = [sys.executable, "-m", "app.server", "--config", str(config), "--port", "0",
                    "--log-level", "WARNING"]
        else:
            # ``root``: another checkout (e.g. the previous release) served the same way
            args = [sys.executable, str(root / "bench" / "_server.py")]
            if bare:
                args.append("--bare")
            elif baseline:
                args.append("--baseline")
            else:
                args += ["--config", str(config)]
            if cpu is not None:
                args += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(args, cwd=root, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the server process did not start")
        self.port = int(json.loads(line)["port"])
        self.pid = self.proc.pid

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def run_seconds(self) -> float:
        return proc_run_seconds(self.pid)

    def wait_seconds(self) -> float:
        return proc_wait_seconds(self.pid)

    def rss_mb(self) -> float:
        return proc_rss_mb(self.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def server_process(config: Path | None, **kw: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(config, **kw)
    try:
        yield server
    finally:
        server.close()


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
