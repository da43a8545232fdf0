"""A node of several reloads its directory file in a thread (SIGHUP): the node keeps
answering during the read, then what the reload ends goes through the shared log to the
other nodes, and the fingerprint it publishes is the new directory's (real redis-server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_server_reload_thread import HeldRead, entered

from app.protocol.messages import Kicked, MembersRequest
from app.server import InterphoneServer
from app.server.directory_reload import DirectoryReloads
from tests.redis_fixtures import redis_server, settle, two_nodes  # noqa: F401 (fixtures)
from tests.server_fixtures import G58, logged_in
from tests.test_cluster_extensions import WITHOUT_BOB_AND_CAROL_OUT_OF_58 as WITHOUT_BOB
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


async def test_a_node_reloading_in_a_thread_answers_then_kicks_through_the_log(
        two_nodes: list[InterphoneServer], tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "directory.toml"
    config.write_text(WITHOUT_BOB)
    here, there = nodes = two_nodes
    alice = await logged_in(here.port, "alice")
    bob = await logged_in(there.port, "bob")
    await settle(nodes)
    old = here.state.directory.fingerprint()
    read = HeldRead()
    reloads = DirectoryReloads(here, config, read=read)
    try:
        reloads.request()
        await entered(read)
        assert (await alice.request(MembersRequest(G58), timeout=10)).ok
        assert not bob.writer.is_closing() and here.state.directory.fingerprint() == old
        read.release.set()
        await wait_until(lambda: reloads.applied == 1, 20, "the reload served")
        kicked = await bob.next_notification(10)
        assert isinstance(kicked.body, Kicked)
        assert await bob.closed_by_server(10)
        new = here.state.directory.fingerprint()
        assert new != old
        agreement = there.store.directories  # type: ignore[union-attr]
        node = here.store.node  # type: ignore[union-attr]
        await wait_until(lambda: agreement._differing.get(node, ("",))[0] == new, 20,
                         "the other node reads the new fingerprint in the node list")
    finally:
        read.release.set()
        await alice.close()
        await bob.close()
