"""``python -m bench.latency --compare-encryption``: plain and encrypted runs of
:func:`bench.latency.measure` alternated, then the real client's login times; one line
comparing them (see bench/latency.py's docstring for the keys and targets)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time

from app.client import InterphoneClient
from app.client.client import FEEDBACK
from bench.latency import (
    LatencyConfig,
    encrypted_server,
    measure,
    percentile,
    running_server,
)


async def login_times(kind: str, encrypted: bool, count: int) -> list[float]:
    """Seconds of ``count`` real ``InterphoneClient.connect()`` calls (TCP, TLS handshake
    when encrypted, login, roster sync), one after the other, each closed after."""
    times: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        if encrypted:
            port, security = await stack.enter_async_context(encrypted_server(kind))
            options = security.client_options()
        else:
            port = await stack.enter_async_context(running_server(kind))
            options = {"features": (FEEDBACK,)}
        for n in range(count + 1):
            client = InterphoneClient("127.0.0.1", port, f"login{n % 4}", "bench",
                                      reconnect=False, **options)
            started = time.perf_counter()
            await client.connect()
            elapsed = time.perf_counter() - started
            await client.close()
            if n:  # the first one warms up the server (imports, caches)
                times.append(elapsed)
    return times


def compare_encryption(args: argparse.Namespace, clicks: int) -> dict[str, object]:
    """Plain and encrypted runs alternated (plain first, then encrypted, ``--runs`` each),
    then the logins of each kind; one line comparing them. The two runs of a pair share
    the talker's capture phase, and the pairs spread it evenly over the output block
    (the phase, not the encryption, set ±2.5 ms of each run's latency: bench/NOTES.md)."""
    kind = "inprocess" if args.in_process else "subprocess"
    p50s: dict[bool, list[float]] = {False: [], True: []}
    p95s: dict[bool, list[float]] = {False: [], True: []}
    found: dict[bool, int] = {False: 0, True: 0}
    transit: dict[bool, list[float]] = {False: [], True: []}
    first: dict[bool, list[float]] = {False: [], True: []}
    sealed = True
    for run in range(args.runs):
        for encrypted in (False, True):
            config = LatencyConfig(frame_ms=args.frame_ms, clicks=clicks, server=kind,
                                   seed=args.seed + run, encrypted=encrypted,
                                   capture_phase=(run + 0.5) / args.runs)
            result = asyncio.run(measure(config))
            print(json.dumps(result), file=sys.stderr, flush=True)
            p50s[encrypted].append(float(result["p50_ms"]))  # type: ignore[arg-type]
            p95s[encrypted].append(float(result["p95_ms"]))  # type: ignore[arg-type]
            found[encrypted] += int(result["clicks_found"])  # type: ignore[call-overload]
            transit[encrypted].append(float(result["transit_p50_us"]))  # type: ignore[arg-type]
            first[encrypted].append(float(result["first_transit_us"]))  # type: ignore[arg-type]
            if encrypted:
                sealed = sealed and bool(result["encrypted"])
    plain_logins = asyncio.run(login_times(kind, False, args.logins))
    tls_logins = asyncio.run(login_times(kind, True, args.logins))
    plain_p50 = statistics.median(p50s[False])
    encrypted_p50 = statistics.median(p50s[True])
    deltas = [e - p for p, e in zip(p50s[False], p50s[True], strict=True)]
    return {
        "bench": "latency_encryption",
        "m2e_p50_ms_plain": round(plain_p50, 2),
        "m2e_p50_ms_encrypted": round(encrypted_p50, 2),
        # paired: the runs of a pair share the capture phase, which sets ±2.5 ms of each
        "encrypted_m2e_delta_ms": round(statistics.median(deltas), 2),
        "unpaired_delta_ms": round(encrypted_p50 - plain_p50, 2),
        "m2e_p95_ms_plain": round(statistics.median(p95s[False]), 2),
        "m2e_p95_ms_encrypted": round(statistics.median(p95s[True]), 2),
        "run_p50s_plain": p50s[False], "run_p50s_encrypted": p50s[True],
        "transit_p50_us_plain": round(statistics.median(transit[False]), 1),
        "transit_p50_us_encrypted": round(statistics.median(transit[True]), 1),
        "encrypted_transit_delta_ms": round(
            (statistics.median(transit[True]) - statistics.median(transit[False])) / 1000, 3),
        "first_transit_us_plain": round(statistics.median(first[False]), 1),
        "first_transit_us_encrypted": round(statistics.median(first[True]), 1),
        "pair_deltas_ms": [round(delta, 2) for delta in deltas],
        "clicks_found_plain": found[False], "clicks_found_encrypted": found[True],
        "clicks": clicks * args.runs, "frame_ms": args.frame_ms, "server": kind,
        "media_auth_negotiated": sealed,
        "tls_login_p95_ms": round(percentile(tls_logins, 95) * 1000, 1),
        "tls_login_p50_ms": round(percentile(tls_logins, 50) * 1000, 1),
        "plain_login_p95_ms": round(percentile(plain_logins, 95) * 1000, 1),
        "logins": args.logins,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
