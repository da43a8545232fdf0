"""The ``python -m app.server`` command line, run as a subprocess (and its ``serve()``)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import TEST_TOML, RawClient, sample_directory, start_server_process
from waiting import free_port

from app.server.__main__ import serve
from app.server.redis_store import RedisStore

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.server", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_bad_config_names_the_line_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(TEST_TOML.replace('members = ["alice", "bob", "carol"]',
                                        'members = ["alice", "zed"]'))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "zed" in text)
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert f"line {line}" in result.stderr and "unknown member 'zed'" in result.stderr
    assert "Traceback" not in result.stderr


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[server]\nauth = 'open'\nmax_talk = = 3\n")
    result = run_cli("--config", str(config))
    assert result.returncode == 2 and "line 3" in result.stderr


def test_a_self_signed_certificate_that_cannot_be_made_is_said_in_words(tmp_path: Path) -> None:
    """--tls-self-signed into a place no directory can be made said only "TLS: [Errno 20]
    Not a directory: '...'", neither what was being done nor where."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("--tls-self-signed", str(blocker / "certs"), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: TLS: cannot make a self-signed certificate in "
        f"{blocker / 'certs'}: Not a directory")
    assert "Traceback" not in result.stderr


def test_a_self_signed_folder_that_cannot_even_be_looked_at_is_said_in_words(
        tmp_path: Path) -> None:
    """Looking for an existing pair failed before any folder was made (a folder the service
    user may not search, a name too long) and said only "TLS: [Errno 36] File name too long:
    '...'"."""
    folder = tmp_path / ("x" * 300) / "tls"
    result = run_cli("--tls-self-signed", str(folder), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: TLS: cannot make a self-signed certificate in {folder}: "
        f"File name too long")
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr


def test_a_key_is_not_left_alone_when_its_certificate_cannot_be_written(
        tmp_path: Path) -> None:
    """The key was written, the certificate not (here a folder in its place): the lone key
    made every later start refuse with "server.key exists without its pair"."""
    folder = tmp_path / "tls"
    (folder / "server.crt.tmp").mkdir(parents=True)
    result = run_cli("--tls-self-signed", str(folder), "--port", "0")
    assert result.returncode == 2
    assert "cannot make a self-signed certificate in" in result.stderr
    assert not (folder / "server.key").exists()


def test_a_store_url_the_redis_client_cannot_read_is_a_usage_error() -> None:
    """``redis://[::1`` or a port out of range passed the prefix check and ended in a
    traceback (ValueError from the Redis client) and exit 1, retried by the unit."""
    for url, problem in (("redis://[::1", "Invalid IPv6 URL"),
                         ("redis://redis.example:99999", "Port out of range 0-65535")):
        result = run_cli("--store", url, "--port", "0")
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            f"interphone-server: error: --store {url}: {problem}")
        assert "Traceback" not in result.stderr


def test_a_heartbeat_that_is_not_a_number_is_a_bad_configuration() -> None:
    result = subprocess.run([sys.executable, "-m", "app.server", "--port", "0", "--store",
                             "redis://127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True,
                            timeout=30, env={**os.environ, "INTERPHONE_NODE_TTL": "3s"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "interphone-server: bad configuration: INTERPHONE_NODE_TTL='3s' is not a number of "
        "seconds")
    assert "Traceback" not in result.stderr


def test_hash_token_prints_a_usable_hash() -> None:
    result = run_cli("--hash-token", stdin="s3cret\n")
    assert result.returncode == 0
    assert re.fullmatch(r"pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]{64}\n", result.stdout)


def test_hash_token_refuses_an_empty_token() -> None:
    """An empty line (or no input) was hashed: a user given that hash logs in with an
    empty token."""
    for stdin in ("\n", ""):
        result = run_cli("--hash-token", stdin=stdin)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr == "interphone-server: --hash-token: the token is empty\n"




async def _finish(process: asyncio.subprocess.Process, lines: list[str]) -> tuple[int, str]:
    _, err = await asyncio.wait_for(process.communicate(), 10)
    return process.returncode or 0, "".join(lines) + err.decode()


async def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "ok.toml"
    config.write_text(TEST_TOML)
    process, port, lines = await start_server_process("--config", str(config))
    client = await RawClient.connect(port)
    await client.login("alice")
    process.send_signal(signal.SIGTERM)
    assert await client.closed_by_server(timeout=5)
    code, log = await _finish(process, lines)
    await client.close()
    assert code == 0, log
    assert "Traceback" not in log
    assert "login uid=alice" in log and "logout uid=alice" in log


async def test_demo_mode_says_so_and_stops_on_sigint() -> None:
    process, port, lines = await start_server_process()
    client = await RawClient.connect(port)
    await client.login("anybody", "anything")
    process.send_signal(signal.SIGINT)
    code, log = await _finish(process, lines)
    await client.close()
    assert code == 0, log
    assert "demo directory in open mode" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("cause", ["store unreachable", "port taken"])
async def test_a_server_that_cannot_start_takes_its_signal_handlers_back(cause: str) -> None:
    """``serve()`` installs its SIGINT, SIGTERM and SIGHUP handlers first; one whose store
    could not be reached left them on the loop, where Ctrl-C then only set an event that
    nobody waited for."""
    loop = asyncio.get_running_loop()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if cause == "store unreachable":
            code = await serve(sample_directory(), ["127.0.0.1"], 0,
                               store=RedisStore(f"redis://127.0.0.1:{free_port()}/0", "n0"))
        else:
            code = await serve(sample_directory(), ["127.0.0.1"], taken.getsockname()[1])
    assert code == 1
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        assert not loop.remove_signal_handler(sig), sig.name
