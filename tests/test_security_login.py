"""Logins (app/server/login_guard.py): back-off, lock-out, usual addresses, the off-loop
token check with its queue limit, equal work for unknown uids."""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.protocol.errors import ErrCode
from app.server.directory import User, hash_token
from app.server.login_guard import (
    HASH_THREAD_NICENESS,
    AdmissionKind,
    FailedLogins,
    LoginGuard,
    LoginOutcome,
    LoginPolicy,
    TokenVerifier,
    VerifierBusy,
    dummy_hash_for,
    source_network,
)

HOME = "10.0.0.5"
ATTACKER = "203.0.113.9"
SECRET = "correct horse"


class CountingExecutor(ThreadPoolExecutor):
    """A real thread pool that counts the jobs it ran and may hold them until released."""

    def __init__(self, workers: int = 2, hold: threading.Event | None = None) -> None:
        super().__init__(max_workers=workers)
        self.jobs = 0
        self.tokens: list[str] = []
        self.hold = hold

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        self.tokens.extend(a for a in args if isinstance(a, str))
        hold = self.hold

        def run() -> Any:
            if hold is not None:
                hold.wait(10)
            return fn(*args, **kwargs)

        return super().submit(run)


def fail_until_blocked(limiter: FailedLogins, uid: str, address: str, now: float,
                       times: int) -> float:
    """``times`` failures, each after the previous back-off ended; the time after."""
    for _ in range(times):
        admission = limiter.admit(uid, address, now)
        now += admission.retry_after
        limiter.failed(uid, address, now)
    return now


# ---- FailedLogins (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "delay"), [
    (0, 0.0), (4, 0.0), (5, 1.0), (6, 2.0), (7, 4.0), (9, 16.0), (10, 30.0), (500, 30.0),
])
def test_backoff_table(failures: int, delay: float) -> None:
    assert LoginPolicy().delay(failures) == delay


def test_back_off_starts_after_five_failures() -> None:
    limiter = FailedLogins()
    for _ in range(4):
        limiter.failed("alice", ATTACKER, 0.0)
    assert limiter.admit("alice", ATTACKER, 0.0).allowed
    limiter.failed("alice", ATTACKER, 0.0)
    admission = limiter.admit("alice", ATTACKER, 0.5)
    assert admission.kind is AdmissionKind.BACKING_OFF and admission.retry_after == 0.5
    assert limiter.admit("alice", ATTACKER, 1.0).allowed


def test_back_off_applies_per_uid_across_addresses_and_per_address_across_uids() -> None:
    limiter = FailedLogins()
    for n in range(5):
        limiter.failed("alice", f"198.51.100.{n}", 0.0)  # one uid, five addresses
    assert not limiter.admit("alice", "198.51.100.99", 0.1).allowed
    for n in range(5):
        limiter.failed(f"user{n}", ATTACKER, 0.0)  # one address, five uids
    assert not limiter.admit("nobody", ATTACKER, 0.1).allowed
    assert limiter.admit("bob", "198.51.100.99", 0.1).allowed


def test_lock_out_is_logged_once_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    limiter = FailedLogins()
    with caplog.at_level(logging.WARNING, logger="app.server.login_guard"):
        now = fail_until_blocked(limiter, "alice", ATTACKER, 0.0, 20)
    admission = limiter.admit("alice", ATTACKER, now)
    assert admission.kind is AdmissionKind.LOCKED_OUT
    assert admission.retry_after == pytest.approx(900.0)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("login lock-out: uid 'alice'" in line for line in lines) == 1
    assert sum(f"address {ATTACKER}" in line for line in lines) == 1
    assert all(SECRET not in line and "after 20 failed logins" in line for line in lines)


