"""A UDP impairment proxy for benchmarks: random loss and random delay (jitter).

One :class:`ImpairedLink` stands between one client's media socket and the
server's media port, both on loopback::

    client socket  <->  proxy "front" port  <->  proxy "back" socket  <->  server

The client is told to send its media to the front port (``InterphoneClient(...,
media_addr=link.front)``); the proxy relays to the server from its own
back socket, also on 127.0.0.1, so the server's checks (recvbegin source IP
equals the TCP peer IP; audio comes from the registered address) hold: the
registered address simply is the back socket's. Replies from the server go
back to the last client address seen on the front.

Each direction is impaired independently: a datagram is dropped with
probability ``loss`` and otherwise delayed by a uniform random 0..``jitter``
seconds (independent per packet, so packets may be reordered, as on a real
path with jitter). Runs on the asyncio loop; counts what it did.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

Address = tuple[str, int]
_Handler = Callable[[bytes, Address], None]


@dataclass(frozen=True, slots=True)
class Impairment:
    """Loss probability (0..1) and maximal extra delay (seconds) for one direction."""

    loss: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), not {self.loss!r}")
        if self.jitter < 0.0:
            raise ValueError(f"jitter must be >= 0, not {self.jitter!r}")

    @property
    def clean(self) -> bool:
        return self.loss == 0.0 and self.jitter == 0.0


@dataclass(slots=True)
class DirectionStats:
    passed: int = 0
    dropped: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def loss_pct(self) -> float:
        total = self.passed + self.dropped
        return 100.0 * self.dropped / total if total else 0.0


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: _Handler) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable after a peer left: nothing to do


class ImpairedLink:
    """Relays datagrams between one client and the server, impairing both ways."""

    def __init__(self, server: tuple[str, int], uplink: Impairment = Impairment(),
                 downlink: Impairment = Impairment(), *, seed: int | None = None,
                 host: str = "127.0.0.1") -> None:
        self.server = server
        self.uplink = uplink  # client -> server
        self.downlink = downlink  # server -> client
        self.host = host
        self.up_stats = DirectionStats()
        self.down_stats = DirectionStats()
        self._rng = random.Random(seed)
        self._front: _Side | None = None
        self._back: _Side | None = None
        self._client: tuple[str, int] | None = None
        self._pending: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Every datagram from the server: (loop time, bytes, passed): set to a list to fill.
        self.downlink_trace: list[tuple[float, bytes, bool]] | None = None

    @property
    def front(self) -> tuple[str, int]:
        """Where the client sends its media."""
        if self._front is None or self._front.transport is None:
            raise RuntimeError("link not started")
        host, port = self._front.transport.get_extra_info("sockname")[:2]
        return host, port

    async def start(self) -> ImpairedLink:
        loop = asyncio.get_running_loop()
        self._loop = loop
        _, front = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=(self.host, 0))
        _, back = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_server), local_addr=(self.host, 0))
        self._front, self._back = front, back
        return self

    def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()
        self._front = self._back = None

    async def __aenter__(self) -> ImpairedLink:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- relaying
    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        self._client = addr
        back = self._back
        if back is not None and back.transport is not None:
            self._forward(data, back.transport, self.server, self.uplink, self.up_stats)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        front, client = self._front, self._client
        if front is not None and front.transport is not None and client is not None:
            dropped = self.down_stats.dropped
            self._forward(data, front.transport, client, self.downlink, self.down_stats)
            if self.downlink_trace is not None and self._loop is not None:
                self.downlink_trace.append((self._loop.time(), data,
                                            self.down_stats.dropped == dropped))

    def _forward(self, data: bytes, transport: asyncio.DatagramTransport,
                 target: tuple[str, int], impairment: Impairment,
                 stats: DirectionStats) -> None:
        if impairment.loss and self._rng.random() < impairment.loss:
            stats.dropped += 1
            return
        stats.passed += 1
        delay = self._rng.uniform(0.0, impairment.jitter) if impairment.jitter else 0.0
        stats.delays.append(delay)
        if delay <= 0.0 or self._loop is None:
            transport.sendto(data, target)
            return
        handle: asyncio.TimerHandle | None = None

        def send() -> None:
            self._pending.discard(handle)  # type: ignore[arg-type]
            if not transport.is_closing():
                transport.sendto(data, target)

        handle = self._loop.call_later(delay, send)
        self._pending.add(handle)
