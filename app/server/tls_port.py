"""A TLS port's listener that notices plain-text clients.

``loop.create_server(..., ssl=context)`` closes a client that does not speak TLS after
its failed handshake without a word in the log (asyncio and uvloop mention it only in
debug mode), so an operator whose users forgot ``--tls`` saw nothing. Here each accepted
connection's first byte is peeked at (left in the socket for the TLS layer): a TLS
handshake record goes on to ``loop.connect_accepted_socket`` with the TLS context, as
``create_server`` would have done; anything else is a plain-text client, handed to
``on_plain`` with its address (the server logs it, rate-limited) and closed, as the
failed handshake closed it (the client's hint, "the server may require TLS", is
unchanged). A loop that cannot watch a socket (Windows' proactor loop) skips the peek:
every connection goes to the TLS layer, as before.

A connection is not a session before its handshake is over, so the state's per-address
limits cannot see it yet: ``admit`` is asked at the accept (False: closed at once, before
a byte is read) and ``release`` told when the connection leaves this listener (handed to
the session, failed or timed out), so that connections that never finish a handshake are
limited per address like connections that never log in.

A handshake that fails (most often a client that does not trust the certificate: an
unknown issuer, a name it does not hold, its dates) was also silent; it goes to
``on_failed`` with the address and :func:`handshake_failure`'s words for it (the server
logs it, rate-limited as the plain-text clients). A handshake that runs out of time is
only logged at debug level (a port scanner's half-open connection looks the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any

log = logging.getLogger("app.server")

TLS_HANDSHAKE = 0x16
"""The first byte of a TLS record that carries a handshake message (the ClientHello)."""
_DRAIN_READS = 16
"""Reads at most of what a plain-text client sent, before closing (closing a socket with
unread data resets the connection instead of ending it)."""
ACCEPT_RETRY = 1.0
"""Seconds between accepts after one failed (e.g. no file descriptor left), as asyncio."""


class TlsListener:
    """Accepts the connections of one listening socket of a TLS port (see the module);
    ``close`` and ``wait_closed`` as an :class:`asyncio.Server`'s."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 factory: Callable[[], asyncio.BaseProtocol], context: ssl.SSLContext,
                 on_plain: Callable[[Any], None], *, backlog: int,
                 handshake_timeout: float,
                 admit: Callable[[Any], bool] | None = None,
                 release: Callable[[Any], None] | None = None,
                 on_failed: Callable[[Any, str], None] | None = None) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = factory
        self._context = context
        self._on_plain = on_plain
        self._on_failed = on_failed
        self._timeout = handshake_timeout
        self._admit_address = admit
        self._release_address = release
        self._admitting: set[asyncio.Task[None]] = set()
        sock.setblocking(False)
        sock.listen(backlog)
        self._task = loop.create_task(self._serve())

    def close(self) -> None:
        """Stop accepting (the listening socket closes); connections not yet handed to
        the TLS layer are closed."""
        self._task.cancel()
        # once the accept is withdrawn from the loop; also when the task was cancelled
        # before its first step (its ``finally`` then never runs)
        self._task.add_done_callback(lambda _task: self._sock.close())
        for task in list(self._admitting):
            task.cancel()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _serve(self) -> None:
        loop = self._loop
        try:
            while True:
                try:
                    conn, address = await loop.sock_accept(self._sock)
                except OSError as exc:
                    log.warning("cannot accept a connection: %s", exc)
                    await asyncio.sleep(ACCEPT_RETRY)
                    continue
                if self._admit_address is not None and not self._admit_address(address):
                    _reset(conn)  # (refused and logged by ``admit``)
                    continue
                task = loop.create_task(self._admit(conn, address))
                self._admitting.add(task)
                task.add_done_callback(self._admitting.discard)
        finally:
            self._sock.close()

    async def _admit(self, conn: socket.socket, address: Any) -> None:
        """Peek at the first byte, then TLS or the plain-text path."""
        handed = False
        try:
            conn.setblocking(False)
            started = self._loop.time()
            try:
                first = await asyncio.wait_for(self._peek(conn), self._timeout)
            except OSError:  # (TimeoutError is one)
                return  # reset, or not a byte in time (as a handshake timeout)
            if first == b"":
                return  # closed before a word
            if first is not None and first[0] != TLS_HANDSHAKE:
                self._on_plain(address)
                _drain(conn)
                return
            handed = True
            try:
                await self._loop.connect_accepted_socket(
                    self._factory, conn, ssl=self._context,
                    # one limit for the first byte and the handshake together
                    ssl_handshake_timeout=max(0.001, self._timeout - (self._loop.time() - started)))
            except OSError as exc:  # (ssl.SSLError and TimeoutError are ones)
                log.debug("TLS handshake with %s failed: %r", address, exc)
                reason = handshake_failure(exc)
                if reason is not None and self._on_failed is not None:
                    self._on_failed(address, reason)
        finally:
            if not handed:
                conn.close()
            if self._release_address is not None:
                self._release_address(address)

    async def _peek(self, conn: socket.socket) -> bytes | None:
        """The connection's first byte, left unread (b"": closed); None when this loop
        cannot watch a socket."""
        loop = self._loop
        readable: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        try:
            loop.add_reader(conn.fileno(), ready)
        except NotImplementedError:
            return None
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
        return conn.recv(1, socket.MSG_PEEK)


def _reset(conn: socket.socket) -> None:
    """Close at once, unread (as the state's refusal aborts a plain connection)."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


HANDSHAKE_ENDED = ("TLS handshake failed: the client ended it (a client that does not trust "
                   "this server's certificate does so: check that the clients trust its issuer "
                   "or its fingerprint, that it names the host they connect to, and its dates)")


def handshake_failure(exc: OSError) -> str | None:
    """What to log of a failed TLS handshake (None: not worth a warning, a timeout).

    A client refusing the certificate sends an alert and closes: the standard loop
    reports the alert (``TLSV1_ALERT_UNKNOWN_CA``), uvloop only a reset, so both say
    what the operator should check."""
    if isinstance(exc, TimeoutError):
        return None
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or "")
        if "ALERT" in reason:
            alert = reason.split("ALERT_", 1)[-1].lower().replace("_", " ")
            return f"{HANDSHAKE_ENDED}; its alert: {alert}"
        return f"TLS handshake failed: {reason.lower().replace('_', ' ') or exc}"
    return HANDSHAKE_ENDED


def _drain(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        for _ in range(_DRAIN_READS):
            if not conn.recv(65536):
                break
