"""Attacks on a real ``interphone-server`` process on 127.0.0.1, each with the defence that
holds it (docs/security.md, "Attacks tried against the real server")."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import statistics
import struct
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from server_fixtures import (
    TEST_TOML,
    RawClient,
    logged_fingerprint,
    start_server_process,
    stop_server_process,
)

from app.client.trust import TrustPolicy, client_context
from app.protocol.ids import InterphoneId
from app.protocol.limits import MAX_CHATS, MAX_FRAME
from app.protocol.messages import ErrorReply, JoinRequest, JoinResult, QuitRequest, SyncResult

Served = tuple[int, list[str], asyncio.subprocess.Process]
"""The port, the log lines until it served, the process."""


@contextlib.asynccontextmanager
async def server_process(tmp_path: Path, settings: str = "", *args: str) -> AsyncIterator[Served]:
    config = tmp_path / "dir.toml"
    text = TEST_TOML.replace('auth = "token"\n', "", 1) if "auth = " in settings else TEST_TOML
    config.write_text(text.replace("[server]\n", "[server]\n" + settings, 1))
    process, port, lines = await start_server_process("--config", str(config), *args)
    try:
        yield port, lines, process
    finally:
        await stop_server_process(process)


def _still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


async def test_unfinished_tls_handshakes_are_limited_per_address(tmp_path: Path) -> None:
    """Connections to the TLS port that never finish their handshake (nothing sent, or a
    ClientHello cut short) were held for the whole handshake timeout, any number from one
    address: the per-address limit of connections before login did not see them, as they
    were not sessions yet. Now they count against it from the accept."""
    async with server_process(tmp_path, "max_unauthenticated_per_address = 4\n"
                              "media_encryption = 'optional'\n",
                              "--tls-self-signed", str(tmp_path / "tls")) as (port, lines, _):
        stalled = []
        for index in range(40):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            if index % 2:
                with contextlib.suppress(OSError):  # (one refused may be reset already)
                    sock.send(b"\x16\x03\x01")  # a record header, then nothing
            stalled.append(sock)
        await asyncio.sleep(1.0)  # well within the 10 s handshake timeout
        assert sum(_still_open(sock) for sock in stalled) == 4
        for sock in stalled:
            sock.close()
        await asyncio.sleep(0.3)
        context: ssl.SSLContext = client_context(TrustPolicy(pin=logged_fingerprint(lines)))
        alice = await RawClient.connect(port, tls=context)  # the slots were given back
        await alice.login("alice", "pw-alice")
        await alice.close()


def _frame(xml: bytes) -> bytes:
    return struct.pack(">I", len(xml)) + xml


FULL_FRAME = _frame((b"<message type='request' seq='f' module='MID_SESSION'><ping>"
                     + b"<a/>" * 16300 + b"</ping></message>")[:MAX_FRAME])
"""A well-formed frame of 65,536 bytes that costs the parser the most (16,300 elements)."""


def _stream_frames(port: int, uid: str, stop: threading.Event) -> None:
    """Log in, then send full frames as fast as the socket takes them (replies drained)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_frame(f"<message type='request' seq='l' module='MID_SESSION'><login "
                            f"uid='{uid}' token='pw-{uid}' version='1'/></message>".encode()))
        threading.Thread(target=_drain_socket, args=(sock,), daemon=True).start()
        sock.settimeout(0.5)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                try:
                    sock.sendall(FULL_FRAME)
                except TimeoutError:
                    continue
                except OSError:
                    return


def _drain_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(1 << 20):
            pass


