"""Join storm: N clients join one interphone as fast as they can.

    python bench/join_storm.py [--quick] [--clients 500] [--base]

Every client asks the login features the product's clients ask by default
(:func:`app.client.asked_features.asked_features`: ``coalesce`` and the floor
extensions, as the desktop app and ``interphone-cli`` do); ``--base`` makes them ask
none (the base contract: every member told every join).

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
(when the last join response was applied: the server had taken every join),
``features`` (what the clients asked).

:func:`storm_worker` is also the worker of ``bench/cluster.py``'s storm over several
nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
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
from app.client.asked_features import asked_features
from app.client.events import JoinedChanged, ModelEvent
from app.client.session import NotificationReceived, SessionEvent

GROUP = "group_storm"
_BATCH = 50


Plan = list[tuple[str, int, str, int]]
"""Per client: uid, server port, group to join, members its model must show when done."""


def storm_worker(conn: Connection, plan: Plan, timeout: float,
                 features: tuple[str, ...] = (), nice: int = 0) -> None:
    """A worker process: the clients of ``plan`` connect, report ready, wait for the
    agreed instant (sent on ``conn``), join, and report when each model converged.
    ``nice``: lower the worker's scheduling priority by that much (the server's
    processes then get the shared CPUs first, as on a machine of their own)."""
    raise_nofile()
    if nice:
        os.nice(nice)
    asyncio.run(_worker(conn, plan, timeout, features))


async def _worker(conn: Connection, plan: Plan, timeout: float,
                  features: tuple[str, ...] = ()) -> None:
    clients = [InterphoneClient(HOST, port, uid, "x", reconnect=False, request_timeout=60,
                                features=features)
               for uid, port, _, _ in plan]
    wants = {uid: (group, want) for uid, _, group, want in plan}
    done: dict[str, float] = {}
    joined: dict[str, float] = {}
    notifications = [0]

    def watcher(client: InterphoneClient) -> Any:
        want = wants[client.uid][1]

        def on_event(event: ModelEvent) -> None:
            if isinstance(event, JoinedChanged) and event.id is not None:
                joined.setdefault(client.uid, time.monotonic())
            if client.uid not in done and len(client.model.members) >= want:
                done[client.uid] = time.monotonic()
        return on_event

    def counting(client: InterphoneClient) -> None:
        handle = client._on_session_event  # (the bench counts what each client is told)

        def on_session_event(event: SessionEvent) -> None:
            if isinstance(event, NotificationReceived):
                notifications[0] += 1
            handle(event)
        client._on_session_event = on_session_event  # type: ignore[method-assign]

    for client in clients:
        client.model.subscribe(watcher(client))
        counting(client)
    for i in range(0, len(clients), _BATCH):
        await asyncio.gather(*(c.connect() for c in clients[i:i + _BATCH]))
    conn.send({"ready": len(clients)})
    loop = asyncio.get_running_loop()
    go_at = await loop.run_in_executor(None, conn.recv)
    await asyncio.sleep(max(0.0, go_at - time.monotonic()))
    before = notifications[0]
    joins = [loop.create_task(c.join(wants[c.uid][0])) for c in clients]
    deadline = go_at + timeout
    while len(done) < len(clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    errors = sum(1 for j in joins if j.done() and j.exception() is not None)
    conn.send({"done": list(done.values()), "joined": list(joined.values()), "errors": errors,
               "members": sorted(len(c.model.members) for c in clients)[:3],
               "notifications": notifications[0] - before})
    await loop.run_in_executor(None, conn.recv)  # wait for the parent's "close"
    for task in joins:
        task.cancel()
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def run_workers(plan: Plan, procs: int, timeout: float, features: tuple[str, ...],
                nice: int = 0) -> tuple[float, list[dict[str, Any]]]:
    """``plan`` dealt over ``procs`` worker processes: connected, then joined at one
    instant; returns that instant (CLOCK_MONOTONIC) and each worker's report."""
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    workers = []
    try:
        for p in range(procs):
            parent, child = ctx.Pipe()
            worker = ctx.Process(target=storm_worker, daemon=True,
                                 args=(child, plan[p::procs], timeout, features, nice))
            worker.start()
            pipes.append(parent)
            workers.append(worker)
        for pipe in pipes:
            pipe.recv()
        log(f"storm: {len(plan)} clients connected in {procs} processes; go")
        go_at = time.monotonic() + 0.3
        for pipe in pipes:
            pipe.send(go_at)
        replies = [pipe.recv() for pipe in pipes]
        for pipe in pipes:
            pipe.send("close")
        for worker in workers:
            worker.join(30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
    return go_at, replies


def summary(go_at: float, replies: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """``seconds`` (every model converged, None if some did not), ``all_joined_s`` (the
    server had answered every join), and what the clients saw."""
    done = [t - go_at for reply in replies for t in reply["done"]]
    joined = [t - go_at for reply in replies for t in reply["joined"]]
    return {
        "seconds": round(max(done), 3) if len(done) == clients else None,
        "all_joined_s": round(max(joined), 3) if len(joined) == clients else None,
        "first_full_s": round(min(done), 3) if done else None,
        "converged": len(done),
        "join_errors": sum(r["errors"] for r in replies),
        "fewest_members_seen": min(m for r in replies for m in r["members"]),
        "client_notifications": sum(r["notifications"] for r in replies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under 30 s")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--procs", type=int, default=4, help="client worker processes")
    parser.add_argument("--timeout", type=float, help="give up after (60 s; quick: 15 s)")
    parser.add_argument("--base", action="store_true",
                        help="clients ask no login feature (the base contract) instead of "
                             "the product clients' default (coalesce and more)")
    args = parser.parse_args(argv)
    timeout = args.timeout or (15.0 if args.quick else 60.0)
    features = () if args.base else asked_features(tls=False)
    raise_nofile()
    server_cpu, _ = split_cpus()
    plan = [(f"u{i}", 0, GROUP, args.clients) for i in range(args.clients)]
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "storm.toml", ["storm"])
        server = ServerProcess(config, cpu=server_cpu)
        try:
            plan = [(uid, server.port, group, want) for uid, _, group, want in plan]
            before = server.stats()
            go_at, replies = run_workers(plan, args.procs, timeout, features)
            after = server.stats()
        finally:
            server.close()
    result: dict[str, Any] = {
        "benchmark": "join_storm",
        "quick": args.quick,
        "clients": args.clients,
        "features": list(features),
        **summary(go_at, replies, args.clients),
        "notifications": after["notifications"] - before["notifications"],
        "server_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
        "messages": after["messages"] - before["messages"],
        "target_seconds": 2.0,
    }
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
