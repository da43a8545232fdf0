"""The server's tunables, declared once with their defaults.

Times are float seconds internally (tests use tiny values); the login
response advertises ``keepalive`` and ``max_talk`` as whole seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from app.server.addr_limits import AddressLimitSettings

AUTH_MODES = ("open", "token")
MEDIA_ENCRYPTION_MODES = ("", "required", "optional", "off")
_PATH_SETTINGS = frozenset({"tls_cert", "tls_key", "tls_self_signed"})


@dataclass(frozen=True, slots=True)
class ServerSettings:
    auth: str = "open"
    """``open``: any uid may log in with any token; ``token``: directory users only."""
    max_talk: float = 60.0
    """Seconds a floor grant lasts at most."""
    keepalive: float = 15.0
    """Seconds between client pings; a session silent for 3x this long is closed."""
    silence_timeout: float = 5.0
    """Seconds without relayed audio from the holder before its grant is revoked."""
    rate_limit: float = 50.0
    """Signaling requests per second per session (token bucket refill rate)."""
    rate_burst: int = 100
    """Token bucket capacity: requests a session may send in a burst."""
    read_rate: float = 64 * 1024
    """Bytes per second a logged-in session's signaling may send, counting the answers
    it gets (what it sends beyond, the server reads later: each frame costs a parse,
    answered or refused, and each answer its encoding)."""
    read_burst: int = 256 * 1024
    """Bytes a logged-in session may send at once before ``read_rate`` applies."""
    login_read_rate: float = 4 * 1024
    """Bytes per second a connection may send before its login (``read_rate`` after)."""
    login_read_burst: int = 68 * 1024
    """Bytes a connection may send at once before its login (a whole frame fits)."""
    membership_rate: float = 2.0
    """Joins and leaves per second a session may make (each is a notification to every
    member and watcher of the interphone) ..."""
    membership_burst: int = 50
    """... after bursts of up to this many (a client that rejoins its interphones at once
    after a restart); beyond, 429."""
    floor_rate: float = 5.0
    """Floor requests (``speak on``) per second a session may make (each grant, and the
    release that follows, is a notification to every member and watcher) ..."""
    floor_burst: int = 50
    """... after bursts of up to this many; beyond, 429 (``speak off`` is never refused:
    a holder can always let go)."""
    max_sessions: int = 10000
    """Open TCP connections at most (authenticated or not)."""
    login_timeout: float = 10.0
    """Seconds a connection may stay open without logging in, from its opening or its last
    login's refusal (the time the server takes to check a token does not count)."""
    max_malformed: int = 10
    """Malformed frames after which a session is closed."""
    write_high_water: int = 256 * 1024
    """Transport buffer size above which notifications are coalesced."""
    write_hard_limit: int = 4 * 1024 * 1024
    """Buffered plus queued bytes above which a session is closed."""
    write_stall_timeout: float = 30.0
    """Seconds a session may stay above the high-water mark before it is closed."""
    tls_cert: str = ""
    """Certificate file (PEM) for TLS on the signaling port, with ``tls_key``."""
    tls_key: str = ""
    tls_self_signed: str = ""
    """Directory where a self-signed ``server.crt``/``server.key`` pair is made once and kept."""
    media_encryption: str = ""
    """``required``, ``optional`` or ``off`` (docs/protocol-extensions.md, media-auth);
    empty: ``required`` with TLS, ``off`` without."""
    max_sessions_per_address: int = 256
    """Logged-in sessions one source IP may hold (an office behind one NAT needs room)."""
    max_unauthenticated_per_address: int = 64
    """Connections one source IP may hold open before logging in (room for an office that
    reconnects at once after a restart)."""
    refusal_log_interval: float = 60.0
    """Seconds between two log lines about refusals of one address."""
    media_auth_any_source_ip: bool = False
    """Register an authenticated recvbegin (media-auth) from any source IP, not only from
    the IP the session logged in from: for signaling that reaches the server through a
    proxy (its TCP peer is the proxy). Off, a member who can spoof source addresses
    cannot point voice at an address of another host."""
    recvbegin_rate: float = 20.0
    """Authenticated recvbegin datagrams per second per source IP."""
    recvbegin_burst: int = 40
    queue_limit: int = 8
    """Floor requests waiting per interphone at most (extension floor-queue); 0: no queue."""
    queue_timeout: float = 30.0
    """Seconds a floor request may wait in line (extension floor-queue)."""
    dispatcher_level: int = 8
    """Users whose directory ``priority`` is at least this are dispatchers (0..9)."""

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert or self.tls_key or self.tls_self_signed)

    def __post_init__(self) -> None:
        for item in fields(self):
            problem = setting_problem(item.name, getattr(self, item.name))
            if problem is not None:
                raise ValueError(problem)

    @property
    def idle_timeout(self) -> float:
        return 3 * self.keepalive

    @property
    def advertised_keepalive(self) -> int:
        return max(1, round(self.keepalive))

    @property
    def advertised_max_talk(self) -> int:
        return max(1, math.floor(self.max_talk))

    def with_overrides(self, **changes: Any) -> ServerSettings:
        return replace(self, **changes)


SETTING_NAMES = frozenset(f.name for f in fields(ServerSettings))
_INTEGER_SETTINGS = frozenset({"rate_burst", "read_burst", "login_read_burst",
                               "membership_burst", "floor_burst",
                               "max_sessions", "max_malformed",
                               "write_high_water", "write_hard_limit",
                               "max_sessions_per_address", "max_unauthenticated_per_address",
                               "recvbegin_burst"})


def setting_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for setting ``name`` (None: it is).

    The one check behind both :class:`ServerSettings` and the directory file's
    ``[server]`` table: ``auth`` is a mode, counts are positive integers, the
    ``media_auth_any_source_ip`` a boolean, the rest positive finite numbers (booleans
    are neither).
    """
    if name == "auth":
        return None if value in AUTH_MODES else (
            f"auth must be \"open\" or \"token\", not {value!r}")
    if name in _PATH_SETTINGS:
        return None if isinstance(value, str) else f"{name} must be a file path, not {value!r}"
    if name == "media_encryption":
        return None if value in MEDIA_ENCRYPTION_MODES else (
            f"media_encryption must be \"required\", \"optional\" or \"off\", not {value!r}")
    if name == "media_auth_any_source_ip":
        return None if isinstance(value, bool) else (
            f"media_auth_any_source_ip must be true or false, not {value!r}")
    if name == "queue_limit":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000:
            return None
        return f"queue_limit must be an integer 0..1000, not {value!r}"
    if name == "dispatcher_level":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
            return None
        return f"dispatcher_level must be an integer 0..9, not {value!r}"
    if name in _INTEGER_SETTINGS:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return None
        return f"{name} must be a positive integer, not {value!r}"
    if (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0):
        return None
    return f"{name} must be a positive number, not {value!r}"


def address_limit_settings(settings: ServerSettings) -> AddressLimitSettings:
    """The per-address limits of ``settings`` (app/server/addr_limits.py)."""
    return AddressLimitSettings(
        max_sessions_per_address=settings.max_sessions_per_address,
        max_unauthenticated_per_address=settings.max_unauthenticated_per_address,
        refusal_log_interval=settings.refusal_log_interval,
        recvbegin_rate=settings.recvbegin_rate,
        recvbegin_burst=settings.recvbegin_burst)