def test_after_the_window_one_more_failure_locks_again(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    limiter = FailedLogins()
    now = fail_until_blocked(limiter, "alice", ATTACKER, 0.0, 20)
    now += 901.0
    assert limiter.admit("alice", ATTACKER, now).allowed
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.server.login_guard"):
        limiter.failed("alice", ATTACKER, now)
    assert limiter.admit("alice", ATTACKER, now).kind is AdmissionKind.LOCKED_OUT
    assert len(caplog.records) == 2  # the uid and the address, once each


def test_usual_address_still_logs_in_while_an_attacker_locks_the_uid() -> None:
    limiter = FailedLogins()
    limiter.succeeded("alice", HOME, 0.0)
    now = fail_until_blocked(limiter, "alice", ATTACKER, 1.0, 40)
    assert limiter.admit("alice", ATTACKER, now).kind is AdmissionKind.LOCKED_OUT
    assert limiter.admit("alice", "198.51.100.1", now).kind is AdmissionKind.LOCKED_OUT
    assert limiter.admit("alice", HOME, now).allowed


def test_guessing_from_the_usual_address_backs_off_but_never_locks_out() -> None:
    policy = LoginPolicy()
    limiter = FailedLogins(policy)
    limiter.succeeded("alice", HOME, 0.0)
    now = fail_until_blocked(limiter, "alice", HOME, 1.0, 200)
    admission = limiter.admit("alice", HOME, now)
    assert admission.kind is AdmissionKind.BACKING_OFF
    assert admission.retry_after <= policy.backoff_cap
    assert limiter.admit("alice", HOME, now + policy.backoff_cap).allowed
    # the same address is locked out for every other uid
    assert limiter.admit("bob", HOME, now).kind is AdmissionKind.LOCKED_OUT


def test_success_clears_only_the_pair_count() -> None:
    limiter = FailedLogins()
    limiter.succeeded("alice", HOME, 0.0)
    fail_until_blocked(limiter, "alice", HOME, 0.0, 6)
    limiter.succeeded("alice", HOME, 100.0)
    assert limiter.admit("alice", HOME, 100.0).allowed
    assert limiter.is_usual("alice", HOME) and not limiter.is_usual("alice", ATTACKER)


def test_counts_are_forgotten_and_bounded() -> None:
    limiter = FailedLogins(LoginPolicy(forget_after=60.0, max_tracked=50))
    for n in range(4):
        limiter.failed("alice", ATTACKER, float(n))
    deadline = limiter.next_deadline()
    assert deadline == pytest.approx(63.0)
    limiter.handle_timer(deadline + 1)
    assert len(limiter) == 0 and limiter.next_deadline() is None
    limiter.failed("alice", ATTACKER, 100.0)
    for _ in range(4):
        limiter.failed("alice", ATTACKER, 100.0)
    assert not limiter.admit("alice", ATTACKER, 100.0).allowed  # 5 in a row: backing off
    for n in range(1000):
        limiter.failed(f"u{n}", f"192.0.2.{n % 250}", 200.0)
    assert len(limiter) <= 50


def test_a_stale_count_starts_over() -> None:
    limiter = FailedLogins(LoginPolicy(forget_after=60.0))
    for _ in range(4):
        limiter.failed("alice", ATTACKER, 0.0)
    limiter.failed("alice", ATTACKER, 100.0)  # the earlier four are forgotten
    assert limiter.admit("alice", ATTACKER, 100.0).allowed


# ---- TokenVerifier -----------------------------------------------------------------------------


HASHED = User("alice", "Alice", token_hash=hash_token(SECRET, iterations=1000))
PLAIN = User("bob", "Bob", token=SECRET)


async def test_verifier_checks_plain_and_hashed_tokens() -> None:
    verifier = TokenVerifier(dummy_hash=hash_token("x", iterations=1000))
    try:
        assert await verifier.verify(HASHED, SECRET)
        assert not await verifier.verify(HASHED, SECRET + "!")
        assert await verifier.verify(PLAIN, SECRET)
        assert not await verifier.verify(PLAIN, "")
        assert not await verifier.verify(None, SECRET)
        assert verifier.pending == 0
    finally:
        verifier.close()


async def test_unknown_uid_costs_a_hash_like_a_known_one() -> None:
    executor = CountingExecutor()
    dummy = dummy_hash_for([HASHED, PLAIN])
    assert dummy is not None and dummy.split("$")[1] == "1000"  # the directory's cost
    verifier = TokenVerifier(dummy_hash=dummy, executor=executor)
    assert not await verifier.verify(None, "guess")
    assert not await verifier.verify(HASHED, "guess")
    assert executor.jobs == 2
    executor.shutdown()


def test_no_hashed_users_means_no_dummy_hash() -> None:
    assert dummy_hash_for([PLAIN]) is None
    assert dummy_hash_for([]) is None


async def test_full_queue_answers_busy_and_recovers() -> None:
    hold = threading.Event()
    executor = CountingExecutor(workers=1, hold=hold)
    verifier = TokenVerifier(max_pending=3, executor=executor)
    waiting = [asyncio.ensure_future(verifier.verify(HASHED, "wrong")) for _ in range(3)]
    await asyncio.sleep(0)
    assert verifier.pending == 3
    with pytest.raises(VerifierBusy):
        await verifier.verify(HASHED, SECRET)
    guard = LoginGuard(verifier)
    result = await guard.check(HASHED, "alice", SECRET, HOME, 0.0)
    assert result.outcome is LoginOutcome.BUSY and result.errcode is ErrCode.TOO_MANY_REQUESTS
    hold.set()
    assert await asyncio.gather(*waiting) == [False, False, False]
    while verifier.pending:
        await asyncio.sleep(0.01)
    assert await verifier.verify(HASHED, SECRET)
    executor.shutdown()


async def test_usual_address_checks_go_first_and_have_reserved_places() -> None:
    hold = threading.Event()
    executor = CountingExecutor(workers=1, hold=hold)
    verifier = TokenVerifier(workers=1, max_pending=3, reserved=1, executor=executor)
    flood = [asyncio.ensure_future(verifier.verify(HASHED, f"guess{n}")) for n in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(VerifierBusy):
        await verifier.verify(HASHED, SECRET)
    usual = asyncio.ensure_future(verifier.verify(HASHED, SECRET, priority=True))
    await asyncio.sleep(0)
    assert verifier.pending == 4
    with pytest.raises(VerifierBusy):
        await verifier.verify(HASHED, SECRET, priority=True)  # the reserve is used up
    hold.set()
    assert await usual
    await asyncio.gather(*flood)
    assert executor.tokens == ["guess0", SECRET, "guess1", "guess2"]  # it overtook the line
    executor.shutdown()


async def test_networks_take_turns_and_hold_a_few_places_each() -> None:
    hold = threading.Event()
    executor = CountingExecutor(workers=1, hold=hold)
    verifier = TokenVerifier(workers=1, max_pending=32, per_source=3, executor=executor)
    flood_net = source_network("203.0.113.9")
    flood = [asyncio.ensure_future(verifier.verify(HASHED, f"guess{n}", source=flood_net))
             for n in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(VerifierBusy):  # the flood's network holds its 3 places
        await verifier.verify(HASHED, "guess3", source=source_network("203.0.113.200"))
    other = asyncio.ensure_future(verifier.verify(HASHED, SECRET,
                                                  source=source_network("192.0.2.1")))
    await asyncio.sleep(0)
    assert verifier.pending == 4
    hold.set()
    assert await other
    assert await asyncio.gather(*flood) == [False, False, False]
    # guess0 was running; then the other network's turn came before guess1 and guess2
    assert executor.tokens == ["guess0", SECRET, "guess1", "guess2"]
    assert await verifier.verify(HASHED, "guess4", source=flood_net) is False  # freed again
    executor.shutdown()


async def test_a_check_given_up_while_waiting_frees_its_place() -> None:
    hold = threading.Event()
    executor = CountingExecutor(workers=1, hold=hold)
    verifier = TokenVerifier(workers=1, per_source=2, executor=executor)
    net = source_network("203.0.113.9")
    running = asyncio.ensure_future(verifier.verify(HASHED, "a", source=net))
    waiting = asyncio.ensure_future(verifier.verify(HASHED, "b", source=net))
    await asyncio.sleep(0)
    waiting.cancel()  # the connection closed while its login waited
    hold.set()
    assert await running is False
    assert await verifier.verify(HASHED, "c", source=net) is False
    assert await verifier.verify(HASHED, SECRET, source=net)
    assert verifier.pending == 0
    assert executor.tokens == ["a", "c", SECRET]  # "b" was never hashed
    executor.shutdown()


@pytest.mark.parametrize(("address", "network"), [
    ("198.51.100.7", "198.51.100.0/24"),
    ("::ffff:198.51.100.7", "198.51.100.0/24"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("not an address", "not an address"),
])
def test_source_networks(address: str, network: str) -> None:
    assert source_network(address) == network


@dataclass(frozen=True, slots=True)
class NicenessProbe(User):
    """A user whose token check records the niceness of the thread that runs it."""

    seen: dict[str, int] = field(default_factory=dict)

    def token_matches(self, token: str) -> bool:
        self.seen[token] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
async def test_flood_checks_run_niced_and_usual_address_checks_do_not() -> None:
    probe = NicenessProbe("alice", "Alice", token_hash=hash_token(SECRET, iterations=1000))
    verifier = TokenVerifier(workers=1)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        await verifier.verify(probe, "ordinary", source="203.0.113.0/24")
        await verifier.verify(probe, "usual", priority=True)
    finally:
        verifier.close()
    assert probe.seen["ordinary"] == min(19, base + HASH_THREAD_NICENESS)
    assert probe.seen["usual"] == base


async def test_a_verified_token_is_remembered_without_hashing_again() -> None:
    executor = CountingExecutor()
    verifier = TokenVerifier(executor=executor)
    assert await verifier.verify(HASHED, SECRET)
    assert executor.jobs == 1
    assert await verifier.verify(HASHED, SECRET)
    assert executor.jobs == 1  # remembered
    assert not await verifier.verify(HASHED, "wrong")
    assert executor.jobs == 2  # a wrong token still costs a hash
    changed = User("alice", "Alice", token_hash=hash_token("new secret", iterations=1000))
    assert not await verifier.verify(changed, SECRET)  # the directory changed the hash
    assert executor.jobs == 3
    executor.shutdown()


async def test_closing_cancels_waiting_checks() -> None:
    hold = threading.Event()
    executor = CountingExecutor(workers=1, hold=hold)
    verifier = TokenVerifier(workers=1, executor=executor)
    running = asyncio.ensure_future(verifier.verify(HASHED, "a"))
    waiting = asyncio.ensure_future(verifier.verify(HASHED, "b"))
    await asyncio.sleep(0)
    verifier.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    hold.set()
    assert not await running
    executor.shutdown()


# ---- LoginGuard --------------------------------------------------------------------------------


async def test_guard_uses_the_limiter_it_is_given() -> None:
    limiter = FailedLogins(LoginPolicy(backoff_after=2))
    guard = LoginGuard(TokenVerifier(), limiter)
    assert guard.failures is limiter
    for _ in range(2):
        await guard.check(PLAIN, "bob", "nope", ATTACKER, 0.0)
    assert (await guard.check(PLAIN, "bob", SECRET, ATTACKER, 0.0)).outcome \
        is LoginOutcome.THROTTLED
    guard.close()


async def test_guard_outcomes_and_error_codes() -> None:
    executor = CountingExecutor()
    guard = LoginGuard(TokenVerifier(executor=executor))
    ok = await guard.check(HASHED, "alice", SECRET, HOME, 0.0)
    assert ok.outcome is LoginOutcome.ACCEPTED and ok.errcode is None
    for _ in range(5):
        bad = await guard.check(HASHED, "alice", "nope", ATTACKER, 1.0)
        assert bad.outcome is LoginOutcome.REFUSED and bad.errcode is ErrCode.UNAUTHORIZED
    jobs = executor.jobs
    throttled = await guard.check(HASHED, "alice", SECRET, ATTACKER, 1.5)
    assert throttled.outcome is LoginOutcome.THROTTLED
    assert throttled.errcode is ErrCode.TOO_MANY_REQUESTS
    assert "retry in" in throttled.errmsg and SECRET not in throttled.errmsg
    assert executor.jobs == jobs  # refused before any hashing
    home = await guard.check(HASHED, "alice", SECRET, HOME, 1.5)
    assert home.outcome is LoginOutcome.ACCEPTED
    guard.close()


async def test_hashing_stays_off_the_event_loop() -> None:
    """A flood of wrong hashed logins runs while a TCP ping on the same loop stays fast."""
    iterations = 60_000
    user = User("alice", "Alice", token_hash=hash_token(SECRET, iterations=iterations))
    started = time.perf_counter()
    user.token_matches("calibrate")
    hash_cost = time.perf_counter() - started

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(64):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    guard = LoginGuard(TokenVerifier(workers=2, max_pending=64,
                                     dummy_hash=hash_token("d", iterations=iterations)),
                       FailedLogins(LoginPolicy(backoff_after=1000, lockout_after=1000)))
    try:
        flood = asyncio.gather(*(
            guard.check(user if n % 2 else None, f"u{n}" if n % 2 == 0 else "alice",
                        f"wrong{n}", f"198.51.{n}.7", 0.0) for n in range(40)))
        round_trips: list[float] = []
        while not flood.done():
            sent = time.perf_counter()
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            round_trips.append(time.perf_counter() - sent)
            await asyncio.sleep(0.002)
        results = await flood
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
        guard.close()
    assert all(r.outcome is LoginOutcome.REFUSED for r in results)
    # 40 hashes on 2 workers take ~20 hash costs; pings kept flowing all along, each far
    # quicker than a single hash (on-loop hashing would make them wait for several).
    assert len(round_trips) >= 5
    assert statistics.median(round_trips) < hash_cost / 2
