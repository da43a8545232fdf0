"""Why a connection or a request failed, as data: a :class:`FailureKind` and its values.

The client's exceptions keep their one-line English messages (the CLI prints them);
each message is :func:`english` of a :class:`Failure`, and the exception carries that
failure (``ClientError.failure``, :func:`app.client.errors.failure_of`), so an interface
in another language words the same failure itself (``app/ui/failure_text.py``) instead
of showing the English line. Values that come from elsewhere (OpenSSL's or the
operating system's words, the server's ``errmsg``, a fingerprint) are kept as they are,
in ``detail``; a well-known operating-system reason is also named by an :class:`OsReason`.
"""

from __future__ import annotations

import enum
import errno
import os
import socket
from dataclasses import dataclass

CLOSED_DURING_HANDSHAKE = ("the server closed the connection during the handshake "
                           "(it may not speak TLS on this port: try without TLS)")
"""A TLS server answers a hello it cannot serve with an alert; one that closes without a
word after the client's hello is most likely a plain-text server."""

NOT_TLS = "the server does not speak TLS on this port (it answers in plain text)"
NO_CERTIFICATE = "the server sent no certificate"
TLS_RECORD_RECEIVED = "the server answered with TLS: this port requires TLS"
CLOSED_BEFORE_ANY_ANSWER = ("connection closed before any answer "
                            "(the server may require TLS)")


class FailureKind(enum.StrEnum):
    # A TLS connection (``TLS to host:port: ...``): the certificate or the handshake.
    TLS_FINGERPRINT_MISMATCH = "tls_fingerprint_mismatch"  # detail: the presented fingerprint
    TLS_NO_CERTIFICATE = "tls_no_certificate"
    TLS_UNKNOWN_ISSUER = "tls_unknown_issuer"  # detail: OpenSSL's words
    TLS_NAME_MISMATCH = "tls_name_mismatch"  # detail: OpenSSL's words
    TLS_EXPIRED = "tls_expired"
    TLS_NOT_YET_VALID = "tls_not_yet_valid"
    TLS_CERTIFICATE_REFUSED = "tls_certificate_refused"  # detail: OpenSSL's words or code
    TLS_NOT_TLS = "tls_not_tls"
    TLS_PLAIN_TEXT = "tls_plain_text"  # not TLS, and it answered a plain-text ping
    TLS_CLOSED_DURING_HANDSHAKE = "tls_closed_during_handshake"
    TLS_NO_COMMON_VERSION = "tls_no_common_version"  # detail: OpenSSL's reason
    TLS_HANDSHAKE_FAILED = "tls_handshake_failed"  # detail: OpenSSL's reason
    TLS_TIMED_OUT = "tls_timed_out"  # the port took the connection: seconds (0: unknown)
    TLS_OTHER = "tls_other"  # detail: the error's own words
    # Reaching the server (``ServerUnreachable``).
    CANNOT_CONNECT = "cannot_connect"  # a TLS connection's socket failed: os_reason, detail
    CANNOT_REACH = "cannot_reach"  # a plain connection's socket failed: os_reason, detail
    NO_ANSWER = "no_answer"  # no connection within ``seconds``
    # Once connected.
    TLS_REQUIRED = "tls_required"  # a plain connection was answered in TLS (not a TLS kind)
    MAYBE_TLS_REQUIRED = "maybe_tls_required"  # ... or closed before any answer
    REQUEST_TIMEOUT = "request_timeout"  # ``request`` not answered within ``seconds``
    CONNECTION_LOST = "connection_lost"  # detail: the session's reason (English)
    SERVER_ERROR = "server_error"  # errcode, detail: the server's errmsg
    STORE_UNAVAILABLE = "store_unavailable"  # 500 "store unavailable": transient; detail
    PROTOCOL_ERROR = "protocol_error"  # detail: what broke the contract (English)
    NOT_CONNECTED = "not_connected"
    NOT_JOINED = "not_joined"
    LEFT_THE_LINE = "left_the_line"  # detail: the server's reason, timeout or displaced
    OS_ERROR = "os_error"  # os_reason, detail
    OTHER = "other"  # detail: the error's own words

    @property
    def tls(self) -> bool:
        """A TLS problem (certificate or handshake), not a server that cannot be reached."""
        return self in _TLS_KINDS


class OsReason(enum.StrEnum):
    """The operating system's reason for a failed socket, when it is a well-known one."""

    REFUSED = "refused"
    RESET = "reset"
    TIMED_OUT = "timed_out"
    HOST_UNREACHABLE = "host_unreachable"
    NETWORK_UNREACHABLE = "network_unreachable"
    UNKNOWN_HOST = "unknown_host"
    OTHER = "other"  # see ``detail``


_TLS_KINDS = frozenset(kind for kind in FailureKind if kind.name.startswith("TLS_")
                       and kind not in (FailureKind.TLS_REQUIRED,))

