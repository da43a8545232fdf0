"""The client's media socket, received by a thread of its own, or polled.

Under the desktop app's event loop (qasync) each datagram asyncio reads costs a
Qt socket-notifier event, a zero-delay Qt timer and a trip through asyncio
before the packet reaches the mixer, about as much CPU as the rest of the
receive path. :class:`ThreadedDatagramTransport` instead waits for the socket in
a daemon thread and hands each datagram to the protocol's ``datagram_arrived``
*in that thread* (the protocol, :class:`MediaEndpoint`, knows it and moves what
needs the loop there, batched), with the time it arrived. Sending is a plain
non-blocking ``sendto`` from the caller's thread (what the socket does not take
is dropped, as UDP may).

Polled (:meth:`ThreadedDatagramTransport.poll`): a thread that wakes up regularly
anyway (the audio output, at the start of each block) receives what has arrived,
without blocking, and the datagrams are delivered in *its* thread; the receive
thread then stands aside (it waits on an event, not on the socket), so a received
packet wakes no thread of its own. :meth:`~ThreadedDatagramTransport.stop_polling`
(the output stopped) hands the socket back to the thread at once; polls that stop
without it (a device that died silently) are noticed by the thread within
``2 * POLL_HANDOVER_S``. Nothing is lost either way: a datagram stays in the
socket until one of the two takes it, and every take-and-deliver holds one lock,
so datagrams reach the sink in the socket's order.

Arrival times. A polled datagram is taken up to one poll period after it arrived;
what the jitter buffer must see is when it arrived, or every packet would look
late by a different amount. The socket asks the kernel to stamp each datagram
(``SO_TIMESTAMPNS``, Linux), and the stamp, on the wall clock, is moved to
``time.monotonic``'s clock. Where the kernel cannot stamp (other systems), the
transport does not poll (:attr:`~ThreadedDatagramTransport.pollable` is False, the
thread receives everything, and the arrival time is when it woke up).

:meth:`close` wakes the thread (``shutdown``, then a datagram to the socket's
own address, which works where ``shutdown`` does not wake a waiting thread),
joins it briefly and closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import struct
import sys
import threading
import time
from typing import Any, Protocol

from app.protocol.limits import MAX_DATAGRAM

logger = logging.getLogger(__name__)

_JOIN_TIMEOUT = 2.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_ERROR_PAUSE = 0.01
POLL_HANDOVER_S = 0.25
"""While polled, the parked receive thread looks this often whether polls still come
(4 wake-ups a second); after a whole period without one it receives again."""
POLL_MAX_DATAGRAMS = 64
"""Datagrams one :meth:`ThreadedDatagramTransport.poll` delivers at most."""
MAX_ARRIVAL_AGE_S = 1.0
"""A kernel stamp older than this (or in the future) is taken as a wall-clock step."""

# Linux (asm-generic): SO_TIMESTAMPNS_OLD, whose control message is a native timespec.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
_STAMP_SPACE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
_POLL_IN = select.POLLIN if hasattr(select, "poll") else 0


class DatagramSink(Protocol):
    """What the thread delivers to: ``datagram_arrived`` is ``datagram_received`` of an
    ``asyncio.DatagramProtocol`` with the datagram's arrival time (``time.monotonic``)."""

    def datagram_arrived(self, data: bytes, addr: tuple[str | Any, int],
                         arrived: float) -> None: ...
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


