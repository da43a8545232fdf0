"""The client's side of the floor extensions against the real embedded server: waiting in
line, leaving it, the queue timeout, revocations with their reason, emergencies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from client_fixtures import Clients, EventLog, wait_until, wire

from app.client import (
    EmergencyChanged,
    FloorBusy,
    FloorChanged,
    FloorOutcome,
    FloorState,
    NotAllowed,
    NotFound,
    QueueLeft,
    RequestTimeout,
)
from app.client.errors import RemoteProtocolError
from app.protocol import (
    FrameDecoder,
    InterphoneChanged,
    InterphoneId,
    Message,
    decode_message,
)
from app.protocol.messages import (
    EmergencyAction,
    EmergencyState,
    ErrorReply,
    FloorNotice,
    FloorNoticeType,
    SpeakResult,
)
from app.server import Directory, InterphoneServer, ServerSettings

pytest_plugins = ["client_fixtures"]

FEATURES = ("floor-queue", "priority", "emergency")
OPS = InterphoneId.group("ops")
TOML = """\
[server]
auth = "open"

[[users]]
uid = "disp"
priority = 9

[[groups]]
id = "ops"
members = ["*"]
"""


@contextlib.asynccontextmanager
async def floor_server(**overrides: Any) -> AsyncIterator[InterphoneServer]:
    settings = ServerSettings(**{"auth": "open", "keepalive": 15, "silence_timeout": 5.0,
                                 **overrides})
    async with InterphoneServer(Directory.from_toml_text(TOML), host="127.0.0.1", port=0,
                                settings=settings) as server:
        yield server


async def members(clients: Clients, port: int, *uids: str,
                  features: tuple[str, ...] = FEATURES) -> list[Any]:
    made = [await clients.connect(port, uid, "x", features=features) for uid in uids]
    for client in made:
        await client.join(OPS)
    return made


async def test_talk_start_waits_in_line_and_is_granted_when_the_floor_frees(clients):
    async with floor_server() as server:
        alice, bob, carol = await members(clients, server.port, "alice", "bob", "carol")
        assert alice.features == frozenset(FEATURES)
        assert await alice.talk_start()
        log = EventLog(bob)
        bob_turn = asyncio.ensure_future(bob.talk_start(queue=True))
        await wait_until(lambda: bob.model.floor is FloorState.QUEUED, what="bob queued")
        carol_turn = asyncio.ensure_future(carol.talk_start(queue=True))
        await wait_until(lambda: carol.model.floor is FloorState.QUEUED, what="carol queued")
        assert [e.position for e in log.of(FloorChanged)
                if e.state is FloorState.QUEUED] == [1]
        await alice.talk_stop()
        assert await asyncio.wait_for(bob_turn, 3) is True
        assert bob.model.floor is FloorState.TALKING
        assert bob.send_audio(b"\xf8\xff\xfe")
        await wait_until(lambda: carol.model.queue_position == 1, what="carol moved up")
        await carol.talk_stop()  # releasing the key leaves the line
        assert await asyncio.wait_for(carol_turn, 3) is False
        assert server.state.interphones[OPS].floor.queue == ()
        await bob.talk_stop()


async def test_without_the_extension_queue_is_ignored_and_busy_is_409(clients):
    async with floor_server() as server:
        alice, = await members(clients, server.port, "alice")
        bob, = await members(clients, server.port, "bob", features=())
        assert bob.features == frozenset()
        assert await alice.talk_start()
        with pytest.raises(FloorBusy) as busy:
            await bob.talk_start(queue=True)
        assert busy.value.holder == "alice" and busy.value.reason == ""
        assert bob.model.floor is FloorState.BUSY


async def test_a_wait_that_times_out_raises_queue_left(clients):
    async with floor_server(queue_timeout=0.3) as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await alice.talk_start()
        with pytest.raises(QueueLeft) as left:
            await asyncio.wait_for(bob.talk_start(queue=True), 3)
        assert left.value.reason == "timeout"
        assert bob.model.floor is FloorState.BUSY  # alice still speaks


async def test_emergency_pre_empts_with_the_reason_and_is_cancelled(clients):
    async with floor_server() as server:
        alice, bob, disp = await members(clients, server.port, "alice", "bob", "disp")
        assert disp.dispatcher and not alice.dispatcher
        assert await alice.talk_start()
        alice_log, disp_log = EventLog(alice), EventLog(disp)
        assert await bob.talk_start(emergency=True)
        await wait_until(lambda: alice.model.floor is not FloorState.TALKING, what="cut off")
        cut = [e for e in alice_log.of(FloorChanged) if e.reason == "revoked"]
        assert [(e.cause, e.by) for e in cut] == [("preempted", "bob")]
        await wait_until(lambda: disp_log.of(EmergencyChanged), what="alert")
        assert disp_log.of(EmergencyChanged)[0].raised_by == "bob"
        assert disp.model.interphone(OPS).emergency == "bob"
        with pytest.raises(NotAllowed):
            await alice.cancel_emergency()
        assert await disp.cancel_emergency() == "bob"
        await wait_until(lambda: alice.model.interphone(OPS).emergency == "", what="cleared")
        cleared = alice_log.of(EmergencyChanged)[-1]
        assert (cleared.raised_by, cleared.cancelled_by) == ("", "disp")
        with pytest.raises(NotFound):
            await disp.cancel_emergency()
        assert await alice.raise_emergency() == "alice"
        await bob.talk_stop()


def revoked_in_the_read_of_the_grant(client: Any, *, by: str = "disp") -> list[Message]:
    """The read that brings ``client`` its grant (the speak answer, or from the line the
    granted notice) brings a revocation right behind it, as when an emergency pre-empts
    at once: the ``revoked`` notice is appended to those very bytes, so the client reads
    both before any awaiting task resumes. Returns the grants seen (one, once it came)."""
    session = client._conn.session
    assert not session._decoder.buffered  # installed between two frames
    shadow = FrameDecoder()  # the same bytes, to see where the grant is
    real = session.receive_data
    grants: list[Message] = []

    def is_grant(message: Message) -> bool:
        body = message.body
        return (isinstance(body, SpeakResult) and bool(body.on) and not body.queued) or (
            isinstance(body, FloorNotice) and body.type is FloorNoticeType.GRANTED)

    def receive_data(data: bytes) -> None:
        found = [m for m in map(decode_message, shadow.feed(data)) if is_grant(m)]
        if found and not grants and not shadow.buffered:
            grants.extend(found)
            data += wire(Message.notification(
                FloorNotice(OPS, FloorNoticeType.REVOKED, reason="preempted", by=by)))
        real(data)

    session.receive_data = receive_data
    return grants


@pytest.mark.parametrize("queued", [False, True])
async def test_a_grant_revoked_in_the_same_read_is_not_kept(clients, queued):
    """The grant (the speak answer, or from the line the granted notice) and a revocation
    read together: the revocation came while the request still looked pending and was
    dropped, and talk_start then made the floor ours, with someone else holding it. The
    grant is now applied as it is read, so the revocation ends it in its turn."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        if queued:
            assert await bob.talk_start()
        grants = revoked_in_the_read_of_the_grant(alice)
        log = EventLog(alice)
        if queued:
            waiting = asyncio.ensure_future(alice.talk_start(queue=True))
            await wait_until(lambda: alice.model.floor is FloorState.QUEUED, what="in line")
            await bob.talk_stop()
            assert await asyncio.wait_for(waiting, 3)  # granted (and taken away)
        else:
            assert await alice.talk_start()
        assert len(grants) == 1
        assert alice.model.floor is not FloorState.TALKING
        assert alice.model.speaker != "alice"
        assert not alice.send_audio(b"\xf8\xff\xfe")
        floor = [(e.state, e.reason, e.cause, e.by) for e in log.of(FloorChanged)
                 if e.state is FloorState.TALKING or e.reason == "revoked"]
        assert floor == [(FloorState.TALKING, "", "", ""),
                         (alice.model.floor, "revoked", "preempted", "disp")]


