"""``interphone-cli emergency`` keeping an emergency raised alone in an interphone when its
node goes away (real redis-server, two nodes, the CLI a real process)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
)
from tests.server_fixtures import G58, ROOT
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
