"""Extension ``feedback`` over real sockets: a listener flapping between 0 % and 100 % loss
gets the talker a bounded number of notices, and a real change still reaches it at once."""

from __future__ import annotations

import asyncio
import math

import pytest
from server_fixtures import G58, RawClient, running_server

from app.protocol.messages import FeedbackNotice, Login, QualityReport
from app.server.feedback import MIN_GAP_SECONDS

pytestmark = pytest.mark.timeout(60)


async def with_feedback(port: int, uid: str) -> RawClient:
    client = await RawClient.connect(port)
    reply = await client.request(Login(uid, f"pw-{uid}", features=("feedback",)))
    assert reply.ok and "feedback" in reply.body.features, reply  # type: ignore[union-attr]
    client.uid = uid
    await client.join(G58)
    return client


async def notices_until(client: RawClient, quiet: float) -> list[tuple[float, FeedbackNotice]]:
    """Every ``<feedback>`` notice ``client`` gets until none came for ``quiet`` seconds."""
    loop = asyncio.get_running_loop()
    told: list[tuple[float, FeedbackNotice]] = []
    while True:
        try:
            message = await asyncio.wait_for(client.notifications.get(), quiet)
        except TimeoutError:
            return told
        if isinstance(message.body, FeedbackNotice):
            told.append((loop.time(), message.body))


async def talk(port: int) -> tuple[RawClient, RawClient]:
    alice = await with_feedback(port, "alice")
    bob = await with_feedback(port, "bob")
    assert (await alice.speak(G58)).ok
    await asyncio.sleep(0.1)
    alice.drain()
    return alice, bob


async def test_a_listener_flapping_at_20_reports_a_second_is_bounded() -> None:
    """Each of bob's reports alternating 0 % and 100 % got alice a notice (20 a second),
    and her encoder switched FEC on and off with each."""
    async with running_server() as server:
        alice, bob = await talk(server.port)
        loop = asyncio.get_running_loop()
        listening = asyncio.ensure_future(notices_until(alice, 1.0))
        began = loop.time()
        for n in range(40):
            reply = await bob.request(QualityReport(G58, "alice", 100.0 * (n % 2)))
            assert reply.ok, reply
            await asyncio.sleep(max(0.0, began + (n + 1) / 20 - loop.time()))
        spent = loop.time() - began
        told = await listening
        # the first notice to a holder and the first change go at once; after them, one
        # notice per MIN_GAP_SECONDS at most (+1: the change held back when bob stopped)
        bound = 2 + math.ceil(spent / MIN_GAP_SECONDS) + 1
        assert 3 <= len(told) <= bound, (len(told), bound, spent)
        assert told[-1][1].worst_pct == 100.0  # bob's last report, told when due
        for client in (alice, bob):
            await client.close()


async def test_a_real_change_still_arrives_at_once() -> None:
    async with running_server() as server:
        alice, bob = await talk(server.port)
        loop = asyncio.get_running_loop()
        assert (await bob.request(QualityReport(G58, "alice", 0.0))).ok
        first = await alice.next_notification()
        assert isinstance(first.body, FeedbackNotice) and first.body.worst_pct == 0.0
        assert (await bob.request(QualityReport(G58, "alice", 12.0))).ok
        acked = loop.time()  # (the server sent the notice with the acknowledgement)
        change = await alice.next_notification()
        assert isinstance(change.body, FeedbackNotice) and change.body.worst_pct == 12.0
        assert loop.time() - acked < MIN_GAP_SECONDS  # not held back
        for client in (alice, bob):
            await client.close()