def held_into_one_read(client: Any, first: Callable[[Any], bool],
                       last: Callable[[Any], bool]) -> asyncio.Event:
    """From the read that brings ``client`` a body that is ``first`` on, its reads are held
    back until one brings a body that is ``last``; then all of it is handed to the client
    in one read, so both are read before any awaiting task resumes. Returns an event set
    once the holding began."""
    session = client._conn.session
    assert not session._decoder.buffered  # installed between two frames
    shadow = FrameDecoder()  # the same bytes, to see where the bodies are
    real = session.receive_data
    held: list[bytes] = []
    holding = asyncio.Event()

    def receive_data(data: bytes) -> None:
        bodies = [m.body for m in map(decode_message, shadow.feed(data))]
        if not holding.is_set() and any(map(first, bodies)):
            holding.set()
        if not holding.is_set():
            real(data)
            return
        held.append(data)
        if any(map(last, bodies)):
            session.receive_data = real
            real(b"".join(held))

    session.receive_data = receive_data
    return holding


def queued_and_granted_in_one_read(client: Any) -> asyncio.Event:
    """The answer that puts ``client`` in line and the ``granted`` notice that ends the
    wait reach it in one read."""
    return held_into_one_read(
        client, lambda body: isinstance(body, SpeakResult) and body.queued,
        lambda body: isinstance(body, FloorNotice) and body.type is FloorNoticeType.GRANTED)


