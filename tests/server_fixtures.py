"""A tiny raw client for the server tests: framing + XML via app.protocol, and a UDP peer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from app.protocol import (
    FrameDecoder,
    InterphoneId,
    JoinRequest,
    Login,
    LoginResult,
    Message,
    MessageKind,
    ProtocolError,
    SpeakRequest,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body
from app.server import Directory, InterphoneServer, ServerSettings

TEST_TOML = """\
[server]
auth = "token"
max_talk = 60
keepalive = 15

[[users]]
uid = "alice"
name = "Alice"
token = "pw-alice"

[[users]]
uid = "bob"
name = "Bob"
token = "pw-bob"

[[users]]
uid = "carol"
name = "Carol"
token = "pw-carol"

[[users]]
uid = "dave"
name = "Dave"
token = "pw-dave"

[[users]]
uid = "eve"
name = "Eve"
token = "pw-eve"

[[groups]]
id = "58"
name = "Ops"
members = ["alice", "bob", "carol"]

[[groups]]
id = "all"
name = "Everyone"
members = ["*"]

[[discussions]]
id = "12"
name = "Night"
members = ["alice", "bob", "dave"]
"""

FAST = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5.0,
                      login_timeout=5.0, max_sessions_per_address=10000,
                      max_unauthenticated_per_address=10000)
"""Every test client comes from 127.0.0.1: the per-address limits are tested on their own."""


def sample_directory() -> Directory:
    return Directory.from_toml_text(TEST_TOML, source="test.toml")


def everyone_directory(users: int) -> Directory:
    """An open directory of ``users`` users (``u00``, ``u01``...) all in the group "all"."""
    lines = ["[server]", 'auth = "open"']
    for n in range(users):
        lines += ["[[users]]", f'uid = "u{n:02d}"', f'name = "User {n:02d}"']
    lines += ["[[groups]]", 'id = "all"', 'name = "Everyone"', 'members = ["*"]']
    return Directory.from_toml_text("\n".join(lines))


def gid(name: str) -> InterphoneId:
    return InterphoneId.group(name)


G58 = InterphoneId.group("58")
GALL = InterphoneId.group("all")
D12 = InterphoneId.discuss("12")


@contextlib.asynccontextmanager
async def running_server(directory: Directory | None = None, host: str = "127.0.0.1",
                         port: int = 0, **settings: Any) -> AsyncIterator[InterphoneServer]:
    directory = directory or sample_directory()
    base = FAST if directory.settings.auth == "token" else FAST.with_overrides(auth="open")
    async with InterphoneServer(directory, host=host, port=port,
                                settings=base.with_overrides(**settings)) as server:
        yield server


class RawClient:
    """Speaks the signaling protocol over one TCP connection, nothing more."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.notifications: asyncio.Queue[Message] = asyncio.Queue()
        self.unmatched: asyncio.Queue[Message] = asyncio.Queue()
        self.undecodable: asyncio.Queue[bytes] = asyncio.Queue()
        self.waiting: dict[str, asyncio.Future[Message]] = {}
        self.seqs = itertools.count(1)
        self.eof = asyncio.Event()
        self.uid = ""
        self.timeout = 3.0  # for an answer (a node behind a slow link to Redis needs more)
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1",
                      local_host: str | None = None,
                      tls: ssl.SSLContext | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=(local_host, 0) if local_host else None, ssl=tls,
            server_hostname="localhost" if tls is not None else None)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for frame in self.decoder.feed(data):
                    try:
                        message = decode_message(frame)
                    except ProtocolError:
                        self.undecodable.put_nowait(frame)
                        continue
                    self._dispatch(message)
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof.set()
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    def _dispatch(self, message: Message) -> None:
        if message.kind is MessageKind.NOTIFICATION:
            self.notifications.put_nowait(message)
            return
        future = self.waiting.pop(message.seq or "", None)
        if future is not None and not future.done():
            future.set_result(message)
        else:
            self.unmatched.put_nowait(message)

    # ---- sending -------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send_xml(self, xml: str | bytes) -> None:
        self.send_raw(encode_frame(xml.encode() if isinstance(xml, str) else xml))

    async def request(self, body: Body, timeout: float | None = None) -> Message:
        seq = str(next(self.seqs))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = future
        self.send_raw(encode_frame(encode_message(Message.request(seq, body))))
        return await asyncio.wait_for(future, self.timeout if timeout is None else timeout)

    async def request_xml(self, xml: str, seq: str, timeout: float = 3.0) -> Message:
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = future
        self.send_xml(xml)
        return await asyncio.wait_for(future, timeout)

    async def login(self, uid: str, token: str | None = None) -> LoginResult:
        reply = await self.request(Login(uid, token if token is not None else f"pw-{uid}"))
        assert reply.ok, reply
        assert isinstance(reply.body, LoginResult)
        self.uid = uid
        return reply.body

    async def join(self, interphone: InterphoneId) -> Message:
        reply = await self.request(JoinRequest(interphone))
        assert reply.ok, reply
        return reply

    async def speak(self, interphone: InterphoneId, on: bool = True) -> Message:
        return await self.request(SpeakRequest(on, interphone))

    # ---- receiving -----------------------------------------------------------------------------

    async def next_notification(self, timeout: float = 2.0) -> Message:
        return await asyncio.wait_for(self.notifications.get(), timeout)

    async def next_unmatched(self, timeout: float = 2.0) -> Message:
        return await asyncio.wait_for(self.unmatched.get(), timeout)

    async def no_notification(self, timeout: float = 0.2) -> bool:
        try:
            message = await asyncio.wait_for(self.notifications.get(), timeout)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected notification {message}")

    def drain(self) -> list[Message]:
        out = []
        while not self.notifications.empty():
            out.append(self.notifications.get_nowait())
        return out

    async def closed_by_server(self, timeout: float = 3.0) -> bool:
        try:
            await asyncio.wait_for(self.eof.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def logged_in(port: int, uid: str, token: str | None = None, *,
                    timeout: float = 3.0, **kw: Any) -> RawClient:
    """A client of ``port`` logged in as ``uid``; ``timeout``: for each answer."""
    client = await RawClient.connect(port, **kw)
    client.timeout = timeout
    await client.login(uid, token)
    return client


class UdpPeer(asyncio.DatagramProtocol):
    """A UDP socket that queues what it receives."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, server_port: int, local_host: str = "127.0.0.1",
                   server_host: str = "127.0.0.1") -> UdpPeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(
            cls, local_addr=(local_host, 0), remote_addr=(server_host, server_port))
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.received.put_nowait((data, addr))

    @property
    def address(self) -> tuple:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def recv(self, timeout: float = 1.0) -> bytes:
        data, _ = await asyncio.wait_for(self.received.get(), timeout)
        return data

    async def nothing(self, timeout: float = 0.2) -> bool:
        try:
            data, _ = await asyncio.wait_for(self.received.get(), timeout)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected datagram {data[:40]!r}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


ROOT = Path(__file__).resolve().parent.parent
_SERVING = re.compile(r"serving on \S+ port (\d+)")


async def start_server_process(
    *args: str, timeout: float = 20.0, stdout: int = asyncio.subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    """``python -m app.server --port 0 ARGS`` in its own process (``env``: variables added to
    this process's environment): the process, the port it serves on, and the log lines it
    wrote until then."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.server", "--port", "0", *args, cwd=ROOT,
        stdout=stdout, stderr=asyncio.subprocess.PIPE,
        env=None if env is None else {**os.environ, **env})
    lines: list[str] = []
    assert process.stderr is not None
    while True:
        raw = await asyncio.wait_for(process.stderr.readline(), timeout)
        assert raw, "server exited early: " + "".join(lines)
        lines.append(raw.decode())
        if match := _SERVING.search(lines[-1]):
            return process, int(match.group(1)), lines


async def stop_server_process(process: asyncio.subprocess.Process) -> None:
    """A process of :func:`start_server_process` stopped as an operator would (SIGTERM),
    its output drained until it exits (10 s at most)."""
    process.terminate()
    await asyncio.wait_for(process.communicate(), 10)


def loopback_alias_works() -> bool:
    """Whether 127.0.0.2 can be bound (it fakes another host on Linux's loopback)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return False
    return True


def logged_fingerprint(lines: list[str]) -> str:
    """The certificate fingerprint a TLS server logged at start."""
    for line in lines:
        match = re.search(r"fingerprint ([0-9A-F:]{95})", line)
        if match:
            return match.group(1)
    raise AssertionError("no fingerprint logged: " + "".join(lines))
