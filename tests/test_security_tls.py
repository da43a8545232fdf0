"""TLS: the server's certificate and context (app/server/tls.py) and the client's trust
(app/client/trust.py), with real handshakes over 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.client.trust import (
    CLOSED_DURING_HANDSHAKE,
    TofuVerdict,
    TrustError,
    TrustPolicy,
    after_handshake,
    client_context,
    describe_tls_failure,
    forget,
    normalize_fingerprint,
    remember,
    server_key,
    tofu_verdict,
)
from app.server.tls import (
    TlsOptions,
    TlsSetupError,
    ensure_self_signed,
    fingerprint_of_file,
    load_server_context,
    server_context,
)

SERVER = "127.0.0.1:9400"


# ---- certificates made for the tests -------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_leaf(folder: Path, dns: str) -> tuple[Path, Path, Path]:
    """A CA and a leaf for ``dns`` signed by it: (ca.crt, leaf.crt, leaf.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name(dns)).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, leaf_file, key_file = folder / "ca.crt", folder / "leaf.crt", folder / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return ca_file, leaf_file, key_file


# ---- a TLS echo server -----------------------------------------------------------------------


class EchoServer:
    def __init__(self, server: asyncio.Server) -> None:
        self.server = server
        self.port = server.sockets[0].getsockname()[1]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def start_echo() -> AsyncIterator:
    servers: list[asyncio.Server] = []

    async def start(context: ssl.SSLContext, handshake_timeout: float = 5.0) -> EchoServer:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0, ssl=context,
                                            ssl_handshake_timeout=handshake_timeout)
        servers.append(server)
        return EchoServer(server)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def connect(port: int, policy: TrustPolicy, hostname: str = "localhost") -> str:
    """Handshake, apply the policy's post-handshake checks, echo a line; the fingerprint."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(policy), server_hostname=hostname)
    try:
        fingerprint = after_handshake(writer.get_extra_info("ssl_object"), policy)
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        return fingerprint
    finally:
        writer.close()


async def failure_line(port: int, policy: TrustPolicy, hostname: str = "localhost") -> str:
    with pytest.raises((ssl.SSLError, ConnectionError)) as caught:
        await connect(port, policy, hostname)
    return describe_tls_failure(caught.value, SERVER)


# ---- self-signed certificate -----------------------------------------------------------------


def test_self_signed_pair_is_created_once_with_a_private_key(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    cert, key = ensure_self_signed(folder, "voice.example.org")
    assert (cert, key) == (folder / "server.crt", folder / "server.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = fingerprint_of_file(cert)
    assert ensure_self_signed(folder, "other.example.org") == (cert, key)
    assert fingerprint_of_file(cert) == first  # reused, never regenerated


def test_self_signed_names_local_addresses_and_the_host(tmp_path: Path) -> None:
    cert, _ = ensure_self_signed(tmp_path, "voice.example.org")
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "voice.example.org"}
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


def test_half_a_pair_is_refused(tmp_path: Path) -> None:
    (tmp_path / "server.crt").write_text("x")
    with pytest.raises(TlsSetupError, match=r"server\.crt exists without its pair"):
        ensure_self_signed(tmp_path)


def test_mismatched_cert_and_key_are_refused_with_the_file_names(tmp_path: Path) -> None:
    cert_a, _ = ensure_self_signed(tmp_path / "a")
    _, key_b = ensure_self_signed(tmp_path / "b")
    with pytest.raises(TlsSetupError, match=f"{key_b} is not the private key of {cert_a}"):
        server_context(cert_a, key_b)
    with pytest.raises(TlsSetupError, match="no such file"):
        server_context(tmp_path / "missing.crt", key_b)


def test_options_must_be_one_source() -> None:
    with pytest.raises(TlsSetupError, match="not both"):
        TlsOptions(Path("c"), Path("k"), Path("d")).validate()
    with pytest.raises(TlsSetupError, match="go together"):
        TlsOptions(cert_file=Path("c")).validate()
    assert not TlsOptions().enabled


def test_fingerprint_matches_openssl_form(tmp_path: Path) -> None:
    cert, _ = ensure_self_signed(tmp_path)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    loaded = x509.load_der_x509_certificate(der)
    expected = loaded.fingerprint(hashes.SHA256()).hex().upper()
    assert fingerprint_of_file(cert).replace(":", "") == expected
    assert len(fingerprint_of_file(cert)) == 95


# ---- handshakes ------------------------------------------------------------------------------


async def test_pinned_fingerprint_connects_over_tls_1_2_or_later(tmp_path: Path,
                                                                start_echo) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    echo = await start_echo(context)
    pin = fingerprint.replace(":", "").lower()  # colons optional, any case
    got = await connect(echo.port, TrustPolicy(pin=normalize_fingerprint(pin)))
    assert got == fingerprint
    _, writer = await asyncio.open_connection(
        "127.0.0.1", echo.port, ssl=client_context(TrustPolicy(pin=fingerprint)))
    assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    writer.close()


async def test_pin_mismatch_is_named(tmp_path: Path, start_echo) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path / "real"))
    echo = await start_echo(context)
    other = fingerprint_of_file(ensure_self_signed(tmp_path / "other")[0])
    line = await failure_line(echo.port, TrustPolicy(pin=other))
    assert line.startswith(f"TLS to {SERVER}: fingerprint mismatch")
    assert "\n" not in line


async def test_self_signed_is_an_unknown_issuer_for_the_system_store(tmp_path: Path,
                                                                     start_echo) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    echo = await start_echo(context)
    line = await failure_line(echo.port, TrustPolicy())
    assert "unknown issuer" in line and "\n" not in line


async def test_ca_file_accepts_the_right_name_and_names_a_mismatch(tmp_path: Path,
                                                                   start_echo) -> None:
    ca, leaf, key = make_ca_and_leaf(tmp_path, "voice.test")
    echo = await start_echo(server_context(leaf, key))
    assert await connect(echo.port, TrustPolicy(ca_file=str(ca)), "voice.test")
    line = await failure_line(echo.port, TrustPolicy(ca_file=str(ca)), "elsewhere.test")
    assert "name mismatch" in line and "\n" not in line


async def test_a_different_ca_is_an_unknown_issuer(tmp_path: Path, start_echo) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, leaf, key = make_ca_and_leaf(tmp_path / "a", "voice.test")
    other_ca, _, _ = make_ca_and_leaf(tmp_path / "b", "voice.test")
    echo = await start_echo(server_context(leaf, key))
    line = await failure_line(echo.port, TrustPolicy(ca_file=str(other_ca)), "voice.test")
    assert "unknown issuer" in line


async def test_plain_text_client_is_closed_and_others_still_served(tmp_path: Path,
                                                                   start_echo) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    echo = await start_echo(context)
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
    writer.write(b"\x00\x00\x00\x10<message/>......")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the failed handshake
    writer.close()
    assert await connect(echo.port, TrustPolicy(pin=fingerprint)) == fingerprint


async def test_a_silent_client_is_closed_when_the_handshake_times_out(tmp_path: Path,
                                                                     start_echo) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    echo = await start_echo(context, handshake_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)  # says nothing
    assert await connect(echo.port, TrustPolicy(pin=fingerprint)) == fingerprint
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_tls_client_to_a_plain_server_is_named(start_echo) -> None:
    server = await asyncio.start_server(_plain_reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        line = await failure_line(port, TrustPolicy(trust_on_first_use=True))
    finally:
        server.close()
        await server.wait_closed()
    assert line in (f"TLS to {SERVER}: the server does not speak TLS on this port",
                    f"TLS to {SERVER}: {CLOSED_DURING_HANDSHAKE}")


async def _plain_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(10)
    writer.write(b"\x00\x00\x00\x40<message type='response' module='MID_SESSION'><error/>" * 2)
    await writer.drain()
    writer.close()


# ---- pure trust logic ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "ab" * 32,
    "AB" * 32,
    ":".join(["ab"] * 32),
    " " + ":".join(["AB"] * 32) + "\n",
    "SHA256=" + "ab" * 32,
])
def test_fingerprint_forms_normalize_alike(text: str) -> None:
    assert normalize_fingerprint(text) == ":".join(["AB"] * 32)


@pytest.mark.parametrize("text", ["", "ab" * 31, "ab" * 33, "zz" * 32, "ab:" * 31 + "a"])
def test_bad_fingerprints_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        normalize_fingerprint(text)


def test_pin_and_ca_file_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="not both"):
        client_context(TrustPolicy(ca_file="x", pin="AB"))


FP_A = ":".join(["AA"] * 32)
FP_B = ":".join(["BB"] * 32)


@pytest.mark.parametrize(("known", "fingerprint", "verdict"), [
    ({}, FP_A, TofuVerdict.NEW),
    ({"other:9400": FP_A}, FP_A, TofuVerdict.NEW),
    ({SERVER: FP_A}, FP_A, TofuVerdict.KNOWN),
    ({SERVER: FP_A.replace(":", "").lower()}, FP_A, TofuVerdict.KNOWN),
    ({SERVER: FP_A}, FP_B, TofuVerdict.CHANGED),
    ({SERVER: "garbage"}, FP_A, TofuVerdict.CHANGED),
])
def test_tofu_verdicts(known: dict[str, str], fingerprint: str, verdict: TofuVerdict) -> None:
    assert tofu_verdict(known, SERVER, fingerprint) is verdict


def test_accepting_a_changed_certificate_replaces_only_that_server() -> None:
    known = {SERVER: FP_A, "other:9400": FP_A}
    updated = remember(known, SERVER, FP_B.lower())
    assert known[SERVER] == FP_A  # the input is not modified
    assert updated == {SERVER: FP_B, "other:9400": FP_A}
    assert tofu_verdict(updated, SERVER, FP_B) is TofuVerdict.KNOWN
    assert forget(updated, SERVER) == {"other:9400": FP_A}


@pytest.mark.parametrize(("host", "port", "key"), [
    ("LocalHost", 9400, "localhost:9400"),
    ("voice.example.org.", 1, "voice.example.org:1"),
    ("::1", 9400, "[::1]:9400"),
    ("[::1]", 9400, "[::1]:9400"),
])
def test_server_keys(host: str, port: int, key: str) -> None:
    assert server_key(host, port) == key


async def test_tofu_over_a_real_handshake(tmp_path: Path, start_echo) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path / "one"))
    echo = await start_echo(context)
    policy = TrustPolicy(trust_on_first_use=True)
    seen = await connect(echo.port, policy)
    assert tofu_verdict({}, SERVER, seen) is TofuVerdict.NEW
    store = remember({}, SERVER, seen)
    assert tofu_verdict(store, SERVER, await connect(echo.port, policy)) is TofuVerdict.KNOWN
    other_context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path / "two"))
    impostor = await start_echo(other_context)
    assert seen == fingerprint
    assert tofu_verdict(store, SERVER, await connect(impostor.port, policy)) \
        is TofuVerdict.CHANGED


def test_trust_error_is_an_ssl_error() -> None:
    assert isinstance(TrustError("fingerprint mismatch: x"), ssl.SSLError)
