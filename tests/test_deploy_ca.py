"""docs/deploy.md, "TLS with your own CA (openssl)", run as written: openssl makes the CA
and the server's certificate, ``interphone-server`` serves it, ``interphone-cli`` checks it
with ``--ca-file``; a renewed certificate; the CLI's words for the wrong CA and a name the
certificate does not hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from client_fixtures import CLIENT_TOML
from server_fixtures import (
    logged_fingerprint,
    loopback_alias_works,
    start_server_process,
    stop_server_process,
)
from test_cli_commands import cli

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## TLS with your own CA (openssl)"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


def doc_blocks() -> list[str]:
    """The section's ```bash blocks, in order."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def run_block(block: str, folder: Path) -> None:
    subprocess.run(["bash", "-euc", block], cwd=folder, check=True, capture_output=True,
                   timeout=60)


def make_ca(folder: Path) -> None:
    run_block(doc_blocks()[0], folder)


def make_server_certificate(folder: Path) -> None:
    """The doc's second block, for the names the tests connect to."""
    block, count = re.subn(r'^SAN=.*$', 'SAN="DNS:localhost,IP:127.0.0.1"', doc_blocks()[1],
                           flags=re.M)
    assert count == 1, block
    run_block(block, folder)


def test_the_doc_has_the_blocks_the_tests_run():
    blocks = doc_blocks()
    assert len(blocks) == 3
    assert "--tls-cert server.crt --tls-key server.key" in blocks[2]
    assert "--tls --ca-file ca.crt" in blocks[2]


async def test_the_docs_ca_and_certificate_serve_and_renew(tmp_path: Path):
    make_ca(tmp_path)
    make_server_certificate(tmp_path)
    config = tmp_path / "directory.toml"
    config.write_text(CLIENT_TOML)
    tls = ["--tls-cert", str(tmp_path / "server.crt"), "--tls-key", str(tmp_path / "server.key")]
    process, port, lines = await start_server_process("--config", str(config), *tls)
    try:
        old_fingerprint = logged_fingerprint(lines)
        for name in ("localhost", "127.0.0.1"):
            code, out, err = await cli("--server", f"{name}:{port}", "--tls", "--ca-file",
                                       str(tmp_path / "ca.crt"), "sync", timeout=30)
            assert (code, out.strip(), err) == (0, "[]", "")
    finally:
        await stop_server_process(process)

    make_server_certificate(tmp_path)  # the renewal: a new key and certificate, same names
    process, port, lines = await start_server_process("--config", str(config), *tls)
    try:
        assert logged_fingerprint(lines) != old_fingerprint
        code, _, err = await cli("--server", f"localhost:{port}", "--tls", "--ca-file",
                                 str(tmp_path / "ca.crt"), "sync", timeout=30)
        assert code == 0, err
        code, _, err = await cli("--server", f"localhost:{port}", "--tls",
                                 "--tls-fingerprint", old_fingerprint, "sync", timeout=30)
        assert code == 1
        assert err.strip().splitlines() == [
            f"interphone-cli: error: TLS to localhost:{port}: fingerprint mismatch: the server "
            f"presented {logged_fingerprint(lines)} (not the certificate pinned with "
            "--tls-fingerprint: if the server's was renewed, pin the fingerprint it logs at "
            "start; if not, another machine may be answering at that address)"]
    finally:
        await stop_server_process(process)


@pytest.fixture
async def ca_server(tmp_path: Path):
    """A server on 127.0.0.2 (when it can be bound) with the doc's certificate, which
    names localhost and 127.0.0.1."""
    if not loopback_alias_works():
        pytest.skip("127.0.0.2 cannot be bound here")
    make_ca(tmp_path)
    make_server_certificate(tmp_path)
    config = tmp_path / "directory.toml"
    config.write_text(CLIENT_TOML)
    process, port, _ = await start_server_process(
        "--config", str(config), "--host", "127.0.0.2", "--tls-cert",
        str(tmp_path / "server.crt"), "--tls-key", str(tmp_path / "server.key"))
    yield port
    await stop_server_process(process)


async def test_a_name_the_certificate_does_not_hold_says_what_to_do(ca_server: int,
                                                                    tmp_path: Path):
    """It said "name mismatch (IP address mismatch, ...)" and no more."""
    code, _, err = await cli("--server", f"127.0.0.2:{ca_server}", "--tls", "--ca-file",
                             str(tmp_path / "ca.crt"), "sync", timeout=30)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"interphone-cli: error: TLS to 127.0.0.2:{ca_server}: name mismatch ("), err
    assert lines[0].endswith(": give --server a name the certificate names (its "
                             "subjectAltName), or pin the certificate with "
                             "--tls-fingerprint"), err


async def test_another_ca_file_is_named_as_the_wrong_ca(ca_server: int, tmp_path: Path):
    """With --ca-file given, "unknown issuer (...); use --ca-file or --tls-fingerprint"
    told the user to do what they had just done."""
    other = tmp_path / "other"
    other.mkdir()
    make_ca(other)
    code, _, err = await cli("--server", f"127.0.0.2:{ca_server}", "--tls", "--ca-file",
                             str(other / "ca.crt"), "sync", timeout=30)
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: TLS to 127.0.0.2:{ca_server}: unknown issuer (unable to get "
        f"local issuer certificate): --ca-file {other / 'ca.crt'} is not the CA that signed "
        "the server's certificate (or the server does not send the intermediate certificates "
        "with its own)"]


def expired_pair(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 that expired yesterday."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem_key = folder / "expired.crt", folder / "expired.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return crt, pem_key


async def test_an_expired_certificate_says_what_to_do(tmp_path: Path):
    """It said "certificate expired" and no more."""
    crt, key = expired_pair(tmp_path)
    config = tmp_path / "directory.toml"
    config.write_text(CLIENT_TOML)
    process, port, lines = await start_server_process("--config", str(config), "--tls-cert",
                                                      str(crt), "--tls-key", str(key))
    try:
        code, _, err = await cli("--server", f"127.0.0.1:{port}", "--tls", "--ca-file",
                                 str(crt), "sync", timeout=30)
        pinned = await cli("--server", f"127.0.0.1:{port}", "--tls", "--tls-fingerprint",
                           logged_fingerprint(lines), "sync", timeout=30)
        assert pinned[0] == 0, pinned  # as the hint says
    finally:
        await stop_server_process(process)
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: TLS to 127.0.0.1:{port}: certificate expired (its operator "
        "must renew it and restart the server; meanwhile --tls-fingerprint pins it whatever "
        "its dates)"]