async def test_a_stream_of_full_frames_cannot_take_the_loop_from_the_others(
        tmp_path: Path) -> None:
    """A logged-in peer streaming well-formed 64 KB frames: each was parsed (the rate limit
    answers 429 only after parsing, for the seq), about 5 ms of the loop per frame, so one
    connection kept the loop busy and another user's ping took over a second. Now what a
    peer sends beyond its byte budget waits in its socket."""
    async with server_process(tmp_path) as (port, _lines, _process):
        alice = await RawClient.connect(port)
        await alice.login("alice", "pw-alice")
        stop = threading.Event()
        flood = threading.Thread(target=_stream_frames, args=(port, "eve", stop), daemon=True)
        flood.start()
        try:
            await asyncio.sleep(1.0)
            took = []
            for index in range(15):
                started = time.perf_counter()
                await alice.request_xml(f"<message type='request' seq='p{index}' "
                                        f"module='MID_SESSION'><ping/></message>", f"p{index}",
                                        timeout=20)
                took.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            flood.join(5)
        assert statistics.median(took) < 0.1, took
        await alice.close()


async def test_a_full_sync_still_fits_the_byte_budget(tmp_path: Path) -> None:
    """The largest request a client makes (a sync of 500 ids) and a burst of them pass
    unhindered: the budget allows what no client sends."""
    async with server_process(tmp_path) as (port, _lines, _process):
        alice = await RawClient.connect(port)
        await alice.login("alice", "pw-alice")
        ids = "".join(f"<interphone id='group_{index:062d}'/>" for index in range(500))
        started = time.perf_counter()
        for index in range(5):
            reply = await alice.request_xml(
                f"<message type='request' seq='s{index}' module='MID_INTERPHONE'>"
                f"<interphones type='sync'>{ids}</interphones></message>", f"s{index}")
            assert reply.body.__class__.__name__ == "SyncResult"
        assert time.perf_counter() - started < 2.0
        await alice.close()


CALLERS = 700
"""Enough chats with one user to make her sync answer outgrow a frame."""
OPEN_AND_CROWDED = ('auth = "open"\nmax_sessions_per_address = 5000\n'
                    "max_unauthenticated_per_address = 5000\nrate_burst = 1000\n")


async def test_many_callers_cannot_break_a_users_sync(tmp_path: Path) -> None:
    """Every active chat of a user is in that user's sync answer: 700 uids each opening a
    chat with alice made her answer outgrow a frame, and every sync of hers got a 500
    without seq (her client waited for its timeout). A user is now a party of at most
    MAX_CHATS active chats; a join that would start one more is answered 413."""
    async with server_process(tmp_path, OPEN_AND_CROWDED) as (port, _lines, _process):
        alice = await RawClient.connect(port)
        await alice.login("alice", "x")
        callers = []
        for index in range(CALLERS):
            caller = await RawClient.connect(port)
            caller.send_xml(f"<message type='request' seq='l' module='MID_SESSION'><login "
                            f"uid='caller{index:04d}' token='x' version='1'/></message>")
            caller.send_xml(f"<message type='request' seq='j' module='MID_INTERPHONE'>"
                            f"<interphone type='add' id='chat_alice:caller{index:04d}'/></message>")
            callers.append(caller)
        refused = 0
        codes: list[str] = []
        for caller in callers:
            answers = [await caller.next_unmatched(timeout=5) for _ in range(2)]
            join = next(m for m in answers if m.seq == "j")
            refused += isinstance(join.body, ErrorReply) and join.body.errcode == 413
            codes.append(getattr(join.body, "errmsg", "ok"))
        alice.send_xml("<message type='request' seq='s' module='MID_INTERPHONE'>"
                       "<interphones type='sync'><interphone id='group_58'/></interphones>"
                       "</message>")
        reply = await alice.next_unmatched(timeout=5)
        assert reply.seq == "s" and isinstance(reply.body, SyncResult), reply
        assert len(reply.body.interphones) == MAX_CHATS
        assert refused == CALLERS - MAX_CHATS, sorted(set(codes))
        for caller in callers:
            await caller.close()
        await alice.close()


