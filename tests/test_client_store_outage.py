"""A cluster node whose Redis goes away under a signed-in, joined client: the client says
the server is degraded (not a fault), a join or a talk fails with that kind, the server is
probed on a backoff (counted in the requests it received), and once Redis is back the
state clears and what was left to retry is done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from app.client import FloorState, InterphoneClient, StoreChanged, StoreUnavailable
from app.client.errors import failure_of
from app.client.failures import FailureKind
from app.client.store_outage import StoreOutage, answered_through_store, is_store_unavailable
from app.protocol.ids import InterphoneId
from app.protocol.messages import MembersRequest, Ping, SpeakRequest
from app.server.redis_store import RedisStore
from app.server.replica import Replica
from tests.recording_link import RecordingLink
from tests.redis_fixtures import RedisProcess, redis_server, started_nodes  # noqa: F401
from tests.server_fixtures import G58
from tests.waiting import wait_until

D12 = InterphoneId.discuss("12")


@contextlib.asynccontextmanager
async def alice_on_a_node(redis: RedisProcess) -> AsyncIterator[
        tuple[InterphoneClient, RecordingLink, list[StoreChanged], Replica]]:
    async with started_nodes(redis.url, "a") as nodes:
        link = RecordingLink(nodes[0].port)
        await link.start()
        client = InterphoneClient("127.0.0.1", link.port, "alice", "pw-alice",
                                  backoff=(0.05, 0.2), store_probe=(0.3, 1.2))
        changes: list[StoreChanged] = []
        client.model.subscribe(lambda e: changes.append(e)
                               if isinstance(e, StoreChanged) else None)
        try:
            await client.connect()
            await client.join(G58)
            store = nodes[0].store
            assert isinstance(store, RedisStore) and store.replica is not None
            yield client, link, changes, store.replica
        finally:
            await client.close()
            await link.close()


def test_the_refusal_is_recognised_by_its_errmsg_only() -> None:
    assert is_store_unavailable(500, "store unavailable: try again later or another server")
    assert is_store_unavailable(500, "Store unavailable")
    assert not is_store_unavailable(500, "internal error")
    assert not is_store_unavailable(503, "store unavailable")


def test_a_release_answered_says_nothing_of_the_store() -> None:
    """A node answers a floor's release on its own while its store is away (like a ping):
    its answer must not end the outage the client shows."""
    assert not answered_through_store(SpeakRequest(False, G58))
    assert not answered_through_store(Ping())
    assert answered_through_store(SpeakRequest(True, G58))
    assert answered_through_store(MembersRequest(G58))


def test_the_probe_backs_off_to_its_cap_and_none_is_due_while_healthy() -> None:
    outage = StoreOutage(2.0, 10.0)
    assert outage.probe_due() is None
    assert outage.refused(100.0) and outage.probe_due() == 102.0
    assert not outage.refused(101.0) and outage.probe_due() == 102.0  # keeps its backoff
    waits = []
    now = 102.0
    for _ in range(5):
        outage.probe_sent(now)
        due = outage.probe_due()
        assert due is not None
        waits.append(due - now)
        now = due
    assert waits == [4.0, 8.0, 10.0, 10.0, 10.0]
    assert outage.answered() and outage.probe_due() is None and not outage.answered()


async def test_a_store_outage_degrades_the_link_and_its_end_clears_it(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    async with alice_on_a_node(redis_server) as (client, link, changes, replica):
        assert client.store_available and not changes
        healthy_reads = link.reads()
        redis_server.stop()
        await wait_until(lambda: any("store unreachable" in r.getMessage()
                                     for r in caplog.records), 10, "the node's outage")

        # a join of one more interphone is refused for the store, a distinct failure
        with pytest.raises(StoreUnavailable) as refused:
            await client.join(D12, target=False)
        assert failure_of(refused.value).kind is FailureKind.STORE_UNAVAILABLE
        assert not client.store_available and changes == [StoreChanged(False)]
        assert client.when_store_back("join", lambda: client._tasks.spawn(
            client.join(D12, target=False)))

        # a talk is refused with it too, and the floor is not left asking
        with pytest.raises(StoreUnavailable):
            await client.talk_start()
        assert client.model.floor is not FloorState.REQUESTING

        # probed on a backoff: the reads the server got are the probes, no more, and it
        # refused them all (with the join and the talk); never more than one per first
        # wait (0.3 s) of the outage (a load only makes them fewer)
        loop = asyncio.get_running_loop()
        began = loop.time()

        def probes_seen() -> bool:
            probes, reads = client.store_probes, link.reads() - healthy_reads
            return probes >= 3 and reads == probes and replica.refused == probes + 2

        await wait_until(probes_seen, 20, "three probes received and refused")
        assert link.reads() - healthy_reads <= 2 + (loop.time() - began) / 0.3

        redis_server.start()
        await wait_until(lambda: client.store_available, 20, "the store back")
        assert changes == [StoreChanged(False), StoreChanged(True)]
        await wait_until(lambda: client.model.is_joined(D12), 10, "the join retried")
        assert client.model.talk_target == G58
        assert await client.talk_start()
        await client.talk_stop()

        # healthy: the probing ended, and a read is the caller's only
        assert client._store._probing is None
        probes, reads = client.store_probes, link.reads()
        await client.members(G58)
        assert client.store_probes == probes and link.reads() == reads + 1


async def test_a_leave_during_the_outage_is_done_here_and_told_once_the_store_is_back(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    async with alice_on_a_node(redis_server) as (client, link, _, _):
        redis_server.stop()
        await wait_until(lambda: any("store unreachable" in r.getMessage()
                                     for r in caplog.records), 10, "the node's outage")
        await client.leave(G58)  # refused by the node, done here: no error to the caller
        assert not client.model.is_joined(G58) and not client.store_available
        assert link.sent["QuitRequest"] == 1
        redis_server.start()
        await wait_until(lambda: client.store_available, 20, "the store back")
        await wait_until(lambda: link.sent["QuitRequest"] == 2, 10, "the quit sent again")
        info = await client.members(G58)
        assert "alice" not in (info.members or ())
        assert not client.model.is_joined(G58)
