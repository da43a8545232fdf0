"""interphone-server given a certificate or key it cannot use: one line saying which and why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from app.server.tls import ensure_self_signed

ROOT = Path(__file__).resolve().parent.parent


def serve_tls(cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
    """The server, without a terminal (as under a service manager)."""
    return subprocess.run(
        [sys.executable, "-m", "app.server", "--port", "0", "--tls-cert", str(cert),
         "--tls-key", str(key)], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=30, start_new_session=True)


def test_an_encrypted_key_is_named_with_what_to_do(tmp_path: Path) -> None:
    cert, key = ensure_self_signed(tmp_path)
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase")))
    result = serve_tls(cert, encrypted)
    assert result.returncode == 2
    assert f"{encrypted} is encrypted with a pass phrase" in result.stderr, result.stderr
    assert "openssl pkey" in result.stderr
    assert "Enter PEM pass phrase" not in result.stderr + result.stdout


def test_a_key_given_as_the_certificate_is_named(tmp_path: Path) -> None:
    _, key = ensure_self_signed(tmp_path)
    result = serve_tls(key, key)
    assert result.returncode == 2
    assert f"{key}: not a PEM certificate" in result.stderr, result.stderr
    assert "None" not in result.stderr


def test_a_file_that_is_not_a_key_is_named(tmp_path: Path) -> None:
    cert, _ = ensure_self_signed(tmp_path)
    junk = tmp_path / "junk.key"
    junk.write_text("not a key\n")
    result = serve_tls(cert, junk)
    assert result.returncode == 2
    assert f"{junk}: not a PEM private key" in result.stderr, result.stderr


def _damaged(path: Path, out: Path) -> Path:
    """``path``'s PEM block with its base64 cut short, headers intact (a bad copy)."""
    lines = path.read_text().splitlines()
    out.write_text("\n".join([lines[0], lines[1][:20], lines[-1]]) + "\n")
    return out


def test_a_damaged_certificate_or_key_is_named_not_none(tmp_path: Path) -> None:
    """OpenSSL says only "PEM lib" (reason None): the line read "...: not a usable PEM
    certificate and key (None)", naming neither file nor the problem."""
    cert, key = ensure_self_signed(tmp_path)
    bad_cert = _damaged(cert, tmp_path / "cut.crt")
    result = serve_tls(bad_cert, key)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: TLS: {bad_cert}: its PEM certificate cannot be decoded "
        f"(a damaged or cut copy?)")
    bad_key = _damaged(key, tmp_path / "cut.key")
    result = serve_tls(cert, bad_key)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: TLS: {bad_key}: its PEM private key cannot be decoded "
        f"(a damaged or cut copy?)")
