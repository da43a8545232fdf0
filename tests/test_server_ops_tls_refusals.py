"""What the operator of a TLS port is told: a client that refuses the certificate, and a
certificate whose dates make clients refuse it (real certificates from a private CA made
here, a real ``interphone-server`` process)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest
from server_fixtures import TEST_TOML, RawClient, start_server_process, stop_server_process

from app.protocol.messages import Login
from app.server.tls import date_problems
from app.server.tls_port import HANDSHAKE_ENDED, handshake_failure

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


class Authority:
    """A private CA that signs server certificates for ``localhost`` with chosen dates."""

    def __init__(self, name: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))

    def write_ca(self, path: Path) -> Path:
        from cryptography.hazmat.primitives import serialization

        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, folder: Path, begins: datetime.datetime,
              ends: datetime.datetime) -> tuple[Path, Path]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(self.name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(begins).not_valid_after(ends)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(self.key, hashes.SHA256()))
        cert_file, key_file = folder / "server.crt", folder / "server.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file


def trusting(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


async def _tls_server(tmp_path: Path, cert_file: Path, key_file: Path,
                      ) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML.replace("[server]\n",
                                        "[server]\nmedia_encryption = 'optional'\n", 1))
    return await start_server_process("--config", str(config), "--tls-cert", str(cert_file),
                                      "--tls-key", str(key_file))


async def _line_with(process: asyncio.subprocess.Process, text: str,
                     timeout: float = 10.0) -> str:
    assert process.stderr is not None
    async with asyncio.timeout(timeout):
        while True:
            raw = await process.stderr.readline()
            assert raw, f"server exited without logging {text!r}"
            if text in raw.decode():
                return raw.decode()


async def test_a_client_that_refuses_the_certificate_is_logged_and_others_are_served(
        tmp_path: Path) -> None:
    """The client said "unknown issuer"; the server's log said nothing at all (debug only),
    so the operator could not tell a certificate problem from a client that never came."""
    ours, theirs = Authority("Team CA"), Authority("Another CA")
    cert_file, key_file = ours.issue(tmp_path, NOW - DAY, NOW + 10 * DAY)
    process, port, _lines = await _tls_server(tmp_path, cert_file, key_file)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await RawClient.connect(port,
                                    tls=trusting(theirs.write_ca(tmp_path / "other.crt")))
        line = await _line_with(process, "TLS handshake failed")
        assert "refused 127.0.0.1: " + HANDSHAKE_ENDED in line
        assert "WARNING" in line
        good = await RawClient.connect(port,
                                       tls=trusting(ours.write_ca(tmp_path / "ca.crt")))
        reply = await good.request(Login("alice", "pw-alice"))
        assert reply.ok
        await good.close()
    finally:
        await stop_server_process(process)


async def test_an_expired_certificate_is_warned_about_at_start(tmp_path: Path) -> None:
    """The server started with an expired certificate without a word; every client that
    checks it was refused with "certificate expired"."""
    cert_file, key_file = Authority("Team CA").issue(tmp_path, NOW - 30 * DAY, NOW - DAY)
    process, _port, lines = await _tls_server(tmp_path, cert_file, key_file)
    await stop_server_process(process)
    warned = [line for line in lines if "expired on" in line]
    assert len(warned) == 1 and "WARNING" in warned[0] and str(cert_file) in warned[0]
    assert "renew it and restart" in warned[0]


@pytest.mark.parametrize(("begins", "ends", "expected"), [
    (NOW - DAY, NOW + 300 * DAY, None),
    (NOW - 30 * DAY, NOW - DAY, "expired on"),
    (NOW + 2 * DAY, NOW + 300 * DAY, "is not valid before"),
    (NOW - DAY, NOW + 3 * DAY, "(in 2 day(s))"),
])
def test_dates_that_clients_refuse_or_soon_will(tmp_path: Path, begins: datetime.datetime,
                                                ends: datetime.datetime,
                                                expected: str | None) -> None:
    cert_file, _key_file = Authority("Team CA").issue(tmp_path, begins, ends)
    problems = date_problems(cert_file)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0]


@pytest.mark.parametrize(("error", "expected"), [
    (ConnectionResetError(), HANDSHAKE_ENDED),  # uvloop: the alert is not reported
    (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), None),
    (TimeoutError(), None),
])
def test_handshake_failures_in_words(error: OSError, expected: str | None) -> None:
    if isinstance(error, ssl.SSLError):
        error.reason = "TLSV1_ALERT_UNKNOWN_CA"  # (as OpenSSL sets it)
        assert handshake_failure(error) == HANDSHAKE_ENDED + "; its alert: unknown ca"
    else:
        assert handshake_failure(error) == expected