async def test_one_uid_cannot_open_chats_without_end(tmp_path: Path) -> None:
    """In open mode any uid exists: one session could start ever new chats (about 0.7 KB
    of the server each, kept until it leaves). At most MAX_CHATS; then 413, and a chat
    that ends makes room again."""
    # (the membership budget would refuse these joins first: MAX_CHATS is what bounds a
    # session that opens them slowly, over minutes)
    crowded = OPEN_AND_CROWDED + f"membership_burst = {MAX_CHATS + 10}\n"
    async with server_process(tmp_path, crowded) as (port, _lines, _process):
        mallory = await RawClient.connect(port)
        await mallory.login("mallory", "x")
        for index in range(MAX_CHATS):
            reply = await mallory.join(InterphoneId.parse(f"chat_mallory:v{index}"))
            assert isinstance(reply.body, JoinResult)
        reply = await mallory.request(JoinRequest(InterphoneId.parse("chat_mallory:one_more")))
        assert isinstance(reply.body, ErrorReply) and reply.body.errcode == 413
        quit_reply = await mallory.request_xml(
            "<message type='request' seq='q' module='MID_INTERPHONE'>"
            "<interphone type='quit' id='chat_mallory:v0'/></message>", "q")
        assert not isinstance(quit_reply.body, ErrorReply)
        reply = await mallory.join(InterphoneId.parse("chat_mallory:one_more"))
        assert isinstance(reply.body, JoinResult)
        await mallory.close()


async def test_an_answer_too_large_for_a_frame_fails_in_its_own_envelope(
        tmp_path: Path) -> None:
    """A login answer whose roster outgrows a frame (a user in 1,200 groups) was replaced by
    the bare <error> without seq: the client waited for its login's timeout. It is now
    answered 500 in the request's envelope, at once."""
    groups = "".join(f'[[groups]]\nid = "g{index:04d}"\nname = "{"Group " * 6}{index}"\n'
                     f'members = ["alice"]\n\n' for index in range(1200))
    config = tmp_path / "dir.toml"
    config.write_text(TEST_TOML + "\n" + groups)
    process, port, _lines = await start_server_process("--config", str(config))
    try:
        alice = await RawClient.connect(port)
        alice.send_xml("<message type='request' seq='l' module='MID_SESSION'>"
                       "<login uid='alice' token='pw-alice' version='1'/></message>")
        reply = await alice.next_unmatched(timeout=5)
        assert reply.seq == "l" and isinstance(reply.body, ErrorReply), reply
        assert reply.body.tag == "login" and reply.body.errcode == 500
        await alice.close()
        bob = await RawClient.connect(port)
        await bob.login("bob", "pw-bob")  # the others are served as before
        await bob.close()
    finally:
        await stop_server_process(process)


async def test_joins_and_leaves_of_one_session_are_budgeted(tmp_path: Path) -> None:
    """One session toggling join and leave on a group made the server tell every other
    member (and watcher) each time: 300 members at 44 changes a second took 21 % of a
    core, from one client. Joins and leaves have a budget of their own per session
    (``membership_rate`` 2/s after ``membership_burst`` 50): beyond, 429 and nobody is
    told anything; a client that rejoins its interphones after a restart stays within."""
    async with server_process(tmp_path) as (port, _lines, _process):
        bob = await RawClient.connect(port)
        await bob.login("bob")
        await bob.join(InterphoneId.parse("group_58"))
        await asyncio.sleep(0.2)
        bob.drain()  # (the change his own join made)
        mallory = await RawClient.connect(port)
        await mallory.login("alice")
        group = InterphoneId.parse("group_58")
        started = time.monotonic()
        answers = []
        for index in range(100):
            body = JoinRequest(group) if index % 2 == 0 else QuitRequest(group)
            answers.append((await mallory.request(body)).body)
        elapsed = time.monotonic() - started
        refused = [a for a in answers if isinstance(a, ErrorReply)]
        assert {a.errcode for a in refused} == {429}
        allowed = len(answers) - len(refused)
        assert 50 <= allowed <= 50 + 2 * elapsed + 1, (allowed, elapsed)
        await asyncio.sleep(0.3)
        told = sum(1 for m in bob.drain() if m.body.__class__.__name__ == "InterphoneChanged")
        assert told == allowed  # one notification per change made, none per refusal
        await mallory.close()
        await bob.close()
