"""A real redis-server for the Redis store's tests, and servers of 1 to 3 nodes on it.

:class:`RedisProcess` runs ``redis-server`` on a free loopback port with its files in a
temporary directory (append-only file on, so a restart keeps the log, as a deployment
should). Without ``redis-server`` on PATH the tests that need it fail saying how to
get it: they are not skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.server import InterphoneServer
from app.server.redis_store import RedisStore
from tests.server_fixtures import FAST, sample_directory
from tests.waiting import end_process, free_port

HOW_TO_GET_REDIS = (
    "redis-server is not on PATH: the Redis store's tests start their own. "
    "`bash scripts/dev.sh setup` installs it (Debian/Ubuntu: apt-get install redis-server; "
    "macOS: brew install redis)")

BEAT = 0.25
TTL = 1.5
"""Heartbeat period and TTL of the test nodes: a dead node is noticed within ~2 s."""


class RedisProcess:
    """One redis-server process on 127.0.0.1:``port``, its data in ``directory``."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail(HOW_TO_GET_REDIS, pytrace=False)
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def pause(self) -> None:
        """SIGSTOP: Redis hangs (its connections stay open, nothing is answered), as one
        stuck on a slow disk or behind a network that drops packets."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: Redis answers again, what it was sent meanwhile first."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM (Redis flushes its append-only file) and wait."""
        self.resume()  # (a paused Redis would not act on it)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            end_process(process)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisProcess]:
    """A redis-server with its files in ``directory``, stopped at the end of the block (also
    when the block stopped it itself)."""
    redis = RedisProcess(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    with running_redis(tmp_path) as redis:
        yield redis


def node_store(url: str, name: str, snapshot_every: int = 10_000,
               cluster_key: bytes = b"") -> RedisStore:
    return RedisStore(url, name, beat=BEAT, ttl=TTL, snapshot_every=snapshot_every,
                      cluster_key=cluster_key)


def cluster_node(redis_url: str, name: str, **server: Any) -> InterphoneServer:
    """A node (not started) named ``name`` on the Redis at ``redis_url``: the sample directory
    on 127.0.0.1, a free port, FAST settings; ``server``: more arguments of the server's
    (``metrics``, ``tls``, ``media_thread``)."""
    return InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                            store=node_store(redis_url, name), **server)


@contextlib.asynccontextmanager
async def started_nodes(redis_url: str, *names: str,
                        **server: Any) -> AsyncIterator[list[InterphoneServer]]:
    """Nodes of :func:`cluster_node` named ``names`` (``server``: its more arguments),
    started, and stopped at the end of the block."""
    nodes = [cluster_node(redis_url, name, **server) for name in names]
    try:
        for node in nodes:
            await node.start()
        yield nodes
    finally:
        for node in nodes:
            await node.stop()


@pytest.fixture
async def two_nodes(redis_server: RedisProcess) -> AsyncIterator[list[InterphoneServer]]:
    """Nodes "a" and "b" of :func:`started_nodes` on the test's redis-server."""
    async with started_nodes(redis_server.url, "a", "b") as nodes:
        yield nodes


async def start_node(redis_url: str | None, name: str, snapshot_every: int = 10_000,
                     cluster_key: bytes = b"", **settings: Any) -> InterphoneServer:
    store = node_store(redis_url, name, snapshot_every, cluster_key) if redis_url else None
    node = InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                            settings=FAST.with_overrides(**settings), store=store)
    await node.start()
    return node


@contextlib.asynccontextmanager
async def running_nodes(count: int, redis_url: str | None, snapshot_every: int = 10_000,
                        **settings: Any) -> AsyncIterator[list[InterphoneServer]]:
    """``count`` nodes on the Redis at ``redis_url`` (None: one in-memory server); more
    may be appended to the list (they are stopped too)."""
    nodes: list[InterphoneServer] = []
    try:
        for i in range(count):
            nodes.append(await start_node(redis_url, f"n{i}", snapshot_every, **settings))
        yield nodes
    finally:
        for node in nodes:
            await node.stop()


async def settle(nodes: list[InterphoneServer], timeout: float = 3.0) -> None:
    """Until every node has applied the whole log (the nodes of one Redis agree)."""
    stores = [n.store for n in nodes if n.store is not None]
    if not stores:
        return
    redis = stores[0]._writer_redis
    assert redis is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        length = int(await redis.xlen(stores[0].key("log")))
        if all(s.applied >= length for s in stores):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the nodes did not catch up with the log")


