"""``interphone-cli --tls`` against ``interphone-server --tls-self-signed``: real processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from client_fixtures import CLIENT_TOML, best_lag, noise_bursts
from server_fixtures import logged_fingerprint, start_server_process, stop_server_process
from test_cli_commands import cli
from test_cli_commands import start_cli as cli_process

from app.audio.wavio import read_wav, write_wav


class TlsServer:
    def __init__(self, process: asyncio.subprocess.Process, port: int, fingerprint: str,
                 log: list[str]) -> None:
        self.process, self.port, self.fingerprint, self.log = process, port, fingerprint, log


async def start_server(tmp_path: Path, mode: str) -> TlsServer:
    config = tmp_path / "dir.toml"
    config.write_text(CLIENT_TOML.replace("[server]\n",
                                          f"[server]\nmedia_encryption = '{mode}'\n", 1))
    process, port, lines = await start_server_process(
        "--config", str(config), "--tls-self-signed", str(tmp_path / "tls"))
    return TlsServer(process, port, logged_fingerprint(lines), lines)


@pytest.fixture
async def optional_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    server = await start_server(tmp_path, "optional")
    yield server
    await stop_server_process(server.process)


async def start_cli(port: int, uid: str, *args: str) -> asyncio.subprocess.Process:
    """``interphone-cli --server 127.0.0.1:PORT ARGS`` as ``uid``, started."""
    return await cli_process(*args, port=port, uid=uid)


async def run_cli(port: int, uid: str, *args: str) -> tuple[int, str, str]:
    """The same, run to its end: its exit code, standard output and error."""
    return await cli(*args, port=port, uid=uid, timeout=30)


async def test_sync_with_the_pinned_fingerprint(optional_server: TlsServer) -> None:
    code, out, err = await run_cli(optional_server.port, "alice", "--tls", "--tls-fingerprint",
                                   optional_server.fingerprint.replace(":", "").lower(), "sync")
    assert code == 0, err
    assert out.strip().startswith("[")


@pytest.mark.parametrize(("args", "problem"), [
    (["--tls", "--tls-fingerprint", "AB" * 32], "fingerprint mismatch"),
    (["--tls"], "unknown issuer"),
    ([], "the server may require TLS): try --tls"),  # plain text to a TLS port
])
async def test_failures_are_one_line_and_exit_1(optional_server: TlsServer, args: list[str],
                                                problem: str) -> None:
    code, _, err = await run_cli(optional_server.port, "alice", "--timeout", "3", *args, "sync")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and problem in err, err
    assert "Traceback" not in err


async def test_ca_file_with_the_self_signed_certificate_and_a_wrong_name(
        optional_server: TlsServer, tmp_path: Path) -> None:
    crt = str(tmp_path / "tls" / "server.crt")
    code, _, err = await run_cli(optional_server.port, "alice", "--tls", "--ca-file", crt, "sync")
    assert code == 0, err  # 127.0.0.1 is in the certificate's names


async def test_tls_options_need_tls_and_a_valid_fingerprint() -> None:
    for args in (["--tls-fingerprint", "AB" * 32], ["--tls", "--tls-fingerprint", "xyz"]):
        code, _, err = await run_cli(9, "alice", *args, "sync")
        assert code == 2, err


@pytest.fixture
async def required_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    server = await start_server(tmp_path, "required")
    yield server
    await stop_server_process(server.process)


async def test_talk_to_listen_over_tls_with_encrypted_voice(required_server: TlsServer,
                                                            tmp_path: Path) -> None:
    """media_encryption = "required": the server relays only sealed audio, so what the
    listener hears went through AES-GCM end to end."""
    await test_talk_to_listen_over_tls(required_server, tmp_path)
    log = "".join(required_server.log)
    assert "TLS on" in log


async def test_talk_to_listen_over_tls(optional_server: TlsServer, tmp_path: Path) -> None:
    signal_in = noise_bursts(1.0, seed=4)
    source, heard_wav = tmp_path / "say.wav", tmp_path / "heard.wav"
    write_wav(source, signal_in)
    pin = ["--tls", "--tls-fingerprint", optional_server.fingerprint]
    listener = await start_cli(optional_server.port, "bob", *pin, "listen", "group_58",
                               "--wav", str(heard_wav), "--seconds", "4")
    await asyncio.sleep(1.5)
    code, _, err = await run_cli(optional_server.port, "alice", *pin, "talk", "group_58",
                                 "--wav", str(source))
    assert code == 0, err
    _, err = await asyncio.wait_for(listener.communicate(), 20)
    assert listener.returncode == 0, err.decode()
    lag, corr = best_lag(signal_in, read_wav(heard_wav))
    assert corr > 0.4, (corr, lag)
