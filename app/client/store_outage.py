"""The server's shared store out of reach, as the client sees it (sans-IO).

A node of a cluster that cannot reach its store (Redis) keeps its sessions and answers
pings, but refuses every request that goes through the shared log with errcode 500 and
an ``errmsg`` that starts with ``store unavailable`` (docs/protocol-extensions.md,
"Store unavailable"). That refusal is transient: :func:`is_store_unavailable` tells it
from any other fault, and :class:`StoreOutage` keeps whether the server is degraded and
when the next probe (a cheap read) is due, on a capped backoff. The first answer to a
request that goes through the log ends the outage; pings, quality reports and floor
releases (``speak off``: a node lets go on its own while its store is away) are answered
by a node on its own, so their answers say nothing of the store. A server that
granted extension ``health`` says itself when its store goes and comes back: the outage
then starts and ends with its notices, and is not probed.
"""

from __future__ import annotations

from app.protocol import ErrCode
from app.protocol.messages import Body, Ping, QualityReport, SpeakRequest

STORE_UNAVAILABLE = "store unavailable"
"""How the ``errmsg`` of such a refusal starts (the rest is the server's own words)."""

PROBE_FIRST_S = 2.0
PROBE_MAX_S = 15.0
"""The first probe comes this long after the first refusal; each later one twice as long
after the one before, at most :data:`PROBE_MAX_S`."""


def is_store_unavailable(errcode: int, errmsg: str) -> bool:
    """A refusal because the server cannot reach its store (try again later)."""
    return (errcode == ErrCode.SERVER_FAULT
            and errmsg.strip().lower().startswith(STORE_UNAVAILABLE))


def answered_through_store(request: Body) -> bool:
    """Whether a successful answer to ``request`` shows the server reaches its store."""
    if isinstance(request, SpeakRequest):
        return request.on
    return not isinstance(request, Ping | QualityReport)


class StoreOutage:
    """Whether the server said its store is out of reach, and when to ask again."""

    def __init__(self, first: float = PROBE_FIRST_S, cap: float = PROBE_MAX_S) -> None:
        if first <= 0 or cap < first:
            raise ValueError(f"bad probe backoff: first {first}, cap {cap}")
        self._first = first
        self._cap = cap
        self._delay = first
        self._due: float | None = None
        self.degraded = False
        self.told = False
        """The server said the outage itself (extension health): its ``ok`` ends it."""
        self.probes = 0
        """Probes sent in the current outage."""

    def refused(self, now: float) -> bool:
        """A request was refused for the store: True when this starts an outage (a
        refusal during one keeps its backoff)."""
        if self.degraded:
            return False
        self.degraded = True
        self._delay = self._first
        self._due = now + self._delay
        self.probes = 0
        return True

    def told_unreachable(self) -> bool:
        """The server said its store is unreachable (extension health): degraded with no
        probe, since the server says when the store is back. True when this starts an
        outage."""
        started = not self.degraded
        self.degraded = True
        self.told = True
        self._due = None
        if started:
            self.probes = 0
        return started

    def answered(self) -> bool:
        """The server answered a request through its store: True when this ends an outage.
        Not one the server told: a request sent before its ``unreachable`` may be answered
        after it (extension health), which says nothing of the store now."""
        if self.told:
            return False
        return self.reset()

    def reset(self) -> bool:
        """No outage (also when the connection changes); True if there was one."""
        was = self.degraded
        self.degraded = False
        self.told = False
        self._due = None
        return was

    def probe_due(self) -> float | None:
        """When the next probe should go (None: the server is healthy: no probe)."""
        return self._due if self.degraded else None

    def probe_sent(self, now: float) -> None:
        """A probe went out at ``now``: the next one is due after a longer wait."""
        if not self.degraded:
            return
        self.probes += 1
        self._delay = min(self._delay * 2, self._cap)
        self._due = now + self._delay
