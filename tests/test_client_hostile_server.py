"""The client against a hostile server over real sockets (signaling): a scripted server
(tests/hostile_server.py) logs the client in correctly, then misbehaves. For each case the
user gets a clear error or log line, no hang, no traceback, no lost state, bounded
memory and time. (Servers that close: tests/test_client_hostile_reconnect.py; media and
the floor: tests/test_client_hostile_media.py.)"""

from __future__ import annotations

import asyncio
import logging
import struct
import time

import pytest
from hostile_server import G58, HostileServer, Peer, client_for, frame_of, tracebacks
from waiting import wait_until

from app.client import InterphoneClient, RequestTimeout
from app.client.errors import RemoteProtocolError
from app.client.events import ConnectionState, FloorState
from app.client.model import MAX_UNSOLICITED_INTERPHONES
from app.client.turn import TurnPhase
from app.client.turn_driver import TurnDriver
from app.protocol import (
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Login,
    MembersRequest,
    MembersResult,
    Message,
    Ping,
    QuitRequest,
    QuitResult,
    SpeakRequest,
    SpeakResult,
    SyncResult,
    encode_frame,
    encode_message,
)

pytestmark = pytest.mark.timeout(30)


async def still_usable(client: InterphoneClient, timeout: float = 5) -> None:
    """The session still answers: a request round trip works and the state is intact."""
    info = await asyncio.wait_for(client.members(G58), timeout)
    assert info.members == ("alice", "bob")
    assert client.state is ConnectionState.CONNECTED


# ---- 1. frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("xml", [
    "<message type='notification' module='MID_INTERPHONE'><interphone",  # not well-formed
    "<message type='notification' module='MID_NOWHERE'><thing/></message>",  # unknown module
    "<message type='notification' module='MID_INTERPHONE'><frobnicate x='1'/></message>",
    "<message type='response' seq='77' module='MID_INTERPHONE'><frobnicate/></message>",
    "<html><body>hello</body></html>",  # a root that is not <message>
])
async def test_unreadable_frames_after_login_are_logged_and_the_session_goes_on(
        xml: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.client")
    async with HostileServer() as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        server.peer.send_raw(frame_of(xml) * 3)
        await still_usable(client)
        assert client.joined == G58 and len(server.peers) == 1
        # skipped with a word in the log (a warning for the first that is no message)
        assert [r for r in caplog.records if r.name == "app.client.session"]
        assert not tracebacks(caplog.records)
        await client.close()


async def test_a_flood_of_odd_frames_is_logged_once_not_per_frame(
        caplog: pytest.LogCaptureFixture) -> None:
    """5000 frames that are no message and 5000 errors answering no request: one warning,
    naming the first, and a count."""
    caplog.set_level(logging.INFO, logger="app.client")
    async with HostileServer() as server:
        client = client_for(server)
        await client.connect()
        server.peer.send_raw(frame_of("<message><oops") * 5000)
        server.peer.send_raw(encode_frame(encode_message(Message.frame_error("nope"))) * 5000)
        await still_usable(client)
        warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warned) == 1 and warned[0].startswith("undecodable frame"), warned
        assert client._conn is not None and client._conn.session.odd_frames == 10_000
        await client.close()


