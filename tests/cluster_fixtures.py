"""Two nodes on one real redis-server, the first reaching it through a :class:`RedisLink`
that can be cut (``cut_and_whole``), and the steps the tests of a cut link share: alice's
join sent across the cut, bob kicked by the cut node's reload and logged in again, the
cut node given up by the others; and a node process given up while cut off
(``node_process_given_up``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.protocol.messages import JoinRequest
from app.server import InterphoneServer
from app.server.directory import Directory
from app.server.redis_store import RedisStore
from tests.redis_fixtures import BEAT, TTL, RedisLink, RedisProcess, running_nodes, settle
from tests.server_fixtures import (
    FAST,
    G58,
    TEST_TOML,
    RawClient,
    logged_in,
    sample_directory,
    start_server_process,
)
from tests.test_cluster_extensions import WITHOUT_BOB_AND_CAROL_OUT_OF_58 as WITHOUT_BOB
from tests.waiting import wait_until

CutAfter = Callable[[bytes], None]
"""How the link is cut once data holding a marker goes by (``link.sever_after``,
``link.stall_after``, ``link.silence_after`` with its ``delivered``)."""


@contextlib.asynccontextmanager
async def cut_and_whole(redis: RedisProcess, *, ttl: float = TTL, socket_timeout: float = 5.0,
                        ) -> AsyncIterator[tuple[RedisLink, InterphoneServer, InterphoneServer]]:
    """A node whose Redis is behind a link that can be cut, and one reaching it directly."""
    link = RedisLink(redis.port)
    await link.start()
    nodes: list[InterphoneServer] = []
    try:
        for name, url, store_ttl in (("cut", link.url, ttl), ("whole", redis.url, TTL)):
            store = RedisStore(url, name, beat=BEAT, ttl=store_ttl,
                               socket_timeout=socket_timeout)
            node = InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                                    settings=FAST, store=store)
            await node.start()
            nodes.append(node)
        yield link, nodes[0], nodes[1]
    finally:
        for node in nodes:
            await node.stop()
        await link.close()


async def alice_joins_across_the_cut(cut: InterphoneServer, whole: InterphoneServer,
                                     cut_after: CutAfter
                                     ) -> tuple[RawClient, RawClient, Any, float]:
    """alice logged in on the cut node, bob on the whole one and a member of G58; the link
    cut as ``cut_after`` does once alice's join goes by. (alice, bob, her join's reply, the
    loop's time the join was sent.)"""
    alice = await logged_in(cut.port, "alice")
    bob = await logged_in(whole.port, "bob")
    await bob.join(G58)
    cut_after(b'"t":"join"')
    asked = asyncio.get_running_loop().time()
    reply = await alice.request(JoinRequest(G58), timeout=10.0)
    return alice, bob, reply, asked


async def bob_kicked_across_the_cut_and_back(link: RedisLink, cut: InterphoneServer,
                                             whole: InterphoneServer,
                                             cut_after: CutAfter) -> RawClient:
    """bob logged in on the whole node; the cut node's reload kicks him, the link cut as
    ``cut_after`` does once the kick goes by; the whole node applies the kick, and bob logs
    in there again (it still has the old directory). His new session."""
    bob = await logged_in(whole.port, "bob")
    await settle([cut, whole])
    cut_after(b'"t":"reload"')
    cut.replace_directory(Directory.from_toml_text(WITHOUT_BOB, source="new.toml"))
    await asyncio.wait_for(link.cut.wait(), 10)
    assert await bob.closed_by_server(5.0)  # the first copy, applied by whole
    await wait_until(lambda: "bob" not in whole.state.by_uid, 4.0, "bob logged out")
    again = await logged_in(whole.port, "bob")  # whole still has the old directory
    await settle([whole])
    return again


async def until_given_up(caplog: pytest.LogCaptureFixture, name: str) -> None:
    """Until a node logged that the node ``name`` stopped beating (the others gave it up)."""
    for _ in range(200):
        if any(f"({name}, relay" in r.getMessage() and "stopped beating" in r.getMessage()
               for r in caplog.records):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {name} node was not given up")


@dataclass
class GivenUpNode:
    """A node process the others gave up while its link to Redis was severed (still
    severed), with alice logged in there and a member of G58."""

    link: RedisLink
    process: asyncio.subprocess.Process
    alice: RawClient
    others: list[InterphoneServer]

    async def error_lines(self) -> list[str]:
        """The ERROR lines of its log, once it has exited."""
        assert self.process.stderr is not None
        text = (await self.process.stderr.read()).decode()
        return [line for line in text.splitlines() if " ERROR " in line]


@contextlib.asynccontextmanager
async def node_process_given_up(tmp_path: Path, redis: RedisProcess,
                                caplog: pytest.LogCaptureFixture,
                                ) -> AsyncIterator[GivenUpNode]:
    """An ``interphone-server`` process named "cut", reaching Redis through a link, beside
    one node in the test's process; alice joins G58 there, then the link is severed until
    the other node gives the process up. Killed at the end if it is still running."""
    link = RedisLink(redis.port)
    await link.start()
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    process: asyncio.subprocess.Process | None = None
    try:
        async with running_nodes(1, redis.url) as others:
            process, port, _ = await start_server_process(
                "--config", str(config), "--store", link.url, "--node-id", "cut",
                env={"INTERPHONE_NODE_BEAT": str(BEAT), "INTERPHONE_NODE_TTL": str(TTL)})
            alice = await logged_in(port, "alice")
            await alice.join(G58)
            await settle(others)
            link.sever()
            await until_given_up(caplog, "cut")
            yield GivenUpNode(link, process, alice, others)
            await alice.close()
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await link.close()
