"""Join storm: N clients join one interphone as fast as they can.

    python bench/join_storm.py [--quick] [--clients 500]

``--coalesce`` makes every client ask the ``coalesce`` login feature
(docs/protocol-extensions.md).

``--clients`` InterphoneClients (the real client library, with its model) are
spread over ``--procs`` worker processes. Each connects first (login + sync of
its roster, which lists the storm's group: so every client also watches the
interphone before joining, as a real client does). Then at one agreed instant
(CLOCK_MONOTONIC is shared by all processes) every client calls
``join()``. A client is done when its model's member list holds all N; the
result is the time from the start to the last client done.

The server (the real InterphoneServer in ``_server.py``) is pinned to one CPU;
the workers are not pinned. ``notifications`` is counted by the server (each
notification message queued to one session counts once).

Output keys: ``clients``, ``seconds``, ``notifications``, ``converged``
(clients whose model reached N), ``server_cpu_s`` (server CPU during the
storm), ``first_full_s`` (when the first model showed N members), ``all_joined_s``
(when the last join response was applied: the server had taken every join).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    ServerProcess,
    emit,
    log,
    machine,
    raise_nofile,
    split_cpus,
    write_config,
)

from app.client import InterphoneClient
from app.client.events import JoinedChanged, ModelEvent

GROUP = "group_storm"
_BATCH = 50


def worker_main(conn: Connection, port: int, uids: list[str], total: int,
                timeout: float, features: tuple[str, ...] = ()) -> None:
    raise_nofile()
    asyncio.run(_worker(conn, port, uids, total, timeout, features))


async def _worker(conn: Connection, port: int, uids: list[str], total: int,
                  timeout: float, features: tuple[str, ...] = ()) -> None:
    clients = [InterphoneClient(HOST, port, uid, "x", reconnect=False, request_timeout=60,
                                features=features)
               for uid in uids]
    done: dict[str, float] = {}
    joined: dict[str, float] = {}

    def watcher(client: InterphoneClient) -> Any:
        def on_event(event: ModelEvent) -> None:
            if isinstance(event, JoinedChanged) and event.id is not None:
                joined.setdefault(client.uid, time.monotonic())
            if client.uid not in done and len(client.model.members) >= total:
                done[client.uid] = time.monotonic()
        return on_event

    for client in clients:
        client.model.subscribe(watcher(client))
    for i in range(0, len(clients), _BATCH):
        await asyncio.gather(*(c.connect() for c in clients[i:i + _BATCH]))
    conn.send({"ready": len(clients)})
    loop = asyncio.get_running_loop()
    go_at = await loop.run_in_executor(None, conn.recv)
    await asyncio.sleep(max(0.0, go_at - time.monotonic()))
    joins = [loop.create_task(c.join(GROUP)) for c in clients]
    deadline = go_at + timeout
    while len(done) < len(clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    errors = sum(1 for j in joins if j.done() and j.exception() is not None)
    conn.send({"done": list(done.values()), "joined": list(joined.values()), "errors": errors,
               "members": sorted(len(c.model.members) for c in clients)[:3]})
    await loop.run_in_executor(None, conn.recv)  # wait for the parent's "close"
    for task in joins:
        task.cancel()
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under 30 s")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--procs", type=int, default=4, help="client worker processes")
    parser.add_argument("--timeout", type=float, help="give up after (60 s; quick: 15 s)")
    parser.add_argument("--coalesce", action="store_true",
                        help="clients ask the 'coalesce' login feature (member changes "
                             "told at most once per 50 ms)")
    args = parser.parse_args(argv)
    timeout = args.timeout or (15.0 if args.quick else 60.0)
    raise_nofile()
    server_cpu, _ = split_cpus()
    uids = [f"u{i}" for i in range(args.clients)]
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "storm.toml", ["storm"])
        server = ServerProcess(config, cpu=server_cpu)
        pipes: list[Connection] = []
        procs = []
        try:
            for p in range(args.procs):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=worker_main, daemon=True, args=(
                    child, server.port, uids[p::args.procs], args.clients, timeout,
                    ("coalesce",) if args.coalesce else ()))
                proc.start()
                pipes.append(parent)
                procs.append(proc)
            for pipe in pipes:
                pipe.recv()
            log(f"join_storm: {args.clients} clients connected; go")
            before = server.stats()
            go_at = time.monotonic() + 0.3
            for pipe in pipes:
                pipe.send(go_at)
            replies = [pipe.recv() for pipe in pipes]
            after = server.stats()
            for pipe in pipes:
                pipe.send("close")
            for proc in procs:
                proc.join(30)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
            server.close()
    done = [t - go_at for reply in replies for t in reply["done"]]
    converged = len(done)
    result: dict[str, Any] = {
        "benchmark": "join_storm",
        "quick": args.quick,
        "clients": args.clients,
        "coalesce": args.coalesce,
        "seconds": round(max(done), 3) if converged == args.clients else None,
        "notifications": after["notifications"] - before["notifications"],
        "converged": converged,
        "first_full_s": round(min(done), 3) if done else None,
        "all_joined_s": round(max(t - go_at for r in replies for t in r["joined"]), 3),
        "join_errors": sum(r["errors"] for r in replies),
        "fewest_members_seen": min(m for r in replies for m in r["members"]),
        "server_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
        "messages": after["messages"] - before["messages"],
        "target_seconds": 5.0,
    }
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
