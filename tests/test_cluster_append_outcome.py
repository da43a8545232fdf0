"""A request whose append reached Redis but whose reply was lost (the link to Redis dropped
in between) gets the answer that agrees with what every node then says; one that never
reached Redis is refused at once; none is left unanswered (real redis-server, the cut
node's link through :class:`RedisLink`)."""

from __future__ import annotations

import asyncio

import pytest

from app.protocol.errors import ErrCode
from app.protocol.messages import InterphoneInfo, JoinRequest, MembersRequest, SpeakRequest
from tests.cluster_fixtures import alice_joins_across_the_cut, cut_and_whole
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisLink,
    RedisProcess,
    redis_server,
    settle,
)
from tests.server_fixtures import G58, RawClient, logged_in

pytestmark = pytest.mark.timeout(60)


async def info_on(client: RawClient) -> InterphoneInfo:
    """G58 as ``client``'s node says it is (a read through the log)."""
    for _ in range(100):
        reply = await client.request(MembersRequest(G58), timeout=10.0)
        if reply.ok:
            return reply.body.info  # type: ignore[no-any-return,union-attr]
        await asyncio.sleep(0.1)  # (its node may still be reaching Redis again)
    raise AssertionError("members never answered")


async def mend_after_cut(link: RedisLink, pause: float) -> None:
    await asyncio.wait_for(link.cut.wait(), 10)
    await asyncio.sleep(pause)
    link.mend()


async def test_a_join_whose_reply_was_lost_is_answered_as_the_cluster_applied_it(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Redis ran the join's XADD, the reply never came back: the node answered 500 "store
    unavailable" while every node then listed the member."""
    async with cut_and_whole(redis_server) as (link, cut, whole):
        alice = await logged_in(cut.port, "alice")
        bob = await logged_in(whole.port, "bob")
        await bob.join(G58)
        link.sever_after(b'"t":"join"')
        mending = asyncio.ensure_future(mend_after_cut(link, 0.3))
        reply = await alice.request(JoinRequest(G58), timeout=10.0)
        await mending
        await settle([whole, cut], timeout=10)
        members = (await info_on(bob)).members
        assert reply.ok == ("alice" in members), (reply, members)
        assert reply.ok, reply  # it reached the log: the client is told so
        assert "alice" in (await info_on(alice)).members
        for client in (alice, bob):
            await client.close()


async def test_a_floor_request_whose_reply_was_lost_is_answered_as_applied(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with cut_and_whole(redis_server) as (link, cut, whole):
        alice = await logged_in(cut.port, "alice")
        bob = await logged_in(whole.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        link.sever_after(b'"t":"speak"')
        mending = asyncio.ensure_future(mend_after_cut(link, 0.3))
        reply = await alice.request(SpeakRequest(True, G58), timeout=10.0)
        await mending
        await settle([whole, cut], timeout=10)
        speaker = (await info_on(bob)).speaker
        assert reply.ok == (speaker == "alice"), (reply, speaker)
        assert reply.ok, reply
        assert (await alice.speak(G58, on=False)).ok
        for client in (alice, bob):
            await client.close()


async def test_a_request_not_sent_is_refused_at_once(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """The node knows its Redis is out of reach: nothing is sent, the refusal is at once,
    and no node ever applies the request."""
    async with cut_and_whole(redis_server) as (link, cut, whole):
        assert cut.store is not None
        alice = await logged_in(cut.port, "alice")
        bob = await logged_in(whole.port, "bob")
        await bob.join(G58)
        link.sever()
        for _ in range(100):
            if cut.store.not_ready() == "store unreachable: changes refused":
                break
            await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        asked = loop.time()
        reply = await alice.request(JoinRequest(G58), timeout=10.0)
        assert loop.time() - asked < 1.0
        assert reply.body.code == ErrCode.SERVER_FAULT  # type: ignore[union-attr]
        assert "store unavailable" in reply.body.errmsg  # type: ignore[union-attr]
        link.mend()
        await asyncio.sleep(1.0)
        await settle([whole, cut], timeout=10)
        assert "alice" not in (await info_on(bob)).members
        assert "alice" not in (await info_on(alice)).members
        for client in (alice, bob):
            await client.close()


async def test_redis_away_past_the_limit_the_client_is_answered_and_a_late_change_undone(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Redis ran the join and then stayed out of reach longer than the answer limit: the
    client is refused within it; when the join turns up in the log, its node undoes it,
    so no node lists a member its client was told it is not; then it joins again."""
    async with cut_and_whole(redis_server, ttl=6.0, socket_timeout=1.0) as (link, cut, whole):
        assert cut.store is not None
        limit = cut.store.answer_limit
        alice, bob, reply, asked = await alice_joins_across_the_cut(cut, whole, link.sever_after)
        loop = asyncio.get_running_loop()
        assert loop.time() - asked < limit + 0.5
        assert reply.body.code == ErrCode.SERVER_FAULT  # type: ignore[union-attr]
        # still away: what the session asks meanwhile is refused too, at once
        again = await alice.request(JoinRequest(G58), timeout=3.0)
        assert again.body.code == ErrCode.SERVER_FAULT  # type: ignore[union-attr]
        await asyncio.sleep(max(0.0, asked + limit + 0.5 - loop.time()))
        link.mend()
        record = whole.state.interphones[G58]
        assert "alice" in record.members  # (the other node applied the join at once)
        for _ in range(50):  # the cut node reads it, and undoes it
            if "alice" not in record.members:
                break
            await asyncio.sleep(0.1)
        await settle([whole, cut], timeout=10)
        assert "alice" not in (await info_on(bob)).members
        assert "alice" not in (await info_on(alice)).members
        joined = await alice.join(G58)
        assert "alice" in joined.body.info.members  # type: ignore[union-attr]
        await settle([whole, cut], timeout=10)
        assert "alice" in (await info_on(bob)).members
        for client in (alice, bob):
            await client.close()


async def test_a_link_that_goes_silent_leaves_no_client_unanswered_nor_wrong(
        redis_server: RedisProcess) -> None:  # noqa: F811
    """Redis ran the join, then nothing it sends on the node's connections comes back (they
    stay open: the node learns it only from its socket timeout). The client is answered
    within the limit, and what it is told is what every node ends with."""
    async with cut_and_whole(redis_server, ttl=6.0, socket_timeout=1.0) as (link, cut, whole):
        assert cut.store is not None
        limit = cut.store.answer_limit
        alice, bob, reply, asked = await alice_joins_across_the_cut(cut, whole, link.stall_after)
        loop = asyncio.get_running_loop()
        assert loop.time() - asked < limit + 0.5
        for _ in range(50):  # until the nodes agree with the answer (an undo, maybe)
            await settle([whole, cut], timeout=10)
            if reply.ok == ("alice" in whole.state.interphones[G58].members) and \
                    cut.store.replica is not None and not cut.store.replica.doubt.unsure():
                break
            await asyncio.sleep(0.1)
        members = (await info_on(bob)).members
        assert reply.ok == ("alice" in members), (reply, members)
        assert reply.ok == ("alice" in (await info_on(alice)).members)
        for client in (alice, bob):
            await client.close()
