"""A scripted Interphone server on 127.0.0.1 for the client's hostile-server tests: real
asyncio TCP and a real UDP socket, built from ``app.protocol`` (framing, XML codec, media
packets). It answers the login and the ordinary requests correctly (:meth:`HostileServer.answer`)
and lets a test make it misbehave: replace the answer to one kind of request
(``server.on[SpeakRequest] = ...``), write any bytes or message to a connection
(:class:`Peer`), send any datagram to the client's media address, or close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.client import InterphoneClient
from app.protocol import (
    FrameDecoder,
    InterphoneChanged,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Ping,
    QuitRequest,
    QuitResult,
    RecvBeginPacket,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
    decode_message,
    encode_frame,
    encode_message,
    parse_packet,
)
from app.protocol.errors import PacketError
from app.protocol.ids import InterphoneId
from app.protocol.messages import Body

G58 = InterphoneId.group("58")
ROSTER = (RosterEntry("group", "58", "Ops"),)

Handler = Callable[["Peer", Message], Awaitable[None] | None]


class Peer:
    """One accepted connection: what the client sent, and ways to answer it."""

    def __init__(self, server: HostileServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.uid = ""
        self.requests: list[Message] = []
        self.closed = asyncio.Event()

    def send(self, message: Message) -> None:
        self.send_raw(encode_frame(encode_message(message)))

    def respond(self, request: Message, body: Body) -> None:
        self.send(Message.response(request.seq, body))

    def notify(self, body: Body) -> None:
        self.send(Message.notification(body))

    def send_raw(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def close(self) -> None:
        self.writer.close()

    def of(self, kind: type) -> list[Message]:
        return [m for m in self.requests if isinstance(m.body, kind)]


class HostileServer:
    """``async with HostileServer() as server``: ``server.port`` (TCP), ``server.udp_port``."""

    def __init__(self, *, keepalive: int = 15, max_talk: int = 60,
                 login: Callable[[Login], LoginResult | bytes] | None = None) -> None:
        self.keepalive = keepalive
        self.max_talk = max_talk
        self.login = login
        self.on: dict[type, Handler] = {}
        self.peers: list[Peer] = []
        self.accepted_at: list[float] = []
        self.after_login: Handler | None = None
        self.on_accept: Callable[[Peer], Awaitable[None] | None] | None = None
        self.port = 0
        self.udp_port = 0
        self.media_addr: tuple[str, int] | None = None
        self.recvbegins = 0
        self.udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self.udp, _ = await loop.create_datagram_endpoint(
            lambda: _Media(self), local_addr=("127.0.0.1", 0), family=socket.AF_INET)
        self.udp_port = self.udp.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            peer.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self._server.wait_closed()
        if self.udp is not None:
            self.udp.close()

    @property
    def peer(self) -> Peer:
        """The latest connection."""
        return self.peers[-1]

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def sendto_client(self, data: bytes) -> None:
        """One datagram from the server's media address to the client's."""
        assert self.udp is not None and self.media_addr is not None
        self.udp.sendto(data, self.media_addr)

    # ---- the default answers ------------------------------------------------------------

    def login_result(self, login: Login) -> LoginResult:
        return LoginResult(login.uid, self.udp_port, self.keepalive, self.max_talk, ROSTER)

    async def answer(self, peer: Peer, message: Message) -> None:
        """What a correct server answers (the ordinary requests of PROTOCOL.md 3)."""
        body = message.body
        handler = self.on.get(type(body))
        if handler is not None:
            result = handler(peer, message)
            if result is not None:
                await result
            return
        match body:
            case Login():
                peer.uid = body.uid
                made = self.login(body) if self.login is not None else self.login_result(body)
                if isinstance(made, bytes):
                    peer.send_raw(made)
                else:
                    peer.respond(message, made)
                if self.after_login is not None:
                    await peer.drain()
                    result = self.after_login(peer, message)
                    if result is not None:
                        await result
            case Ping():
                peer.respond(message, Ping())
            case SyncRequest():
                peer.respond(message, SyncResult(()))
            case MembersRequest(interphone):
                peer.respond(message, MembersResult(InterphoneInfo.of(
                    interphone, peer.uid, [peer.uid, "bob"])))
            case JoinRequest(interphone):
                peer.respond(message, JoinResult(InterphoneInfo.of(
                    interphone, peer.uid, [peer.uid, "bob"])))
            case QuitRequest(interphone):
                peer.respond(message, QuitResult(InterphoneInfo(
                    interphone, interphone.attach_id_for(peer.uid), 1)))
            case SpeakRequest(on, interphone):
                peer.respond(message, SpeakResult(on, interphone))
                peer.notify(InterphoneChanged(InterphoneInfo.of(
                    interphone, peer.uid, [peer.uid, "bob"], peer.uid if on else "")))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(self, reader, writer)
        self.peers.append(peer)
        self.accepted_at.append(time.monotonic())
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.on_accept is not None:
                result = self.on_accept(peer)
                if result is not None:
                    await result
            decoder = FrameDecoder()
            while not writer.is_closing() and (data := await reader.read(65536)):
                for frame in decoder.feed(data):
                    message = decode_message(frame)
                    if message.kind is MessageKind.REQUEST:
                        peer.requests.append(message)
                        await self.answer(peer, message)
                await peer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            peer.closed.set()
            writer.close()
            if task is not None:
                self._tasks.discard(task)


def client_for(server: HostileServer, *, request_timeout: float = 2.0,
               backoff: tuple[float, float] = (0.2, 5.0)) -> InterphoneClient:
    """alice's client of ``server`` (short timeouts: the cases end in seconds)."""
    return InterphoneClient("127.0.0.1", server.port, "alice", "x", connect_timeout=2.0,
                            request_timeout=request_timeout, backoff=backoff)


def frame_of(xml: str) -> bytes:
    """A frame of any text (well-formed or not)."""
    return encode_frame(xml.encode())


def tracebacks(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Log records with a traceback or at error level."""
    return [r for r in records if r.exc_info is not None or r.levelno >= logging.ERROR]


class _Media(asyncio.DatagramProtocol):
    """The server's UDP side: acknowledges each recvbegin and notes where the client is."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = parse_packet(data)
        except PacketError:
            return
        if isinstance(packet, RecvBeginPacket):
            self.server.media_addr = (addr[0], addr[1])
            self.server.recvbegins += 1
            assert self.server.udp is not None
            self.server.udp.sendto(data, addr)