async def test_a_1_gb_length_header_closes_with_a_clear_line_and_reconnects(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.client")
    async with HostileServer() as server:
        client = client_for(server, backoff=(0.2, 1.0))
        await client.connect()
        await client.join(G58)
        server.peer.send_raw(struct.pack(">I", 1 << 30) + b"<message")
        await wait_until(lambda: len(server.peers) == 2 and client.connected, timeout=10,
                         what="reconnected")
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("oversized frame" in line and "1073741824" in line for line in lines), lines
        assert client.joined == G58  # re-joined after the reconnect
        assert server.peer.of(Login) and server.peer.of(JoinRequest)
        assert not tracebacks(caplog.records)
        await client.close()


@pytest.mark.parametrize("dribble", [True, False], ids=["dribbled", "header-then-silence"])
async def test_a_frame_never_finished_ends_the_session_in_bounded_time(
        dribble: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A frame dribbled a byte every 200 ms, or a header then silence: the request waiting
    behind it times out, the keepalive ping goes unanswered, the session closes and the
    client reconnects, all within seconds; what the frame held so far is a few bytes."""
    caplog.set_level(logging.INFO, logger="app.client")
    async with HostileServer(keepalive=1) as server:
        client = client_for(server, request_timeout=1.0, backoff=(0.2, 1.0))
        details: list[str] = []
        client.model.subscribe(lambda event: details.append(getattr(event, "detail", "")))
        await client.connect()
        first = server.peer
        frame = frame_of("<message type='notification' module='MID_INTERPHONE'>"
                         + "<interphone id='group_58' attach_id='58' member_count='1'/>"
                         + "</message>")

        async def dribbler() -> None:
            first.send_raw(frame[:4])
            for byte in frame[4:-1] if dribble else ():
                await asyncio.sleep(0.2)
                first.send_raw(bytes([byte]))

        server.on[MembersRequest] = server.on[Ping] = lambda peer, request: None
        server.spawn(dribbler())
        began = time.monotonic()
        with pytest.raises(RequestTimeout, match="MembersRequest: no answer within 1 s"):
            await client.members(G58)
        assert time.monotonic() - began < 5
        server.on.clear()
        await wait_until(lambda: len(server.peers) == 2 and client.connected, timeout=10,
                         what="a new session")
        # the user is told why: the line and the state's detail name the unanswered ping
        assert "connection lost: ping not answered within 2 s" in details
        assert any("ping not answered" in r.getMessage() for r in caplog.records)
        assert not tracebacks(caplog.records)
        await client.close()


# ---- 2. answers nobody asked for ------------------------------------------------------------


async def test_answers_to_no_request_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.client")
    async with HostileServer() as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        before = client.model.interphone(G58)
        peer = server.peer
        for seq in ("999", "1", "x" * 64):  # never sent, already answered, anything
            peer.send(Message.response(seq, MembersResult(InterphoneInfo.of(
                G58, "alice", ["mallory"], "mallory"))))
            peer.send(Message.response(seq, SpeakResult(True, G58)))
        await still_usable(client)
        assert client.model.interphone(G58) == before  # no state from answers to nothing
        assert client.model.speaker == ""
        assert not tracebacks(caplog.records)
        await client.close()


async def test_a_second_answer_to_one_request_is_ignored() -> None:
    async with HostileServer() as server:

        def twice(peer: Peer, request: Message) -> None:
            peer.respond(request, MembersResult(InterphoneInfo.of(G58, "alice", ["alice"])))
            peer.respond(request, MembersResult(InterphoneInfo.of(
                G58, "alice", ["alice", "mallory"], "mallory")))

        server.on[MembersRequest] = twice
        client = client_for(server)
        await client.connect()
        info = await client.members(G58)
        assert info.members == ("alice",)
        del server.on[MembersRequest]
        await still_usable(client)  # read after the second answer, which changed nothing
        assert client.model.speaker == ""
        await client.close()


async def test_an_answer_of_the_wrong_kind_fails_that_request_only() -> None:
    async with HostileServer() as server:
        server.on[MembersRequest] = lambda peer, request: peer.respond(request, SyncResult(()))
        client = client_for(server)
        await client.connect()
        with pytest.raises(RemoteProtocolError,
                           match=r"^MembersRequest: answered with SyncResult$"):
            await client.members(G58)
        del server.on[MembersRequest]
        await still_usable(client)
        await client.close()


async def test_an_answer_about_another_interphone_fails_that_request_only() -> None:
    """The join of group_77 answered with group_99's members, and members, speak on and
    quit likewise answered for group_99: each request fails with a line naming both, and
    the model, the media registrations and the floor keep what is true."""
    other = InterphoneId.group("99")
    other_info = InterphoneInfo.of(other, "alice", ["alice", "bob"])

    def about_other(peer: Peer, request: Message) -> None:
        match request.body:
            case JoinRequest():
                peer.respond(request, JoinResult(other_info))
            case MembersRequest():
                peer.respond(request, MembersResult(other_info))
            case QuitRequest():
                peer.respond(request, QuitResult(InterphoneInfo(other, "99", 1)))
            case SpeakRequest(on):
                peer.respond(request, SpeakResult(on, other))

    async with HostileServer() as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        for kind in (JoinRequest, MembersRequest, QuitRequest, SpeakRequest):
            server.on[kind] = about_other
        calls = {"join": client.join(InterphoneId.group("77")), "members": client.members(G58),
                 "speak": client.talk_start(), "quit": client.leave(G58)}
        for name, call in calls.items():
            with pytest.raises(RemoteProtocolError,
                               match=r"Request: about group_\d+, answered for group_99$"):
                await call
            assert client.model.floor is not FloorState.TALKING, name
            assert client.model.interphone(other) is None, name
            assert client.connected, name
        # the quit that failed leaves the interphone locally, as any failed quit does
        assert client.model.joined_ids == ()
        assert client._media is not None and client._media.interphones == ()
        server.on.clear()
        await client.join(G58)
        await still_usable(client)
        await client.close()


# ---- 3. absurd login answers ----------------------------------------------------------------


def next_ping_in(client: InterphoneClient) -> float:
    conn = client._conn
    assert conn is not None
    deadline = conn.session.next_deadline()
    assert deadline is not None
    return deadline - asyncio.get_running_loop().time()


@pytest.mark.parametrize("keepalive", ["0", "", "4294967295", "99999"])
async def test_absurd_keepalives_leave_sane_timers(keepalive: str) -> None:
    """keepalive 0 would ping in a tight loop, an enormous one never (a dead server
    unnoticed for years); missing means the default."""
    async with HostileServer() as server:
        attribute = f" keepalive='{keepalive}'" if keepalive else ""
        server.login = lambda login: frame_of(
            f"<message type='response' seq='1' module='MID_SESSION'><login uid='alice' "
            f"udp_port='{server.udp_port}'{attribute}><group id='58' name='Ops'/></login>"
            "</message>")
        client = client_for(server)
        await client.connect()
        assert 0.9 <= next_ping_in(client) <= 300
        assert 1 <= client.model.keepalive <= 300
        await client.join(G58)  # the media refresh runs at a sane interval too
        await still_usable(client)
        await client.close()


@pytest.mark.parametrize(("attributes", "words"), [
    ("udp_port='9400' keepalive='-5'", "keepalive='-5' is not an unsigned integer"),
    ("udp_port='9400' max_talk='lots'", "max_talk='lots' is not an unsigned integer"),
    ("keepalive='15'", "needs 'udp_port'"),
    ("udp_port='0'", "udp_port=0 is not a port number"),
])
async def test_an_unreadable_login_answer_is_a_clear_error(attributes: str, words: str) -> None:
    async with HostileServer() as server:
        server.login = lambda login: frame_of(
            "<message type='response' seq='1' module='MID_SESSION'>"
            f"<login uid='alice' {attributes}/></message>")
        client = client_for(server)
        began = time.monotonic()
        with pytest.raises(RemoteProtocolError, match=words):
            await client.connect()
        assert time.monotonic() - began < 3
        assert client.state is ConnectionState.DISCONNECTED
        await client.close()


@pytest.mark.parametrize(("max_talk", "limit"), [(0, 60.0), (4294967295, 4294967295.0)])
async def test_absurd_max_talks_leave_a_working_turn(max_talk: int, limit: float) -> None:
    """max_talk 0 (a grant that ends at once) is taken as the default; an enormous one
    as it is: either way a press is granted, talks and ends."""
    transmitting: list[bool] = []
    async with HostileServer(max_talk=max_talk) as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        driver = TurnDriver(client, on_transmit=transmitting.append)
        driver.press()
        await wait_until(lambda: driver.machine.transmitting, what="granted")
        assert driver.machine.config.max_talk == limit
        assert driver.machine.view(time.monotonic()).remaining > 50
        driver.release()
        await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE and not driver.busy,
                         what="released")
        assert transmitting == [True, False] and client.connected
        await driver.close()
        await client.close()


# ---- 4. floods ------------------------------------------------------------------------------


async def test_a_notification_flood_leaves_the_client_responsive_and_bounded() -> None:
    """Tens of thousands of member and speaker changes in a burst: the loop is never held
    for long (no keepalive ping misses its answer: the session survives), the model holds
    one interphone, few tasks are alive at any time."""
    # made before the session starts: encoding them holds the loop 1-2 s, a keepalive
    # ping's whole timeout, and the server answering it runs on that loop too
    frames = []
    for n in range(20_000):
        members = ["alice", "bob", f"u{n % 400}"]
        frames.append(Message.notification(InterphoneChanged(InterphoneInfo.of(
            G58, "alice", members, members[1 + n % 2]))))
    data = b"".join(encode_frame(encode_message(m)) for m in frames)
    async with HostileServer(keepalive=1) as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        peer = server.peer
        longest_pause = 0.0
        flooding = True

        async def ticker() -> None:  # how long the loop was held at most
            # in the loop thread's CPU time: on a loaded machine the wall clock also counts
            # the time the thread waited for a core
            nonlocal longest_pause
            while flooding:
                began = time.thread_time()
                await asyncio.sleep(0.01)
                longest_pause = max(longest_pause, time.thread_time() - began)

        ticking = asyncio.ensure_future(ticker())
        peer.send_raw(data)
        most_tasks = 0

        def settled() -> bool:
            nonlocal most_tasks
            most_tasks = max(most_tasks, len(asyncio.all_tasks()))
            members = client.model.members
            return members == ("alice", "bob", "u399") or members == ("alice", "u399", "bob")

        began = time.monotonic()
        await wait_until(settled, timeout=20, what="the flood applied")
        flooding = False
        await ticking
        assert longest_pause < 1.0  # (about 0.1 s: 2,000 notifications a read)
        info = await asyncio.wait_for(client.members(G58), 5)
        assert info.members == ("alice", "bob")
        assert time.monotonic() - began < 20
        assert len(client.model.interphones) == 1
        assert most_tasks < 100, most_tasks
        assert client.connected and len(server.peers) == 1
        await client.close()


async def test_a_flood_of_interphones_never_asked_about_is_capped(
        caplog: pytest.LogCaptureFixture) -> None:
    """20,000 chats with strangers announced in a burst: the model keeps a bounded number,
    says so once, and still follows the roster's group."""
    caplog.set_level(logging.WARNING, logger="app.client")
    # made before the session starts: encoding them holds the loop the client runs on
    data = b"".join(encode_frame(encode_message(Message.notification(InterphoneChanged(
        InterphoneInfo.of(InterphoneId.chat("alice", f"x{n}"), "alice",
                          ["alice", f"x{n}"]))))) for n in range(20_000))
    async with HostileServer() as server:
        client = client_for(server)
        await client.connect()
        await client.join(G58)
        server.peer.send_raw(data)
        await wait_until(lambda: len(client.model.interphones) == MAX_UNSOLICITED_INTERPHONES
                         + 1, timeout=20, what="the flood applied")
        # (answered after the whole flood is read: the cap is reached at its start, and
        # reading the rest takes seconds on a loaded machine)
        await still_usable(client, timeout=60)
        assert len(client.model.interphones) == MAX_UNSOLICITED_INTERPHONES + 1
        assert len([r for r in caplog.records if "outside the roster" in r.getMessage()]) == 1
        await client.close()
