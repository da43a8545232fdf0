"""SignalingConnection: the asyncio driver of one :class:`~app.client.session.ClientSession`.

It holds no protocol rule. It moves bytes (socket → ``session.receive_data``,
``session.data_to_send()`` → socket), arms one timer at
``session.next_deadline()``, and turns the session's events into results:
every event goes first to the ``on_event`` callback (in wire order, before any
awaiting task resumes, so a model is updated in the order the server made the
changes), then the future of the request it ends is resolved. Failed answers
become the typed exceptions of :mod:`app.client.errors`; when the connection
closes, every pending request fails at once with :class:`ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
from collections.abc import Callable
from typing import cast

from app.client.address import format_server_address
from app.client.deadline_timer import DeadlineTimer
from app.client.errors import (
    ConnectionLost,
    RemoteProtocolError,
    RequestTimeout,
    ServerUnreachable,
    error_from_reply,
)
from app.client.failures import CLOSED_BEFORE_ANY_ANSWER as CLOSED_BEFORE_ANY_ANSWER
from app.client.failures import TLS_RECORD_RECEIVED as TLS_RECORD_RECEIVED
from app.client.failures import Failure, FailureKind, os_reason_of, os_words
from app.client.session import (
    ClientSession,
    ConnectionClosed,
    Request,
    RequestRefused,
    RequestTimedOut,
    ResponseReceived,
    ResponseUnreadable,
    SessionEvent,
)
from app.client.trust import closed_silently, tls_failure
from app.protocol import LoginResult
from app.protocol.limits import MAX_FRAME
from app.protocol.messages import Body

logger = logging.getLogger(__name__)

LATE_TIMER_S = 1.0
"""A timer this late means the process did not run meanwhile (see ``_on_timer``)."""
READ_GRACE_S = 0.25
"""After such a pause, how long what the socket holds has to be read before a deadline."""

EventCallback = Callable[[SessionEvent], None]
ClosedCallback = Callable[["SignalingConnection", Exception | None], None]


class SignalingConnection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying one session (use :meth:`open`)."""

    def __init__(self, session: ClientSession, on_event: EventCallback,
                 on_closed: ClosedCallback) -> None:
        self.session = session
        self._on_event = on_event
        self._on_closed = on_closed
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._futures: dict[str, asyncio.Future[Body]] = {}
        self._closed = self._loop.create_future()
        self._timer = DeadlineTimer(self._on_timer, self._loop.time)
        self.peer_host = ""
        self._plain = True
        self._received = 0
        self._tls_hint: FailureKind | None = None
        self._closed_here = False

    @classmethod
    async def open(cls, host: str, port: int, session: ClientSession, *,
                   on_event: EventCallback, on_closed: ClosedCallback,
                   connect_timeout: float = 5.0,
                   ssl: ssl_module.SSLContext | None = None) -> SignalingConnection:
        """Connect; raises :class:`ServerUnreachable` with a one-line reason."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: cls(session, on_event, on_closed), host, port, ssl=ssl)
        except TimeoutError:
            # A TLS handshake not answered looked like a port not answered ("check the
            # firewall"), though the port took the connection: ask the port once more.
            kind = FailureKind.NO_ANSWER
            if ssl is not None and await accepts_connections(host, port):
                kind = FailureKind.TLS_TIMED_OUT
            raise ServerUnreachable.because(Failure(
                kind, format_server_address(host, port), seconds=connect_timeout)) from None
        except OSError as exc:
            if ssl is not None:  # TLS: name the problem (issuer, name, pin, not TLS at all)
                raise ServerUnreachable.because(
                    await tls_failure_probed(exc, host, port)) from None
            raise ServerUnreachable.because(Failure(
                FailureKind.CANNOT_REACH, format_server_address(host, port), os_words(exc),
                os_reason=os_reason_of(exc))) from None
        return protocol

    # ---- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer_host = str(peer[0]) if peer else ""
        self._plain = transport.get_extra_info("sslcontext") is None

    def data_received(self, data: bytes) -> None:
        if self._plain and not self._received and looks_like_tls(data):
            self._tls_hint = FailureKind.TLS_REQUIRED  # a TLS alert: the port speaks TLS
            if self._transport is not None:
                self._transport.abort()
            return
        self._received += len(data)
        self.session.receive_data(data)
        self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if (self._plain and not self._received and self._tls_hint is None
                and not self._closed_here and not self.session.closed):
            self._tls_hint = FailureKind.MAYBE_TLS_REQUIRED
        if self._tls_hint is not None:  # first: the pending login fails with the hint
            hint = TlsExpected.because(Failure(self._tls_hint))
            self._fail_all(hint)
            self.session.connection_lost(str(hint))
        else:
            self.session.connection_lost(f"connection closed{': ' + str(exc) if exc else ''}")
        self._pump()
        self._fail_all(ConnectionLost(self.session.close_reason or "connection closed"))
        self._timer.cancel()
        if not self._closed.done():
            self._closed.set_result(None)
        try:
            self._on_closed(self, exc)
        except Exception:
            logger.exception("connection-closed callback failed")

    # ---- requests ----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing() or self.session.closed

    async def login(self) -> LoginResult:
        """Send the session's login; returns the response or raises the typed error."""
        self._require_open()
        result = await self._wait(self.session.login(self._loop.time()), "Login")
        assert isinstance(result, LoginResult)  # the session checked the answer's kind
        return result

    async def request(self, body: Request, *, timeout: float | None = None) -> Body:
        """Send a request; return the response body or raise the typed error.

        The response was already given to ``on_event`` when this returns: state
        it carries must be applied there, in wire order with the notifications.
        """
        self._require_open()
        seq = self.session.send_request(body, self._loop.time(), timeout=timeout)
        return await self._wait(seq, type(body).__name__)

    def probe(self) -> None:
        """Check at once that the server is still there (see :meth:`ClientSession.probe`)."""
        if not self.closed:
            self.session.probe(self._loop.time())
            self._pump()

    def abort(self) -> None:
        self._closed_here = True
        if self._transport is not None:
            self._transport.abort()

    async def aclose(self) -> None:
        """Close and wait until the connection is gone."""
        self._closed_here = True
        if self._transport is not None:
            self._transport.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._closed)
        if not self._closed.done():
            self.abort()

    # ---- internals ---------------------------------------------------------------------

    def _require_open(self) -> None:
        if self.closed:
            raise ConnectionLost("connection is closed")

    async def _wait(self, seq: str, name: str) -> Body:
        future: asyncio.Future[Body] = self._loop.create_future()
        future.add_done_callback(_consume_exception)
        self._futures[seq] = future
        self._pump()
        try:
            return await future
        except asyncio.CancelledError:
            self.session.cancel(seq)
            raise
        finally:
            self._futures.pop(seq, None)

    def _pump(self) -> None:
        """Hand out the session's events, write its bytes, re-arm its timer."""
        while (event := self.session.next_event()) is not None:
            try:
                self._on_event(event)
            except Exception:
                logger.exception("session event handler failed on %r", event)
            self._resolve(event)
        transport = self._transport
        if transport is not None:
            data = self.session.data_to_send()
            if data:
                transport.write(data)
            if self.session.closed and not transport.is_closing():
                transport.abort()
        self._arm_timer()

    def _resolve(self, event: SessionEvent) -> None:
        if isinstance(event, ConnectionClosed):
            # the server broke the contract (e.g. a web server's "HTTP/1.1 400" read as a
            # frame length): said as such, not as a lost connection
            error = event.error if event.error is not None else ConnectionLost(event.reason)
            self._fail_all(error, event.abandoned)
            return
        if not isinstance(event, ResponseReceived | RequestRefused | RequestTimedOut
                          | ResponseUnreadable):
            return
        future = self._futures.get(event.seq)
        if future is None or future.done():
            return
        name = type(event.request).__name__
        if isinstance(event, ResponseReceived):
            future.set_result(event.body)
        elif isinstance(event, RequestRefused):
            future.set_exception(error_from_reply(event.error, name))
        elif isinstance(event, RequestTimedOut):
            future.set_exception(RequestTimeout.because(Failure(
                FailureKind.REQUEST_TIMEOUT, request=name, seconds=event.timeout)))
        else:
            future.set_exception(RemoteProtocolError(f"{name}: {event.error}"))

    def _fail_all(self, error: Exception, seqs: tuple[str, ...] | None = None) -> None:
        for seq in tuple(self._futures) if seqs is None else seqs:
            future = self._futures.get(seq)
            if future is not None and not future.done():
                future.set_exception(error)

    def _arm_timer(self) -> None:
        self._timer.arm(self.session.next_deadline() if self._transport is not None
                        else None)

    def _on_timer(self, due: float) -> None:
        now = self._loop.time()
        if now - due > LATE_TIMER_S:
            # the process was stopped (the machine slept) or the loop blocked: what the
            # server answered meanwhile is still unread, and a loop may run this timer
            # before the socket's reading (qasync does); the time not run is not the
            # server's, so the deadlines move by it, with a moment to read what came
            self.session.postpone(now - due + READ_GRACE_S)
            self._arm_timer()
            return
        # asyncio may run a timer up to one clock resolution early: never hand the
        # session a time before the deadline it was armed for.
        self.session.handle_timer(max(now, due))
        self._pump()


