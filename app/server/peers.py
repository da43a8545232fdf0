"""One TCP peer's per-connection rules, without I/O and without a clock.

A :class:`Peer` exists from the moment a connection is accepted, before any
login: it holds the frame decoder, the request rate bucket, the malformed-frame
count and the times its deadlines derive from. :class:`~app.server.state.ServerState`
owns the peers and applies these rules; the socket code only feeds bytes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.framing import FrameDecoder
from app.protocol.messages import Message
from app.server.ratelimit import ByteBudget, TokenBucket
from app.server.settings import ServerSettings


@dataclass(slots=True, eq=False)
class Expiry:
    """Why a peer's time is up, and whether what is queued for it may still be flushed."""

    reason: str
    abort: bool = False


@dataclass(slots=True, eq=False)
class Peer:
    """The per-connection record: framing, rate limit, malformed count and deadlines.

    Deadlines (PROTOCOL.md 3.1 and the server's settings): no login within
    ``login_timeout`` of opening (or of its last login's refusal; not while the server
    checks a login's token: that time is the server's, not the client's), nothing
    received for ``idle_timeout`` (3 x keepalive), output stalled above the high-water
    mark for ``write_stall_timeout``.
    """

    sid: int
    ip: str
    login_clock: float
    """Since when the client owes a login: opened, or its last login refused."""
    bucket: TokenBucket
    reads: ByteBudget
    """What its bytes may cost: ``login_read_*`` until its login, then ``read_*``."""
    memberships: TokenBucket
    """Its joins and leaves (``membership_rate``/``membership_burst``): each one makes a
    notification to every member and watcher of the interphone."""
    floor_requests: TokenBucket
    """Its ``speak on`` requests (``floor_rate``/``floor_burst``): a grant and its release
    are a notification each to every member and watcher."""
    last_rx: float = 0.0
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    malformed: int = 0
    paused_since: float | None = None
    closing: bool = False
    lost: bool = False
    """Its connection is lost and its session ends in a later turn: nothing is queued
    for it meanwhile (it could never be sent)."""
    timer_at: float = 0.0
    """The deadline of this peer's one live entry in the state's timer heap."""
    checking: Message | None = None
    """A login request whose token is being checked off the loop; frames wait in ``held``."""
    held: list[bytes] = field(default_factory=list)
    deferred: list[bytes | Message] = field(default_factory=list)
    """A request whose kind is bounded per turn of the event loop (a presence sync) and
    came after that turn's were answered, then every frame after it: answered in that
    order in a later turn (:meth:`~app.server.state.ServerState.next_turn`)."""
    token_verified: bool = False
    """The login guard accepted this connection's token (its login is not checked again)."""
    counted: str = "unauthenticated"
    """Where the per-address limits count this connection: ``unauthenticated``,
    ``session`` or ``""`` (no longer counted: a replaced session)."""

    @classmethod
    def open(cls, sid: int, ip: str, now: float, settings: ServerSettings) -> Peer:
        return cls(sid, ip, now, TokenBucket(settings.rate_limit, settings.rate_burst, now),
                   ByteBudget(settings.login_read_rate, settings.login_read_burst, now),
                   TokenBucket(settings.membership_rate, settings.membership_burst, now),
                   TokenBucket(settings.floor_rate, settings.floor_burst, now),
                   last_rx=now)

    def deadline(self, settings: ServerSettings, *, logged_in: bool) -> float:
        """The earliest time one of this peer's deadlines falls due."""
        deadline = self.last_rx + settings.idle_timeout
        if not logged_in and self.checking is None:
            deadline = min(deadline, self.login_clock + settings.login_timeout)
        if self.paused_since is not None:
            deadline = min(deadline, self.paused_since + settings.write_stall_timeout)
        return deadline

    def expiry(self, settings: ServerSettings, now: float, *, logged_in: bool) -> Expiry | None:
        """What is due at ``now`` (the same sums as :meth:`deadline`), or None."""
        if not logged_in and self.checking is None \
                and now >= self.login_clock + settings.login_timeout:
            return Expiry(f"no login within {settings.login_timeout:g}s")
        if now >= self.last_rx + settings.idle_timeout:
            return Expiry(f"idle for {settings.idle_timeout:g}s")
        if self.paused_since is not None and (
                now >= self.paused_since + settings.write_stall_timeout):
            return Expiry(f"not reading for {settings.write_stall_timeout:g}s", abort=True)
        return None
