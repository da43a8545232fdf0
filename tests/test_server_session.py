"""MID_SESSION over real sockets: login, roster, kick, ping, timeouts."""

from __future__ import annotations

import asyncio

from server_fixtures import G58, RawClient, logged_in, running_server

from app.protocol import ErrCode, JoinRequest, Kicked, Login, LoginResult, Ping
from app.protocol.messages import ErrorReply


async def test_login_answers_roster_in_the_request_envelope() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        reply = await client.request(Login("alice", "pw-alice"))
        assert (reply.seq, reply.module) == ("1", "MID_SESSION")
        body = reply.body
        assert isinstance(body, LoginResult)
        assert (body.uid, body.udp_port, body.keepalive, body.max_talk) == (
            "alice", server.port, 15, 60)
        assert ("group", "58") in {(e.kind, e.id) for e in body.roster}
        await client.close()


async def test_wrong_token_and_unknown_uid_get_401() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for login in (Login("alice", "nope"), Login("mallory", "pw-mallory")):
            reply = await client.request(login)
            assert isinstance(reply.body, ErrorReply)
            assert (reply.body.tag, reply.body.errcode) == ("login", 401)
        await client.login("alice")  # the connection stays usable
        await client.close()


async def test_anything_before_login_gets_401() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for body in (Ping(), JoinRequest(G58)):
            reply = await client.request(body)
            assert isinstance(reply.body, ErrorReply) and reply.body.errcode == 401
        await client.close()


async def test_ping() -> None:
    async with running_server() as server:
        client = await logged_in(server.port, "alice")
        reply = await client.request(Ping())
        assert reply.ok and isinstance(reply.body, Ping) and reply.module == "MID_SESSION"
        await client.close()


async def test_second_login_kicks_the_first_which_is_closed() -> None:
    async with running_server() as server:
        first = await logged_in(server.port, "alice")
        await first.join(G58)
        assert (await first.next_notification()).body.info.members == ("alice",)
        bob = await logged_in(server.port, "bob")
        await bob.join(G58)
        assert (await first.next_notification()).body.info.members == ("alice", "bob")
        assert (await bob.next_notification()).body.info.members == ("alice", "bob")
        second = await logged_in(server.port, "alice")
        kicked = await first.next_notification()
        assert kicked.body == Kicked("login_elsewhere") and kicked.module == "MID_SESSION"
        assert await first.closed_by_server()
        note = await bob.next_notification()
        assert note.body.info.members == ("bob",)
        assert server.state.by_uid["alice"] in server.state.sessions
        assert (await second.request(Ping())).ok
        for client in (first, second, bob):
            await client.close()


async def test_idle_session_is_closed_after_three_keepalives() -> None:
    async with running_server(keepalive=0.1) as server:
        quiet = await logged_in(server.port, "alice")
        chatty = await logged_in(server.port, "bob")
        for _ in range(6):
            await asyncio.sleep(0.1)
            assert (await chatty.request(Ping())).ok
        assert await quiet.closed_by_server(timeout=1.0)
        assert not chatty.eof.is_set()
        assert "alice" not in server.state.by_uid
        await quiet.close()
        await chatty.close()


async def test_unauthenticated_connection_is_closed_after_login_timeout() -> None:
    async with running_server(login_timeout=0.2) as server:
        client = await RawClient.connect(server.port)
        assert (await client.request(Ping())).body.errcode == ErrCode.UNAUTHORIZED
        assert await client.closed_by_server(timeout=1.0)
        await client.close()
