"""The server side of the benchmarks, in its own process.

    python bench/_server.py --config FILE [--cpu N]   the real InterphoneServer
    python bench/_server.py --baseline [--cpu N]      the bare fan-out baseline
    python bench/_server.py --bare [--cpu N]          the same fan-out, a blocking thread

Prints ``{"port": P}`` once listening; then each ``stats`` line on stdin is
answered with one JSON line (counters of what was relayed and notified); EOF
on stdin stops it. The InterphoneServer runs exactly as ``python -m
app.server`` runs it (same class, same default event loop); only counters are
added, by wrapping ``Signaling.deliver``; like ``python -m app.server`` it runs on
uvloop where the entry point would.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, pin, proc_cpu_seconds, proc_rss_mb, raise_nofile

from app.protocol import InterphoneChanged
from app.server import Directory, InterphoneServer
from app.server.app import UDP_RCVBUF
from app.server.outbox import Outbox
from app.server.tcp import Signaling

_RECVBEGIN = 2


def server_loop_factory() -> Any:
    """The event loop ``python -m app.server`` would use (uvloop where installed)."""
    try:
        from app.server.__main__ import _loop_factory
    except ImportError:
        return None
    return _loop_factory()
_U32 = struct.Struct(">I")


class Baseline(asyncio.DatagramProtocol):
    """The plainest Python fan-out: a datagram from a speaker goes to its room's listeners.

    Registration reuses the recvbegin layout: from a uid starting with ``s`` it
    makes the source the speaker of the room, otherwise a listener; it is
    acknowledged like the server's. Everything else is fanned out by source
    address, with no parsing at all.
    """

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.rooms: dict[bytes, list[tuple[str, int]]] = {}
        self.speakers: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.relayed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        targets = self.speakers.get(addr)
        if targets is not None:
            sendto = self.transport.sendto  # type: ignore[union-attr]
            for target in targets:
                sendto(data, target)
            self.relayed += 1
            return
        if len(data) >= 12 and _U32.unpack_from(data, 4)[0] == _RECVBEGIN:
            (n,) = _U32.unpack_from(data, 8)
            room = data[12:12 + n]
            uid = data[16 + n:]
            listeners = self.rooms.setdefault(room, [])
            if uid.startswith(b"s"):
                self.speakers[addr] = listeners
            else:
                listeners.append(addr)
            self.transport.sendto(data, addr)  # type: ignore[union-attr]


class BareThread(Baseline):
    """The baseline's fan-out in the plainest blocking loop: a thread in ``recvfrom_into``
    (the floor of what any Python relay with one socket can cost per datagram)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.transport = self  # type: ignore[assignment]  # sendto below
        threading.Thread(target=self._serve, daemon=True).start()

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sock.sendto(data, addr)

    def _serve(self) -> None:
        buffer = bytearray(2048)
        view = memoryview(buffer)
        receive, send = self.sock.recvfrom_into, self.sock.sendto
        while True:
            size, addr = receive(buffer)
            targets = self.speakers.get(addr)
            if targets is None:
                self.datagram_received(bytes(view[:size]), addr)
                continue
            payload = view[:size]
            for target in targets:
                send(payload, target)
            self.relayed += 1


def count_notifications(counter: dict[str, int]) -> None:
    original = Signaling.deliver

    def deliver(self: Signaling, outbox: Outbox) -> None:
        counter["messages"] += len(outbox.messages)
        counter["notifications"] += sum(
            1 for _, message in outbox.messages if isinstance(message.body, InterphoneChanged))
        original(self, outbox)

    Signaling.deliver = deliver  # type: ignore[method-assign]


class Watch:
    """Diagnostics (environment ``BENCH_WATCH=1``), added to each ``stats`` answer and reset:
    event-loop lag (a 1 ms sleep that wakes late), with the CPU the loop's thread used
    meanwhile (a lag with little CPU means the process was not running, not that a callback
    was slow), and the garbage collector's pauses per generation."""

    def __init__(self) -> None:
        self.max_lag = 0.0
        self.lags: list[tuple[float, float]] = []  # (lag ms, thread CPU ms) over 5 ms
        self.gc = {generation: [0, 0.0, 0.0] for generation in range(3)}  # count, total, max
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_start
        row = self.gc[info["generation"]]
        row[0] += 1
        row[1] += took
        row[2] = max(row[2], took)

    async def lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            lag = loop.time() - before - 0.001
            self.max_lag = max(self.max_lag, lag)
            if lag > 0.005:
                self.lags.append((round(1000 * lag, 1),
                                  round(1000 * (time.thread_time() - cpu), 1)))

    def stats(self) -> dict[str, Any]:
        lagged = sum(lag for lag, _ in self.lags)
        busy = sum(cpu for _, cpu in self.lags)
        out = {
            "max_lag_ms": round(1000 * self.max_lag, 1),
            "lags_over_5ms": len(self.lags),
            "lag_cpu_share": round(busy / lagged, 2) if lagged else None,
            "worst_lags": sorted(self.lags, reverse=True)[:10],
            "gc": {g: [n, round(1000 * total, 1), round(1000 * most, 1)]
                   for g, (n, total, most) in self.gc.items()},
        }
        self.max_lag, self.lags = 0.0, []
        return out


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    watch = Watch() if os.environ.get("BENCH_WATCH") else None
    lag_task = loop.create_task(watch.lag()) if watch is not None else None
    counter = {"messages": 0, "notifications": 0}
    server: InterphoneServer | None = None
    baseline: Baseline | None = None
    if args.bare:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        baseline = BareThread(sock)
        port = sock.getsockname()[1]
    elif args.baseline:
        transport, baseline = await loop.create_datagram_endpoint(
            Baseline, local_addr=(HOST, 0))
        # the same socket buffer as the server's relay socket: compare code, not settings
        transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        port = transport.get_extra_info("sockname")[1]
    else:
        count_notifications(counter)
        server = InterphoneServer(Directory.from_toml_file(args.config), host=HOST, port=0,
                                 media_thread=True)  # as python -m app.server runs it
        await server.start()
        port = server.port
    print(json.dumps({"port": port}), flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        stats: dict[str, Any] = {"cpu_s": proc_cpu_seconds(os.getpid()),
                                 "rss_mb": proc_rss_mb(os.getpid())}
        if baseline is not None:
            stats["relayed"] = baseline.relayed
        elif server is not None and server.relay is not None and server.hub is not None:
            stats.update(counter, relayed=server.relay.relayed, dropped=server.relay.dropped,
                         connections=len(server.hub.connections),
                         sessions=len(server.state.sessions))
        if watch is not None:
            stats["watch"] = watch.stats()
        print(json.dumps(stats), flush=True)
    if lag_task is not None:
        lag_task.cancel()
    if server is not None:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--cpu", type=int)
    arguments = parser.parse_args()
    pin(arguments.cpu)
    raise_nofile()
    factory = None if arguments.baseline or arguments.bare else server_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(arguments))
