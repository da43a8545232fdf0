"""What an operator reads in the log of a node of a cluster (real redis-server)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from tests.test_cluster import connect_when_up, doomed_node_beside_one

pytestmark = pytest.mark.timeout(60)


async def test_a_node_that_stops_beating_is_named_plainly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with doomed_node_beside_one(tmp_path) as (port, process, _nodes):
        await (await connect_when_up(port, "alice")).close()
        process.send_signal(signal.SIGKILL)
        process.wait()
        for _ in range(200):
            lines = [r.getMessage() for r in caplog.records if "stopped beating" in r.getMessage()]
            if lines:
                break
            await asyncio.sleep(0.05)
        assert lines, "no node death logged"
        # its name and relay address, not the store's raw record
        assert f"(doomed, relay 127.0.0.1:{port})" in lines[0], lines[0]
        assert "{" not in lines[0], lines[0]
