"""What a scraper or a load balancer's health check learns from a node of a cluster that
does not serve yet, or no longer as it should: ``interphone_ready`` and ``GET /ready``
(docs/deploy.md, "Metrics"), with real ``interphone-server`` processes and redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from test_server_ops_metrics import samples, scrape

from app.protocol import ErrCode, MembersRequest, Ping
from app.server import InterphoneServer
from tests.cluster_fixtures import until_given_up
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisLink,
    RedisProcess,
    cluster_node,
    free_port,
    redis_server,
    running_nodes,
)
from tests.server_fixtures import FAST, G58, ROOT, TEST_TOML, logged_in, sample_directory
from tests.waiting import end_process

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def node_process(tmp_path: Path, store: str, metrics_port: int
                       ) -> AsyncIterator[subprocess.Popen[bytes]]:
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    env = dict(os.environ, INTERPHONE_NODE_BEAT=str(BEAT), INTERPHONE_NODE_TTL=str(TTL))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--config", str(config), "--port", "0",
         "--store", store, "--node-id", "slow", "--metrics", f"127.0.0.1:{metrics_port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        end_process(process)


async def scrape_when_up(port: int, path: str = "/metrics") -> tuple[str, str]:
    for _ in range(400):
        with contextlib.suppress(OSError):
            return await scrape(port, path)
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing answers on metrics port {port}")


async def ready_until(port: int, expected: float, timeout: float = 10.0) -> dict:
    found: dict = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = samples((await scrape(port))[1])
        if found.get(("interphone_ready", ())) == expected:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"interphone_ready never {expected}: {found}")


async def test_a_node_still_connecting_to_redis_says_it_is_not_ready(
        tmp_path: Path, redis_server: RedisProcess) -> None:  # noqa: F811
    """It answered the scrape with interphone_sessions 0 and nothing else to tell it from an
    empty, healthy node: a load balancer sent clients there, a dashboard showed a drop."""
    held = RedisLink(redis_server.port, hold=True)
    await held.start()
    metrics_port = free_port()
    try:
        async with node_process(tmp_path, held.url, metrics_port) as process:
            head, body = await scrape_when_up(metrics_port)
            await asyncio.wait_for(held.accepted.wait(), 10)  # connecting, unanswered
            found = samples(body)
            assert head.startswith("HTTP/1.0 200")  # the process metrics are served
            assert found[("interphone_ready", ())] == 0
            assert ("interphone_sessions", ()) not in found  # not a wrong 0
            head, body = await scrape(metrics_port, "/ready")
            assert head.startswith("HTTP/1.0 503"), head
            assert body == "not ready: connecting to the store\n"
            held.release()
            found = await ready_until(metrics_port, 1)
            assert found[("interphone_sessions", ())] == 0
            head, body = await scrape(metrics_port, "/ready")
            assert head.startswith("HTTP/1.0 200") and body == "ready\n"
            assert process.poll() is None
    finally:
        await held.close()


async def test_a_node_whose_redis_is_gone_is_not_ready_until_it_is_back(
        redis_server: RedisProcess) -> None:  # noqa: F811
    node = cluster_node(redis_server.url, "node-a", metrics=("127.0.0.1", 0))
    await node.start()
    try:
        assert node.metrics is not None
        port = node.metrics.port
        await ready_until(port, 1)
        alice = await logged_in(node.port, "alice")
        redis_server.stop()
        found = await ready_until(port, 0)
        assert found[("interphone_sessions", ())] == 1  # its sessions stay
        head, body = await scrape(port, "/ready")
        assert head.startswith("HTTP/1.0 503")
        assert body == "not ready: store unreachable: changes refused\n"
        assert (await alice.request(Ping())).ok  # as docs/deploy.md says: pings only
        reply = await alice.request(MembersRequest(G58))
        assert reply.body.code == ErrCode.SERVER_FAULT
        assert "store unavailable" in reply.body.errmsg
        redis_server.start()
        await ready_until(port, 1)
        await alice.close()
    finally:
        await node.stop()


async def test_one_server_is_ready_while_it_serves() -> None:
    server = InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                              metrics=("127.0.0.1", 0))
    assert server.not_ready() == "starting"
    async with server:
        assert server.metrics is not None
        head, body = await scrape(server.metrics.port, "/ready")
        assert head.startswith("HTTP/1.0 200") and body == "ready\n"
        head, _ = await scrape(server.metrics.port, "/ready", "HEAD")
        assert head.startswith("HTTP/1.0 200")
        assert samples((await scrape(server.metrics.port))[1])[("interphone_ready", ())] == 1
    assert server.not_ready() == "stopped"


async def test_a_node_catching_up_with_a_long_log_is_not_ready_until_it_has(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Meanwhile its state is a part of the cluster's: its sessions gauge is left out."""
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        pipe = redis.pipeline(transaction=False)
        for _ in range(20_000):  # (entries a node applies and nothing comes of)
            pipe.xadd("interphone:log", {"e": '{"t":"read","sid":0}'})
        await pipe.execute()
    finally:
        await redis.aclose()
    node = cluster_node(redis_server.url, "late", metrics=("127.0.0.1", 0))
    await node.start()
    try:
        assert node.metrics is not None
        assert node.not_ready() == "catching up with the shared log"
        found = samples((await scrape(node.metrics.port))[1])
        assert found[("interphone_ready", ())] == 0
        assert ("interphone_sessions", ()) not in found
        found = await ready_until(node.metrics.port, 1, timeout=30)
        assert found[("interphone_sessions", ())] == 0
        assert node.store is not None and node.store.applied >= 20_000
    finally:
        await node.stop()


async def test_a_node_the_others_gave_up_is_not_ready(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """(interphone-server exits then; a program that embeds the server learns it here.)"""
    caplog.set_level(logging.INFO)
    link = RedisLink(redis_server.port)
    await link.start()
    cut = cluster_node(link.url, "cut", metrics=("127.0.0.1", 0))
    try:
        async with running_nodes(1, redis_server.url):
            await cut.start()
            assert cut.store is not None and cut.metrics is not None
            await ready_until(cut.metrics.port, 1)
            link.sever()
            await until_given_up(caplog, "cut")
            link.mend()
            await asyncio.wait_for(cut.store.given_up.wait(), 10)
            head, body = await scrape(cut.metrics.port, "/ready")
            assert head.startswith("HTTP/1.0 503")
            assert body == "not ready: given up by the other nodes: start it again\n"
    finally:
        await cut.stop()
        await link.close()
