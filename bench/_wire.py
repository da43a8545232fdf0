"""A lean signaling client for load generation: framing and XML from app.protocol, nothing else.

Many of these run in one process (thousands of sessions), so it keeps no model:
responses resolve futures by seq, notifications are only counted.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import zlib
from typing import cast

from app.protocol import (
    FrameDecoder,
    InterphoneId,
    JoinRequest,
    Login,
    LoginResult,
    Message,
    MessageKind,
    RecvBeginPacket,
    SpeakRequest,
    SyncRequest,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body

_U32 = struct.Struct(">I")


class Wire(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.pending: dict[str, asyncio.Future[Message]] = {}
        self.seqs = itertools.count(1)
        self.notifications = 0
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> Wire:
        loop = asyncio.get_running_loop()
        _, wire = await loop.create_connection(cls, host, port)
        return wire

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            message = decode_message(frame)
            if message.kind is MessageKind.NOTIFICATION:
                self.notifications += 1
                continue
            future = self.pending.pop(message.seq or "", None)
            if future is not None and not future.done():
                future.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def request(self, body: Body, timeout: float = 30.0) -> Message:
        assert self.transport is not None
        seq = str(next(self.seqs))
        future = asyncio.get_running_loop().create_future()
        self.pending[seq] = future
        self.transport.write(encode_frame(encode_message(Message.request(seq, body))))
        async with asyncio.timeout(timeout):
            reply = await future
        if not reply.ok:
            raise RuntimeError(f"{type(body).__name__} refused: {reply.body}")
        return reply

    async def login(self, uid: str, token: str = "x") -> LoginResult:
        reply = await self.request(Login(uid, token))
        assert isinstance(reply.body, LoginResult)
        return reply.body

    async def join(self, interphone: str) -> Message:
        return await self.request(JoinRequest(InterphoneId.parse(interphone)))

    async def sync(self, interphones: list[str]) -> Message:
        return await self.request(SyncRequest(tuple(InterphoneId.parse(i) for i in interphones)))

    async def speak(self, interphone: str, on: bool = True) -> Message:
        return await self.request(SpeakRequest(on, InterphoneId.parse(interphone)))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    return sock


async def register(sock: socket.socket, server: tuple[str, int], interphone: str, uid: str,
                   attempts: int = 20) -> None:
    """recvbegin from ``sock`` until acknowledged (the ack is the same packet echoed)."""
    loop = asyncio.get_running_loop()
    packet = RecvBeginPacket(interphone, uid).serialize()
    for _ in range(attempts):
        sock.sendto(packet, server)
        try:
            async with asyncio.timeout(0.5):
                while True:
                    data = await loop.sock_recv(sock, 2048)
                    if data == packet:
                        return
        except TimeoutError:
            continue
    raise RuntimeError(f"recvbegin of {uid} in {interphone} never acknowledged")


class AudioSource:
    """Builds a speaker's audiopackets (crc filled, as a real client sends them)."""

    def __init__(self, interphone: str, uid: str, frame: bytes) -> None:
        self.head = (_U32.pack(1) + _U32.pack(len(interphone)) + interphone.encode()
                     + _U32.pack(len(uid)) + uid.encode())
        self.tail = _U32.pack(len(frame)) + frame

    def packet(self, seq: int) -> bytes:
        body = self.head + _U32.pack(seq) + self.tail
        return _U32.pack(zlib.crc32(body)) + body


def seq_offset(interphone: str, speaker: str) -> int:
    """Where the seq sits in an audiopacket of this interphone and speaker."""
    return 16 + len(interphone.encode()) + len(speaker.encode())
