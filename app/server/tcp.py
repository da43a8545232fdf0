"""Signaling over TCP: one :class:`SignalingConnection` per peer, one :class:`Signaling` hub.

The connection moves bytes (framing, output queue, timers, limits); the hub
turns decoded requests into :class:`~app.server.state.ServerState` calls and
delivers what they return. Neither holds protocol rules of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import cast

from app.protocol.errors import ErrCode, FrameTooLarge, ProtocolError
from app.protocol.framing import FrameDecoder, encode_frame
from app.protocol.messages import (
    Body,
    ErrorReply,
    InterphoneChanged,
    JoinRequest,
    Login,
    LoginResult,
    MembersRequest,
    Message,
    MessageKind,
    Module,
    Ping,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.xmlcodec import decode_message, encode_message
from app.server.outbox import Outbox, Refused, Result
from app.server.ratelimit import TokenBucket
from app.server.state import ServerState

log = logging.getLogger("app.server")

_CLOSE_GRACE = 5.0  # seconds a closing transport may take to flush before it is aborted


def echo_error(body: Body, errcode: int, errmsg: str) -> ErrorReply:
    """The failed answer to ``body``: its element, ``type`` and ``id`` echoed."""
    match body:
        case Login():
            return ErrorReply("login", errcode, errmsg)
        case Ping():
            return ErrorReply("ping", errcode, errmsg)
        case SyncRequest():
            return ErrorReply("interphones", errcode, errmsg, "sync")
        case MembersRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "sync", str(interphone))
        case JoinRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "add", str(interphone))
        case QuitRequest(interphone):
            return ErrorReply("interphone", errcode, errmsg, "quit", str(interphone))
        case SpeakRequest(on, interphone):
            return ErrorReply("speak", errcode, errmsg, "on" if on else "off", str(interphone))
    return ErrorReply("error", errcode, errmsg)


def protocol_error_reply(exc: ProtocolError) -> Message:
    if exc.seq:
        body = ErrorReply(exc.tag or "error", int(exc.errcode), exc.errmsg, exc.type, exc.id)
        return Message.response(exc.seq, body, exc.module or Module.SESSION.value)
    return Message.frame_error(exc.errmsg, exc.errcode)


def encode(message: Message) -> bytes:
    """Frame bytes of ``message``; a roster too big for one frame loses contacts."""
    try:
        return encode_frame(encode_message(message))
    except FrameTooLarge:
        body = message.body
        if not isinstance(body, LoginResult):
            raise
        roster = body.roster
        while True:
            contacts = [e for e in roster if e.kind == "contact"]
            keep = len(contacts) // 2
            roster = tuple(e for e in roster if e.kind != "contact") + tuple(contacts[:keep])
            try:
                return encode_frame(encode_message(replace(message,
                                                           body=replace(body, roster=roster))))
            except FrameTooLarge:
                if not contacts:
                    raise


def _failed(transport: asyncio.Transport) -> bool:
    """A transport whose socket failed (e.g. reset) closes itself before ``connection_lost``
    reaches us; writing to it meanwhile only makes asyncio log 'socket.send() raised
    exception.' once per write (thousands when a crowd vanishes at once)."""
    try:
        return transport.is_closing()
    except NotImplementedError:  # a transport that cannot tell
        return False


