"""Hostile input: fuzzing the server's own input paths, a flood of sessions that never log in,
and a uid the directory does not know (token mode).

The decoders themselves (decode_message, FrameDecoder, parse_packet) are fuzzed by
tests/test_protocol_malformed.py; this module adds the server's paths around them:
frames through a live SignalingConnection and datagrams through the MediaRelay, with the
same mutators. Example counts come from tests/fuzzing.py (``pytest --slow``: 100,000 per fuzz
test, marked ``slow``). Time bounds here are
liveness bounds (generous), not performance targets: see bench/ for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import select
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import cast

import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st
from server_fixtures import G58, RawClient, UdpPeer, logged_in, running_server, sample_directory
from test_protocol_malformed import _PACKETS, VALID_DOCS, mutated
from waiting import free_port

from app.protocol import (
    AudioPacket,
    FrameDecoder,
    JoinRequest,
    Login,
    MembersRequest,
    Ping,
    RecvBeginPacket,
    SpeakRequest,
    encode_frame,
)
from app.protocol.messages import ErrorReply
from app.server import ServerSettings, ServerState
from app.server.relay import MediaRelay
from app.server.tcp import Signaling

ROOT = Path(__file__).resolve().parent.parent


# ---- fuzzing the server's input paths ---------------------------------------------------------

class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


LOGIN = encode_frame(b"<message type='request' seq='1' module='MID_SESSION'>"
                     b"<login uid='alice' token='pw-alice'/></message>")
frames = st.one_of(mutated().map(encode_frame), st.sampled_from(VALID_DOCS).map(encode_frame),
                   st.binary(max_size=64))


@fuzz
@given(st.lists(frames, min_size=1, max_size=6), st.booleans(), st.integers(1, 7))
def test_fuzz_frames_through_a_live_session(chunks: list[bytes], login_first: bool,
                                            split: int) -> None:
    """Whatever arrives, nothing escapes the session, its output is whole frames, and the
    state holds only what a logged-in alice may have done; a disconnect clears it."""
    loop = asyncio.new_event_loop()
    try:
        state = ServerState(sample_directory(), ServerSettings(auth="token"))
        hub = Signaling(state, loop)
        conn = hub.new_connection()
        transport = RecordingTransport()
        conn.connection_made(transport)
        stream = (LOGIN if login_first else b"") + b"".join(chunks)
        for i in range(0, len(stream), split * 97):
            conn.data_received(stream[i:i + split * 97])
        out = FrameDecoder()
        assert out.feed(b"".join(transport.written)) is not None and out.buffered == 0
        assert set(state.sessions) <= {conn.sid}
        for record in state.interphones.values():
            assert set(record.members.values()) <= {conn.sid}
        conn.connection_lost(None)
        assert not state.sessions and not state.interphones and not hub.connections
    finally:
        loop.close()


class SentDatagrams:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple]] = []

    def sendto(self, data: bytes, addr: tuple) -> None:
        self.sent.append((data, addr))

    def get_write_buffer_size(self) -> int:
        return 0


HOLDER_ADDR = ("127.0.0.1", 5000)
LISTENER_ADDR = ("127.0.0.1", 5001)
GOOD_AUDIO = AudioPacket("group_58", "alice", 7, b"\xfc" + bytes(30)).serialize()
datagrams = st.one_of(st.binary(max_size=1500), mutated(_PACKETS),
                      mutated([GOOD_AUDIO, *_PACKETS]))


def _relay_with_a_speaker() -> tuple[MediaRelay, SentDatagrams, ServerState]:
    loop = asyncio.new_event_loop()
    state = ServerState(sample_directory(), ServerSettings(auth="token"))
    hub = Signaling(state, loop)
    for sid, uid in ((1, "alice"), (2, "bob")):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1")
        state.join(sid, G58)
    state.register_media("group_58", "alice", HOLDER_ADDR)
    state.register_media("group_58", "bob", LISTENER_ADDR)
    state.speak(1, G58, True, loop.time())
    relay = MediaRelay(hub)
    sent = SentDatagrams()
    relay.transport = cast(asyncio.DatagramTransport, sent)
    loop.close()
    return relay, sent, state


@fuzz
@given(st.lists(st.tuples(datagrams, st.sampled_from([HOLDER_ADDR, LISTENER_ADDR,
                                                      ("127.0.0.9", 5000)])), max_size=5))
def test_fuzz_datagrams_through_the_relay(items: list[tuple[bytes, tuple]]) -> None:
    """Only the holder's well-formed audio from its registered address is forwarded, only to
    the other member, byte for byte; a recvbegin is acknowledged only to its sender."""
    relay, sent, state = _relay_with_a_speaker()
    relay.time = lambda: state.routes["group_58"].last_audio_at  # never silent, never too long
    for data, addr in items:
        before = len(sent.sent)
        relay.datagram_received(data, addr)
        for out, target in sent.sent[before:]:
            if target == LISTENER_ADDR and out == data and addr == HOLDER_ADDR:
                assert int.from_bytes(data[4:8], "big") == 1  # audio, forwarded
                continue
            assert target == addr and out[4:8] == b"\x00\x00\x00\x02"  # a recvbegin ack
    assert state.routes["group_58"].addrs.keys() <= {"alice", "bob"}


@fuzz
@given(st.text(max_size=70), st.text(max_size=70), st.integers(0, 2**32 - 1),
       st.binary(max_size=1300), st.booleans())
def test_fuzz_relay_with_structured_audio(interphone: str, uid: str, seq: int, frame: bytes,
                                          crc: bool) -> None:
    """Well-framed audiopackets with arbitrary ids, uids and frames: never forwarded unless
    they are exactly the holder's."""
    relay, sent, _ = _relay_with_a_speaker()
    head = b"".join(len(part).to_bytes(4, "big") + part
                    for part in (interphone.encode(), uid.encode()))
    body = (1).to_bytes(4, "big") + head + seq.to_bytes(4, "big") \
        + len(frame).to_bytes(4, "big") + frame
    data = (zlib.crc32(body) if crc else 0).to_bytes(4, "big") + body
    relay.datagram_received(data, HOLDER_ADDR)
    forwarded = (interphone == "group_58" and uid == "alice" and len(frame) <= 1275
                 and len(data) <= 1400)
    assert [t for _, t in sent.sent] == ([LISTENER_ADDR] if forwarded else [])


