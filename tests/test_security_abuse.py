"""Abuse of the extensions and of the clients, tried against a real ``interphone-server``
process on 127.0.0.1 (docs/security.md, "Attacks tried against the real server")."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer, client_for
from server_fixtures import (
    FAST,
    TEST_TOML,
    RawClient,
    UdpPeer,
    running_server,
    sample_directory,
    start_server_process,
    stop_server_process,
)

from app.client.events import ConnectionState
from app.protocol import RecvBeginPacket
from app.protocol.errors import ErrCode
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    ErrorReply,
    InterphoneChanged,
    JoinRequest,
    Login,
    LoginResult,
    Message,
    Ping,
    QuitRequest,
    SpeakRequest,
)
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    PresenceSyncResult,
)
from app.protocol.replies import refusal
from app.server import Directory, InterphoneServer, floor_rules

OPEN_TOML = """\
[server]
auth = "open"
"""

Served = tuple[int, list[str]]


@contextlib.asynccontextmanager
async def server_process(tmp_path: Path, settings: str = "") -> AsyncIterator[Served]:
    config = tmp_path / "dir.toml"
    config.write_text(TEST_TOML.replace("[server]\n", "[server]\n" + settings, 1))
    process, port, lines = await start_server_process("--config", str(config))
    try:
        yield port, lines
    finally:
        await stop_server_process(process)


async def _login(port: int, uid: str, features: tuple[str, ...] = ()) -> RawClient:
    client = await RawClient.connect(port)
    reply = await client.request(Login(uid, f"pw-{uid}", features=features))
    assert reply.ok and isinstance(reply.body, LoginResult), reply
    client.uid = uid
    return client


async def test_ring_and_cancel_in_turn_cannot_ring_a_user_without_end(tmp_path: Path) -> None:
    """A caller in a chat sending ``ring`` and ``cancel`` in turn started a new ring with
    each ``ring``: the callee's desktop rang 25 times a second (the request rate), while
    the same calls made by joining and leaving were held to ``membership_rate``. A ring
    now costs the caller's membership budget as a join does: beyond it, 429 and the
    callee is told nothing."""
    async with server_process(tmp_path, "membership_burst = 5\n") as (port, _lines):
        eve = await _login(port, "eve", ("presence",))
        alice = await _login(port, "alice", ("presence",))
        chat = InterphoneId.parse("chat_alice:eve")
        assert (await alice.request(JoinRequest(chat))).ok  # rings eve: one budget token
        started = time.monotonic()
        answers = []
        for _ in range(30):
            answers.append((await alice.request(CallRequest(CallAction.CANCEL, chat))).body)
            answers.append((await alice.request(CallRequest(CallAction.RING, chat))).body)
        elapsed = time.monotonic() - started
        rings_refused = sum(1 for a in answers[1::2]
                            if isinstance(a, ErrorReply) and a.errcode == 429)
        await asyncio.sleep(0.5)
        rang = sum(1 for m in eve.drain() if isinstance(m.body, CallNotice)
                   and m.body.type is CallNoticeType.RINGING)
        assert rings_refused > 0
        assert rang <= 5 + 2 * elapsed + 1, (rang, elapsed)
        await alice.close()
        await eve.close()


async def test_raise_and_cancel_in_turn_cannot_alert_a_group_without_end(
        tmp_path: Path) -> None:
    """A member raising and cancelling an emergency in turn made every member's client
    sound the emergency alert, show its banner and interrupt its screen reader 25 times
    a second, and the server write four log lines each time. Raises and cancels now cost
    the membership budget: beyond it, 429 and nobody is told anything."""
    async with server_process(tmp_path, "membership_burst = 5\n") as (port, _lines):
        group = InterphoneId.parse("group_58")
        bob = await _login(port, "bob", ("emergency",))
        assert (await bob.request(JoinRequest(group))).ok
        alice = await _login(port, "alice", ("emergency",))
        assert (await alice.request(JoinRequest(group))).ok  # one budget token
        await asyncio.sleep(0.2)
        bob.drain()
        started = time.monotonic()
        answers = []
        for _ in range(30):
            for action in (EmergencyAction.RAISE, EmergencyAction.CANCEL):
                answers.append((await alice.request(EmergencyRequest(action, group))).body)
        elapsed = time.monotonic() - started
        refused = [a for a in answers if isinstance(a, ErrorReply)]
        assert refused and {a.errcode for a in refused} == {429}
        await asyncio.sleep(0.5)
        raised = sum(1 for m in bob.drain() if isinstance(m.body, EmergencyState)
                     and m.body.action is EmergencyAction.RAISE)
        assert raised <= 4 + 2 * elapsed + 1, (raised, elapsed)
        await alice.close()
        await bob.close()


async def test_emergency_records_of_ever_new_chats_are_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server keeps each interphone's emergency records after it ended, and never
    forgot an interphone: a user raising an emergency in one chat after another (in open
    mode, with any uid) grew them without end. At most ``EMERGENCY_LOG_INTERPHONES``
    interphones are kept; the one recorded least recently goes first."""
    monkeypatch.setattr(floor_rules, "EMERGENCY_LOG_INTERPHONES", 3)
    async with running_server(Directory.from_toml_text(OPEN_TOML, source="open.toml"),
                              membership_burst=1000) as server:
        alice = await _login(server.port, "alice", ("emergency",))
        chats = [InterphoneId.chat("alice", f"x{n}") for n in range(6)]
        for chat in chats:
            assert (await alice.request(JoinRequest(chat))).ok
            raised = await alice.request(EmergencyRequest(EmergencyAction.RAISE, chat))
            assert raised.ok, raised
            assert (await alice.request(QuitRequest(chat))).ok  # ends it: recorded too
        kept = server.state.emergency_log
        assert list(kept) == chats[3:]
        assert [r.action for r in kept[chats[5]]] == [EmergencyAction.RAISE,
                                                       EmergencyAction.CANCEL]
        await alice.close()


