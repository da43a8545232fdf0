"""Whom a client trusts: TLS contexts, fingerprint pins, trust-on-first-use, readable failures.

Three ways to trust a server (``interphone-cli --tls ...``):

- the system store (default): the chain and the host name are verified;
- ``--ca-file FILE``: the same, against the CA certificates in ``FILE`` only;
- ``--tls-fingerprint HEX`` (a pin): the chain is not verified, the server's
  certificate must have exactly that SHA-256 fingerprint; checked right after
  the handshake with :func:`check_pin` (the handshake cannot do it itself).

The GUI trusts on first use as SSH and Mumble do: it connects like a pin
without a fingerprint, reads the server's fingerprint with
:func:`peer_fingerprint`, and asks :func:`tofu_verdict` whether it is known,
new or changed for that server. The store is a plain mapping server → fingerprint
kept by the caller (QSettings); the functions here never touch it.

Every failure becomes one line naming the problem (:func:`describe_tls_failure`):
unknown issuer, name mismatch, fingerprint mismatch, expired certificate, or a
server that does not speak TLS; :func:`tls_failure` gives it as data
(:class:`~app.client.failures.Failure`) for an interface to word in its language.
"""

from __future__ import annotations

import enum
import hashlib
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from app.client.failures import CLOSED_DURING_HANDSHAKE as CLOSED_DURING_HANDSHAKE
from app.client.failures import (
    NO_CERTIFICATE,
    Failure,
    FailureKind,
    english,
    os_reason_of,
    os_words,
)
from app.client.failures import NOT_TLS as NOT_TLS

_HEX_PIN = re.compile(r"^[0-9A-Fa-f]{64}$")
# OpenSSL X509_V_ERR_* codes that mean "I do not know who signed this".
_UNKNOWN_ISSUER_CODES = frozenset({2, 18, 19, 20, 21})
_HOSTNAME_MISMATCH = 62
_IP_MISMATCH = 64
_EXPIRED = 10
_NOT_YET_VALID = 9


class TrustError(ssl.SSLError):
    """The handshake succeeded but the certificate is not the one we trust."""

    presented: str = ""
    """The fingerprint the server presented (a pin mismatch)."""


class TofuVerdict(enum.Enum):
    KNOWN = "known"      # the remembered fingerprint: connect
    NEW = "new"          # never seen: show the fingerprint and ask
    CHANGED = "changed"  # differs from the remembered one: refuse, warn, offer to accept


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """What the user asked for; at most one of ``ca_file`` and ``pin``."""

    ca_file: str | None = None
    pin: str | None = None
    """Normalized fingerprint (see :func:`normalize_fingerprint`)."""
    trust_on_first_use: bool = False
    """Skip chain verification; the caller checks :func:`tofu_verdict` after the handshake."""


def normalize_fingerprint(text: str) -> str:
    """``ab:cd..``, ``ABCD..`` or ``AB CD ..`` → ``AB:CD:...``; ValueError unless 32 hex bytes."""
    compact = re.sub(r"[\s:]", "", text.strip())
    if compact.lower().startswith("sha256"):
        compact = compact[6:].lstrip("=")
    if not _HEX_PIN.match(compact):
        raise ValueError(
            "a TLS fingerprint is 64 hexadecimal digits (the SHA-256 of the certificate), "
            "colons optional")
    compact = compact.upper()
    return ":".join(compact[i : i + 2] for i in range(0, 64, 2))