CERTIFICATE_KINDS = frozenset({
    FailureKind.TLS_FINGERPRINT_MISMATCH, FailureKind.TLS_NO_CERTIFICATE,
    FailureKind.TLS_UNKNOWN_ISSUER, FailureKind.TLS_NAME_MISMATCH, FailureKind.TLS_EXPIRED,
    FailureKind.TLS_NOT_YET_VALID, FailureKind.TLS_CERTIFICATE_REFUSED})
"""The server's certificate did not pass the check (not the connection or the handshake)."""

_OS_REASONS = {
    errno.ECONNREFUSED: OsReason.REFUSED,
    errno.ECONNRESET: OsReason.RESET,
    errno.ETIMEDOUT: OsReason.TIMED_OUT,
    errno.EHOSTUNREACH: OsReason.HOST_UNREACHABLE,
    errno.ENETUNREACH: OsReason.NETWORK_UNREACHABLE,
}


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure: its kind and the values its sentence names."""

    kind: FailureKind
    server: str = ""  # host:port ([v6]:port)
    detail: str = ""  # words from elsewhere, shown as they are (see FailureKind)
    seconds: float = 0.0
    request: str = ""  # the request's name (``Login``, ``JoinRequest``...)
    errcode: int = 0
    os_reason: OsReason | None = None


def os_reason_of(exc: OSError) -> OsReason:
    if isinstance(exc, socket.gaierror):
        return OsReason.UNKNOWN_HOST
    if isinstance(exc, TimeoutError):
        return OsReason.TIMED_OUT
    return _OS_REASONS.get(exc.errno or 0, OsReason.OTHER)


def os_words(exc: OSError) -> str:
    """A short human reason: 'Connection refused', 'Name or service not known', ..."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def english(failure: Failure) -> str:
    """The one English line for ``failure``, as the CLI prints it."""
    kind, server, detail = failure.kind, failure.server, failure.detail
    if kind is FailureKind.CANNOT_CONNECT:
        return f"cannot connect to {server}: {detail}"
    if kind is FailureKind.CANNOT_REACH:
        return f"cannot reach {server}: {detail}"
    if kind is FailureKind.NO_ANSWER:
        return f"cannot reach {server}: no answer within {failure.seconds:g} s"
    if kind.tls:
        return f"TLS to {server}: {_tls_problem(failure)}"
    if kind is FailureKind.REQUEST_TIMEOUT:
        return f"{failure.request}: no answer within {failure.seconds:g} s"
    if kind is FailureKind.STORE_UNAVAILABLE:
        request = f"{failure.request}: " if failure.request else ""
        return f"{request}the server cannot reach its database for now (error 500: {detail})"
    if kind is FailureKind.SERVER_ERROR:
        request = f"{failure.request}: " if failure.request else ""
        return f"{request}error {failure.errcode}{': ' + detail if detail else ''}"
    if kind is FailureKind.LEFT_THE_LINE:
        return f"left the line ({detail or 'no reason given'})"
    fixed = {FailureKind.TLS_REQUIRED: TLS_RECORD_RECEIVED,
             FailureKind.MAYBE_TLS_REQUIRED: CLOSED_BEFORE_ANY_ANSWER,
             FailureKind.NOT_CONNECTED: "not connected",
             FailureKind.NOT_JOINED: "join an interphone first"}
    return detail or fixed.get(kind, kind.value.replace("_", " "))


def _tls_problem(failure: Failure) -> str:
    kind, detail = failure.kind, failure.detail
    if kind is FailureKind.TLS_FINGERPRINT_MISMATCH:
        return "fingerprint mismatch" + (f": the server presented {detail}" if detail else "")
    if kind is FailureKind.TLS_UNKNOWN_ISSUER:
        return f"unknown issuer ({detail}); use --ca-file or --tls-fingerprint"
    if kind is FailureKind.TLS_NAME_MISMATCH:
        return f"name mismatch ({detail})"
    if kind is FailureKind.TLS_CERTIFICATE_REFUSED:
        return f"certificate refused ({detail})"
    if kind is FailureKind.TLS_NO_COMMON_VERSION:
        return f"no common TLS version ({detail})"
    if kind is FailureKind.TLS_HANDSHAKE_FAILED:
        return f"handshake failed ({detail})"
    return {FailureKind.TLS_NO_CERTIFICATE: NO_CERTIFICATE,
            FailureKind.TLS_EXPIRED: "certificate expired",
            FailureKind.TLS_NOT_YET_VALID: "certificate not yet valid (check the clock)",
            FailureKind.TLS_NOT_TLS: "the server does not speak TLS on this port",
            FailureKind.TLS_PLAIN_TEXT: NOT_TLS,
            FailureKind.TLS_CLOSED_DURING_HANDSHAKE: CLOSED_DURING_HANDSHAKE,
            FailureKind.TLS_TIMED_OUT: _handshake_timed_out(failure)}.get(kind, detail)


def _handshake_timed_out(failure: Failure) -> str:
    if not failure.seconds:
        return "the handshake timed out"
    return (f"the port accepts connections but did not answer the handshake within "
            f"{failure.seconds:g} s")
