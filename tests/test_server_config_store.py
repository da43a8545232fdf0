"""``interphone-server --store URL`` and the options of a node of several."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import start_server_process, stop_server_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("url", "shown"), [("redis://127.0.0.1:9/x", "x"),
                                            ("redis://127.0.0.1:9/1/2", "1/2")])
def test_a_database_that_is_not_a_number_is_a_usage_error(url: str, shown: str) -> None:
    """The Redis client read "/x" as database 0 and "/1/2" as 12, so the node went on with
    a database nobody wrote (its exit was 1, "cannot reach the store", here with port 9)."""
    result = subprocess.run([sys.executable, "-m", "app.server", "--port", "0", "--store", url],
                            cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: error: --store {url}: the database after the port must be a "
        f"number (redis://HOST:PORT/0), not {shown!r}")


async def test_node_options_without_a_store_are_said_to_be_ignored() -> None:
    """``--node-address`` or ``--node-id`` without ``--store`` were ignored without a word:
    the operator believed the node configured."""
    process, _, lines = await start_server_process("--node-address", "192.0.2.1",
                                                   "--node-id", "a")
    await stop_server_process(process)
    assert any("WARNING app.server: --node-id and --node-address are for a node of several "
               "(with --store): ignored" in line for line in lines), lines
