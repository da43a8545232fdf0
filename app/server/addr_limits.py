"""Per-source-address limits (pure, clock passed in).

- :class:`ConnectionLimits`: unauthenticated connections and logged-in sessions
  per address, so one address cannot fill the server's session table.
- :class:`RefusalLog`: a refusal is logged at most once per address per interval;
  the ones in between are counted and summed up in the next line.
- :class:`RecvBeginBuckets`: a token bucket per address for (authenticated)
  recvbegin datagrams, checked before the MAC is computed.

An *address* is the peer's IP as text (no port): :func:`address_key` makes it
from what ``get_extra_info("peername")`` or a datagram's source gives. Every
table is bounded (``max_tracked``) and sheds its oldest entries first.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AddressLimitSettings:
    max_sessions_per_address: int = 64
    """Logged-in sessions one address may hold (an office behind one NAT needs room)."""
    max_unauthenticated_per_address: int = 16
    """Connections one address may hold open before logging in."""
    refusal_log_interval: float = 60.0
    """Seconds between two log lines about refusals of one address."""
    recvbegin_rate: float = 20.0
    """recvbegin datagrams per second one address may send (refill rate)."""
    recvbegin_burst: int = 40
    max_tracked: int = 65_536

    def __post_init__(self) -> None:
        for name in ("max_sessions_per_address", "max_unauthenticated_per_address",
                     "recvbegin_burst", "max_tracked"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("refusal_log_interval", "recvbegin_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number")


def address_key(peer: str | tuple[object, ...] | None) -> str:
    """The IP of a peer name, IPv4-mapped IPv6 shown as IPv4, scope id dropped."""
    host = peer[0] if isinstance(peer, tuple) else peer
    text = str(host or "").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class ConnectionLimits:
    """Counts per address; refuse when a count is at its limit.

    Life of a connection: :meth:`open` when it is accepted (False: close it at
    once), :meth:`authenticate` when its login succeeds (False: refuse the login
    with 429 and close), :meth:`close` when it ends, saying whether it was
    authenticated. A login that replaces an older session of the same uid should
    end the older one first, so a user at the limit can still log in again.
    """

    def __init__(self, settings: AddressLimitSettings | None = None) -> None:
        self.settings = settings or AddressLimitSettings()
        self._unauthenticated: dict[str, int] = {}
        self._sessions: dict[str, int] = {}
        self.unauthenticated_total = 0
        """Unauthenticated connections of all addresses together (the sum of their counts)."""

    def open(self, address: str) -> bool:
        count = self._unauthenticated.get(address, 0)
        if count >= self.settings.max_unauthenticated_per_address:
            return False
        self._unauthenticated[address] = count + 1
        self.unauthenticated_total += 1
        return True

    def authenticate(self, address: str) -> bool:
        sessions = self._sessions.get(address, 0)
        if sessions >= self.settings.max_sessions_per_address:
            return False
        self.unauthenticated_total -= self._release(self._unauthenticated, address)
        self._sessions[address] = sessions + 1
        return True

    def close(self, address: str, authenticated: bool) -> None:
        if authenticated:
            self._release(self._sessions, address)
        else:
            self.unauthenticated_total -= self._release(self._unauthenticated, address)

    def unauthenticated(self, address: str) -> int:
        return self._unauthenticated.get(address, 0)

    def sessions(self, address: str) -> int:
        return self._sessions.get(address, 0)

    def __len__(self) -> int:
        """Addresses with at least one connection (the tables hold no others)."""
        return len(self._unauthenticated.keys() | self._sessions.keys())

    @staticmethod
    def _release(table: dict[str, int], address: str) -> int:
        """One connection of ``address`` less in ``table``; how many were released (0 or 1)."""
        count = table.get(address, 0)
        if count <= 1:
            return 0 if table.pop(address, None) is None else 1
        table[address] = count - 1
        return 1


@dataclass(slots=True)
class _Refusals:
    logged_at: float
    suppressed: int = 0
    reason: str = ""


class RefusalLog:
    """At most one log line per address per interval, with the number of refusals it stands for.

    :meth:`refused` logs the first refusal of an address at once and counts the
    following ones; the next refusal after the interval logs a line with the
    count, as does :meth:`handle_timer` when the interval ends with refusals not
    reported yet. Both return the lines they logged.
    """

    def __init__(self, interval: float = 60.0, max_tracked: int = 65_536) -> None:
        self._interval = interval
        self._max = max_tracked
        self._entries: OrderedDict[str, _Refusals] = OrderedDict()

    def refused(self, address: str, reason: str, now: float) -> str | None:
        entry = self._entries.get(address)
        if entry is not None and now - entry.logged_at < self._interval:
            entry.suppressed += 1
            entry.reason = reason
            return None
        if entry is not None and entry.suppressed:
            line = self._summary(address, entry.suppressed + 1, reason, now - entry.logged_at)
        else:
            line = f"refused {address}: {reason}"
        self._entries.pop(address, None)
        self._entries[address] = _Refusals(now, 0, reason)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        logger.warning("%s", line)
        return line

    def next_deadline(self) -> float | None:
        if not self._entries:
            return None
        return next(iter(self._entries.values())).logged_at + self._interval

    def handle_timer(self, now: float) -> list[str]:
        lines: list[str] = []
        while self._entries:
            address, entry = next(iter(self._entries.items()))
            if now - entry.logged_at < self._interval:
                break
            del self._entries[address]
            if entry.suppressed:
                line = self._summary(address, entry.suppressed, entry.reason,
                                     now - entry.logged_at)
                logger.warning("%s", line)
                lines.append(line)
        return lines

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _summary(address: str, count: int, reason: str, seconds: float) -> str:
        return f"refused {address} {count} more times in {seconds:.0f} s: {reason}"


class RecvBeginBuckets:
    """A token bucket per address: ``rate`` recvbegins per second, ``burst`` at once."""

    __slots__ = ("_buckets", "_burst", "_max", "_rate")

    def __init__(self, rate: float = 20.0, burst: int = 40, max_tracked: int = 65_536) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max = max_tracked
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # [tokens, updated at]

    @classmethod
    def from_settings(cls, settings: AddressLimitSettings) -> RecvBeginBuckets:
        return cls(settings.recvbegin_rate, settings.recvbegin_burst, settings.max_tracked)

    def fresh(self) -> RecvBeginBuckets:
        """Empty buckets of the same rate, burst and bound (for another thread to own)."""
        return RecvBeginBuckets(self._rate, int(self._burst), self._max)

    def allow(self, address: str, now: float) -> bool:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = [self._burst, now]
            self._buckets[address] = bucket
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
            elapsed = now - bucket[1]
            if elapsed > 0:
                bucket[0] = min(self._burst, bucket[0] + elapsed * self._rate)
                bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False

    def next_deadline(self) -> float | None:
        """When the least recently used bucket will be full again (and can be forgotten)."""
        if not self._buckets:
            return None
        tokens, at = next(iter(self._buckets.values()))
        return at + (self._burst - tokens) / self._rate

    def handle_timer(self, now: float) -> None:
        """Forget buckets that have refilled: they would behave as new ones."""
        while self._buckets:
            address, (tokens, at) = next(iter(self._buckets.items()))
            if tokens + (now - at) * self._rate < self._burst:
                break
            del self._buckets[address]

    def __len__(self) -> int:
        return len(self._buckets)
