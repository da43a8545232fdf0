"""The Redis store's URL in what an operator reads: its password never shows."""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("password", ["", "wrong-pw"], ids=["none", "wrong"])
async def test_a_store_that_refuses_the_node_is_a_configuration_error(
        redis_server: RedisProcess, password: str) -> None:  # noqa: F811
    """It said "cannot reach the store" and exited 1, which the unit restarts every 2 s
    for good: a wrong password does not mend itself. Exit 2, saying what was refused."""
    admin = Redis(host="127.0.0.1", port=redis_server.port)
    await admin.config_set("requirepass", SECRET)
    await admin.aclose()
    url = f"redis://:{password}@127.0.0.1:{redis_server.port}/0" if password else \
        f"redis://127.0.0.1:{redis_server.port}/0"
    result = run_cli("--port", "0", "--store", url)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"the store {url.replace(password, '***') if password else url} refused this " \
           f"node: " in last, last
    assert "check the user and password in --store" in last
    assert "cannot reach" not in result.stderr


async def test_a_store_that_starts_refusing_a_running_node_is_named_with_why(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """"store unreachable (URL)" alone, the words of a network fault, when Redis had begun
    refusing the node's password (changed in Redis, not yet on the nodes)."""
    caplog.set_level(logging.INFO)
    first = Redis(host="127.0.0.1", port=redis_server.port)
    await first.config_set("requirepass", SECRET)
    await first.aclose()
    admin = Redis(host="127.0.0.1", port=redis_server.port, password=SECRET)
    node = await start_node(f"redis://:{SECRET}@127.0.0.1:{redis_server.port}/0", "n0")
    try:
        await admin.config_set("requirepass", "another-pw")
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal")  # the node reconnects
        refused: list[str] = []
        for _ in range(100):
            refused = [r.getMessage() for r in caplog.records
                       if r.levelno == logging.WARNING and "unreachable" in r.getMessage()
                       and "username-password" in r.getMessage()]
            if refused:
                break
            await asyncio.sleep(0.05)
        assert refused, [r.getMessage() for r in caplog.records]
        assert SECRET not in refused[0]
        unreachable = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) <= 3, unreachable  # once per kind of error, not per try
    finally:
        await node.stop()
        await admin.aclose()
