"""TLS for the signaling port: the server's SSLContext, a self-signed certificate, fingerprints.

The whole TCP connection is TLS (no STARTTLS). Protocol 1.2 at least, 1.3
preferred (OpenSSL picks the highest both sides offer). ``--tls-self-signed
DIR`` makes ``DIR/server.crt`` and ``DIR/server.key`` once and reuses them
afterwards, so the fingerprint users pinned or trusted stays valid across
restarts. The certificate's SHA-256 fingerprint (colon hex, upper case, the
form browsers and ``openssl x509 -fingerprint -sha256`` show) is what the
server logs at start and what clients pin.

Usage by the server's start-up code::

    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=Path("tls")))
    logger.info("TLS on; certificate SHA-256 fingerprint %s", fingerprint)
    await loop.create_server(factory, host, port, ssl=context,
                             ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client has to finish the TLS handshake (``ssl_handshake_timeout``)."""
CERT_NAME = "server.crt"
KEY_NAME = "server.key"
SELF_SIGNED_DAYS = 3650
EXPIRY_WARNING_DAYS = 14
"""A certificate that expires within this many days is warned about at start."""
_LOCAL_NAMES = ("localhost",)
_LOCAL_ADDRESSES = ("127.0.0.1", "::1")


class TlsSetupError(ValueError):
    """Certificate or key that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """Where the server's certificate comes from (CLI flags or the TOML ``[server]`` table).

    Either ``cert_file`` and ``key_file``, or ``self_signed_dir``; none of them means plain TCP.
    """

    cert_file: Path | None = None
    key_file: Path | None = None
    self_signed_dir: Path | None = None
    hostname: str | None = None
    """Extra DNS name for a self-signed certificate (default: this machine's host name)."""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file or self.key_file or self.self_signed_dir)

    def validate(self) -> None:
        if self.self_signed_dir and (self.cert_file or self.key_file):
            raise TlsSetupError("give either --tls-cert/--tls-key or --tls-self-signed, not both")
        if bool(self.cert_file) != bool(self.key_file):
            raise TlsSetupError("--tls-cert and --tls-key go together")


def load_server_context(options: TlsOptions) -> tuple[ssl.SSLContext, str]:
    """The server context and the certificate's fingerprint; creates a self-signed pair if asked."""
    options.validate()
    if options.self_signed_dir is not None:
        cert_file, key_file = ensure_self_signed(options.self_signed_dir, options.hostname)
    elif options.cert_file is not None and options.key_file is not None:
        cert_file, key_file = options.cert_file, options.key_file
    else:
        raise TlsSetupError("TLS is not configured")
    context = server_context(cert_file, key_file)
    for problem in date_problems(cert_file):
        logger.warning("%s", problem)
    return context, fingerprint_of_file(cert_file)


def date_problems(cert_file: str | os.PathLike[str],
                  now: datetime.datetime | None = None) -> list[str]:
    """What is wrong with the dates of the server's certificate (the first of the file):
    expired, not valid yet, or expiring within :data:`EXPIRY_WARNING_DAYS`. The server
    still starts (a client pinning the fingerprint accepts it), but a client that checks
    it against a CA refuses it with "certificate expired"."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    except (OSError, ValueError):
        return []  # (what cannot be read was refused before)
    now = now or datetime.datetime.now(datetime.UTC)
    begins, ends = cert.not_valid_before_utc, cert.not_valid_after_utc
    stamp = "%Y-%m-%d %H:%M UTC"
    if ends <= now:
        return [f"TLS: the certificate {cert_file} expired on {ends.strftime(stamp)}: clients "
                f"that check it refuse it (certificate expired); renew it and restart"]
    if begins > now:
        return [f"TLS: the certificate {cert_file} is not valid before "
                f"{begins.strftime(stamp)}: clients that check it refuse it until then "
                f"(check this machine's clock)"]
    if ends - now <= datetime.timedelta(days=EXPIRY_WARNING_DAYS):
        days = (ends - now).days
        return [f"TLS: the certificate {cert_file} expires on {ends.strftime(stamp)} "
                f"(in {days} day(s)): renew it and restart before then"]
    return []


def _what_is_wrong(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str],
                   exc: ssl.SSLError) -> str:
    """Which of the two files OpenSSL refused, and why, in words."""
    def text(name: str | os.PathLike[str]) -> str:
        try:
            return Path(name).read_text(errors="replace")
        except OSError:
            return ""
    if "-----BEGIN CERTIFICATE-----" not in text(cert_file):
        return f"{cert_file}: not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    if "PRIVATE KEY-----" not in text(key_file):
        return f"{key_file}: not a PEM private key (-----BEGIN PRIVATE KEY-----)"
    if exc.reason == "KEY_VALUES_MISMATCH":
        return f"{key_file} is not the private key of {cert_file}"
    broken = _undecodable(cert_file, key_file)
    if broken is not None:
        return broken
    return (f"{cert_file} / {key_file}: not a usable PEM certificate and key "
            f"({exc.reason or exc})")


def _undecodable(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str],
                 ) -> str | None:
    """Which file's PEM block does not decode (OpenSSL says only "PEM lib"), if one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    except (OSError, ValueError):
        return f"{cert_file}: its PEM certificate cannot be decoded (a damaged or cut copy?)"
    try:
        serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
    except TypeError:
        return None  # (encrypted: said by the pass phrase callback)
    except (OSError, ValueError):
        return f"{key_file}: its PEM private key cannot be decoded (a damaged or cut copy?)"
    return None


def server_context(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
                   ) -> ssl.SSLContext:
    """A server-side context: TLS 1.2+, no client certificates, the given chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE

    def no_pass_phrase() -> str:  # OpenSSL would ask on the terminal (none under a service)
        raise TlsSetupError(
            f"{key_file} is encrypted with a pass phrase: give the server the key unencrypted "
            f"(openssl pkey -in {key_file} -out server.key), readable by it only")

    try:
        context.load_cert_chain(os.fspath(cert_file), os.fspath(key_file), no_pass_phrase)
    except FileNotFoundError as exc:  # ssl leaves filename None: name the missing one
        missing = exc.filename or next(
            (name for name in (cert_file, key_file) if not Path(name).is_file()), cert_file)
        raise TlsSetupError(f"cannot read {missing}: no such file") from None
    except ssl.SSLError as exc:
        raise TlsSetupError(_what_is_wrong(cert_file, key_file, exc)) from None
    except OSError as exc:
        raise TlsSetupError(f"cannot read {cert_file} / {key_file}: {exc.strerror}") from None
    return context


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as upper-case colon hex (``AB:CD:...``, 95 characters)."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def fingerprint_of_file(cert_file: str | os.PathLike[str]) -> str:
    """Fingerprint of the first certificate in a PEM file (the server's own, in a chain)."""
    try:
        pem = Path(cert_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TlsSetupError(f"cannot read {cert_file}: {exc}") from None
    end = "-----END CERTIFICATE-----"
    if end not in pem:
        raise TlsSetupError(f"{cert_file} holds no PEM certificate")
    first = pem[: pem.index(end) + len(end)]
    try:
        return fingerprint(ssl.PEM_cert_to_DER_cert(first[first.index("-----BEGIN"):]))
    except ValueError:
        raise TlsSetupError(f"{cert_file} holds no PEM certificate") from None


def ensure_self_signed(directory: str | os.PathLike[str], hostname: str | None = None,
                       ) -> tuple[Path, Path]:
    """``DIR/server.crt`` and ``DIR/server.key``, created on first use and reused afterwards.

    The key is an ECDSA P-256 key written with mode 0600; the certificate names
    ``localhost``, ``127.0.0.1``, ``::1`` and ``hostname`` (default: this
    machine's name) so a client that checks names accepts it once it trusts it.
    An existing pair is never replaced (a new one would change the fingerprint
    users have pinned); a directory holding only one of the two files is an error.
    """
    folder = Path(directory)
    cert_file, key_file = folder / CERT_NAME, folder / KEY_NAME
    try:  # (a folder this user may not search, or a name too long, fails here already)
        has_cert, has_key = cert_file.exists(), key_file.exists()
    except OSError as exc:
        raise _cannot_make(folder, exc) from None
    if has_cert and has_key:
        return cert_file, key_file
    if has_cert or has_key:
        present = cert_file if has_cert else key_file
        raise TlsSetupError(f"{present} exists without its pair; remove it or supply the other")
    cert_pem, key_pem = make_self_signed(hostname or socket.gethostname())
    wrote_key = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(key_file, key_pem)
        wrote_key = True
        tmp = cert_file.with_suffix(".crt.tmp")
        tmp.write_bytes(cert_pem)
        os.replace(tmp, cert_file)
    except OSError as exc:  # not "[Errno 2] No such file or directory: '/proc/x'" alone
        if wrote_key:  # a key alone would be refused at the next start ("without its pair")
            with contextlib.suppress(OSError):
                key_file.unlink()
        raise _cannot_make(folder, exc) from None
    logger.info("created a self-signed certificate in %s", folder)
    return cert_file, key_file


def _cannot_make(folder: Path, exc: OSError) -> TlsSetupError:
    return TlsSetupError(f"cannot make a self-signed certificate in {folder}: "
                         f"{exc.strerror or exc}")


def make_self_signed(hostname: str, days: int = SELF_SIGNED_DAYS) -> tuple[bytes, bytes]:
    """A fresh self-signed certificate and its unencrypted key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in _LOCAL_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in _LOCAL_ADDRESSES]
    extra = hostname.strip().rstrip(".")
    if extra:
        try:
            address = ipaddress.ip_address(extra)
        except ValueError:
            if extra.lower() not in _LOCAL_NAMES:
                names.append(x509.DNSName(extra))
        else:
            if str(address) not in _LOCAL_ADDRESSES:
                names.append(x509.IPAddress(address))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, extra or "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600 from the start)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, 0o600)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)
    if os.name == "posix":
        os.chmod(path, 0o600)
