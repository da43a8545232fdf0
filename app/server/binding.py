"""Where the server listens: one or several ``--host`` values, TCP and UDP on one port number.

- ``::`` is dual-stack: one IPv6 socket with ``IPV6_V6ONLY`` off, so IPv4 clients
  are served too (they show as ``::ffff:a.b.c.d``). asyncio's ``create_server``
  turns ``IPV6_V6ONLY`` on, which is why the sockets are made here.
- ``""`` means every address: ``::`` where the machine has IPv6, else ``0.0.0.0``.
- A name (``localhost``) is every address it resolves to; several hosts are
  every address of each. ``0.0.0.0`` next to a dual-stack ``::`` is covered by it.

TCP gets one listening socket per address. UDP gets one socket: the host's own
address when there is one, else the wildcard of the families asked for (``::``
dual-stack if any is IPv6, else ``0.0.0.0``), because a listener registered
through one address must hear a speaker who sends to another, and the relay
forwards through one socket. The kernel sends each datagram from the address
the route to its destination picks, which is the address the client used in
the usual set-ups (loopback, one address per interface). Media from a source
that did not register through signaling is dropped whatever the address, so
UDP on more addresses than TCP opens nothing to strangers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

ALL_ADDRESSES = ""
DUAL_STACK = "::"
ANY_IPV4 = "0.0.0.0"


def has_ipv6() -> bool:
    """Can this machine bind an IPv6 socket (``::1``)?"""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def effective_hosts(hosts: Sequence[str]) -> list[str]:
    """``hosts`` with ``""`` replaced by ``::`` (or ``0.0.0.0`` without IPv6), duplicates and
    a ``0.0.0.0`` that a dual-stack ``::`` covers left out; ``["127.0.0.1"]`` if empty."""
    result: list[str] = []
    for host in hosts or ["127.0.0.1"]:
        if host == ALL_ADDRESSES:
            host = DUAL_STACK if has_ipv6() else ANY_IPV4
        if host not in result:
            result.append(host)
    if DUAL_STACK in result and ANY_IPV4 in result:
        result.remove(ANY_IPV4)
    return result


@dataclass(frozen=True, slots=True)
class ListenAddress:
    family: socket.AddressFamily
    address: tuple  # the sockaddr without the port: (host,) or (host, flowinfo, scope_id)
    dual_stack: bool


def listen_addresses(hosts: Sequence[str]) -> list[ListenAddress]:
    """Every address the TCP side listens on, in order, without duplicates."""
    found: list[ListenAddress] = []
    for host in effective_hosts(hosts):
        infos = socket.getaddrinfo(host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE)
        for family, _, _, _, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            item = ListenAddress(family, (sockaddr[0], *sockaddr[2:]),
                                 family == socket.AF_INET6 and host == DUAL_STACK)
            if item not in found:
                found.append(item)
    return found


def udp_address(hosts: Sequence[str]) -> ListenAddress:
    """The one address of the UDP socket (see the module)."""
    addresses = listen_addresses(hosts)
    if len(addresses) == 1:
        return addresses[0]
    if any(a.family == socket.AF_INET6 for a in addresses):
        return ListenAddress(socket.AF_INET6, ("::", 0, 0),
                             any(a.family == socket.AF_INET for a in addresses)
                             or any(a.dual_stack for a in addresses))
    return ListenAddress(socket.AF_INET, (ANY_IPV4,), False)


class BindError(OSError):
    """A bind refused; ``where`` names the address, port and protocol (``127.0.0.1 port
    9400 (UDP)``): the port may be free for TCP and taken for UDP, or the reverse."""

    def __init__(self, errno: int | None, strerror: str | None, where: str) -> None:
        super().__init__(errno, strerror)
        self.where = where

    def __str__(self) -> str:
        return f"cannot listen on {self.where}: {self.strerror}"


def bound_socket(where: ListenAddress, kind: socket.SocketKind, port: int) -> socket.socket:
    """A socket of ``kind`` bound to ``where`` and ``port`` (``IPV6_V6ONLY`` as asked);
    :class:`BindError` if the bind is refused."""
    sock = socket.socket(where.family, kind)
    try:
        # as asyncio does: not on Windows, where SO_REUSEADDR lets another process take the port
        if kind == socket.SOCK_STREAM and os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if where.family == socket.AF_INET6:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                0 if where.dual_stack else 1)
        host, *rest = where.address
        sock.bind((host, port, *rest))
    except OSError as exc:
        sock.close()
        protocol = "TCP" if kind == socket.SOCK_STREAM else "UDP"
        shown = f"[{host}]" if where.family == socket.AF_INET6 else host
        raise BindError(exc.errno, exc.strerror, f"{shown} port {port} ({protocol})") from exc
    except BaseException:
        sock.close()
        raise
    return sock


def describe(hosts: Sequence[str]) -> str:
    """The hosts for a log line, comma-separated (no space), IPv6 in brackets: ``[::]``."""
    shown = []
    for host in effective_hosts(hosts):
        try:
            is_v6 = ipaddress.ip_address(host).version == 6
        except ValueError:
            is_v6 = False
        shown.append(f"[{host}]" if is_v6 else host)
    return ",".join(shown)
