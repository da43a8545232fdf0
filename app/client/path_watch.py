"""Noticing that the network path to the server changed (a laptop roaming from Wi-Fi to a
cable, a VPN coming up), at near-zero cost.

An idle client's TCP connection stays "open" in its own kernel when its address changes
(the old one is gone, or another route is now preferred): nothing tells it until its next
keepalive ping fails, up to ``keepalive`` plus the ping's timeout (20 s by default) during
which it shows *Connected* and hears nothing.

The check, once every :class:`~app.client.wake_watch.WakeWatch` tick (every 2 s, no
timer of its own): the source address the kernel would use *now* to reach the server
(a UDP socket ``connect`` then ``getsockname``, which sends nothing) compared with the
TCP connection's local address. The same: nothing changed. Different, or no route at
all: the path changed; the client then checks its connection at once (a ping) and
registers its media again, or reconnects at once when the connection's local address no
longer exists on this machine (nothing can come back to it).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.client.connection import SignalingConnection

SockAddr = tuple[Any, ...]
"""A socket address as ``getpeername`` gives it: (host, port) or IPv6's 4-tuple."""


def route_source(peer: SockAddr) -> str | None:
    """The source address the kernel would use now to reach ``peer`` (nothing is sent);
    None when there is no route."""
    family = socket.AF_INET6 if ":" in str(peer[0]) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(peer)
            return str(probe.getsockname()[0])
    except OSError:
        return None


def address_exists(host: str) -> bool:
    """Whether ``host`` is still one of this machine's addresses (a bind to it works);
    a failure other than "address not available" counts as yes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
    except OSError as exc:
        return exc.errno != errno.EADDRNOTAVAIL
    return True


class PathChange(enum.Enum):
    NONE = "none"  # the route to the server still leaves from the connection's address
    SEEN = "seen"  # changed, and already checked: nothing more to do
    CHANGED = "changed"  # changed (another source, or no route): check the connection
    GONE = "gone"  # the connection's own address is no longer this machine's: reconnect


def path_change(local: str, route: str | None, seen: str | None,
                local_exists: Callable[[], bool]) -> PathChange:
    """The pure decision. ``local``: the connection's local address; ``route``: the
    source the kernel would use now (None: no route); ``seen``: the route already
    reacted to (the local address when nothing changed since the connection was made);
    ``local_exists`` is asked only when the path differs."""
    if route == local:
        return PathChange.NONE
    if not local_exists():
        return PathChange.GONE
    return PathChange.SEEN if route == seen else PathChange.CHANGED


@dataclass
class PathLookup:
    """The two look-ups the check makes (real sockets; replaced in tests)."""

    route: Callable[[SockAddr], str | None] = route_source
    exists: Callable[[str], bool] = address_exists


@dataclass
class PathWatch:
    """The check for one connection: its local and peer addresses (the address actually
    connected to, whatever name the server was given by), and the route reacted to."""

    local: str
    peer: SockAddr
    lookup: PathLookup = field(default_factory=PathLookup)
    seen: str | None = None

    def __post_init__(self) -> None:
        self.seen = self.local

    def check(self) -> tuple[PathChange, str | None]:
        """Look now; the change and the route found (remembered as seen)."""
        route = self.lookup.route(self.peer)
        change = path_change(self.local, route, self.seen,
                             lambda: self.lookup.exists(self.local))
        self.seen = route
        return change, route


class AddressedConnection(SignalingConnection):
    """A :class:`SignalingConnection` that keeps its socket's local and peer addresses
    (TLS or not), for :class:`PathWatch`."""

    local_address: SockAddr | None = None
    peer_address: SockAddr | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sockname = transport.get_extra_info("sockname")
        peername = transport.get_extra_info("peername")
        if isinstance(sockname, tuple) and isinstance(peername, tuple):
            self.local_address, self.peer_address = sockname, peername

    def path_watch(self, lookup: PathLookup) -> PathWatch | None:
        if self.local_address is None or self.peer_address is None:
            return None
        return PathWatch(str(self.local_address[0]), self.peer_address, lookup)
