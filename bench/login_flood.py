"""Legitimate logins while a flood of wrong hashed-token logins runs through the login guard.

    python bench/login_flood.py [--rate 200] [--seconds 5] [--iterations 100000]

No sockets: :class:`app.server.login_guard.LoginGuard` on one asyncio loop, sized as
the server sizes it (``workers`` = cores - 1, at most 2). The flood tries wrong tokens
for ever-new uids from ever-new addresses (so per-uid and per-address back-off cannot
stop it: only the pool's limits do); its addresses run through one /24 after another
(250 each), as a flood from a few networks does. Meanwhile ``alice`` logs in every
100 ms, and the loop's lag is sampled every 10 ms. The TLS handshake and the wire are
``bench/flood.py``'s (the real server process); this one isolates the guard.

Three kinds of legitimate login, one after the other under the same flood:

- ``legit_remembered_p95_ms``: her token was verified once since the start (no hash);
- ``legit_cold_p95_ms``: never verified, from her usual address (the priority line);
- ``legit_new_address_p95_ms``: never verified, each time from an address (and network)
  she never used: the ordinary line, where networks take turns
  (``login_guard.source_network``), so she waits for about one flood hash, not for the
  whole queue, and is seldom answered 429 (``legit_new_address_busy``). The same runs
  with one line for all (first come, first served, the guard before the turns were
  added) as ``fifo_new_address_p95_ms`` / ``fifo_new_address_busy``, in the same run.

Output keys: ``flood_rate``, ``flood_busy_pct`` (flood logins answered 429 by the pool's
limits), ``hash_ms`` (one PBKDF2 check), ``workers``, the four above, ``loop_lag_p95_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine

from app.server.directory import User, hash_token
from app.server.login_guard import (
    FailedLogins,
    LoginGuard,
    LoginOutcome,
    TokenVerifier,
    source_network,
)

HOME = "10.0.0.5"


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    return round(statistics.quantiles(values, n=20)[-1] * 1000, 2) if len(values) > 1 \
        else round(values[0] * 1000, 2)


def server_workers() -> int:
    """As app/server/app.py sizes the pool: leave a core to the loop, at most 2."""
    return max(1, min(2, (os.cpu_count() or 2) - 1))


async def run(rate: float, seconds: float, iterations: int, *,
              fifo: bool = False) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    alice = User("alice", "Alice", token_hash=hash_token("pw-alice", iterations=iterations))
    started = time.perf_counter()
    alice.token_matches("calibrate")
    hash_ms = (time.perf_counter() - started) * 1000
    guard = LoginGuard(TokenVerifier.for_users([alice], workers=server_workers()),
                       FailedLogins(), network=(lambda _address: "") if fifo else source_network)
    guard.failures.succeeded("alice", HOME, loop.time())  # her usual address
    end = loop.time() + seconds
    flood_end = end + 1.0 + 2 * seconds
    outcomes: list[LoginOutcome] = []
    tasks: set[asyncio.Task[None]] = set()

    async def wrong(n: int) -> None:
        result = await guard.check(None, f"u{n}", "guess", f"172.16.{n // 250 % 250}.{n % 250}",
                                   loop.time())
        outcomes.append(result.outcome)

    async def flood() -> None:
        n = 0
        begin = loop.time()
        while loop.time() < flood_end:
            due = begin + n / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            task = asyncio.ensure_future(wrong(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1

    refused: dict[str, int] = {}

    async def legit(kind: str) -> list[float]:
        times = []
        k = 0
        while loop.time() < end:
            if kind != "remembered":
                guard.verifier._verified.clear()  # force the hash every time
            address = HOME if kind != "new" else f"10.{1 + k // 250}.{k % 250}.9"
            k += 1
            sent = time.perf_counter()
            result = await guard.check(alice, "alice", "pw-alice", address, loop.time())
            if result.outcome is LoginOutcome.ACCEPTED:
                times.append(time.perf_counter() - sent)
            else:  # 429: the pool's limits (she would retry)
                refused[kind] = refused.get(kind, 0) + 1
            await asyncio.sleep(0.1)
        return times

    async def lag() -> list[float]:
        lags = []
        while loop.time() < end:
            sent = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - sent - 0.01)
        return lags

    flooding = asyncio.ensure_future(flood())
    await asyncio.sleep(0.5)
    end = loop.time() + seconds
    cold, lags = await asyncio.gather(legit("cold"), lag())
    end = loop.time() + seconds
    new_address = await legit("new")
    end = loop.time() + seconds
    remembered = await legit("remembered")
    flooding.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    guard.close()
    busy = sum(o is LoginOutcome.BUSY for o in outcomes)
    return {
        "flood_rate": rate,
        "flood_logins": len(outcomes),
        "flood_busy_pct": round(100 * busy / max(1, len(outcomes)), 1),
        "hash_ms": round(hash_ms, 1),
        "workers": server_workers(),
        "legit_remembered_p95_ms": p95(remembered),
        "legit_cold_p95_ms": p95(cold),
        "legit_new_address_p95_ms": p95(new_address),
        "legit_new_address_logins": len(new_address),
        "legit_new_address_busy": refused.get("new", 0),
        "legit_cold_busy": refused.get("cold", 0),
        "loop_lag_p95_ms": p95(lags),
    }


async def compare(rate: float, seconds: float, iterations: int) -> dict[str, object]:
    fair = await run(rate, seconds, iterations)
    fifo = await run(rate, seconds, iterations, fifo=True)
    return {"bench": "login_flood", **fair,
            "fifo_new_address_p95_ms": fifo["legit_new_address_p95_ms"],
            "fifo_new_address_logins": fifo["legit_new_address_logins"],
            "fifo_new_address_busy": fifo["legit_new_address_busy"],
            "fifo_flood_busy_pct": fifo["flood_busy_pct"],
            "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--iterations", type=int, default=100_000)
    options = parser.parse_args()
    emit(asyncio.run(compare(options.rate, options.seconds, options.iterations)))


if __name__ == "__main__":
    main()
