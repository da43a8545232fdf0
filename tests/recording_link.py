"""A TCP proxy between a client and a server that records what goes through it: the
requests the client sends, counted by kind, and every message the server sends back."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from app.protocol import FrameDecoder, decode_message
from app.protocol.messages import Message


class RecordingLink:
    """A TCP proxy to a server: what its client sends (counted by kind) and every message
    the server sends back, in order."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.sent: Counter[str] = Counter()
        self.received: list[Message] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.server_port)
        for coro in (self._pipe(reader, up_writer, upstream=True),
                     self._pipe(up_reader, writer, upstream=False)):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    upstream: bool) -> None:
        decoder = FrameDecoder()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    message = decode_message(frame)
                    if upstream:
                        self.sent[type(message.body).__name__] += 1
                    else:
                        self.received.append(message)
                writer.write(data)
                await writer.drain()
        writer.close()

    def requests(self) -> Counter[str]:
        """What the client sent but pings (which a node answers on its own)."""
        return Counter({kind: n for kind, n in self.sent.items() if kind != "Ping"})

    def reads(self) -> int:
        """Reads the client sent (what probes a server's store: members, sync)."""
        return self.sent["MembersRequest"] + self.sent["SyncRequest"]