def fingerprint_of_der(der: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def client_context(policy: TrustPolicy) -> ssl.SSLContext:
    """The client context for ``policy``: TLS 1.2 at least."""
    if policy.ca_file and policy.pin:
        raise ValueError("give either a CA file or a fingerprint, not both")
    if policy.pin or policy.trust_on_first_use:
        # Chain and name are replaced by the fingerprint check after the handshake.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif policy.ca_file:
        context = ssl.create_default_context(cafile=policy.ca_file)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if policy.pin:
        context.sslobject_class = pinned_ssl_object(normalize_fingerprint(policy.pin))
    return context


def pinned_ssl_object(pin: str) -> type[ssl.SSLObject]:
    """An :class:`ssl.SSLObject` whose handshake fails with :class:`TrustError` unless the
    server's certificate has fingerprint ``pin``: asyncio connections (which build their
    SSL objects from the context) then enforce the pin themselves."""

    class PinnedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            check_pin(self, pin)

    return PinnedSSLObject


def peer_fingerprint(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str:
    """Fingerprint of the certificate the server sent (``writer.get_extra_info('ssl_object')``)."""
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise TrustError(NO_CERTIFICATE)
    return fingerprint_of_der(der)


def check_pin(ssl_object: ssl.SSLObject | ssl.SSLSocket, pin: str) -> None:
    """Raise :class:`TrustError` unless the server's certificate has fingerprint ``pin``."""
    actual = peer_fingerprint(ssl_object)
    if actual != normalize_fingerprint(pin):
        error = TrustError(f"fingerprint mismatch: the server presented {actual}")
        error.presented = actual
        raise error


def after_handshake(ssl_object: ssl.SSLObject | ssl.SSLSocket, policy: TrustPolicy) -> str:
    """The checks the handshake could not do; returns the server's fingerprint."""
    if policy.pin:
        check_pin(ssl_object, policy.pin)
    return peer_fingerprint(ssl_object)


# ---- trust on first use (pure; the caller owns the store) ------------------------------------


def server_key(host: str, port: int) -> str:
    """The key a server is remembered under: lower-case host and port, IPv6 in brackets."""
    host = host.strip().strip("[]").lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def tofu_verdict(known: Mapping[str, str], server: str, fingerprint: str) -> TofuVerdict:
    """Known, new or changed: ``fingerprint`` against what ``known`` remembers for ``server``."""
    remembered = known.get(server)
    if remembered is None:
        return TofuVerdict.NEW
    try:
        same = normalize_fingerprint(remembered) == normalize_fingerprint(fingerprint)
    except ValueError:
        same = False
    return TofuVerdict.KNOWN if same else TofuVerdict.CHANGED


def remember(known: Mapping[str, str], server: str, fingerprint: str) -> dict[str, str]:
    """A new store with ``server`` trusted at ``fingerprint`` (the user accepted it)."""
    updated = dict(known)
    updated[server] = normalize_fingerprint(fingerprint)
    return updated


def forget(known: Mapping[str, str], server: str) -> dict[str, str]:
    updated = dict(known)
    updated.pop(server, None)
    return updated


def tofu_message(verdict: TofuVerdict, server: str, fingerprint: str,
                 remembered: str | None = None) -> str:
    """What to show the user for a verdict (one paragraph, no markup)."""
    if verdict is TofuVerdict.KNOWN:
        return f"{server}: certificate {fingerprint} is the one you accepted before."
    if verdict is TofuVerdict.NEW:
        return (f"First connection to {server}. Its certificate fingerprint is {fingerprint}. "
                "Check it with the server's operator before accepting it.")
    return (f"WARNING: the certificate of {server} has changed. You accepted {remembered}; "
            f"it now presents {fingerprint}. Someone may be intercepting the connection. "
            "Accept the new certificate only if the operator confirms the change.")


# ---- one-line failures -----------------------------------------------------------------------


def closed_silently(exc: BaseException) -> bool:
    """Whether a TLS handshake failed because the server closed without a word (no alert):
    worth asking the port in plain text whether it is a plain-text server."""
    if isinstance(exc, ssl.SSLEOFError | ConnectionResetError | BrokenPipeError):
        return True
    reason = getattr(exc, "reason", None) or ""  # a TrustError has none
    return isinstance(exc, ssl.SSLError) and str(reason).upper().startswith("UNEXPECTED_EOF")


def describe_tls_failure(exc: BaseException, server: str) -> str:
    """One line naming why a TLS connection to ``server`` failed (English, for the CLI;
    :func:`tls_failure` gives the same as data)."""
    return english(tls_failure(exc, server))


def tls_failure(exc: BaseException, server: str) -> Failure:
    """Why a TLS connection to ``server`` failed: a TLS kind, or ``CANNOT_CONNECT``."""
    kind = FailureKind
    if isinstance(exc, TrustError):
        if exc.presented or not exc.args or exc.args[0] == "fingerprint mismatch":
            return Failure(kind.TLS_FINGERPRINT_MISMATCH, server, exc.presented)
        if exc.args[0] == NO_CERTIFICATE:
            return Failure(kind.TLS_NO_CERTIFICATE, server)
        return Failure(kind.TLS_OTHER, server, str(exc.args[0]))
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        detail = exc.verify_message or ""
        if code in _UNKNOWN_ISSUER_CODES:
            return Failure(kind.TLS_UNKNOWN_ISSUER, server, detail)
        if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            return Failure(kind.TLS_NAME_MISMATCH, server, detail)
        if code == _EXPIRED:
            return Failure(kind.TLS_EXPIRED, server)
        if code == _NOT_YET_VALID:
            return Failure(kind.TLS_NOT_YET_VALID, server)
        return Failure(kind.TLS_CERTIFICATE_REFUSED, server, detail or str(code))
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or "").upper()
        if reason in ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE",
                      "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"):
            return Failure(kind.TLS_NOT_TLS, server)
        if isinstance(exc, ssl.SSLEOFError) or reason.startswith("UNEXPECTED_EOF"):
            return Failure(kind.TLS_CLOSED_DURING_HANDSHAKE, server)
        if "VERSION" in reason or "PROTOCOL" in reason:
            return Failure(kind.TLS_NO_COMMON_VERSION, server, str(exc.reason))
        return Failure(kind.TLS_HANDSHAKE_FAILED, server, str(exc.reason or exc))
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return Failure(kind.TLS_CLOSED_DURING_HANDSHAKE, server)
    if isinstance(exc, TimeoutError):
        return Failure(kind.TLS_TIMED_OUT, server)
    if isinstance(exc, OSError):
        return Failure(kind.CANNOT_CONNECT, server, os_words(exc),
                       os_reason=os_reason_of(exc))
    return Failure(kind.TLS_OTHER, server, str(exc))
