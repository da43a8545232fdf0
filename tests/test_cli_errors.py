"""``interphone-cli``'s one error line when the server cannot be reached or does not
answer: the cause in words, then what to check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from client_fixtures import free_port, running_server
from test_cli_commands import ROOT, cli, finished, start_cli

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
    async with silent_server() as (port, _):
        code, _, err = await cli("--timeout", "1", "sync", port=port)
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: Login: no answer within 1 s from 127.0.0.1:{port} (is it an "
        "Interphone server? a busy one: raise --timeout)"]


async def test_tls_to_a_port_that_never_answers_the_handshake_is_not_a_firewall():
    """With --tls, a port that accepted the connection and never answered the handshake
    was "cannot reach 127.0.0.1:PORT: no answer within 1 s (... a firewall lets TCP
    through ...)", though TCP got through."""
    async with silent_server() as (port, _):
        code, _, err = await cli("--tls", "--timeout", "1", "sync", port=port)
    assert code == 1
    assert err.strip().splitlines() == [
        f"interphone-cli: error: TLS to 127.0.0.1:{port}: the port accepts connections but "
        "did not answer the handshake within 1 s (is it an Interphone server with TLS on, "
        "and not some other program on that port? a busy server or a slow network: raise "
        "--timeout)"]


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


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[int, asyncio.Queue[socket.socket]]]:
    """A port that accepts connections and never answers: its number, and a queue of the
    connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    accepted: asyncio.Queue[socket.socket] = asyncio.Queue()

    async def accept() -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            accepted.put_nowait(conn)

    task = asyncio.create_task(accept())
    try:
        yield listener.getsockname()[1], accepted
    finally:
        task.cancel()
        while not accepted.empty():
            accepted.get_nowait().close()
        listener.close()


@pytest.mark.parametrize("command", [["listen", "group_58", "--wav", "heard.wav"],
                                     ["bot", "group_58"]])
async def test_ctrl_c_while_listen_or_bot_waits_for_the_server_interrupts_them(
        command: list[str], tmp_path):
    """Ctrl-C during the login to a server that does not answer was ignored by `listen`
    and `bot` (it only asks them to end once in their interphone): they waited out
    --timeout, then failed with exit 1."""
    if command[0] == "listen":
        command[-1] = str(tmp_path / "heard.wav")
    async with silent_server() as (port, accepted):
        proc = await start_cli("--timeout", "30", *command, port=port)
        conn = await asyncio.wait_for(accepted.get(), 20)  # it is waiting for the login
        proc.send_signal(signal.SIGINT)
        out, err = await finished(proc, 10)
        conn.close()
    assert (proc.returncode, err.decode()) == (130, "interphone-cli: interrupted\n"), out


async def test_a_list_of_servers_none_reached_says_so():
    """With `--server a,b` both down, the line named only b, as if a had not been tried."""
    first, last = free_port(), free_port()
    code, _, err = await cli("--server", f"127.0.0.1:{first},127.0.0.1:{last}", "sync")
    assert code == 1
    assert err.strip().splitlines() == [
        "interphone-cli: error: none of the 2 servers in --server could be reached; the last: "
        f"cannot reach 127.0.0.1:{last}: Connection refused {REFUSED_HINT}"]


async def test_output_to_a_closed_pipe_or_a_full_disk_is_no_traceback(tmp_path):
    """`interphone-cli members group_58 | true` printed a BrokenPipeError traceback, and
    `> /dev/full` an OSError one."""
    async with running_server() as server:
        for target, expected in (("pipe", ""), ("/dev/full", (
                "interphone-cli: error: cannot write the output: No space left on device\n"))):
            env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
            command = [sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{server.port}",
                       "--uid", "alice", "--token", "pw-alice", "members", "group_58"]
            if target == "pipe":
                read_end, write_end = os.pipe()
                os.close(read_end)  # the reader is gone before anything is written
                stdout = write_end
            else:
                stdout = os.open(target, os.O_WRONLY)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command, cwd=ROOT, env=env, stdout=stdout, stderr=asyncio.subprocess.PIPE)
            finally:
                os.close(stdout)
            _, err = await finished(proc, 20)
            assert (proc.returncode, err.decode()) == (1, expected), target
