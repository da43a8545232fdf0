"""The client's media socket, received by a thread of its own.

Under the desktop app's event loop (qasync) each datagram asyncio reads costs a
Qt socket-notifier event, a zero-delay Qt timer and a trip through asyncio
before the packet reaches the mixer, about as much CPU as the rest of the
receive path. :class:`ThreadedDatagramTransport` instead blocks in ``recvfrom``
in a daemon thread and hands each datagram to the protocol's
``datagram_received`` *in that thread* (the protocol, :class:`MediaEndpoint`,
knows it and moves what needs the loop there, batched). Sending is a plain
non-blocking ``sendto`` from the caller's thread (what the socket does not take
is dropped, as UDP may).

:meth:`close` wakes the thread (``shutdown``, then a datagram to the socket's
own address, which works where ``shutdown`` does not wake ``recvfrom``), joins
it briefly and closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from typing import Any, Protocol

from app.protocol.limits import MAX_DATAGRAM

logger = logging.getLogger(__name__)

_JOIN_TIMEOUT = 2.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_ERROR_PAUSE = 0.01


class DatagramSink(Protocol):
    """What the thread delivers to (an ``asyncio.DatagramProtocol``'s two methods)."""

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None: ...
    def error_received(self, exc: Exception) -> None: ...


def bind_ephemeral(family: int) -> socket.socket:
    """A blocking UDP socket of ``family`` on an ephemeral port of every local address."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
    except OSError:
        sock.close()
        raise
    return sock


class ThreadedDatagramTransport(asyncio.DatagramTransport):
    """One UDP socket: a receive thread feeding ``sink``, ``sendto`` from any thread."""

    def __init__(self, sock: socket.socket, sink: DatagramSink, name: str = "media-rx") -> None:
        super().__init__()
        self._sock = sock
        self._sink = sink
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def receiving(self) -> bool:
        """The receive thread runs."""
        return self._thread.is_alive()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        if name == "sockname":
            with contextlib.suppress(OSError):
                return self._sock.getsockname()
        return default

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if self._closing:
            return
        try:
            self._sock.sendto(data, _DONTWAIT, addr)
        except OSError as exc:  # full buffer, no route: UDP drops; report like asyncio does
            self._sink.error_received(exc)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._wake()
            self._thread.join(_JOIN_TIMEOUT)
            if self._thread.is_alive():
                logger.warning("the media receive thread did not stop within %gs",
                               _JOIN_TIMEOUT)
                return
        self._sock.close()

    def abort(self) -> None:
        self.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RD)
        try:
            host, port = self._sock.getsockname()[:2]
        except OSError:
            return
        family = self._sock.family
        if host in ("0.0.0.0", "::", ""):
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as poke:
            poke.sendto(b"", (host, port))

    def _serve(self) -> None:
        receive = self._sock.recvfrom
        while not self._closing:
            try:
                data, addr = receive(MAX_DATAGRAM + 1)
            except OSError as exc:  # ICMP port unreachable, or the socket shut down
                if self._closing:
                    return
                self._sink.error_received(exc)
                time.sleep(_ERROR_PAUSE)  # a lasting error must not spin the thread
                continue
            if self._closing:
                return
            try:
                self._sink.datagram_received(data, addr)
            except Exception:  # a bug: log it and receive on, audio must not stop
                logger.exception("the media receive thread failed on a datagram")