class TlsExpected(ConnectionLost):
    """A plain-text connection that the server closed without a word, or answered with a
    TLS record: the port most likely requires TLS (the message says so)."""


PLAIN_PROBE = b"<message type='request' seq='tls-probe' module='MID_SESSION'><ping/></message>"


async def tls_failure_probed(exc: BaseException, host: str, port: int) -> Failure:
    """:func:`~app.client.trust.tls_failure`, told apart once more when the server closed
    without a word: a port that answers a plain-text ping is a plain-text server."""
    if closed_silently(exc) and await answers_plain_text(host, port):
        return Failure(FailureKind.TLS_PLAIN_TEXT, format_server_address(host, port))
    return tls_failure(exc, format_server_address(host, port))


async def answers_plain_text(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether ``host:port`` answers a ping in the base framing (PROTOCOL.md: a length,
    then an XML document), i.e. speaks plain text: asked once, after a TLS handshake the
    server closed without a word. Any failure means no."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(len(PLAIN_PROBE).to_bytes(4, "big") + PLAIN_PROBE)
                header = await reader.readexactly(5)
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    return int.from_bytes(header[:4], "big") <= MAX_FRAME and header[4:5] == b"<"


async def accepts_connections(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted within ``timeout`` (it is
    closed at once, nothing sent)."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def looks_like_tls(data: bytes) -> bool:
    """Whether a server's first bytes are a TLS record header (alert or handshake, version
    3.x); in the base framing they would announce a frame of over 350 MB."""
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def _consume_exception(future: asyncio.Future[Body]) -> None:
    """A request whose caller was cancelled may still fail: nobody needs to hear of it."""
    if not future.cancelled():
        future.exception()
