"""Extension ``feedback`` on nodes sharing one real Redis: listeners' reports reach a floor
holder on another node, which aggregates every listener of the interphone, whichever node
it is on, by the rules of one node.

Node A is ``nodes[0]`` (the holder's), node B ``nodes[1]``. Listeners report every
``EVERY`` seconds, as a client does about every second, until the holder is told what
the test waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.protocol.errors import ErrCode
from app.protocol.messages import FeedbackNotice, Login, QualityReport, QuitRequest
from app.server import InterphoneServer, ServerState
from app.server.feedback import WINDOW_SECONDS
from app.server.feedback_carrier import (
    FLUSH_SECONDS,
    MAX_PENDING,
    CarriedReport,
    FeedbackCarrier,
    decode,
    encode,
)
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
    running_redis,
)
from tests.server_fixtures import FAST, G58, GALL, RawClient, sample_directory
from tests.test_cluster import doomed_node_beside_one, info_until

pytestmark = pytest.mark.timeout(60)

FEEDBACK = "feedback"
EVERY = 0.3
Reporter = tuple[RawClient, float, float]  # a listener, the loss and jitter it reports


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path) -> AsyncIterator[list[InterphoneServer]]:
    with running_redis(tmp_path) as redis:
        async with running_nodes(2, redis.url) as nodes:
            yield nodes


async def member(port: int, uid: str, *features: str) -> RawClient:
    """``uid`` logged in on the node at ``port`` (asking ``features``), a member of G58."""
    for _ in range(200):  # a node in a process of its own may not listen yet
        try:
            client = await RawClient.connect(port)
            break
        except OSError:
            await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no node on port {port}")
    reply = await client.request(Login(uid, f"pw-{uid}", features=features))
    assert reply.ok and set(features) <= set(reply.body.features), reply  # type: ignore[union-attr]
    client.uid = uid
    await client.join(G58)
    return client


async def holds_the_floor(holder: RawClient, *listeners: RawClient) -> None:
    assert (await holder.speak(G58)).ok
    for client in listeners:  # each listener's node knows who speaks
        await info_until(client, lambda info: info.speaker == holder.uid)


async def report(reporters: list[Reporter], speaker: str) -> None:
    for client, loss, jitter in reporters:
        reply = await client.request(QualityReport(G58, speaker, loss, jitter))
        assert reply.ok, reply


async def told_until(holder: RawClient, reporters: list[Reporter],
                     wanted: Callable[[FeedbackNotice], bool],
                     timeout: float = 8.0) -> FeedbackNotice:
    """The first notice to ``holder`` that ``wanted`` accepts, while ``reporters`` report
    every ``EVERY`` seconds (earlier notices are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: list[FeedbackNotice] = []
    while loop.time() < deadline:
        await report(reporters, holder.uid)
        until = min(deadline, loop.time() + EVERY)
        while (left := until - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(holder.notifications.get(), left)
            except TimeoutError:
                break
            if isinstance(message.body, FeedbackNotice):
                seen.append(message.body)
                if wanted(message.body):
                    return message.body
    raise AssertionError(f"{holder.uid} was not told what was expected; told {seen}")


def notices(client: RawClient) -> list[FeedbackNotice]:
    return [m.body for m in client.drain() if isinstance(m.body, FeedbackNotice)]


async def close_all(*clients: RawClient) -> None:
    for client in clients:
        await client.close()


# ---- across nodes -------------------------------------------------------------------------------


async def test_a_holder_is_told_what_its_listeners_on_another_node_lose(
        tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as nodes:
        a, b = nodes[0].port, nodes[1].port
        alice = await member(a, "alice", FEEDBACK)
        bob = await member(b, "bob", FEEDBACK)
        carol = await member(b, "carol", FEEDBACK)
        await holds_the_floor(alice, bob, carol)
        told = await told_until(alice, [(bob, 7.0, 12.0), (carol, 2.0, 30.0)],
                                lambda n: n.listeners == 2)
        assert told == FeedbackNotice(G58, 2, 7.0, 7.0, 30.0)
        # a change on B reaches A as a change
        told = await told_until(alice, [(bob, 40.0, 12.0), (carol, 2.0, 30.0)],
                                lambda n: n.worst_pct == 40.0)
        assert told == FeedbackNotice(G58, 2, 40.0, 40.0, 30.0)
        await close_all(alice, bob, carol)


async def test_listeners_on_both_nodes_count_together(tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as nodes:
        a, b = nodes[0].port, nodes[1].port
        alice = await member(a, "alice", FEEDBACK)
        carol = await member(a, "carol", FEEDBACK)  # beside the holder
        bob = await member(b, "bob", FEEDBACK)
        await holds_the_floor(alice, carol, bob)
        told = await told_until(alice, [(carol, 1.0, 50.0), (bob, 9.0, 5.0)],
                                lambda n: n.listeners == 2)
        # worst and jitter are each the highest over both nodes (B's loss, A's jitter)
        assert told == FeedbackNotice(G58, 2, 9.0, 9.0, 50.0)
        told = await told_until(alice, [(carol, 15.0, 50.0), (bob, 9.0, 5.0)],
                                lambda n: n.worst_pct == 15.0)
        assert told == FeedbackNotice(G58, 2, 15.0, 15.0, 50.0)
        await close_all(alice, carol, bob)


async def holder_beside_one_listener_and_across_from_one(
        a: int, b: int) -> tuple[RawClient, RawClient, RawClient]:
    """alice holding the floor on the node at ``a``, carol listening beside her, bob on the
    node at ``b``; returned once alice was told of both (carol 1 %, bob 9 %)."""
    alice = await member(a, "alice", FEEDBACK)
    carol = await member(a, "carol", FEEDBACK)
    bob = await member(b, "bob", FEEDBACK)
    await holds_the_floor(alice, carol, bob)
    await told_until(alice, [(carol, 1.0, 0.0), (bob, 9.0, 0.0)],
                     lambda n: n.listeners == 2 and n.worst_pct == 9.0)
    return alice, carol, bob


async def carol_alone_within_the_window(alice: RawClient, carol: RawClient,
                                        since: float) -> None:
    """alice is told of carol alone, within the window (plus a heartbeat's slack) of
    ``since``."""
    told = await told_until(alice, [(carol, 1.0, 0.0)], lambda n: n.listeners == 1)
    assert told == FeedbackNotice(G58, 1, 1.0, 1.0, 0.0)
    assert asyncio.get_running_loop().time() - since < WINDOW_SECONDS + 1.5


async def test_a_listener_on_another_node_that_leaves_drops_out(tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as nodes:
        alice, carol, bob = await holder_beside_one_listener_and_across_from_one(
            nodes[0].port, nodes[1].port)
        assert (await bob.request(QuitRequest(G58))).ok
        await carol_alone_within_the_window(alice, carol, asyncio.get_running_loop().time())
        # a report of an ex-member is refused on its own node: nothing reaches the holder
        refused = await bob.request(QualityReport(G58, "alice", 80.0))
        assert refused.body.errcode == ErrCode.FORBIDDEN  # type: ignore[union-attr]
        await asyncio.sleep(EVERY)
        assert all(n.listeners == 1 and n.worst_pct == 1.0 for n in notices(alice))
        await close_all(alice, carol, bob)


async def test_the_listeners_of_a_stopped_node_drop_out(tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as nodes:
        alice, carol, bob = await holder_beside_one_listener_and_across_from_one(
            nodes[0].port, nodes[1].port)
        stopped = asyncio.get_running_loop().time()
        await nodes[1].stop()
        await carol_alone_within_the_window(alice, carol, stopped)
        await close_all(alice, carol, bob)


async def test_the_listeners_of_a_killed_node_drop_out_within_the_window(
        tmp_path: Path) -> None:
    async with doomed_node_beside_one(tmp_path) as (port, process, nodes):
        # bob is on the node in a process of its own
        alice, carol, bob = await holder_beside_one_listener_and_across_from_one(
            nodes[0].port, port)
        process.send_signal(signal.SIGKILL)
        process.wait()
        await carol_alone_within_the_window(alice, carol, asyncio.get_running_loop().time())
        await close_all(alice, carol, bob)


async def test_a_holder_without_feedback_is_told_nothing_and_nothing_is_carried(
        tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as nodes:
        a, b = nodes[0].port, nodes[1].port
        alice = await member(a, "alice")  # a base client
        carol = await member(a, "carol", FEEDBACK)
        bob = await member(b, "bob", FEEDBACK)
        await holds_the_floor(alice, carol, bob)
        for _ in range(4):
            await report([(bob, 20.0, 0.0)], "alice")
            await asyncio.sleep(EVERY)
        assert not notices(alice)
        store = nodes[1].store
        assert store is not None and store.feedback is not None
        assert store.feedback.published == 0  # a base holder costs no traffic either
        # the same listener's reports do reach a holder on A that asked for feedback
        assert (await alice.speak(G58, on=False)).ok
        await holds_the_floor(carol, bob)
        told = await told_until(carol, [(bob, 20.0, 0.0)], lambda n: n.listeners == 1)
        assert told == FeedbackNotice(G58, 1, 20.0, 20.0, 0.0)
        assert not notices(alice)
        await close_all(alice, carol, bob)


async def test_the_floor_changing_hands_between_nodes(tmp_path: Path) -> None:
    """Reports go to whichever node the holder's session is on, and a new holder starts
    with none about itself (the former holder's listeners' figures are not told to it)."""
    async with two_nodes(tmp_path) as nodes:
        a, b = nodes[0].port, nodes[1].port
        alice = await member(a, "alice", FEEDBACK)
        bob = await member(b, "bob", FEEDBACK)
        carol = await member(b, "carol", FEEDBACK)
        await holds_the_floor(alice, bob, carol)
        await told_until(alice, [(bob, 30.0, 0.0), (carol, 20.0, 0.0)],
                         lambda n: n.listeners == 2 and n.worst_pct == 30.0)
        assert (await alice.speak(G58, on=False)).ok
        await holds_the_floor(carol, alice, bob)  # to B: alice's reports go from A to B
        told = await told_until(carol, [(alice, 4.0, 0.0)], lambda n: True)
        assert told == FeedbackNotice(G58, 1, 4.0, 4.0, 0.0)
        assert (await carol.speak(G58, on=False)).ok
        await holds_the_floor(bob, alice, carol)  # B again, another session
        told = await told_until(bob, [(carol, 6.0, 0.0)], lambda n: True)
        assert told == FeedbackNotice(G58, 1, 6.0, 6.0, 0.0)  # not alice's 4 about carol
        await close_all(alice, bob, carol)


async def test_reports_flow_again_after_redis_restarts(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url) as nodes:
        alice = await member(nodes[0].port, "alice", FEEDBACK)
        bob = await member(nodes[1].port, "bob", FEEDBACK)
        await holds_the_floor(alice, bob)
        await told_until(alice, [(bob, 3.0, 0.0)], lambda n: n.worst_pct == 3.0)
        redis_server.stop()
        await asyncio.sleep(0.5)
        redis_server.start()
        # the holder's node subscribes again: a listener's report reaches it
        told = await told_until(alice, [(bob, 12.0, 0.0)], lambda n: n.worst_pct == 12.0,
                                timeout=15.0)
        assert told == FeedbackNotice(G58, 1, 12.0, 12.0, 0.0)
        await close_all(alice, bob)


async def test_reports_cost_one_message_per_flush_however_many_listeners_send(
        tmp_path: Path) -> None:
    """The cost in Redis (docs/deploy.md): a node publishes what it holds for another node
    at most every FLUSH_SECONDS, the latest report of each listener, not one message per
    report."""
    async with two_nodes(tmp_path) as nodes:
        a, b = nodes[0].port, nodes[1].port
        alice = await member(a, "alice", FEEDBACK)
        bob = await member(b, "bob", FEEDBACK)
        carol = await member(b, "carol", FEEDBACK)
        await holds_the_floor(alice, bob, carol)
        link = nodes[1].store.feedback if nodes[1].store is not None else None
        assert link is not None
        loop = asyncio.get_running_loop()
        began, before = loop.time(), link.published
        rounds = 30
        for n in range(rounds):
            await report([(bob, float(n), 0.0), (carol, 1.0, 0.0)], "alice")
        await asyncio.sleep(2 * FLUSH_SECONDS)
        published = link.published - before
        assert published <= (loop.time() - began) / FLUSH_SECONDS + 1
        assert published < rounds  # 2 * rounds reports
        told = await told_until(alice, [(bob, 50.0, 0.0), (carol, 1.0, 0.0)],
                                lambda n: n.worst_pct == 50.0)
        assert told == FeedbackNotice(G58, 2, 50.0, 50.0, 0.0)
        await close_all(alice, bob, carol)


# ---- the carrier, sans-IO -----------------------------------------------------------------------


def carried(sid: int, loss: float) -> CarriedReport:
    return CarriedReport(sid, f"u{sid}", G58, "alice", loss, 1.5)


def test_the_carrier_sends_each_listeners_latest_report_once_per_node() -> None:
    carrier = FeedbackCarrier()
    woken: list[None] = []
    carrier.wake = lambda: woken.append(None)
    carrier.add(2, carried(7, 1.0))
    carrier.add(2, carried(7, 3.0))  # replaces the one still waiting
    carrier.add(2, carried(8, 0.0))
    carrier.add(3, carried(9, 5.0))
    assert len(woken) == 4
    messages = carrier.take()
    assert sorted(messages) == [2, 3]
    assert decode(messages[2]) == [carried(7, 3.0), carried(8, 0.0)]
    assert decode(messages[3]) == [carried(9, 5.0)]
    assert carrier.take() == {}


def test_the_carrier_is_bounded_per_node() -> None:
    carrier = FeedbackCarrier()
    for sid in range(MAX_PENDING + 5):
        carrier.add(2, carried(sid, 1.0))
    carrier.add(2, carried(0, 9.0))  # one already waiting is still replaced
    assert carrier.dropped == 5
    reports = decode(carrier.take()[2])
    assert len(reports) == MAX_PENDING and reports[0].loss_pct == 9.0


@pytest.mark.parametrize("text", [
    "not json", "{}", '[["x","bob","group_58","alice",1,0]]',
    '[[1,"bob","nonsense","alice",1,0]]', '[[1,"bob","group_58","alice",101,0]]',
    '[[1,"bob","group_58","alice",1,-1]]', '[[1,"bob","group_58","alice","NaN",0]]',
    '[[1,"bob","group_58","alice",1]]'])
def test_a_malformed_carried_report_is_left_out(text: str) -> None:
    assert decode(text) == []


def test_decode_keeps_the_well_formed_reports_of_a_message() -> None:
    good = carried(5, 2.0)
    text = encode([good])[:-1] + ',["bad"]]'
    assert decode(text) == [good]


# ---- the holder's node checks a carried report again, sans-IO -----------------------------------


OTHER = 2 << 32  # the sessions of node 2, as the holder's node's replica holds them


def holder_node() -> ServerState:
    """alice, a client of this node, holds G58's floor; bob (feedback), carol (without)
    and dave (not a member) are sessions of another node."""
    state = ServerState(sample_directory(), FAST, udp_port=9400)
    assert state.connect(1, "127.0.0.1", 0.0)
    for sid, uid, features in ((1, "alice", (FEEDBACK,)), (OTHER | 1, "bob", (FEEDBACK,)),
                               (OTHER | 2, "carol", ()), (OTHER | 3, "dave", (FEEDBACK,))):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1", features)
        if uid != "dave":
            state.join(sid, G58)
    state.speak(1, G58, True, 0.0)
    assert state.interphones[G58].holder == "alice"
    return state


def carried_notices(state: ServerState, report: CarriedReport) -> list[FeedbackNotice]:
    return [m.body for _, m in state.quality_carried(report, 1.0).messages
            if isinstance(m.body, FeedbackNotice)]


def test_the_holders_node_keeps_a_carried_report_of_a_member_about_its_holder() -> None:
    state = holder_node()
    report = CarriedReport(OTHER | 1, "bob", G58, "alice", 8.0, 3.0)
    assert carried_notices(state, report) == [FeedbackNotice(G58, 1, 8.0, 8.0, 3.0)]


@pytest.mark.parametrize("report", [
    CarriedReport(OTHER | 9, "bob", G58, "alice", 8.0, 0.0),  # no such session
    CarriedReport(OTHER | 1, "carol", G58, "alice", 8.0, 0.0),  # not that session's uid
    CarriedReport(OTHER | 2, "carol", G58, "alice", 8.0, 0.0),  # not granted feedback
    CarriedReport(OTHER | 3, "dave", G58, "alice", 8.0, 0.0),  # not a member
    CarriedReport(OTHER | 1, "bob", G58, "carol", 8.0, 0.0),  # not about the holder
    CarriedReport(1, "alice", G58, "alice", 8.0, 0.0),  # by the holder
    CarriedReport(OTHER | 1, "bob", GALL, "alice", 8.0, 0.0),  # not an active interphone
], ids=["session", "uid", "feature", "member", "speaker", "holder", "interphone"])
def test_the_holders_node_drops_a_carried_report_its_replica_does_not_bear_out(
        report: CarriedReport) -> None:
    assert carried_notices(holder_node(), report) == []


def test_a_carried_report_for_a_holder_no_longer_on_this_node_is_dropped() -> None:
    state = holder_node()
    state.speak(1, G58, False, 0.5)
    state.speak(OTHER | 1, G58, True, 0.6)
    assert state.interphones[G58].holder == "bob"
    report = CarriedReport(1 << 32, "alice", G58, "bob", 8.0, 0.0)
    assert carried_notices(state, report) == []