class Signaling:
    """The hub: live connections by session id, the state, and the floor timer."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.settings = state.settings
        self.loop = loop
        self.connections: dict[int, SignalingConnection] = {}
        self._ids = itertools.count(1)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def new_connection(self) -> SignalingConnection:
        return SignalingConnection(self, next(self._ids))

    # ---- requests ------------------------------------------------------------------------------

    def handle(self, conn: SignalingConnection, message: Message) -> None:
        """Answer one decoded request, then deliver what it set off."""
        body = message.body
        try:
            result = self._apply(conn, body)
        except Refused as refusal:
            conn.send(Message.response(message.seq, echo_error(body, refusal.errcode,
                                                               refusal.errmsg), message.module))
            return
        except Exception:
            log.exception("fault answering %s from session %d", type(body).__name__, conn.sid)
            conn.send(Message.response(message.seq, echo_error(body, ErrCode.SERVER_FAULT,
                                                               "server fault"), message.module))
            return
        reply = Message.response(message.seq, result.reply, message.module)
        if isinstance(body, Login):
            # The older session of this uid is gone before the new one hears back.
            conn.logged_in = True
            self.deliver(result.outbox)
            conn.send(reply)
        else:
            conn.send(reply)
            self.deliver(result.outbox)

    def _apply(self, conn: SignalingConnection, body: Body) -> Result:
        state = self.state
        if isinstance(body, Login):
            return state.login(conn.sid, body.uid, body.token, conn.peer_ip)
        if not conn.logged_in:
            raise Refused(ErrCode.UNAUTHORIZED, "log in first")
        match body:
            case Ping():
                return Result(Ping())
            case SyncRequest(ids):
                return state.sync(conn.sid, ids)
            case MembersRequest(interphone):
                return state.members(conn.sid, interphone)
            case JoinRequest(interphone, member):
                return state.join(conn.sid, interphone, member)
            case QuitRequest(interphone, member):
                return state.quit(conn.sid, interphone, member)
            case SpeakRequest(on, interphone):
                result = state.speak(conn.sid, interphone, on, self.loop.time())
                self.reschedule()
                return result
        raise Refused(ErrCode.BAD_REQUEST, f"unexpected request {type(body).__name__}")

    def session_ended(self, conn: SignalingConnection) -> None:
        self.connections.pop(conn.sid, None)
        self.deliver(self.state.logout(conn.sid))

    # ---- output --------------------------------------------------------------------------------

    def deliver(self, outbox: Outbox) -> None:
        """Send every message (each distinct one encoded once), then close, then log."""
        encoded: dict[int, bytes] = {}
        connections = self.connections
        for sid, message in outbox.messages:
            conn = connections.get(sid)
            if conn is None:
                continue
            data = encoded.get(id(message))
            if data is None:
                data = encoded[id(message)] = encode(message)
            body = message.body
            key = str(body.info.id) if isinstance(body, InterphoneChanged) else None
            conn.enqueue(data, key)
        for sid in outbox.closes:
            conn = connections.get(sid)
            if conn is not None:
                conn.close()
        for event in outbox.events:
            log.info("%s", event)

    # ---- floor timer ---------------------------------------------------------------------------

    def reschedule(self) -> None:
        deadline = self.state.next_deadline()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.expire(max(self.loop.time(), self._timer_at))

    def expire(self, now: float) -> None:
        """Revoke what is due at ``now`` (the timer, or the relay noticing first)."""
        self.deliver(self.state.handle_timer(now))
        self.reschedule()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for conn in list(self.connections.values()):
            conn.close()


class SignalingConnection(asyncio.Protocol):
    """One TCP peer: framing, limits, timers and a bounded, coalescing output queue."""

    def __init__(self, hub: Signaling, sid: int) -> None:
        self.hub = hub
        self.sid = sid
        settings = hub.settings
        self.settings = settings
        self.loop = hub.loop
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.logged_in = False
        self.closing = False
        self.decoder = FrameDecoder()
        self.malformed = 0
        self.opened_at = self.last_rx = self.loop.time()
        self.bucket = TokenBucket(settings.rate_limit, settings.rate_burst, self.last_rx)
        self.pending: OrderedDict[object, bytes] = OrderedDict()
        self.pending_bytes = 0
        self.paused = False
        self.paused_since = 0.0
        self._keys: Callable[[], int] = itertools.count().__next__
        self._watchdog: asyncio.TimerHandle | None = None

    # ---- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else ""
        if len(self.hub.connections) >= self.settings.max_sessions:
            log.warning("refusing %s: %d sessions open", self.peer_ip, len(self.hub.connections))
            self.closing = True
            transport.abort()
            return
        self.hub.connections[self.sid] = self
        transport.set_write_buffer_limits(high=self.settings.write_high_water)
        self._arm(min(self.settings.login_timeout, self.settings.idle_timeout))

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_rx = self.loop.time()
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as exc:
            log.info("closing session %d: %s", self.sid, exc)
            self.abort()
            return
        for frame in frames:
            if self.closing:
                return
            try:
                self._frame(frame)
            except Exception:
                log.exception("fault handling a frame of session %d", self.sid)
                self.send(Message.frame_error("server fault", ErrCode.SERVER_FAULT))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.hub.connections.get(self.sid) is self:
            self.hub.session_ended(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.paused_since = self.loop.time()

    def resume_writing(self) -> None:
        self.paused = False
        self._flush()

    # ---- input ---------------------------------------------------------------------------------

    def _frame(self, frame: bytes) -> None:
        allowed = self.bucket.take(self.last_rx)
        try:
            message = decode_message(frame)
        except ProtocolError as exc:
            self.malformed += 1
            self.send(protocol_error_reply(exc))
            if self.malformed >= self.settings.max_malformed:
                log.info("closing session %d: %d malformed frames", self.sid, self.malformed)
                self.close()
            return
        if message.kind is not MessageKind.REQUEST:
            return  # nothing a client sends besides requests needs an answer
        if not allowed:
            self.send(Message.response(message.seq, echo_error(
                message.body, ErrCode.TOO_MANY_REQUESTS, "too many requests"), message.module))
            return
        self.hub.handle(self, message)

    # ---- output --------------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        self.enqueue(encode(message), None)

    def enqueue(self, data: bytes, key: str | None) -> None:
        """Write now, or queue behind a full buffer (a newer notification of the same
        interphone replaces the queued one and moves to the back)."""
        transport = self.transport
        if self.closing or transport is None or _failed(transport):
            return
        if not self.paused and not self.pending:
            transport.write(data)
            return
        slot: object = ("n", key) if key is not None else self._keys()
        old = self.pending.pop(slot, None)
        if old is not None:
            self.pending_bytes -= len(old)
        self.pending[slot] = data
        self.pending_bytes += len(data)
        if self.pending_bytes + transport.get_write_buffer_size() > self.settings.write_hard_limit:
            log.info("closing session %d: output over %d bytes", self.sid,
                     self.settings.write_hard_limit)
            self.abort()

    def _flush(self) -> None:
        transport = self.transport
        while self.pending and not self.paused and transport is not None and not self.closing:
            _, data = self.pending.popitem(last=False)
            self.pending_bytes -= len(data)
            transport.write(data)

    # ---- timers and closing --------------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        self._watchdog = self.loop.call_later(max(delay, 0.001), self._check)

    def _check(self) -> None:
        self._watchdog = None
        if self.closing:
            return
        now = self.loop.time()
        settings = self.settings
        if not self.logged_in and now - self.opened_at >= settings.login_timeout:
            log.info("closing session %d: no login within %gs", self.sid, settings.login_timeout)
            self.close()
            return
        if now - self.last_rx >= settings.idle_timeout:
            log.info("closing session %d: idle for %gs", self.sid, settings.idle_timeout)
            self.close()
            return
        if self.paused and now - self.paused_since >= settings.write_stall_timeout:
            log.info("closing session %d: not reading for %gs", self.sid,
                     settings.write_stall_timeout)
            self.abort()
            return
        deadline = self.last_rx + settings.idle_timeout
        if not self.logged_in:
            deadline = min(deadline, self.opened_at + settings.login_timeout)
        if self.paused:
            deadline = min(deadline, self.paused_since + settings.write_stall_timeout)
        self._arm(deadline - now)

    def close(self) -> None:
        """Flush what is queued, then close; abort if the peer does not take it in time."""
        if self.closing or self.transport is None:
            return
        self.paused = False
        self._flush_all()
        self.closing = True
        self.transport.close()
        self.loop.call_later(_CLOSE_GRACE, self.transport.abort)

    def _flush_all(self) -> None:
        transport = self.transport
        while self.pending and transport is not None:
            _, data = self.pending.popitem(last=False)
            transport.write(data)
        self.pending_bytes = 0

    def abort(self) -> None:
        if self.transport is None:
            return
        self.closing = True
        self.pending.clear()
        self.transport.abort()
