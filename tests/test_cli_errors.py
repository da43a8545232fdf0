"""``interphone-cli``'s one error line when the server cannot be reached or does not
answer: the cause in words, then what to check."""

from __future__ import annotations

import asyncio
import socket

from client_fixtures import free_port
from test_cli_commands import cli

REFUSED_HINT = ("(nothing listens there: check the address and port in --server, and that "
                "interphone-server runs)")


async def test_tls_to_a_closed_port_says_connection_refused():
    """With --tls it said "cannot connect to 127.0.0.1:PORT: Connect call failed
    ('127.0.0.1', PORT)", asyncio's words, where the plain client said "Connection
    refused"."""
    port = free_port()
    code, out, err = await cli("--tls", "sync", port=port)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"interphone-cli: error: cannot connect to 127.0.0.1:{port}: Connection refused"), err


async def test_a_closed_port_says_what_to_check():
    """"cannot reach 127.0.0.1:PORT: Connection refused" said what happened, not what to
    do about it."""
    port = free_port()
    code, _, err = await cli("sync", port=port)
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: cannot reach 127.0.0.1:{port}: Connection refused "
        f"{REFUSED_HINT}"]


async def test_an_unknown_host_says_to_check_the_name():
    code, _, err = await cli("--server", "nosuch.invalid:9400", "sync", timeout=30)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "interphone-cli: error: cannot reach nosuch.invalid:9400: "), err
    assert lines[0].endswith(" (check the host name in --server)"), err


async def test_a_silent_server_names_itself_and_the_timeout():
    """A port that accepts and never answers said "Login: no answer within 1 s": neither
    which server nor what to try."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    async def accept() -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        while True:
            conn, _ = await loop.sock_accept(listener)
            accepted.append(conn)  # held open, never answered

    acceptor = asyncio.create_task(accept())
    try:
        code, _, err = await cli("--timeout", "1", "sync", port=port)
    finally:
        acceptor.cancel()
        for conn in accepted:
            conn.close()
        listener.close()
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: Login: no answer within 1 s from 127.0.0.1:{port} (is it an "
        "Interphone server? a busy one: raise --timeout)"]


async def test_a_ca_file_that_is_no_certificate_says_what_to_give(tmp_path):
    """It said "--ca-file F: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl
    found (_ssl.c:4154)", OpenSSL's words and a C source line."""
    not_pem = tmp_path / "directory.toml"
    not_pem.write_text("[server]\n")
    code, out, err = await cli("--tls", "--ca-file", str(not_pem), "sync", port=free_port())
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"interphone-cli: error: --ca-file {not_pem}: no CA certificate in it (give the CA's "
        "certificate in PEM, the file with -----BEGIN CERTIFICATE-----)"]


async def test_a_missing_ca_file_says_so_in_words(tmp_path):
    """It said "--ca-file F: [Errno 2] No such file or directory"."""
    missing = tmp_path / "ca.crt"
    code, _, err = await cli("--tls", "--ca-file", str(missing), "sync", port=free_port())
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: --ca-file {missing}: cannot read it (No such file or "
        "directory)"]
