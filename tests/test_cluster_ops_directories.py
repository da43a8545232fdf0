"""Nodes of one cluster started with different directory files (one not copied, one not
reloaded): the operator is told in the log and the metrics (real redis-server)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_server_ops_metrics import samples, scrape

from app.server import InterphoneServer
from app.server.directory import Directory
from app.server.redis_store import RedisStore
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisProcess,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import FAST, G58, logged_in, sample_directory
from tests.test_cluster_extensions import WITHOUT_BOB_AND_CAROL_OUT_OF_58 as WITHOUT_BOB
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

GRACE = 0.5


def node(url: str, name: str, directory: Directory) -> InterphoneServer:
    store = RedisStore(url, name, beat=BEAT, ttl=TTL, directory_grace=GRACE)
    return InterphoneServer(directory, host="127.0.0.1", port=0, settings=FAST, store=store,
                            metrics=("127.0.0.1", 0))


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def others(server: InterphoneServer) -> float:
    assert server.metrics is not None
    _, body = await scrape(server.metrics.port)
    return samples(body)[("interphone_nodes_with_another_directory", ())]


async def test_a_node_serving_another_directory_file_is_named_in_the_log_and_metrics(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """A node started with the old file (bob still in it) let bob, removed everywhere
    else, log in and talk to everyone, and nothing in any log or metric said so."""
    caplog.set_level(logging.INFO)
    current = node(redis_server.url, "current",
                   Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
    stale = node(redis_server.url, "stale", sample_directory())
    await current.start()
    await stale.start()
    try:
        assert current.store is not None and stale.store is not None
        bob = await logged_in(stale.port, "bob")  # what the stale node lets in
        await bob.join(G58)
        await wait_until(lambda: messages(caplog, "serves another directory"), 10.0,
                         "a warning about the other directory")
        await asyncio.sleep(5 * BEAT)  # (said once, not at every heartbeat)
        warned = messages(caplog, "serves another directory")
        assert len(warned) == 2, warned  # each node about the other
        number = stale.store.node
        line = next(w for w in warned if w.startswith(f"node {number} (stale, relay"))
        assert "give every node the same directory file and reload it (SIGHUP)" in line
        assert await others(current) == 1 and await others(stale) == 1
        stale.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
        await wait_until(lambda: len(messages(caplog, "the same directory as this node "
                                              "again")) == 2, 10.0, "both agree again")
        assert await others(current) == 0 and await others(stale) == 0
        assert await bob.closed_by_server(5.0)  # the reload kicked him
    finally:
        await stale.stop()
        await current.stop()


async def test_nodes_reloaded_one_after_the_other_within_the_grace_are_not_warned_of(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    first = node(redis_server.url, "first", sample_directory())
    second = node(redis_server.url, "second", sample_directory())
    first.store.directories.grace = second.store.directories.grace = 30.0  # type: ignore[union-attr]
    await first.start()
    await second.start()
    try:
        new = Directory.from_toml_text(WITHOUT_BOB, source="new.toml")
        first.replace_directory(new)
        await asyncio.sleep(6 * BEAT)
        second.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
        await asyncio.sleep(6 * BEAT)
        assert not messages(caplog, "serves another directory")
        assert not messages(caplog, "the same directory as this node again")
    finally:
        await second.stop()
        await first.stop()



async def test_every_node_logs_the_kick_of_a_reload_not_only_the_kicked_sessions_node(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """The node that reloaded said "1 session(s) to kick", then only "logout uid=bob": the
    kick itself, with its reason, was logged by bob's node alone."""
    caplog.set_level(logging.INFO)
    async with running_nodes(2, redis_server.url) as nodes:
        here, there = nodes
        bob = await logged_in(there.port, "bob")
        await settle(nodes)
        here.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
        assert await bob.closed_by_server(5.0)
        await settle(nodes)
        await wait_until(lambda: len([r for r in caplog.records if r.getMessage().startswith(
            "logout uid=bob ")]) == 2, 5.0, "both nodes logged the logout")
        kicks = [r for r in caplog.records
                 if r.getMessage().startswith("kick uid=bob ")
                 and r.getMessage().endswith(" reason=account_removed")]
        assert len(kicks) == 2, [r.getMessage() for r in caplog.records]  # one per node
