"""Attacks on a real ``interphone-server`` process on 127.0.0.1, each with the defence that
holds it (docs/security.md, "Attacks tried against the real server")."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

from server_fixtures import TEST_TOML, RawClient, start_server_process

from app.client.trust import TrustPolicy, client_context


def _fingerprint(lines: list[str]) -> str:
    for line in lines:
        match = re.search(r"fingerprint ([0-9A-F:]{95})", line)
        if match:
            return match.group(1)
    raise AssertionError("no fingerprint logged: " + "".join(lines))


Served = tuple[int, list[str], asyncio.subprocess.Process]
"""The port, the log lines until it served, the process."""


@contextlib.asynccontextmanager
async def server_process(tmp_path: Path, settings: str = "", *args: str) -> AsyncIterator[Served]:
    config = tmp_path / "dir.toml"
    config.write_text(TEST_TOML.replace("[server]\n", "[server]\n" + settings, 1))
    process, port, lines = await start_server_process("--config", str(config), *args)
    try:
        yield port, lines, process
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 10)


def _still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


async def test_unfinished_tls_handshakes_are_limited_per_address(tmp_path: Path) -> None:
    """Connections to the TLS port that never finish their handshake (nothing sent, or a
    ClientHello cut short) were held for the whole handshake timeout, any number from one
    address: the per-address limit of connections before login did not see them, as they
    were not sessions yet. Now they count against it from the accept."""
    async with server_process(tmp_path, "max_unauthenticated_per_address = 4\n"
                              "media_encryption = 'optional'\n",
                              "--tls-self-signed", str(tmp_path / "tls")) as (port, lines, _):
        stalled = []
        for index in range(40):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            if index % 2:
                with contextlib.suppress(OSError):  # (one refused may be reset already)
                    sock.send(b"\x16\x03\x01")  # a record header, then nothing
            stalled.append(sock)
        await asyncio.sleep(1.0)  # well within the 10 s handshake timeout
        assert sum(_still_open(sock) for sock in stalled) == 4
        for sock in stalled:
            sock.close()
        await asyncio.sleep(0.3)
        context: ssl.SSLContext = client_context(TrustPolicy(pin=_fingerprint(lines)))
        alice = await RawClient.connect(port, tls=context)  # the slots were given back
        await alice.login("alice", "pw-alice")
        await alice.close()