def _directory_of(users: int) -> str:
    lines = ["[server]", 'auth = "token"', "rate_burst = 10", ""]
    for n in range(users):
        lines += ["[[users]]", f'uid = "user{n:04d}"', f'name = "User number {n}"',
                  f'token = "pw-user{n:04d}"', ""]
    return "\n".join(lines)


async def test_large_answers_cost_the_byte_budget(tmp_path: Path) -> None:
    """A presence sync is 80 bytes and its answer, in a directory of 1,500 users, 61 KB:
    one session asking it 40 times a second (within the request rate) made the server
    encode 2.4 MB a second, 67 % of a core, and every other user's answers waited 30 ms
    (p50, 180 ms at worst). The answers to a session now cost its byte budget as what
    it sends does (``read_rate`` 64 KB/s after ``read_burst`` 256 KB): its reading pauses
    and its requests wait in its socket; the others are served meanwhile. (``rate_burst``
    10: the requests read at once when reading resumes are all answered, up to the
    request rate's burst.)"""
    config = tmp_path / "dir.toml"
    config.write_text(_directory_of(1500))
    process, port, _lines = await start_server_process("--config", str(config))
    try:
        asker = await RawClient.connect(port)
        reply = await asker.request(Login("user0000", "pw-user0000", features=("presence",)))
        assert reply.ok
        other = await RawClient.connect(port)
        await other.login("user0001", "pw-user0001")
        for index in range(150):  # 37 a second: within the request rate
            asker.send_xml(f"<message type='request' seq='p{index}' module='MID_SESSION'>"
                           "<presence type='sync'/></message>")
            await asyncio.sleep(0.027)
        assert (await other.request(Ping(), timeout=10.0)).ok
        replies = [asker.unmatched.get_nowait() for _ in range(asker.unmatched.qsize())]
        # 256 KB + 4 s of 64 KB: about 8 answers of 61 KB, and those of the frames read
        # at once when reading resumes, up to rate_burst (the rest refused with 429: a
        # client stalled a moment sends its requests in bursts, and a resume may then
        # read most of them at once)
        answers = [reply for reply in replies if reply.ok]
        assert answers and all(isinstance(reply.body, PresenceSyncResult)
                               for reply in answers)
        assert len(answers) < 40, len(answers)
        assert all(isinstance(reply.body, ErrorReply)
                   and reply.body.errcode == ErrCode.TOO_MANY_REQUESTS
                   for reply in replies if not reply.ok), replies
        await asker.close()
        await other.close()
    finally:
        await stop_server_process(process)


async def test_a_flood_of_valid_base_recvbegins_is_cut_per_uid(tmp_path: Path) -> None:
    """A member's own base recvbegin, valid and from the address it logged in from, is a
    registration and an ack on the event loop: the media thread handed every one over,
    and a flood of them (240,000 a second) held another user's ping for 20 s. They now
    have a bucket per uid (``recvbegin_rate``/``recvbegin_burst``, as media-auth's per
    address), checked in the media thread: beyond it, dropped there, unacknowledged."""
    async with server_process(tmp_path) as (port, _lines):
        alice = await _login(port, "alice")
        assert (await alice.request(JoinRequest(InterphoneId.parse("group_58")))).ok
        bob = await _login(port, "bob")
        packet = RecvBeginPacket("group_58", "alice").serialize()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        acks = 0
        started = time.monotonic()
        try:
            for _ in range(100):
                for _ in range(200):
                    with contextlib.suppress(BlockingIOError):
                        sock.sendto(packet, ("127.0.0.1", port))
                await asyncio.sleep(0.01)
            assert (await bob.request(Ping(), timeout=30.0)).ok
            await asyncio.sleep(0.5)
            elapsed = time.monotonic() - started
            with contextlib.suppress(BlockingIOError):
                while sock.recv(2048) == packet:
                    acks += 1
        finally:
            sock.close()
        assert 1 <= acks <= 40 + 20 * elapsed + 1, (acks, elapsed)
        await alice.close()
        await bob.close()


