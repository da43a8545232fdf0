"""Logins that cannot stall the server or be guessed cheaply.

Two parts, composed by :class:`LoginGuard`:

- :class:`FailedLogins` (pure, clock passed in): failures counted per uid and per
  source address. From the 5th failure on, the next attempt waits (1 s, doubling,
  at most 30 s); from the 20th, a lock-out window (15 min) starts and is logged
  once, without the token. A further failure once it ends locks again at once.
  An address where a uid logged in before (its *usual* address) is judged by its
  own (uid, address) count only, with back-off but never a lock-out: an attacker
  elsewhere cannot lock a user out of a correct login from home, and one on the
  same address gets at most one guess per back-off step.
- :class:`TokenVerifier`: the token check. PBKDF2 runs in a small thread pool
  (hashlib releases the GIL), never on the event loop; beyond ``max_pending``
  checks waiting or running it raises :class:`VerifierBusy` (answer 429). Checks
  from a usual address go first and have a few reserved places; the others take
  turns by source network (IPv4 /24, IPv6 /64), each network holding at most a few
  places, so a flood from a few networks cannot make a login from elsewhere wait
  behind all of its guesses (the order depends on the address only, never on the
  uid: no timing oracle); a token verified
  once is remembered (keyed HMAC) so the user's next logins cost no hash. An
  unknown uid costs the same as a known one (it is checked against a dummy hash
  of the directory's iteration count); comparisons are constant-time.

Wiring in the server (``now`` from the loop's clock, ``address`` the peer IP)::

    guard = LoginGuard(TokenVerifier.for_users(directory.users.values()), FailedLogins())
    result = await guard.check(directory.users.get(uid), uid, token, peer_ip, loop.time())
    if result.outcome is not LoginOutcome.ACCEPTED:
        answer(result.errcode, result.errmsg)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hmac
import ipaddress
import logging
import os
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

from app.protocol.errors import ErrCode
from app.server.directory import User, hash_token

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    backoff_after: int = 5
    """Failures after which each further attempt must wait."""
    backoff_base: float = 1.0
    """Seconds to wait after the ``backoff_after``-th failure; doubles with each failure."""
    backoff_cap: float = 30.0
    lockout_after: int = 20
    """Failures (per uid or per address, not on a usual address) that start a lock-out."""
    lockout_seconds: float = 900.0
    forget_after: float = 3600.0
    """A count with no failure for this long is forgotten."""
    usual_per_uid: int = 8
    """Addresses remembered per uid as usual (the most recent successful ones)."""
    max_tracked: int = 100_000
    """Counts and usual-address lists kept at most (oldest dropped first)."""

    def delay(self, failures: int) -> float:
        if failures < self.backoff_after:
            return 0.0
        steps = min(failures - self.backoff_after, 32)
        return min(self.backoff_cap, self.backoff_base * 2.0 ** steps)


class AdmissionKind(enum.Enum):
    ALLOWED = "allowed"
    BACKING_OFF = "backing off"
    LOCKED_OUT = "locked out"


@dataclass(frozen=True, slots=True)
class Admission:
    kind: AdmissionKind
    retry_after: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.kind is AdmissionKind.ALLOWED


_ALLOWED = Admission(AdmissionKind.ALLOWED)


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0
    locked: bool = False


class FailedLogins:
    """Failure counts per uid, per address and per (uid, usual address); pure."""

    def __init__(self, policy: LoginPolicy | None = None) -> None:
        self.policy = policy or LoginPolicy()
        self._counts: OrderedDict[tuple[str, ...], _Count] = OrderedDict()
        self._usual: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()

    def is_usual(self, uid: str, address: str) -> bool:
        addresses = self._usual.get(uid)
        return addresses is not None and address in addresses

    def admit(self, uid: str, address: str, now: float) -> Admission:
        """May this attempt be checked at all? (Before any hashing.)"""
        keys = self._keys(uid, address)
        worst = _ALLOWED
        for key in keys:
            count = self._counts.get(key)
            if count is None or count.blocked_until <= now:
                continue
            kind = AdmissionKind.LOCKED_OUT if count.locked else AdmissionKind.BACKING_OFF
            retry = count.blocked_until - now
            if retry > worst.retry_after:
                worst = Admission(kind, retry)
        return worst

    def failed(self, uid: str, address: str, now: float) -> None:
        """A wrong token (or an unknown uid) from ``address``."""
        usual = self.is_usual(uid, address)
        keys: list[tuple[str, ...]] = (
            [("pair", uid, address)] if usual else [("uid", uid), ("addr", address)])
        if usual:
            keys.append(("addr", address))  # counted, but not applied to this uid here
        for key in keys:
            count = self._counts.get(key)
            if count is None or now - count.last_failure > self.policy.forget_after:
                count = _Count()
            self._counts[key] = count
            self._counts.move_to_end(key)
            count.failures += 1
            count.last_failure = now
            if key is keys[0] and count.failures == 1:  # the uid's first in a while
                logger.info("login refused uid=%s peer=%s: wrong token or unknown uid (its "
                            "next failures are counted, not logged, until a lock-out)",
                            uid, address)
            if count.locked and count.blocked_until > now:
                continue  # already locked out (counted from a usual address): leave it be
            if key[0] != "pair" and count.failures >= self.policy.lockout_after:
                count.blocked_until = now + self.policy.lockout_seconds
                count.locked = True
                self._log_lockout(key, count, address)
            else:
                count.blocked_until = now + self.policy.delay(count.failures)
        self._trim()

    def succeeded(self, uid: str, address: str, now: float) -> None:
        """A correct login: ``address`` becomes usual for ``uid``; its pair count is cleared."""
        self._counts.pop(("pair", uid, address), None)
        addresses = self._usual.setdefault(uid, OrderedDict())
        addresses[address] = None
        addresses.move_to_end(address)
        self._usual.move_to_end(uid)
        while len(addresses) > self.policy.usual_per_uid:
            addresses.popitem(last=False)
        self._trim()

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` can next forget something (the oldest count's expiry)."""
        if not self._counts:
            return None
        oldest = next(iter(self._counts.values()))
        return max(oldest.last_failure + self.policy.forget_after, oldest.blocked_until)

    def handle_timer(self, now: float) -> None:
        """Forget counts with no failure for ``forget_after`` that block nothing any more."""
        while self._counts:
            key, count = next(iter(self._counts.items()))
            if now - count.last_failure <= self.policy.forget_after or count.blocked_until > now:
                break
            del self._counts[key]

    def __len__(self) -> int:
        return len(self._counts)

    def _keys(self, uid: str, address: str) -> list[tuple[str, ...]]:
        if self.is_usual(uid, address):
            return [("pair", uid, address)]
        return [("uid", uid), ("addr", address)]

    def _trim(self) -> None:
        while len(self._counts) > self.policy.max_tracked:
            self._counts.popitem(last=False)
        while len(self._usual) > self.policy.max_tracked:
            self._usual.popitem(last=False)

    def _log_lockout(self, key: tuple[str, ...], count: _Count, address: str) -> None:
        what = f"uid {key[1]!r}" if key[0] == "uid" else f"address {key[1]}"
        logger.warning("login lock-out: %s for %.0f s after %d failed logins (last from %s)",
                       what, self.policy.lockout_seconds, count.failures, address)


