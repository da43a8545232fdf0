"""Hostile or broken peers: malformed frames, oversize frames, floods, faults, restarts."""

from __future__ import annotations

import asyncio
import struct

from server_fixtures import D12, G58, RawClient, logged_in, running_server

from app.protocol import InterphoneId, MembersRequest, Ping, SyncRequest
from app.protocol.messages import ErrorReply

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<message type='request' seq='9' module='MID_SESSION'><ping a='&lol2;'/></message>"""


async def test_malformed_frames_are_answered_and_the_tenth_closes() -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")
        # well-formed <message> documents that do not decode: answered, not counted
        envelopes = [b"<message type='request' module='MID_SESSION'><ping/></message>",
                     b"<message type='banana' module='MID_SESSION'><ping/></message>",
                     b"<message type='request' seq='1' module='MID_SESSION'/>",
                     b"<message type='request' seq='x' module='NOPE'><ping/></message>"]
        # not a well-formed <message> document (PROTOCOL.md 1.1): counted
        garbage = [b"not xml", b"<message", b"<other/>", BILLION_LAUGHS.encode(), b"\xff\xfe",
                   b"<a><b></a>", b"<message></msg>", b"<message/><message/>", b"{}"]
        for frame in envelopes + garbage:
            client.send_xml(frame)
        replies = [await client.next_unmatched() for _ in range(2)]
        assert all((r.seq, r.body.tag, r.body.errcode) == (None, "error", 400) for r in replies)
        # frames whose seq was readable are answered in their own envelope
        assert (await client.next_unmatched()).seq == "1"
        late = await asyncio.wait_for(client.undecodable.get(), 2)  # our codec refuses NOPE
        assert b"seq=\"x\"" in late and b"module=\"NOPE\"" in late and b"errcode=\"400\"" in late
        replies = [await client.next_unmatched() for _ in garbage]
        assert all(r.module == "MID_SESSION" and isinstance(r.body, ErrorReply) for r in replies)
        assert all((r.seq, r.body.tag, r.body.errcode) == (None, "error", 400) for r in replies)
        assert (await client.request(Ping())).ok  # nine malformed frames: still usable
        client.send_xml(b"<oops>")
        assert (await client.next_unmatched()).body.errcode == 400
        assert await client.closed_by_server()
        await client.close()


async def test_oversize_frame_closes_the_connection() -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")
        client.send_raw(struct.pack(">I", 65537) + b"<message")
        assert await client.closed_by_server()
        await client.close()


async def test_largest_frame_is_still_read() -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")
        head = b"<message type='request' seq='big' module='MID_SESSION'><ping/></message>"
        client.send_xml(head + b" " * (65536 - len(head)))
        assert (await client.next_unmatched()).seq == "big"
        await client.close()


async def test_too_many_ids_answers_413() -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")
        ids = tuple(InterphoneId.group(str(n)) for n in range(501))
        reply = await client.request(SyncRequest(ids))
        assert isinstance(reply.body, ErrorReply)
        assert (reply.body.tag, reply.body.errcode, reply.body.type) == ("interphones", 413, "sync")
        await client.close()


async def test_rate_limit_answers_429_and_recovers() -> None:
    async with running_server(rate_limit=5, rate_burst=5) as server:
        client = await logged_in(server.port, "alice")
        replies = await asyncio.gather(*(client.request(Ping()) for _ in range(20)))
        codes = [r.body.errcode if isinstance(r.body, ErrorReply) else 0 for r in replies]
        assert codes.count(429) >= 14 and codes.count(0) >= 3
        limited = next(r for r in replies if not r.ok)
        assert (limited.module, limited.body.tag) == ("MID_SESSION", "ping")
        await asyncio.sleep(0.5)
        assert (await client.request(Ping())).ok
        await client.close()


async def test_a_fault_answers_500_and_the_session_survives(monkeypatch) -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")

        def broken(*args: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(server.state, "members", broken)
        reply = await client.request(MembersRequest(D12))
        assert isinstance(reply.body, ErrorReply)
        assert (reply.body.errcode, reply.body.type, reply.body.id) == (500, "sync", "discuss_12")
        assert (await client.request(Ping())).ok
        await client.join(G58)
        await client.close()


async def test_sessions_are_bounded() -> None:
    async with running_server(max_sessions=3) as server:
        clients = [await logged_in(server.port, uid) for uid in ("alice", "bob", "carol")]
        extra = await RawClient.connect(server.port)
        assert await extra.closed_by_server()
        await clients[0].close()
        await asyncio.sleep(0.05)
        again = await logged_in(server.port, "dave")
        for client in [*clients[1:], extra, again]:
            await client.close()


async def test_restart_while_clients_are_connected() -> None:
    async with running_server() as server:
        port = server.port
        clients = [await logged_in(port, uid) for uid in ("alice", "bob")]
        await clients[0].join(G58)
    for client in clients:
        assert await client.closed_by_server(timeout=1.0)
        await client.close()
    async with running_server(port=port) as again:
        assert again.port == port
        clients = [await logged_in(port, uid) for uid in ("alice", "bob")]
        await clients[0].join(G58)
        for client in clients:
            await client.close()