async def test_a_reconnect_answered_429_is_tried_again() -> None:
    """A login refused 429 while reconnecting (the login guard's back-off, which an
    attacker's wrong guesses for the uid start for every address but the user's usual
    ones, or its hash queue full during a login flood: "retry in 1 s") ended the
    reconnection for good, as a wrong token does: the user stayed offline until they
    noticed. A 429 is now one more failed attempt, retried after the back-off."""
    async with HostileServer() as server:
        client = client_for(server, backoff=(0.2, 1.0))
        await client.connect()
        refused = 0

        def busy(peer: Peer, request: Message) -> None:
            nonlocal refused
            refused += 1
            if refused == 2:
                del server.on[Login]  # the next attempt is answered as usual
            peer.send(refusal(request, ErrCode.TOO_MANY_REQUESTS,
                              "too many failed logins, retry in 1 s"))

        server.on[Login] = busy
        server.peer.close()
        deadline = time.monotonic() + 15.0
        while client.state is not ConnectionState.CONNECTED or refused < 2:
            assert client.state is not ConnectionState.REFUSED, client.model.connection_detail
            assert time.monotonic() < deadline, client.state
            await asyncio.sleep(0.05)
        await client.close()
async def test_speak_on_and_off_in_turn_cannot_flood_the_members(tmp_path: Path) -> None:
    """A member taking and releasing the floor in turn made two change notifications to
    every member and watcher each time, 50 a second from one client: the amplification
    the join and leave budget closed, through the floor. ``speak on`` now has a budget
    per session (``floor_rate``/``floor_burst``): beyond it, 429 and nobody is told
    anything; ``speak off`` is never refused."""
    async with server_process(tmp_path, "floor_burst = 5\n") as (port, _lines):
        group = InterphoneId.parse("group_58")
        bob = await _login(port, "bob")
        assert (await bob.request(JoinRequest(group))).ok
        alice = await _login(port, "alice")
        assert (await alice.request(JoinRequest(group))).ok
        await asyncio.sleep(0.2)
        bob.drain()
        started = time.monotonic()
        ons, offs = [], []
        for _ in range(30):
            ons.append((await alice.request(SpeakRequest(True, group))).body)
            offs.append(await alice.request(SpeakRequest(False, group)))
        elapsed = time.monotonic() - started
        assert all(reply.ok for reply in offs)
        refused = [a for a in ons if isinstance(a, ErrorReply)]
        assert refused and {a.errcode for a in refused} == {429}
        granted = len(ons) - len(refused)
        assert granted <= 5 + 5 * elapsed + 1, (granted, elapsed)
        await asyncio.sleep(0.5)
        told = sum(1 for m in bob.drain() if isinstance(m.body, InterphoneChanged))
        assert told == 2 * granted  # a grant and a release each, nothing per refusal
        await alice.close()
        await bob.close()


@pytest.mark.parametrize("media_thread", [True, False], ids=["media-thread", "loop"])
async def test_recvbegins_naming_a_user_from_elsewhere_do_not_spend_their_bucket(
        media_thread: bool) -> None:
    """The base recvbegin bucket is per uid: on the event loop's path it was spent before
    the source address was checked, so a flood naming alice from another address used up
    alice's bucket and her own registration was dropped (no audio for her)."""
    async with InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                                settings=FAST, media_thread=media_thread) as server:
        alice = await RawClient.connect(server.port)
        await alice.login("alice")
        assert (await alice.request(JoinRequest(InterphoneId.parse("group_58")))).ok
        packet = RecvBeginPacket("group_58", "alice").serialize()
        spoofer = await UdpPeer.open(server.port, local_host="127.0.0.2")
        own = await UdpPeer.open(server.port)
        try:
            for _ in range(3):  # more than the burst, and what refills meanwhile
                for _ in range(100):
                    spoofer.send(packet)
                await asyncio.sleep(0.05)
            for _ in range(50):
                spoofer.send(packet)
            own.send(packet)  # (after them in the server's socket)
            assert await own.recv(2.0) == packet  # acknowledged: registered
            assert spoofer.received.empty()
        finally:
            spoofer.close()
            own.close()
            await alice.close()
