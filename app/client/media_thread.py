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

Polled by the output device (:meth:`ThreadedDatagramTransport.poll`). While the
audio output runs, it calls :meth:`poll` at the start of each block: what has
arrived is received without blocking and delivered in the output's own thread,
right before the mixer needs it. The receive thread then stands aside (parked,
not in ``recvfrom``), so a received packet no longer wakes a thread of its own
(50 a second per speaker, each wake-up costing more CPU than the packet's work).
:meth:`stop_polling` (the output stopped) hands the socket back to the thread at
once; if the polls stop without it (a device that died), the thread takes over by
itself within ``POLL_HANDOVER_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
from typing import Any, Protocol

from app.protocol.limits import MAX_DATAGRAM

logger = logging.getLogger(__name__)

_JOIN_TIMEOUT = 2.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_ERROR_PAUSE = 0.01
POLL_HANDOVER_S = 0.25
"""The receive thread stays parked while the last :meth:`ThreadedDatagramTransport.poll`
is younger than this (it checks again this often: 4 wake-ups a second while parked)."""
POLL_MAX_DATAGRAMS = 64
"""Datagrams one :meth:`ThreadedDatagramTransport.poll` delivers at most."""


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
        self._last_poll = -math.inf  # monotonic time of the last poll()
        self._resume = threading.Event()  # set by stop_polling(): the thread takes over
        self._deliver_lock = threading.Lock()  # one datagram at a time reaches the sink
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

    def poll(self) -> int:
        """Receive and deliver, in the caller's thread, what has arrived (without blocking);
        how many datagrams. The receive thread stands aside until :meth:`stop_polling` or
        until no poll came for ``POLL_HANDOVER_S``."""
        self._last_poll = time.monotonic()
        if self._closing:
            return 0
        receive = self._sock.recvfrom
        delivered = 0
        while delivered < POLL_MAX_DATAGRAMS:
            try:
                data, addr = receive(MAX_DATAGRAM + 1, _DONTWAIT)
            except BlockingIOError:
                break
            except OSError as exc:  # ICMP port unreachable, or the socket shut down
                if not self._closing:
                    self._sink.error_received(exc)
                break
            delivered += 1
            self._deliver(data, addr)
        return delivered

    def stop_polling(self) -> None:
        """The poller stopped (the output device stopped): the receive thread takes over."""
        self._last_poll = -math.inf
        self._resume.set()

    @property
    def polled(self) -> bool:
        """Polls are recent: the receive thread stands aside."""
        return time.monotonic() - self._last_poll < POLL_HANDOVER_S

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._resume.set()
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
            if self.polled:
                self._stand_aside()
                continue
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
            self._deliver(data, addr)

    def _stand_aside(self) -> None:
        """Parked while the socket is polled: until stop_polling(), close() or stale polls."""
        while not self._closing and self.polled:
            self._resume.wait(POLL_HANDOVER_S)
            self._resume.clear()

    def _deliver(self, data: bytes, addr: Any) -> None:
        with self._deliver_lock:  # the thread's last datagram and a poll may meet
            try:
                self._sink.datagram_received(data, addr)
            except Exception:  # a bug: log it and receive on, audio must not stop
                logger.exception("the media receive thread failed on a datagram")
