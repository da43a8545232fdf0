"""Legitimate logins while a flood of wrong hashed-token logins runs through the login guard.

    python bench/login_flood.py [--rate 200] [--seconds 5] [--iterations 100000]

No sockets: :class:`app.server.login_guard.LoginGuard` on one asyncio loop, as the
server would run it. The flood tries wrong tokens for ever-new uids from ever-new
addresses (so per-uid and per-address back-off cannot stop it: only the pool's
queue limit does). Meanwhile ``alice`` logs in every 100 ms from her usual
address, and the loop's lag is sampled every 10 ms.

Output keys: ``flood_rate``, ``flood_busy_pct`` (flood logins answered 429 by the
queue limit), ``hash_ms`` (one PBKDF2 check), ``legit_remembered_p95_ms`` (alice's
token already verified once), ``legit_cold_p95_ms`` (her token never verified,
check from a usual address: priority line), ``loop_lag_p95_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine

from app.server.directory import User, hash_token
from app.server.login_guard import FailedLogins, LoginGuard, LoginOutcome, TokenVerifier

HOME = "10.0.0.5"


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    return round(statistics.quantiles(values, n=20)[-1] * 1000, 2) if len(values) > 1 \
        else round(values[0] * 1000, 2)


async def run(rate: float, seconds: float, iterations: int) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    alice = User("alice", "Alice", token_hash=hash_token("pw-alice", iterations=iterations))
    started = time.perf_counter()
    alice.token_matches("calibrate")
    hash_ms = (time.perf_counter() - started) * 1000
    guard = LoginGuard(TokenVerifier.for_users([alice]), FailedLogins())
    guard.failures.succeeded("alice", HOME, loop.time())  # her usual address
    end = loop.time() + seconds
    flood_end = end + 0.5 + seconds
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

    async def legit(remembered: bool) -> list[float]:
        times = []
        while loop.time() < end:
            if not remembered:
                guard.verifier._verified.clear()  # force the hash every time
            sent = time.perf_counter()
            result = await guard.check(alice, "alice", "pw-alice", HOME, loop.time())
            if result.outcome is LoginOutcome.ACCEPTED:
                times.append(time.perf_counter() - sent)
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
    cold, lags = await asyncio.gather(legit(False), lag())
    end = loop.time() + seconds
    remembered = await legit(True)
    await flooding
    await asyncio.gather(*tasks)
    guard.close()
    busy = sum(o is LoginOutcome.BUSY for o in outcomes)
    return {
        "bench": "login_flood",
        "flood_rate": rate,
        "flood_logins": len(outcomes),
        "flood_busy_pct": round(100 * busy / max(1, len(outcomes)), 1),
        "hash_ms": round(hash_ms, 1),
        "legit_remembered_p95_ms": p95(remembered),
        "legit_cold_p95_ms": p95(cold),
        "loop_lag_p95_ms": p95(lags),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--iterations", type=int, default=100_000)
    options = parser.parse_args()
    emit(asyncio.run(run(options.rate, options.seconds, options.iterations)))


if __name__ == "__main__":
    main()