# ---- a flood of sessions that never log in -----------------------------------------------------

FLOOD_TOML = """\
[server]
auth = "token"
keepalive = 15
login_timeout = 2
max_sessions = 600
max_unauthenticated_per_address = 10000

[[users]]
uid = "alice"
token = "pw-alice"

[[users]]
uid = "bob"
token = "pw-bob"

[[groups]]
id = "58"
members = ["alice", "bob"]
"""


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _start_server(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = tmp_path / "flood.toml"
    config.write_text(FLOOD_TOML)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.server", "--config", str(config),
                             "--port", str(port), "--log-level", "WARNING"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc, port
        await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def _quick(coro: object, limit: float = 2.0) -> float:
    began = time.monotonic()
    reply = await asyncio.wait_for(coro, limit)  # type: ignore[arg-type]
    assert reply.ok, reply
    return time.monotonic() - began


async def test_session_flood_is_bounded_and_does_not_disturb_users(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    elif soft < 1200:
        pytest.skip("needs 1,200 file descriptors")
    proc, port = await _start_server(tmp_path)
    flood: list[socket.socket] = []
    try:
        alice = await logged_in(port, "alice")
        bob = await logged_in(port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        await asyncio.sleep(0.3)
        rss_before = _rss_mb(proc.pid)

        rng = random.Random(5)
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            if i % 3 == 1:
                sock.send(b"\x00\x00")  # half a frame header, then nothing
            elif i % 3 == 2:
                sock.send(encode_frame(b"<message type='request' seq='1' module='MID_")[:30])
            flood.append(sock)
            if i % 100 == 99:  # the users go on meanwhile
                await _quick(alice.request(Ping()))
                await asyncio.sleep(rng.uniform(0, 0.01))
        alice.drain()
        grant_time = await _quick(bob.speak(G58, True))
        assert (await alice.next_notification()).body.info.speaker == "bob"
        await _quick(bob.speak(G58, False))
        ping_time = await _quick(alice.request(Ping()))
        assert grant_time < 2 and ping_time < 2  # liveness, not a target

        await asyncio.sleep(0.3)
        refused = sum(_closed_by_peer(s) for s in flood)
        assert refused >= 1000 - (600 - 2)  # max_sessions counts every open connection
        growth = _rss_mb(proc.pid) - rss_before
        assert growth < 50, f"server RSS grew {growth:.1f} MB for 600 idle connections"

        # login_timeout = 2 s: every flood connection is closed by the server soon after
        deadline = time.monotonic() + 8
        open_ = [s for s in flood if not _closed_by_peer(s)]
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(open_[:500], [], [], 0.2)
            for sock in readable:
                _closed_by_peer(sock)
            open_ = [s for s in open_ if not _closed_by_peer(s)]
            await asyncio.sleep(0.05)
        assert not open_, f"{len(open_)} unauthenticated connections still open"

        # and the users never noticed
        assert (await alice.request(MembersRequest(G58))).body.info.members == ("alice", "bob")
        await _quick(alice.speak(G58, True))
        await alice.close()
        await bob.close()
    finally:
        for sock in flood:
            sock.close()
        proc.kill()
        proc.wait(10)


# ---- a uid the directory does not know (token mode) ---------------------------------------------

async def test_unknown_uid_cannot_join_register_or_inject() -> None:
    async with running_server() as server:  # the sample directory: token mode
        port = server.port
        alice = await logged_in(port, "alice")
        bob = await logged_in(port, "bob")
        for member in (alice, bob):
            await member.join(G58)
        alice_udp, bob_udp = await UdpPeer.open(port), await UdpPeer.open(port)
        for peer, uid in ((alice_udp, "alice"), (bob_udp, "bob")):
            peer.send(RecvBeginPacket("group_58", uid).serialize())
            await peer.recv()
        assert (await alice.speak(G58, True)).ok

        mallory = await RawClient.connect(port)
        for token in ("", "pw-alice", "x" * 1024):
            reply = await mallory.request(Login("mallory", token))
            assert not reply.ok and reply.body.errcode == 401
        for request in (JoinRequest(G58), JoinRequest(G58, "mallory"), MembersRequest(G58),
                        SpeakRequest(True, G58)):
            reply = await mallory.request(request)
            assert isinstance(reply.body, ErrorReply) and reply.body.errcode == 401
        assert "mallory" not in server.state.by_uid
        assert list(server.state.interphones[G58].members) == ["alice", "bob"]

        evil = await UdpPeer.open(port)
        for interphone in ("group_58", "group_all", "chat_alice:mallory"):
            evil.send(RecvBeginPacket(interphone, "mallory").serialize())
        assert await evil.nothing(0.3)  # never acknowledged
        assert set(server.state.interphones[G58].addrs) == {"alice", "bob"}

        dropped = server.relay.dropped if server.relay else 0
        for uid in ("mallory", "alice", "bob"):  # its own uid, or a member's from its address
            for seq in range(3):
                evil.send(AudioPacket("group_58", uid, seq, b"\xfc" + bytes(20)).serialize())
        assert await bob_udp.nothing(0.3) and await alice_udp.nothing(0.05)
        assert server.relay is not None and server.relay.dropped >= dropped + 9
        # the real speaker still gets through
        alice_udp.send(AudioPacket("group_58", "alice", 0, b"\xfc").serialize())
        assert (await bob_udp.recv())[-1:] == b"\xfc"
        for peer in (alice_udp, bob_udp, evil):
            peer.close()
        for c in (alice, bob, mallory):
            await c.close()
