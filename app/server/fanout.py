"""One ``sendmmsg(2)`` per relayed datagram for all its listeners (Linux, through ctypes).

The kernel's loopback ``sendto`` is most of a relayed listener-packet's cost, and one
syscall per listener adds its entry and exit to each (bench/_kernel_floor.py: about
3.6 us per ``sendto`` against 2.7 us per message of one ``sendmmsg`` to 20 targets on
the development machine). :class:`BatchSender` sends the media thread's receive buffer
to every target of a fast route in one call: the ``mmsghdr`` array and the targets'
``sockaddr_in`` are built once per route (:meth:`BatchSender.prepare`), the one
``iovec`` points into the receive buffer itself, so per datagram only its length is set.

Only where it applies: Linux's C library has ``sendmmsg``, the socket is IPv4 and every
target is an IPv4 ``(host, port)``; otherwise :meth:`prepare` returns None and the caller
sends one ``sendto`` per target, as before. A message the kernel refuses (a full buffer)
is dropped alone, like a failed ``sendto``: the rest still go out.
"""

from __future__ import annotations

import ctypes
import logging
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MIN_TARGETS = 10
"""Fewer targets than this go by ``sendto``: the ctypes call, run cold once per datagram
at a talker's 50 packets/s, costs more than it saves on a few targets (bench/relay.py's
cost model at 5 listeners: about 125 us per datagram with sendmmsg against 119 us by
sendto; at 20, about 170 against 185)."""
MAX_TARGETS = 1024
"""UIO_MAXIOV: more go by ``sendto``."""


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


class _SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_uint16),
                ("addr", ctypes.c_uint8 * 4), ("zero", ctypes.c_uint8 * 8)]


def _libc_sendmmsg() -> Callable[..., int] | None:
    try:
        call: Any = ctypes.CDLL(None, use_errno=True).sendmmsg
    except (AttributeError, OSError):
        return None
    # no argtypes: the caller passes ints (C ints) and the message array itself (a
    # pointer), the cheapest conversions ctypes has (about half the cost of argtypes')
    call.restype = ctypes.c_int
    return call


class Batch:
    """The prepared messages of one fan-out: pass ``msgs`` and ``count`` to sendmmsg."""

    __slots__ = ("_names", "count", "msgs", "targets")

    def __init__(self, msgs: ctypes.Array[Any], names: ctypes.Array[Any],
                 targets: tuple[Any, ...]) -> None:
        self.msgs, self._names = msgs, names  # kept alive: the kernel reads them
        self.count = len(targets)
        self.targets = targets


class BatchSender:
    """Sends ``buffer[:size]`` to prepared fan-outs with one ``sendmmsg`` each (see the
    module). ``call`` is None where it does not apply."""

    def __init__(self, sock: socket.socket, buffer: bytearray) -> None:
        self.fd = sock.fileno()
        self.call = _libc_sendmmsg() if sock.family == socket.AF_INET else None
        self._window = (ctypes.c_char * len(buffer)).from_buffer(buffer)
        self.iov = _Iovec(ctypes.addressof(self._window), 0)

    def close(self) -> None:
        """Release the receive buffer (it cannot be resized while a ctypes view holds it)."""
        del self._window

    def prepare(self, targets: tuple[Any, ...]) -> Batch | None:
        """The relay's messages for ``targets``, or None: send them one by one (also under
        :data:`MIN_TARGETS`, where one ``sendto`` each costs less)."""
        if len(targets) < MIN_TARGETS:
            return None
        return self.prepare_any(targets)

    def prepare_any(self, targets: tuple[Any, ...]) -> Batch | None:
        """The messages for ``targets`` however few (bench/_kernel_floor.py measures the
        call itself), or None where ``sendmmsg`` does not apply (see the module)."""
        if self.call is None or not 1 <= len(targets) <= MAX_TARGETS:
            return None
        names = (_SockaddrIn * len(targets))()
        msgs = (_Mmsghdr * len(targets))()
        iov = ctypes.pointer(self.iov)
        for index, target in enumerate(targets):
            if len(target) != 2:
                return None
            try:
                packed = socket.inet_aton(target[0])
            except (OSError, TypeError):
                return None
            name = names[index]
            name.family = socket.AF_INET
            name.port = socket.htons(target[1])
            name.addr[:] = list(packed)
            hdr = msgs[index].hdr
            hdr.name = ctypes.addressof(name)
            hdr.namelen = ctypes.sizeof(_SockaddrIn)
            hdr.iov = iov
            hdr.iovlen = 1
        return Batch(msgs, names, targets)

    def send(self, batch: Batch, size: int, flags: int = 0) -> int:
        """Sends ``buffer[:size]`` to ``batch``'s targets: how many went out (-1: none).
        The relay's hot loop does the same inline."""
        call = self.call
        if call is None:  # no batch is prepared then
            raise RuntimeError("sendmmsg does not apply to this socket")
        self.iov.len = size
        return call(self.fd, batch.msgs, batch.count, flags)