# ---- the token check, off the event loop ------------------------------------------------------


class VerifierBusy(Exception):
    """Too many token checks waiting: answer 429 and let the client retry."""


HASH_THREAD_NICENESS = 10
"""How much lower than the event loop the hash threads run (Linux: per-thread nice): a flood
of wrong hashed logins then takes the CPU the loop leaves, not the loop's."""


def _lower_thread_priority() -> None:
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:  # not on Windows
        return
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                    min(19, current + HASH_THREAD_NICENESS))


def source_network(address: str) -> str:
    """The network a login's source address counts in for the pool's turns: the /24 of an
    IPv4 address (IPv4-mapped included), the /64 of an IPv6 one, else the text itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class TokenVerifier:
    """Checks tokens against :class:`User` entries; hashing runs in a bounded pool.

    At most ``workers`` ordinary hashes run at once; the others wait, source networks
    (:func:`source_network`) taking turns (a network's n-th waiting check comes after
    every other network's first ones), and a network holds at most ``per_source`` places
    (waiting or running; beyond: :class:`VerifierBusy`). A
    check asked with ``priority`` (a login from the uid's usual address) goes
    before every ordinary one, may start while ``workers`` ordinary ones run (a
    thread of its own, not niced: only guesses from a user's usual address, which
    back off, reach it, and a busy machine must not starve that user's one hash), and
    may use ``reserved`` extra places beyond ``max_pending``, so a flood of guesses
    from elsewhere cannot crowd it out.
    A token verified once is remembered (as a keyed HMAC, never in clear) for
    ``remember`` users, so the user's next logins need no hash at all.
    """

    def __init__(self, *, workers: int = 2, max_pending: int = 32, reserved: int = 8,
                 dummy_hash: str | None = None, executor: Executor | None = None,
                 remember: int = 10_000, per_source: int = 4) -> None:
        # Ordinary checks (a flood's guesses among them) in niced threads; a thread of its
        # own for usual-address checks: they never wait for a flood's hash to finish.
        self._executor = executor or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="token-hash",
            initializer=_lower_thread_priority)
        self._usual_executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="token-hash-usual")
        self._owns_executor = executor is None
        self._usual_running = False
        self._workers = workers
        self._max_pending = max_pending
        self._reserved = reserved
        self._running = 0
        self._waiting = 0
        self._per_source = per_source
        self._ordinary: dict[str, deque[_Check]] = {}
        """Source network -> its ordinary checks waiting, in arrival order."""
        self._held: dict[str, int] = {}
        """Source network -> its ordinary checks waiting or running."""
        self._turn = 0
        """The turn of the last ordinary check started (start-time fair queueing: a check's
        turn is the later of this and the turn after its network's previous check)."""
        self._next_turn: dict[str, int] = {}
        self._priority: deque[_Check] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dummy = User("", "", token_hash=dummy_hash) if dummy_hash else None
        self._dummy_token = secrets.token_urlsafe(16)
        self._memo_key = secrets.token_bytes(32)
        self._verified: OrderedDict[str, bytes] = OrderedDict()
        self._remember = remember

    @classmethod
    def for_users(cls, users: Iterable[User], *, workers: int = 2,
                  max_pending: int = 32) -> TokenVerifier:
        """A verifier whose dummy hash costs what the directory's hashes cost."""
        return cls(workers=workers, max_pending=max_pending, dummy_hash=dummy_hash_for(users))

    @property
    def pending(self) -> int:
        """Checks running or waiting."""
        return self._running + self._usual_running + self._waiting + len(self._priority)

    async def verify(self, user: User | None, token: str, *, priority: bool = False,
                     source: str = "") -> bool:
        """True if ``user`` exists and ``token`` is its token. Raises :class:`VerifierBusy`.
        ``source``: the network the login comes from (:func:`source_network`)."""
        if user is not None and user.token_hash is None:
            return user.token_matches(token)
        if user is None and self._dummy is None:
            # No hashed users: an unknown uid costs a plain comparison, like a known one.
            hmac.compare_digest(self._dummy_token.encode(), token.encode())
            return False
        if user is not None:
            memo = self._memo(user, token)
            known = self._verified.get(user.uid)
            if known is not None and hmac.compare_digest(known, memo):
                self._verified.move_to_end(user.uid)
                return True
        target = user if user is not None else self._dummy
        assert target is not None
        matched = await self._in_pool(target, token, priority, source)
        if matched and user is not None:
            self._verified[user.uid] = self._memo(user, token)
            self._verified.move_to_end(user.uid)
            while len(self._verified) > self._remember:
                self._verified.popitem(last=False)
            return True
        return False

    def _memo(self, user: User, token: str) -> bytes:
        message = f"{user.uid}\0{user.token_hash}\0{token}".encode()
        return hmac.new(self._memo_key, message, "sha256").digest()

    async def _in_pool(self, user: User, token: str, priority: bool, source: str) -> bool:
        limit = self._max_pending + (self._reserved if priority else 0)
        if self.pending >= limit:
            raise VerifierBusy(f"{self.pending} token checks pending")
        if not priority and self._held.get(source, 0) >= self._per_source:
            raise VerifierBusy(f"{self._per_source} token checks pending from {source}")
        self._loop = asyncio.get_running_loop()
        check = _Check(user, token, self._loop.create_future(), None if priority else source)
        if priority:
            self._priority.append(check)
        else:
            check.turn = max(self._turn, self._next_turn.get(source, 0))
            self._next_turn[source] = check.turn + 1
            self._ordinary.setdefault(source, deque()).append(check)
            self._held[source] = self._held.get(source, 0) + 1
            self._waiting += 1
        self._dispatch()
        return await check.result

    def _next_ordinary(self) -> _Check:
        """The waiting check with the earliest turn (the first network to wait, on a tie)."""
        source = min(self._ordinary, key=lambda network: self._ordinary[network][0].turn)
        line = self._ordinary[source]
        check = line.popleft()
        self._waiting -= 1
        if not line:
            del self._ordinary[source]
        self._turn = check.turn
        return check

    def _release(self, check: _Check) -> None:
        """An ordinary check is over (done or given up): its network holds one place less."""
        if check.source is not None:
            left = self._held.get(check.source, 0) - 1
            if left > 0:
                self._held[check.source] = left
            else:  # idle: its next check starts from the current turn
                self._held.pop(check.source, None)
                self._next_turn.pop(check.source, None)

    def _dispatch(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            if self._priority and (not self._usual_running or self._running < self._workers):
                check = self._priority.popleft()
                usual = not self._usual_running  # its own thread, else an ordinary one
            elif self._ordinary and self._running < self._workers:
                check, usual = self._next_ordinary(), False
            else:
                break
            if check.result.done():  # the login gave up (connection closed) while waiting
                self._release(check)
                continue
            if usual:
                self._usual_running = True
            else:
                self._running += 1
            executor = self._usual_executor if usual else self._executor
            job: Future[bool] = executor.submit(check.user.token_matches, check.token)

            def finished(job: Future[bool], check: _Check = check, usual: bool = usual) -> None:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(self._finished, job, check, usual)

            job.add_done_callback(finished)

    def _finished(self, job: Future[bool], check: _Check, usual: bool = False) -> None:
        if usual:
            self._usual_running = False
        else:
            self._running -= 1
        self._release(check)
        if not check.result.done():
            if job.cancelled():
                check.result.cancel()
            elif (error := job.exception()) is not None:
                check.result.set_exception(error)
            else:
                check.result.set_result(job.result())
        self._dispatch()

    def close(self) -> None:
        for check in (*self._priority, *(c for line in self._ordinary.values() for c in line)):
            check.result.cancel()
        self._priority.clear()
        self._ordinary.clear()
        self._held.clear()
        self._next_turn.clear()
        self._waiting = 0
        if self._owns_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._usual_executor.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class _Check:
    user: User
    token: str
    result: asyncio.Future[bool]
    source: str | None = None
    """The source network of an ordinary check (None: a priority one)."""
    turn: int = 0


def dummy_hash_for(users: Iterable[User]) -> str | None:
    """A hash of a random token with the most common iteration count; None if none is hashed."""
    counts: dict[int, int] = {}
    for user in users:
        if user.token_hash:
            parts = user.token_hash.split("$")
            if len(parts) == 4 and parts[1].isdigit():
                counts[int(parts[1])] = counts.get(int(parts[1]), 0) + 1
    if not counts:
        return None
    iterations = max(counts, key=lambda n: (counts[n], n))
    return hash_token(secrets.token_urlsafe(16), iterations=iterations)


# ---- both together -----------------------------------------------------------------------------


class LoginOutcome(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"            # wrong token or unknown uid: 401
    THROTTLED = "throttled"        # back-off or lock-out: 429
    BUSY = "busy"                  # too many checks pending: 429


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    retry_after: float = 0.0

    @property
    def errcode(self) -> ErrCode | None:
        if self.outcome is LoginOutcome.ACCEPTED:
            return None
        if self.outcome is LoginOutcome.REFUSED:
            return ErrCode.UNAUTHORIZED
        return ErrCode.TOO_MANY_REQUESTS

    @property
    def errmsg(self) -> str:
        if self.outcome is LoginOutcome.REFUSED:
            return "login refused"
        if self.outcome is LoginOutcome.BUSY:
            return "server busy, retry later"
        if self.outcome is LoginOutcome.THROTTLED:
            return f"too many failed logins, retry in {max(1, round(self.retry_after))} s"
        return ""


class LoginGuard:
    """Admission, then the off-loop check, then the bookkeeping of the result."""

    def __init__(self, verifier: TokenVerifier, failures: FailedLogins | None = None, *,
                 network: Callable[[str], str] = source_network) -> None:
        self.verifier = verifier
        self.failures = failures if failures is not None else FailedLogins()
        self.network = network
        """Which network an address takes turns in the pool as (:func:`source_network`)."""

    async def check(self, user: User | None, uid: str, token: str, address: str,
                    now: float) -> LoginResult:
        admission = self.failures.admit(uid, address, now)
        if not admission.allowed:
            return LoginResult(LoginOutcome.THROTTLED, admission.retry_after)
        usual = self.failures.is_usual(uid, address)
        try:
            matched = await self.verifier.verify(user, token, priority=usual,
                                                 source=self.network(address))
        except VerifierBusy:
            return LoginResult(LoginOutcome.BUSY, 1.0)
        if matched:
            self.failures.succeeded(uid, address, now)
            return LoginResult(LoginOutcome.ACCEPTED)
        self.failures.failed(uid, address, now)
        return LoginResult(LoginOutcome.REFUSED)

    def close(self) -> None:
        self.verifier.close()
