"""SignalingConnection: one TCP connection to the server, requests matched to responses by seq.

It only moves bytes: :mod:`app.protocol` frames, encodes and decodes. Pending
requests are futures in a dict keyed by ``seq``, all failed at once with
:class:`ConnectionLost` when the connection closes. Failed responses become the
typed exceptions of :mod:`app.client.errors`. Notifications go to a callback.
Once started, a keepalive task pings at the server's interval and aborts the
connection when a ping goes unanswered (the owner then reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import ssl as ssl_module
from collections.abc import Callable

from app.client.errors import (
    ConnectionLost,
    RequestTimeout,
    ServerUnreachable,
    error_from_reply,
)
from app.protocol import (
    ErrorReply,
    FrameDecoder,
    FrameTooLarge,
    Message,
    MessageKind,
    Ping,
    ProtocolError,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body

logger = logging.getLogger(__name__)

NotificationCallback = Callable[[Message], None]
ResponseHook = Callable[[Body], None]
ClosedCallback = Callable[["SignalingConnection", Exception | None], None]


class SignalingConnection(asyncio.Protocol):
    """The client side of one signaling connection (use :meth:`open`)."""

    def __init__(self, on_notification: NotificationCallback, on_closed: ClosedCallback,
                 request_timeout: float) -> None:
        self._on_notification = on_notification
        self._on_closed = on_closed
        self._request_timeout = request_timeout
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None
        self._pending: dict[str, tuple[asyncio.Future[Body], str, ResponseHook | None]] = {}
        self._seq = itertools.count(1)
        self._closed = asyncio.get_running_loop().create_future()
        self._keepalive_task: asyncio.Task[None] | None = None
        self.peer_host = ""

    @classmethod
    async def open(cls, host: str, port: int, *, on_notification: NotificationCallback,
                   on_closed: ClosedCallback, connect_timeout: float = 5.0,
                   request_timeout: float = 5.0,
                   ssl: ssl_module.SSLContext | None = None) -> SignalingConnection:
        """Connect; raises :class:`ServerUnreachable` with a one-line reason."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: cls(on_notification, on_closed, request_timeout), host, port,
                    ssl=ssl)
        except TimeoutError:
            raise ServerUnreachable(
                f"cannot reach {host}:{port}: no answer within {connect_timeout:g} s") from None
        except OSError as exc:
            reason = _os_reason(exc)
            raise ServerUnreachable(f"cannot reach {host}:{port}: {reason}") from None
        return protocol

    # ---- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.peer_host = peer[0] if peer else ""

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except FrameTooLarge as exc:
            logger.warning("server sent an oversized frame (%s); closing", exc)
            self.abort()
            return
        for frame in frames:
            self._handle_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
        lost = ConnectionLost(f"connection closed{': ' + str(exc) if exc else ''}")
        pending, self._pending = self._pending, {}
        for future, _, _ in pending.values():
            if not future.done():
                future.set_exception(lost)
        if not self._closed.done():
            self._closed.set_result(None)
        try:
            self._on_closed(self, exc)
        except Exception:
            logger.exception("connection-closed callback failed")

    # ---- requests ----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    async def request(self, body: Body, *, timeout: float | None = None,
                      on_success: ResponseHook | None = None) -> Body:
        """Send a request; return the response body or raise the typed error.

        ``on_success`` runs with a successful response as soon as its frame is
        read, in wire order with the notifications around it. The awaiting task
        resumes later, after frames behind the response may have been handled,
        so state a response carries must be applied through this hook.
        """
        if self.closed:
            raise ConnectionLost("connection is closed")
        seq = str(next(self._seq))
        name = type(body).__name__
        future: asyncio.Future[Body] = asyncio.get_running_loop().create_future()
        self._pending[seq] = (future, name, on_success)
        try:
            self._send(Message.request(seq, body))
            limit = self._request_timeout if timeout is None else timeout
            try:
                async with asyncio.timeout(limit):
                    result = await future
            except TimeoutError:
                raise RequestTimeout(f"{name}: no answer within {limit:g} s") from None
        finally:
            self._pending.pop(seq, None)
        if isinstance(result, ErrorReply):
            raise error_from_reply(result, name)
        return result

    def start_keepalive(self, interval: float) -> None:
        """Ping every ``interval`` seconds; abort the connection if a ping is not answered."""
        if self._keepalive_task is None and not self.closed:
            self._keepalive_task = asyncio.get_running_loop().create_task(
                self._keepalive(interval), name="interphone-ping")

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def aclose(self) -> None:
        """Close and wait until the connection is gone and the keepalive task ended."""
        if self._transport is not None:
            self._transport.close()
        task = self._keepalive_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._closed)
        if not self._closed.done():
            self.abort()

    # ---- internals ---------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        if self._transport is None:
            raise ConnectionLost("connection is closed")
        self._transport.write(encode_frame(encode_message(message)))

    def _handle_frame(self, frame: bytes) -> None:
        try:
            message = decode_message(frame)
        except ProtocolError as exc:
            logger.warning("undecodable frame from the server: %s", exc)
            if exc.seq is not None and exc.seq in self._pending:
                future, name, _ = self._pending[exc.seq]
                if not future.done():
                    future.set_exception(ConnectionLost(f"{name}: unreadable answer: {exc}"))
            return
        if message.kind is MessageKind.RESPONSE:
            entry = self._pending.get(message.seq or "")
            if entry is None:
                if isinstance(message.body, ErrorReply):
                    logger.warning("server error without a pending request: %s %s",
                                   message.body.errcode, message.body.errmsg)
                else:
                    logger.debug("late or unknown response seq=%r", message.seq)
                return
            future, name, on_success = entry
            if future.done():
                return
            if on_success is not None and not isinstance(message.body, ErrorReply):
                try:
                    on_success(message.body)
                except Exception:
                    logger.exception("applying the %s response failed", name)
            future.set_result(message.body)
        elif message.kind is MessageKind.NOTIFICATION:
            try:
                self._on_notification(message)
            except Exception:
                logger.exception("notification handler failed on %r", message.body)
        else:
            logger.debug("ignoring a request from the server: %r", message.body)

    async def _keepalive(self, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.request(Ping(), timeout=max(2.0, min(self._request_timeout, interval)))
            except RequestTimeout:
                logger.warning("ping not answered; dropping the connection")
                self.abort()
                return
            except ConnectionLost:
                return
            except Exception:
                logger.exception("ping failed")


def _os_reason(exc: OSError) -> str:
    """A short human reason: 'Connection refused', 'Name or service not known', ..."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