def stamp_arrivals(sock: socket.socket) -> bool:
    """Ask the kernel to stamp each datagram ``sock`` receives with its arrival time
    (``SO_TIMESTAMPNS``); False where it cannot (not Linux, no ``recvmsg``/``poll``)."""
    if not sys.platform.startswith("linux") or not _STAMP_SPACE or not _POLL_IN:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def arrival_time(ancdata: list[tuple[int, int, bytes]], wall: float, now: float) -> float:
    """When a datagram arrived, on the clock of ``now`` (``time.monotonic``), from its
    kernel stamp (``recvmsg``'s ``ancdata``) on the wall clock (``wall`` is the wall
    clock read with ``now``); ``now`` without a usable stamp."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS \
                and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            age = wall - seconds - nanoseconds * 1e-9
            return now - age if 0.0 <= age <= MAX_ARRIVAL_AGE_S else now
    return now


class ThreadedDatagramTransport(asyncio.DatagramTransport):
    """One UDP socket: a receive thread (or a poller) feeding ``sink``, ``sendto`` from
    any thread."""

    def __init__(self, sock: socket.socket, sink: DatagramSink, name: str = "media-rx") -> None:
        super().__init__()
        self._sock = sock
        self._sink = sink
        self._closing = False
        self.pollable = stamp_arrivals(sock)
        """Whether :meth:`poll` receives (the kernel stamps arrivals); else it does nothing."""
        self._deliver_lock = threading.Lock()  # take and deliver: one datagram at a time
        self._polling = False  # polls come: the thread stands aside
        self._polls = 0  # polls so far (the parked thread tells fresh polls from stale)
        self._resume = threading.Event()  # stop_polling() or close(): the thread goes on
        self._thread_ready = self._ready_check()  # the thread's wait for the socket
        self._poll_ready = self._ready_check()  # the poller's look (one per thread)
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
        """Receive and deliver what has arrived, in the caller's thread, without blocking;
        how many datagrams. From the first poll on, the receive thread stands aside until
        :meth:`stop_polling` (or until polls stop coming). An empty poll is one ``poll(2)``
        system call (no exception raised and caught per call)."""
        if not self.pollable or self._closing:
            return 0
        self._polls += 1
        self._polling = True
        if not self._poll_ready.poll(0):
            return 0
        return max(0, self._receive_ready(self._poll_ready))

    def stop_polling(self) -> None:
        """The poller stops (the audio output stopped): the receive thread takes over now."""
        self._polling = False
        self._resume.set()

    @property
    def polled(self) -> bool:
        """Polls come (:meth:`poll`): the receive thread stands aside."""
        return self._polling

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
        with self._deliver_lock:  # no poll is receiving from the socket meanwhile
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

    def _ready_check(self) -> Any:
        """A ``select.poll`` object watching the socket for datagrams (None without one)."""
        if not _POLL_IN:
            return None
        check = select.poll()
        check.register(self._sock, _POLL_IN)
        return check

    def _serve(self) -> None:
        if not self.pollable:
            self._serve_blocking()
            return
        ready = self._thread_ready
        while not self._closing:
            if self._polling:
                self._stand_aside()
                continue
            ready.poll()  # until a datagram (or an error, or the shutdown of close())
            if self._closing:
                return
            if self._polling:
                continue  # the poller takes it, and what follows
            if self._receive_ready(ready) < 0:
                time.sleep(_ERROR_PAUSE)  # a lasting error must not spin the thread

    def _stand_aside(self) -> None:
        """Parked while polls come: until stop_polling(), close() or a period without a
        poll (the poller stopped without a word)."""
        seen = self._polls
        while True:
            self._resume.clear()
            if self._closing or not self._polling:
                return
            self._resume.wait(POLL_HANDOVER_S)
            if self._polling and self._polls == seen and not self._closing:
                logger.info("no poll of the media socket for %gs: its thread receives",
                            POLL_HANDOVER_S)
                self._polling = False
                return
            seen = self._polls

    def _receive_ready(self, ready: Any) -> int:
        """Take and deliver the datagrams waiting (without blocking, under the lock, so
        that the thread and a poller deliver in the socket's order); how many, -1 when
        the socket reported an error (handed to the sink)."""
        delivered = 0
        receive = self._sock.recvmsg
        sink = self._sink
        with self._deliver_lock:
            while delivered < POLL_MAX_DATAGRAMS and not self._closing:
                try:
                    data, ancdata, _, addr = receive(MAX_DATAGRAM + 1, _STAMP_SPACE, _DONTWAIT)
                except BlockingIOError:
                    break
                except OSError as exc:  # ICMP port unreachable, or the socket shut down
                    if not self._closing:
                        sink.error_received(exc)
                        return -1
                    break
                arrived = arrival_time(ancdata, time.time(), time.monotonic())
                delivered += 1
                try:
                    sink.datagram_arrived(data, addr, arrived)
                except Exception:  # a bug: log it and receive on, audio must not stop
                    logger.exception("delivering a received datagram failed")
                if not ready.poll(0):
                    break
        return delivered

    def _serve_blocking(self) -> None:
        """No kernel stamps: a blocking ``recvfrom``, the arrival is when it returns."""
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
                self._sink.datagram_arrived(data, addr, time.monotonic())
            except Exception:  # a bug: log it and receive on, audio must not stop
                logger.exception("the media receive thread failed on a datagram")
