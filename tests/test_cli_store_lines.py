"""``interphone-cli listen`` on a cluster node whose real redis-server is paused and
resumed: it says, on stderr, that the server cannot reach its database and then that it
can again (the node's health notices), between its "heard" lines, and goes on recording."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.redis_fixtures import RedisProcess, redis_server, started_nodes  # noqa: F401
from tests.server_fixtures import ROOT

DOWN = "the server cannot reach its database: joins and turns are refused for now"
UP = "the server reaches its database again"


async def next_line(stream: asyncio.StreamReader, timeout: float = 30.0) -> str:
    line = await asyncio.wait_for(stream.readline(), timeout)
    assert line, "listen ended early"
    return line.decode().rstrip("\n")


async def test_listen_says_when_the_server_loses_and_regains_its_database(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    async with started_nodes(redis_server.url, "a") as nodes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "--server", f"127.0.0.1:{nodes[0].port}",
            "--uid", "bob", "--token", "pw-bob", "listen", "group_58",
            "--wav", str(tmp_path / "heard.wav"), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        try:
            assert (await next_line(proc.stderr)).startswith("listening to group_58")
            redis_server.pause()
            try:
                assert await next_line(proc.stderr) == DOWN
            finally:
                redis_server.resume()
            assert await next_line(proc.stderr) == UP
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0
    assert (tmp_path / "heard.wav").stat().st_size > 44  # recorded through the outage