class RedisLink:
    """A TCP proxy to a redis-server, the network between a node and its Redis: it may be
    slow (``delay``: what clients send arrives that many seconds late, in order), hold new
    connections unanswered (``hold=True`` until :meth:`release`: a Redis slow to answer)
    or be cut (:meth:`sever`: connections closed and new ones refused, as by a Redis that is
    down, until :meth:`mend`), also just after a command reaches Redis and before its reply
    comes back (:meth:`sever_after`); or go silent on the connections of the moment
    (:meth:`stall_after`: Redis runs the command, its replies never come back, the
    connections stay open, as on a network that drops everything), or on the one connection
    that sends a command (:meth:`silence_after`: Redis runs it or never gets it)."""

    def __init__(self, redis_port: int, *, delay: float = 0.0, hold: bool = False) -> None:
        self.redis_port = redis_port
        self.delay = delay
        self.released = asyncio.Event()
        if not hold:
            self.released.set()
        self.accepted = asyncio.Event()
        self.severed = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._cut_after = b""
        self._stall_after = b""
        self._silence_after = b""
        self._silence_delivers = False
        self._muted = False
        self._mutes: list[list[bool]] = []  # per connection: its replies dropped
        self.cut = asyncio.Event()
        """Set when the command of :meth:`sever_after`, :meth:`stall_after` or
        :meth:`silence_after` went by."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def release(self) -> None:
        self.released.set()

    def sever(self) -> None:
        self.severed = True
        if self._server is not None:  # new connections refused
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers = []

    def mend(self) -> None:
        """Connections are accepted again (listening again on the same port, at once)."""
        self.severed = False
        if self._server is None:
            self._spawn(self.start())
        self._muted = False
        self.cut.clear()

    def sever_after(self, marker: bytes) -> None:
        """The next data a client sends that contains ``marker`` reaches Redis; from then
        on nothing Redis sends comes back, and the link is cut a moment later (Redis has run
        the command, the client never hears its reply): as :meth:`sever` then."""
        self._cut_after = marker

    def stall_after(self, marker: bytes) -> None:
        """The next data a client sends that contains ``marker`` reaches Redis; from then
        on nothing Redis sends on the connections open then comes back (they stay open).
        New connections work."""
        self._stall_after = marker

    def silence_after(self, marker: bytes, *, delivered: bool) -> None:
        """The next data a client sends that contains ``marker`` reaches Redis
        (``delivered``: Redis runs the command) or is lost on the way; from then on nothing
        goes either way on that connection, which stays open (its client waits for the
        reply). The other connections go on."""
        self._silence_after, self._silence_delivers = marker, delivered

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.sever()
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted.set()
        await self.released.wait()
        if self.severed:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        self._writers += [writer, up_writer]
        mute = [False]
        self._mutes.append(mute)
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._spawn(self._read_into(reader, queue))
        self._spawn(self._deliver(queue, up_writer, mute))
        self._spawn(self._deliver_back(up_reader, writer, mute))

    async def _read_into(self, reader: asyncio.StreamReader,
                         queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay, data))
        queue.put_nowait((loop.time() + self.delay, b""))

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes]],
                       writer: asyncio.StreamWriter, mute: list[bool]) -> None:
        loop = asyncio.get_running_loop()
        silenced = False
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    break
                if silenced:
                    continue
                if self._silence_after and self._silence_after in data:
                    self._silence_after = b""
                    mute[0] = silenced = True
                    if self._silence_delivers:
                        writer.write(data)
                        await writer.drain()
                    self.cut.set()
                    continue
                cutting = bool(self._cut_after) and self._cut_after in data
                if cutting:
                    self._cut_after, self._muted = b"", True
                if self._stall_after and self._stall_after in data:
                    self._stall_after = b""
                    for mute in self._mutes:
                        mute[0] = True
                    self.cut.set()
                writer.write(data)
                await writer.drain()
                if cutting:
                    await asyncio.sleep(0.1)  # Redis runs it; its reply goes nowhere
                    self.sever()
                    self.cut.set()
        writer.close()

    async def _deliver_back(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter, mute: list[bool]) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if self._muted or mute[0]:
                    continue
                writer.write(data)
                await writer.drain()
        writer.close()
