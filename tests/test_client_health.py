"""Extension health end to end, on a cluster node whose real redis-server is stopped and
started again: an idle joined client granted ``health`` shows the server degraded without
sending any request and clears on recovery, what waited for the store is done then with no
probe at all, and a base client on the same node receives nothing new."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from app.client import InterphoneClient, StoreChanged, StoreUnavailable
from app.protocol import FrameDecoder, decode_message
from app.protocol.features import HEALTH
from app.protocol.framing import encode_frame
from app.protocol.health import HealthNotice, StoreState
from app.protocol.ids import InterphoneId
from app.protocol.messages import InterphoneChanged, MembersResult, Ping
from tests.recording_link import RecordingLink
from tests.redis_fixtures import RedisProcess, redis_server, started_nodes  # noqa: F401
from tests.server_fixtures import G58, GALL
from tests.waiting import wait_until

D12 = InterphoneId.discuss("12")


@contextlib.asynccontextmanager
async def linked(port: int, uid: str, features: tuple[str, ...]) -> AsyncIterator[
        tuple[InterphoneClient, RecordingLink, list[StoreChanged]]]:
    link = RecordingLink(port)
    await link.start()
    client = InterphoneClient("127.0.0.1", link.port, uid, f"pw-{uid}", features=features,
                              backoff=(0.05, 0.2), store_probe=(0.3, 1.2))
    changes: list[StoreChanged] = []
    client.model.subscribe(lambda e: changes.append(e) if isinstance(e, StoreChanged) else None)
    try:
        await client.connect()
        await client.join(G58)
        yield client, link, changes
    finally:
        await client.close()
        await link.close()


def notices(link: RecordingLink) -> list[StoreState]:
    return [m.body.store for m in link.received if isinstance(m.body, HealthNotice)]


def outages(states: list[StoreState], changes: list[StoreChanged]) -> int:
    """How many outages the notices told, each then ended (one, unless a loaded machine
    kept Redis from answering for a second after it was back), after checking that the
    client's model followed them one for one."""
    count = len(states) // 2
    assert count >= 1
    assert states == [StoreState.UNREACHABLE, StoreState.OK] * count
    assert changes == [StoreChanged(False), StoreChanged(True)] * count
    return count


async def test_an_idle_client_is_told_of_the_outage_and_of_its_end(
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO)
    async with started_nodes(redis_server.url, "a") as nodes, \
            linked(nodes[0].port, "alice", (HEALTH,)) as (alice, alice_link, changes), \
            linked(nodes[0].port, "bob", ()) as (bob, bob_link, bob_changes):
        assert HEALTH in alice.features and HEALTH not in bob.features
        asked = alice_link.requests()
        await wait_until(lambda: any(isinstance(m.body, InterphoneChanged)
                                     and m.body.info.member_count == 2
                                     for m in bob_link.received), 10, "bob's join told")
        bob_heard = len(bob_link.received)

        redis_server.stop()
        await wait_until(lambda: not alice.store_available, 15, "alice shown degraded")
        assert changes == [StoreChanged(False)]
        assert notices(alice_link) == [StoreState.UNREACHABLE]
        assert alice_link.requests() == asked  # told, not refused: she asked nothing
        assert alice.store_probes == 0 and alice._store._probing is None

        redis_server.start()
        await wait_until(lambda: alice.store_available, 20, "alice told the store is back")
        outages(notices(alice_link), changes)
        assert alice_link.requests() == asked and alice.store_probes == 0
        assert any("store reachable again after" in r.getMessage() for r in caplog.records)

        # bob (base) heard nothing new: his only messages since are his pings' answers,
        # and he never showed the outage he was not told of
        since = bob_link.received[bob_heard:]
        assert [m for m in since if not isinstance(m.body, Ping)] == [], since
        assert bob.store_available and bob_changes == []
        assert await alice.talk_start()  # the node takes requests again
        await alice.talk_stop()


