"""``interphone-cli`` on a cluster: when its session ends under it (``emergency`` keeping an
emergency raised alone when its node goes away, ``talk`` when another node's reload removes
its user), and ``listen`` when a transmission's audio does not get through (real
redis-server, two nodes, the CLI a real process)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from client_fixtures import noise_bursts

from app.audio.wavio import write_wav
from app.server.directory import Directory
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
    start_node,
)
from tests.server_fixtures import G58, ROOT
from tests.test_cluster_extensions import WITHOUT_BOB_AND_CAROL_OUT_OF_58 as WITHOUT_BOB
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


async def test_emergency_kept_alone_whose_node_goes_away_says_so_and_exits(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """It went on saying nothing, "staying in group_58 to keep the emergency raised", until
    --seconds passed, while its session was gone and the emergency had ended with the
    interphone."""
    async with running_nodes(2, redis_server.url) as nodes:
        first, second = nodes
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "--server",
            f"127.0.0.1:{first.port},127.0.0.1:{second.port}", "--uid", "alice", "--token",
            "pw-alice", "emergency", "group_58", "--seconds", "40", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await wait_until(lambda: G58 in second.state.interphones
                             and second.state.interphones[G58].floor.emergency_by == "alice",
                             15.0, "the emergency raised, seen on the other node")
            await first.stop()  # its node goes away (its clients' connections closed)
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 1, err.decode()
        assert out.decode() == "emergency raised on group_58 by alice\n"
        last = err.decode().splitlines()[-1]
        assert last.startswith("interphone-cli: error: "), last
        assert last.endswith("nobody else was in group_58, so the emergency ends with this "
                             "session (raise it again)"), last


async def test_a_talk_whose_user_another_nodes_reload_removed_says_it_was_kicked(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    """bob talking on one node, removed from the directory by the other node's reload: his
    talk ended with "floor lost after 1.9 s of 30.0 s (revoked by the server or connection
    lost)", not saying that his account was removed."""
    wav = tmp_path / "long.wav"
    write_wav(wav, noise_bursts(20.0))
    async with running_nodes(2, redis_server.url) as nodes:
        first, second = nodes
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{first.port}", "--uid",
            "bob", "--token", "pw-bob", "talk", "group_58", "--wav", str(wav), cwd=ROOT,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await wait_until(lambda: G58 in second.state.interphones
                             and second.state.interphones[G58].holder == "bob",
                             15.0, "bob talking, seen on the other node")
            second.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 1, err.decode()
        last = err.decode().splitlines()[-1]
        assert last.startswith("interphone-cli: error: floor lost after "), last
        assert last.endswith(": session ended (kicked: account_removed)"), last


async def listen_to_a_talk_across(nodes: list, tmp_path: Path) -> list[str]:
    """``listen`` on the second node, a 2 s ``talk`` of bob on the first: listen's stderr."""
    first, second = nodes
    wav = tmp_path / "talk.wav"
    write_wav(wav, noise_bursts(2.0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}

    async def cli(port: int, uid: str, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{port}", "--uid", uid,
            "--token", f"pw-{uid}", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    listen = await cli(second.port, "alice", "listen", "group_58", "--wav",
                       str(tmp_path / "heard.wav"), "--seconds", "8")
    try:
        assert listen.stderr is not None
        line = await asyncio.wait_for(listen.stderr.readline(), 15)
        assert line.startswith(b"listening to group_58"), line
        talk = await cli(first.port, "bob", "talk", "group_58", "--wav", str(wav))
        _, talk_err = await asyncio.wait_for(talk.communicate(), 20)
        assert talk.returncode == 0, talk_err.decode()
        _, err = await asyncio.wait_for(listen.communicate(), 20)
    finally:
        if listen.returncode is None:
            listen.kill()
            await listen.wait()
    return [text.decode() for text in [line, *err.splitlines()]]


NO_AUDIO = "no audio arrived from bob in that transmission"


async def test_listen_says_when_a_transmission_heard_brought_no_audio(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    """Two nodes whose audio the other refuses (another INTERPHONE_CLUSTER_KEY, as UDP
    blocked on the way would): listen printed "heard bob at 1.52 s", the line
    docs/deploy.md's check reads as proof that audio gets through, and nothing more."""
    nodes = [await start_node(redis_server.url, "a", cluster_key=b"one"),
             await start_node(redis_server.url, "b", cluster_key=b"another")]
    try:
        lines = await listen_to_a_talk_across(nodes, tmp_path)
    finally:
        for node in nodes:
            await node.stop()
    assert any(line.startswith("heard bob at ") for line in lines), lines
    assert any(line.startswith(NO_AUDIO) for line in lines), lines


async def test_listen_says_nothing_more_when_the_audio_came(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url) as nodes:
        lines = await listen_to_a_talk_across(nodes, tmp_path)
    assert any(line.startswith("heard bob at ") for line in lines), lines
    assert not any(NO_AUDIO in line for line in lines), lines