async def test_a_grant_read_with_the_queued_answer_is_applied(clients):
    """The answer that puts us in line and the ``granted`` notice that ends the wait, read
    together: the notice came while the request still looked unanswered and was dropped,
    and talk_start then waited in line for a grant that had come already. The place in
    line is now applied as it is read, so the notice behind it grants the floor."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await bob.talk_start()
        holding = queued_and_granted_in_one_read(alice)
        utterances: list[int] = []
        begin = alice._media.begin_utterance
        alice._media.begin_utterance = lambda grant=0: (utterances.append(grant), begin(grant))
        log = EventLog(alice)
        waiting = asyncio.ensure_future(alice.talk_start(queue=True))
        await asyncio.wait_for(holding.wait(), 3)
        assert alice.model.floor is FloorState.REQUESTING  # the answer is not read yet
        assert server.state.interphones[OPS].floor.queue != ()
        await bob.talk_stop()
        assert await asyncio.wait_for(waiting, 3) is True
        assert alice.model.floor is FloorState.TALKING and alice.model.speaker == "alice"
        assert [e.state for e in log.of(FloorChanged)] == [
            FloorState.REQUESTING, FloorState.QUEUED, FloorState.TALKING]
        assert len(utterances) == 1
        assert alice.send_audio(b"\xf8\xff\xfe")
        assert server.state.interphones[OPS].holder == "alice"
        await alice.talk_stop()


@pytest.mark.parametrize("answered", [False, True])
async def test_a_cancelled_talk_start_leaves_the_line(clients, answered):
    """talk_start cancelled (a caller's timeout, a closing window) while waiting in line, or
    before the answer that would put it there: the model stayed QUEUED (or said
    "disconnected") and the server kept us in line, to hand us the floor later with
    nobody to use it. Now the request ends as talk_stop ends it: the model is back to
    what it shows without a request, and ``speak off`` leaves the line. (Nobody is cut
    off for silence meanwhile: bob's turn ends only when he stops.)"""
    async with floor_server(silence_timeout=60.0) as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await bob.talk_start()
        log = EventLog(alice)
        waiting = asyncio.ensure_future(alice.talk_start(queue=True))
        if answered:
            await wait_until(lambda: alice.model.floor is FloorState.QUEUED, what="in line")
        else:
            await asyncio.sleep(0)  # the request is on its way, its answer not read yet
            assert alice.model.floor is FloorState.REQUESTING
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (alice.model.floor, alice.model.floor_holder) == (FloorState.BUSY, "bob")
        assert log.of(FloorChanged)[-1].reason == "cancelled"
        line = server.state.interphones[OPS].floor
        await wait_until(lambda: line.queue == () and alice._tasks._tasks == set(),
                         what="out of the line")
        await bob.talk_stop()
        await wait_until(lambda: server.state.interphones[OPS].holder == "", what="free")
        await wait_until(lambda: alice.model.floor is FloorState.IDLE, what="idle")
        assert alice.model.speaker == "" and not log.of(FloorChanged)[-1].reason


def garbled_speak_answers(client: Any) -> None:
    """Each answer to a speak request that puts ``client`` in line reaches it as a body no
    speak request has (an ``<emergency>``): unreadable as an answer to it."""
    session = client._conn.session
    real, shadow = session.receive_data, FrameDecoder()

    def receive_data(data: bytes) -> None:
        messages = list(map(decode_message, shadow.feed(data)))
        if any(isinstance(m.body, SpeakResult) and m.body.queued for m in messages):
            data = wire(*[Message.response(m.seq or "", EmergencyState(
                EmergencyAction.RAISE, OPS, "bob")) if isinstance(m.body, SpeakResult)
                else m for m in messages])
        real(data)

    session.receive_data = receive_data


@pytest.mark.parametrize("answer", ["late", "unreadable"])
async def test_a_speak_answer_that_is_not_read_leaves_the_line(clients, answer):
    """The answer to speak on (here: in line) came after the request's timeout (a slow
    link), or as a body no speak request has: talk_start raised RequestTimeout or
    RemoteProtocolError and the model said "disconnected" with the session up, while the
    server kept us in line, to hand us the floor later with nobody to use it (the answer
    was not read, so the client never knew). Such a request is now given up as a
    cancelled one: ``speak off`` leaves the line."""
    async with floor_server(silence_timeout=60.0) as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await bob.talk_start()
        error: type[Exception]
        if answer == "late":
            alice._conn.session.request_timeout = 0.3
            holding = held_into_one_read(
                alice, lambda body: isinstance(body, SpeakResult) and body.queued,
                lambda body: isinstance(body, InterphoneChanged) and body.info.speaker == "")
            error = RequestTimeout
        else:
            garbled_speak_answers(alice)
            error = RemoteProtocolError
        log = EventLog(alice)
        with pytest.raises(error):
            await asyncio.wait_for(alice.talk_start(queue=True), 3)
        if answer == "late":
            assert holding.is_set()  # the answer came, and was held past the timeout
        last = log.of(FloorChanged)[-1]
        assert (last.state, last.holder, last.reason, last.outcome) == (
            FloorState.BUSY, "bob", "cancelled", FloorOutcome.CANCELLED)
        line = server.state.interphones[OPS].floor
        await wait_until(lambda: line.queue == (), what="out of the line")
        await bob.talk_stop()
        await wait_until(lambda: alice.model.floor is FloorState.IDLE, what="idle")
        await asyncio.sleep(0.1)
        assert server.state.interphones[OPS].holder == ""
        assert FloorState.TALKING not in [e.state for e in log.of(FloorChanged)]


async def test_a_refusal_read_with_the_holder_stopping_leaves_the_floor_free(clients):
    """The 409 and the notice that the holder stopped, read together: the notice was
    applied while the request still looked pending, then talk_start made the floor 'busy'
    with a holder who no longer speaks, and it stayed so. The refusal is now applied as
    it is read, and the notice behind it frees the floor."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await bob.talk_start()
        holding = held_into_one_read(
            alice, lambda body: isinstance(body, ErrorReply) and body.tag == "speak",
            lambda body: isinstance(body, InterphoneChanged) and body.info.speaker == "")
        log = EventLog(alice)
        asking = asyncio.ensure_future(alice.talk_start())
        await asyncio.wait_for(holding.wait(), 3)
        await bob.talk_stop()
        with pytest.raises(FloorBusy) as busy:
            await asyncio.wait_for(asking, 3)
        assert busy.value.holder == "bob"
        assert (alice.model.floor, alice.model.floor_holder) == (FloorState.IDLE, "")
        assert [(e.state, e.holder, e.outcome) for e in log.of(FloorChanged)] == [
            (FloorState.REQUESTING, "", FloorOutcome.REQUESTED),
            (FloorState.BUSY, "bob", FloorOutcome.REFUSED_BUSY),
            (FloorState.IDLE, "", FloorOutcome.NONE)]