async def test_what_waited_for_the_store_is_done_on_the_notice_without_probing(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with started_nodes(redis_server.url, "a") as nodes, \
            linked(nodes[0].port, "alice", (HEALTH,)) as (alice, link, changes):
        await alice.join(D12, target=False)
        redis_server.stop()
        await wait_until(lambda: not alice.store_available, 15, "alice shown degraded")

        # the user clicks a join (refused: it waits for the store) and leaves D12 (left
        # here, its quit sent again once the store is back)
        with pytest.raises(StoreUnavailable):
            await alice.join(GALL, target=False)
        assert alice.when_store_back("join", lambda: alice._tasks.spawn(
            alice.join(GALL, target=False)))
        await alice.leave(D12)
        assert not alice.model.is_joined(D12) and link.sent["QuitRequest"] == 1
        assert alice.store_probes == 0 and alice._store._probing is None  # the node will say

        redis_server.start()
        await wait_until(lambda: alice.store_available, 20, "alice told the store is back")
        await wait_until(lambda: alice.model.is_joined(GALL), 10,
                         "the join done")
        await wait_until(lambda: link.sent["QuitRequest"] == 2, 10, "the quit sent again")
        info = await alice.members(D12)
        assert "alice" not in (info.members or ())
        assert alice.store_probes == 0
        assert link.sent["MembersRequest"] == 1 and link.sent["SyncRequest"] <= 1  # no probe
        outages(notices(link), changes)


async def test_a_hung_store_is_told_too_and_its_end(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with started_nodes(redis_server.url, "a") as nodes, \
            linked(nodes[0].port, "alice", (HEALTH,)) as (alice, link, changes):
        asked = link.requests()
        redis_server.pause()  # nothing refused, nothing answered: the node's 1 s decides
        try:
            await wait_until(lambda: not alice.store_available, 15, "alice shown degraded")
        finally:
            redis_server.resume()
        await wait_until(lambda: alice.store_available, 20, "alice told the store is back")
        outages(notices(link), changes)
        assert link.requests() == asked and alice.store_probes == 0


class HoldingLink(RecordingLink):
    """A :class:`RecordingLink` that, while ``holding``, keeps the server's answers to
    members requests back until it has passed on a ``<health store='unreachable'/>``
    notice: the order the extension allows for a request sent before the notice."""

    def __init__(self, server_port: int) -> None:
        super().__init__(server_port)
        self.holding = False
        self.held: list[bytes] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    upstream: bool) -> None:
        if upstream:
            await super()._pipe(reader, writer, upstream=True)
            return
        decoder = FrameDecoder()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    message = decode_message(frame)
                    self.received.append(message)
                    if self.holding and isinstance(message.body, MembersResult):
                        self.held.append(encode_frame(frame))
                        continue
                    writer.write(encode_frame(frame))
                    if (isinstance(message.body, HealthNotice)
                            and message.body.store is StoreState.UNREACHABLE):
                        self.holding = False
                        for held in self.held:
                            writer.write(held)
                        self.held.clear()
                await writer.drain()
        writer.close()


async def test_an_answer_sent_before_the_outage_notice_does_not_end_the_outage(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """A members answer the node sent before it counted its store unreachable, received
    after the ``unreachable`` notice, showed the server healthy again at once (and, with
    nothing probed, until the user's next request was refused)."""
    async with started_nodes(redis_server.url, "a") as nodes:
        link = HoldingLink(nodes[0].port)
        await link.start()
        alice = InterphoneClient("127.0.0.1", link.port, "alice", "pw-alice",
                                 features=(HEALTH,), backoff=(0.05, 0.2),
                                 store_probe=(0.3, 1.2))
        changes: list[StoreChanged] = []
        alice.model.subscribe(
            lambda e: changes.append(e) if isinstance(e, StoreChanged) else None)
        try:
            await alice.connect()
            await alice.join(G58)
            link.holding = True
            asked = asyncio.ensure_future(alice.members(G58))
            await wait_until(lambda: link.held, 10, "the members answer held")
            redis_server.stop()
            info = await asyncio.wait_for(asked, 20)  # (passed on after the notice)
            assert "alice" in (info.members or ())
            assert not alice.store_available, changes
            assert changes == [StoreChanged(False)]

            redis_server.start()
            await wait_until(lambda: alice.store_available, 20, "alice told the store is back")
            outages(notices(link), changes)
        finally:
            await alice.close()
            await link.close()
