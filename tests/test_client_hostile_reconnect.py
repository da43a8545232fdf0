"""The client against a hostile server over real sockets (tests/hostile_server.py):
servers that close at once or right after each login, and what a user of interphone-cli
sees of a hostile server. No tight reconnect loop, a clear line, no traceback."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from hostile_server import G58, HostileServer, Peer, client_for, frame_of

from app.client import ConnectionLost
from app.client.events import ConnectionState
from app.protocol import (
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Message,
    Ping,
    SyncRequest,
    SyncResult,
)

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent


# ---- servers that close -----------------------------------------------------------------------


async def test_a_server_that_accepts_and_closes_at_once_is_one_clear_error() -> None:
    async with HostileServer() as server:
        server.on_accept = lambda peer: peer.close()
        client = client_for(server)
        began = time.monotonic()
        with pytest.raises(ConnectionLost, match="closed"):
            await client.connect()
        assert time.monotonic() - began < 3
        assert client.state is ConnectionState.DISCONNECTED
        await client.close()


@pytest.mark.parametrize("when", ["accept", "login", "sync", "join", "connected"])
async def test_a_server_that_closes_after_each_login_meets_a_growing_backoff(
        when: str) -> None:
    """Each new connection is closed at once, or right after its login, its sync, its
    re-join (the client is never told it is connected, nor left stuck as connected), or
    a moment after the client is connected again: the attempts come ever further apart,
    not at the back-off's first step each time."""
    async with HostileServer() as server:
        client = client_for(server, backoff=(0.2, 5.0))
        await client.connect()
        await client.join(G58)

        def close_after(peer: Peer, request: Message) -> None:
            peer.close()

        def sync_then_close(peer: Peer, request: Message) -> None:
            peer.respond(request, SyncResult(()))
            peer.close()

        def join_then_close(peer: Peer, request: Message) -> None:
            peer.respond(request, JoinResult(InterphoneInfo.of(G58, "alice", ["alice"])))
            peer.close()

        def join_then_close_soon(peer: Peer, request: Message) -> None:
            peer.respond(request, JoinResult(InterphoneInfo.of(G58, "alice", ["alice"])))
            asyncio.get_running_loop().call_later(0.3, peer.close)

        if when == "accept":
            server.on_accept = lambda peer: peer.close()
        elif when == "login":
            server.after_login = close_after
        elif when == "sync":
            server.on[SyncRequest] = sync_then_close
        elif when == "join":
            server.on[JoinRequest] = join_then_close
        else:  # the client is connected again for a moment each time
            server.on[JoinRequest] = join_then_close_soon
        began = time.monotonic()
        server.peer.close()
        await asyncio.sleep(5)
        attempts = [t for t in server.accepted_at if t > began]
        assert 3 <= len(attempts) <= 6, (len(attempts), client.state, client._conn)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[-1] > gaps[0]
        assert client.state is ConnectionState.RECONNECTING or (
            when == "connected" and client.state is ConnectionState.CONNECTED)
        await client.close()


# ---- what a user of interphone-cli sees ------------------------------------------------------


async def run_cli(port: int, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
    env.update(INTERPHONE_UID="alice", INTERPHONE_TOKEN="x")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{port}", *args, cwd=ROOT,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_the_cli_names_an_unreadable_login_answer_in_one_line() -> None:
    async with HostileServer() as server:
        server.login = lambda login: frame_of(
            "<message type='response' seq='1' module='MID_SESSION'>"
            f"<login uid='alice' udp_port='{server.udp_port}' keepalive='-5'/></message>")
        proc = await run_cli(server.port, "sync")
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 1 and out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.decode(), lines
    assert lines[0].startswith("interphone-cli: error: ") and "keepalive='-5'" in lines[0]


async def test_the_cli_says_why_the_connection_was_lost_and_comes_back(tmp_path: Path) -> None:
    """``listen`` on a server that stops answering pings after the join: stderr says the
    ping went unanswered (not only "connection lost"), then that it is back."""
    async with HostileServer(keepalive=1) as server:

        def first_session_deaf(peer: Peer, request: Message) -> None:
            if peer is not server.peers[0]:
                peer.respond(request, Ping())

        server.on[Ping] = first_session_deaf
        proc = await run_cli(server.port, "listen", "group_58", "--wav",
                             str(tmp_path / "heard.wav"))
        assert proc.stderr is not None
        said: list[str] = []
        try:
            while not said or not said[-1].startswith("reconnected"):
                line = await asyncio.wait_for(proc.stderr.readline(), 15)
                assert line, said
                said.append(line.decode().rstrip("\n"))
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert said[1] == "connection lost: ping not answered within 2 s: reconnecting", said
    assert said[2] == "reconnected: back in group_58"
    assert "Traceback" not in err.decode() and proc.returncode == 0
