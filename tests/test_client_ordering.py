"""Responses and notifications are applied to the model in wire order.

A scripted server on 127.0.0.1 writes a response and the notification that
follows it in one TCP segment, so the notification is read before the task
awaiting the response resumes. The model must still end in the newest state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from app.client import InterphoneClient
from app.protocol import (
    FrameDecoder,
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    Ping,
    RosterEntry,
    SyncRequest,
    SyncResult,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body

OPS = InterphoneId.group("58")
Script = Callable[[Body, int], list[Message]]


def info(members: list[str], *, with_members: bool = True, count: int | None = None
         ) -> InterphoneInfo:
    return InterphoneInfo(OPS, "58", len(members) if count is None else count, "",
                          tuple(members) if with_members else None)


class ScriptedServer:
    """Answers login, sync, ping and recvbegin; ``script`` answers everything else."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Body] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        while data := await reader.read(65536):
            for frame in decoder.feed(data):
                message = decode_message(frame)
                body = message.body
                self.requests.append(body)
                out: list[Message]
                if isinstance(body, Login):
                    roster = (RosterEntry("group", "58", "Ops"),)
                    out = [Message.response(message.seq,
                                            LoginResult(body.uid, self.port, 15, 60, roster))]
                elif isinstance(body, SyncRequest):
                    out = [Message.response(message.seq, SyncResult(()))]
                elif isinstance(body, Ping):
                    out = [Message.response(message.seq, Ping())]
                else:
                    out = [
                        m if m.seq != "?" else Message.response(message.seq, m.body)
                        for m in self.script(body, len(self.requests))
                    ]
                # One write: the client reads the whole batch in one data_received.
                writer.write(b"".join(encode_frame(encode_message(m)) for m in out))
        writer.close()


class _EchoAck(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], ScriptedServer]]:
    servers: list[asyncio.AbstractServer] = []
    transports: list[asyncio.BaseTransport] = []

    async def start(script: Script) -> ScriptedServer:
        scripted_server = ScriptedServer(script)
        server = await asyncio.start_server(scripted_server.handle, "127.0.0.1", 0)
        scripted_server.port = server.sockets[0].getsockname()[1]
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            _EchoAck, local_addr=("127.0.0.1", scripted_server.port))
        servers.append(server)
        transports.append(transport)
        return scripted_server

    yield start  # type: ignore[misc]
    for transport in transports:
        transport.close()
    for server in servers:
        server.close()
        await server.wait_closed()


def answer(body: Body) -> Message:
    """A response placeholder: the scripted server fills in the request's seq."""
    return Message.response("?", body)


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_notification_right_behind_the_join_response_is_not_lost(scripted) -> None:
    def script(body: Body, _: int) -> list[Message]:
        assert isinstance(body, JoinRequest)
        return [
            answer(JoinResult(info(["me", "a"]))),
            Message.notification(InterphoneChanged(info(["me", "a", "b"]))),
        ]

    server = await scripted(script)
    client = InterphoneClient("127.0.0.1", server.port, "me", "t", reconnect=False)
    await client.connect()
    try:
        await client.join(OPS)
        assert client.model.members == ("me", "a", "b")
        assert client.model.interphones[OPS].member_count == 3
    finally:
        await client.close()


async def test_count_only_change_during_a_members_refresh_asks_again(scripted) -> None:
    everyone = ["me", "a", "b", "c"]

    def script(body: Body, _: int) -> list[Message]:
        if isinstance(body, JoinRequest):
            # Joined, then a count-only change: the client must ask for the list.
            return [answer(JoinResult(info(["me"]))),
                    Message.notification(InterphoneChanged(info([], with_members=False,
                                                                count=3)))]
        assert isinstance(body, MembersRequest)
        refreshes = sum(isinstance(r, MembersRequest) for r in server.requests)
        if refreshes == 1:
            # The answer is already old when read: another member came in behind it.
            return [answer(MembersResult(info(everyone[:3]))),
                    Message.notification(InterphoneChanged(info([], with_members=False,
                                                                count=4)))]
        return [answer(MembersResult(info(everyone)))]

    server = await scripted(script)
    client = InterphoneClient("127.0.0.1", server.port, "me", "t", reconnect=False)
    await client.connect()
    try:
        await client.join(OPS)
        await until(lambda: client.model.members == tuple(everyone))
        assert client.model.interphones[OPS].member_count == 4
    finally:
        await client.close()
