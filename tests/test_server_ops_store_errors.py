"""The Redis store's URL in what an operator reads: its password never shows."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from tests.redis_fixtures import RedisProcess, free_port, redis_server, start_node  # noqa: F401
from tests.test_server_cli import run_cli

SECRET = "s3cret-store-pw"


def test_an_unreachable_store_is_named_without_its_password() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    result = run_cli("--port", "0", "--store", url)
    assert result.returncode == 1
    assert "cannot reach the store redis://:***@127.0.0.1:" in result.stderr, result.stderr
    assert SECRET not in result.stderr


async def test_a_node_names_its_store_without_the_password(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    admin = Redis(host="127.0.0.1", port=redis_server.port)
    await admin.config_set("requirepass", SECRET)
    await admin.aclose()
    node = await start_node(f"redis://:{SECRET}@127.0.0.1:{redis_server.port}/0", "n0")
    try:
        lines = [r.getMessage() for r in caplog.records]
        assert any("of the store redis://:***@127.0.0.1:" in line for line in lines), lines
        assert not [line for line in lines if SECRET in line]
    finally:
        await node.stop()
