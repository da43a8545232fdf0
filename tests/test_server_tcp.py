"""The TCP driver's output queue, with a fake transport; the error echo and the roster fit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from server_fixtures import D12, G58, sample_directory

from app.protocol import (
    InterphoneId,
    JoinRequest,
    Login,
    MembersRequest,
    Message,
    Ping,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.replies import echo_error
from app.server import ServerSettings, ServerState
from app.server.tcp import ServerConnection, SignalingServer, encode


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.buffered = 0
        self.closed = self.aborted = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 5555) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


@pytest.fixture
async def conn() -> AsyncIterator[ServerConnection]:
    loop = asyncio.get_running_loop()
    settings = ServerSettings(auth="token", write_hard_limit=1000)
    hub = SignalingServer(ServerState(sample_directory(), settings), loop)
    connection = hub.new_connection()
    connection.connection_made(FakeTransport())
    yield connection
    connection.connection_lost(None)


async def test_writes_straight_through_when_not_paused(conn: ServerConnection) -> None:
    conn.enqueue(b"a", "group_58")
    conn.enqueue(b"b", "group_58")
    assert conn.transport.written == [b"a", b"b"]


async def test_paused_output_coalesces_per_interphone_keeping_order(
        conn: ServerConnection) -> None:
    conn.pause_writing()
    conn.enqueue(b"g1", "group_58")
    conn.enqueue(b"r1", None)
    conn.enqueue(b"d1", "discuss_12")
    conn.enqueue(b"g2", "group_58")  # replaces g1, moves behind d1
    conn.enqueue(b"r2", None)
    assert conn.transport.written == []
    conn.resume_writing()
    assert conn.transport.written == [b"r1", b"d1", b"g2", b"r2"]
    assert conn.pending_bytes == 0


async def test_output_over_the_hard_limit_closes(conn: ServerConnection) -> None:
    conn.pause_writing()
    conn.transport.buffered = 900
    conn.enqueue(b"x" * 50, "group_58")
    assert not conn.transport.aborted
    conn.enqueue(b"y" * 80, None)
    assert conn.transport.aborted and conn.closing


async def test_a_peer_that_stops_reading_is_aborted_when_the_state_says_so(
        conn: ServerConnection) -> None:
    conn.data_received(encode(Message.request("1", Login("alice", "pw-alice"))))
    assert conn.sid in conn.state.sessions
    conn.pause_writing()
    stalled = conn.loop.time() + conn.settings.write_stall_timeout
    assert conn.state.next_deadline() <= stalled
    conn.server.expire(stalled)
    assert conn.transport.aborted


async def test_close_flushes_what_is_queued(conn: ServerConnection) -> None:
    conn.pause_writing()
    conn.enqueue(b"last", None)
    conn.close()
    assert conn.transport.written == [b"last"] and conn.transport.closed


@pytest.mark.parametrize(("body", "echo"), [
    (Login("a", "b"), ("login", None, None)),
    (Ping(), ("ping", None, None)),
    (SyncRequest((G58,)), ("interphones", "sync", None)),
    (MembersRequest(D12), ("interphone", "sync", "discuss_12")),
    (JoinRequest(InterphoneId.chat("b", "a")), ("interphone", "add", "chat_a:b")),
    (QuitRequest(G58), ("interphone", "quit", "group_58")),
    (SpeakRequest(False, G58), ("speak", "off", "group_58")),
])
def test_errors_echo_the_request_element(body: object, echo: tuple) -> None:
    error = echo_error(body, 403, "no")
    assert (error.tag, error.type, error.id) == echo
    assert (error.errcode, error.errmsg) == (403, "no")


def test_a_roster_too_big_for_one_frame_loses_contacts_not_groups() -> None:
    from app.protocol import decode_message
    from app.protocol.messages import LoginResult, RosterEntry
    from app.server.state import fit_one_frame

    roster = (RosterEntry("group", "58", "Ops"),
              *(RosterEntry("contact", f"user{n}", "N" * 100) for n in range(2000)))
    data = encode(fit_one_frame(Message.response("1", LoginResult("alice", 9400, 15, 60,
                                                                  roster))))
    assert len(data) <= 4 + 65536
    body = decode_message(data[4:]).body
    assert body.roster[0] == roster[0] and 100 < len(body.roster) < 2000
