"""ClientSession: the client's side of one signaling connection, sans-IO.

Like h11 and aioquic, the session never touches a socket or a clock. It is fed
the bytes read from the connection (:meth:`ClientSession.receive_data`) and the
time (``now``, passed to every call that needs it); it gives back typed events
(:meth:`ClientSession.next_event`) and the bytes to write
(:meth:`ClientSession.data_to_send`). Its timers are asked for, never slept on:
call :meth:`ClientSession.handle_timer` at :meth:`ClientSession.next_deadline`.

It owns the per-connection rules of PROTOCOL.md section 3.1:

- **login first**: no other request may be sent before a login succeeded
  (:class:`~app.client.errors.LocalProtocolError` otherwise);
- **seq allocation and matching**: each request gets a fresh ``seq``; each
  response is matched to its request and given back as one event, in wire
  order with the notifications around it (so whoever applies the events to a
  model sees the changes in the order the server made them);
- **request timeouts**: a request unanswered after its timeout ends with
  :class:`RequestTimedOut`; a late answer is ignored;
- **keepalive (the idle rule)**: the server drops a session that sent nothing
  for 3 × keepalive seconds, so once logged in the session sends a ping
  whenever it has sent nothing for ``keepalive`` seconds, and at once when a
  request was left unanswered (:meth:`ClientSession.probe` too); a ping left
  unanswered means the server is gone: the session closes itself.

Peer misbehaviour (an oversized frame, an unreadable answer, an answer of the
wrong kind) is reported as :class:`~app.client.errors.RemoteProtocolError`
inside the events; misuse by the caller raises
:class:`~app.client.errors.LocalProtocolError` at once.

The asyncio driver is :class:`app.client.connection.SignalingConnection`.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from app.client.errors import LocalProtocolError, RemoteProtocolError
from app.protocol import (
    ErrorReply,
    FrameDecoder,
    FrameTooLarge,
    InterphoneChanged,
    InterphoneId,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Ping,
    ProtocolError,
    QuitRequest,
    QuitResult,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.features import HEALTH, ROSTER, is_feature_name
from app.protocol.health import HealthNotice
from app.protocol.messages import (
    Body,
    EmergencyRequest,
    EmergencyState,
    FeedbackNotice,
    FloorNotice,
    MediaKeyNotice,
    QualityAck,
    QualityReport,
    RosterNotice,
)
from app.protocol.presence import (
    PRESENCE,
    CallNotice,
    CallRequest,
    CallResult,
    PresenceChanged,
    PresenceSyncRequest,
    PresenceSyncResult,
)

logger = logging.getLogger(__name__)

Request = (Ping | SyncRequest | MembersRequest | JoinRequest | QuitRequest | SpeakRequest
           | PresenceSyncRequest | CallRequest | EmergencyRequest | QualityReport)
"""What :meth:`ClientSession.send_request` accepts (a login goes through :meth:`login`)."""

_ANSWER_OF: dict[type, type] = {
    Login: LoginResult,
    Ping: Ping,
    SyncRequest: SyncResult,
    MembersRequest: MembersResult,
    JoinRequest: JoinResult,
    QuitRequest: QuitResult,
    SpeakRequest: SpeakResult,
    PresenceSyncRequest: PresenceSyncResult,
    CallRequest: CallResult,
    EmergencyRequest: EmergencyState,
    QualityReport: QualityAck,
}
"""The successful answer each request expects (an :class:`ErrorReply` fits every one)."""

_MIN_PING_TIMEOUT = 2.0
PATIENCE = 3
"""How many times an unanswered request's or keepalive ping's timeout starts again because
whole messages kept coming from the server meanwhile: the answer is queued behind them (a
burst of notifications that the client, on a slow or busy machine, reads slower than it
came). A trickle of bytes that never ends a frame does not count."""

MAX_KEEPALIVE_S = 300
"""The longest keepalive interval the client follows, whatever the login response says:
past it a server gone without a word would go unnoticed for as long (a ping more often
than asked is harmless)."""


def sane_keepalive(advertised: int) -> int:
    """The login response's ``keepalive`` brought into 1..``MAX_KEEPALIVE_S`` seconds
    (0 would ping in a tight loop, 4294967295 never)."""
    return min(max(1, advertised), MAX_KEEPALIVE_S)


class SessionState(StrEnum):
    """Where one signaling connection stands."""

    LOGGED_OUT = "logged_out"  # connected; no login yet, or the last one was refused
    LOGGING_IN = "logging_in"  # a login request is in flight
    LOGGED_IN = "logged_in"  # every request may be sent
    CLOSED = "closed"  # kicked, ping unanswered, peer error, or the connection ended


def _answered_for(request: Body, body: Body) -> tuple[InterphoneId, InterphoneId] | None:
    """(asked, answered) when the answer to a request about one interphone (members, join,
    quit, speak) names another; None when it names the same (or, a bare ``<speak/>``, none)."""
    answered: InterphoneId | None
    if isinstance(body, MembersResult | JoinResult | QuitResult):
        answered = body.info.id
    elif isinstance(body, SpeakResult):
        answered = body.id
    else:
        return None
    asked = request.id if isinstance(request, MembersRequest | JoinRequest | QuitRequest
                                     | SpeakRequest) else None
    if asked is None or answered is None or answered == asked:
        return None
    return asked, answered


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A successful answer to the request sent with ``seq``."""

    seq: str
    request: Body
    body: Body


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """The server answered the request with an ``errcode`` (PROTOCOL.md section 4)."""

    seq: str
    request: Body
    error: ErrorReply


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """No answer within ``timeout`` seconds (the request timeout, started again while whole
    messages kept coming: see ``PATIENCE``); a late answer will be ignored."""

    seq: str
    request: Body
    timeout: float


@dataclass(frozen=True, slots=True)
class ResponseUnreadable:
    """The answer to the request could not be used: the server broke the contract."""

    seq: str
    request: Body
    error: RemoteProtocolError


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    """A notification other than ``<kicked/>`` (e.g. :class:`InterphoneChanged`)."""

    body: Body


@dataclass(frozen=True, slots=True)
class SessionKicked:
    """The server ended the session (``reason`` e.g. ``login_elsewhere``); it will close."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The session is over; ``abandoned`` lists the seqs that will never be answered.

    ``error`` is set when the server broke the contract (an oversized frame);
    the driver then drops the connection.
    """

    reason: str
    abandoned: tuple[str, ...] = ()
    error: RemoteProtocolError | None = None


RequestEnded = ResponseReceived | RequestRefused | RequestTimedOut | ResponseUnreadable
"""The one event that ends each request (or :class:`ConnectionClosed` for all of them)."""

SessionEvent = RequestEnded | NotificationReceived | SessionKicked | ConnectionClosed


@dataclass(slots=True)
class _Pending:
    request: Body
    deadline: float
    timeout: float
    internal: bool  # a keepalive ping: answered inside the session, no event
    heard_at: int  # the count of whole messages received when it was sent or extended
    extensions: int = 0


# ---- the session --------------------------------------------------------------------------


class ClientSession:
    """One signaling connection's protocol state for ``uid``; see the module docstring.

    ::

        session = ClientSession("sung", "secret")
        session.login(now)                  # the first request, always
        transport.write(session.data_to_send())
        session.receive_data(data)          # whatever the socket gave
        while (event := session.next_event()) is not None:
            ...                             # ResponseReceived, NotificationReceived, ...
        session.handle_timer(now)           # at session.next_deadline()

    ``request_timeout`` is the default timeout of a request; ``ping_interval``
    overrides the keepalive interval the login response advertises. ``features``
    names the protocol extensions to ask for at login (none: the base contract).
    """

    def __init__(self, uid: str, token: str, *, request_timeout: float = 5.0,
                 ping_interval: float | None = None,
                 features: tuple[str, ...] = (), version: str = "1") -> None:
        if request_timeout <= 0:
            raise LocalProtocolError(f"request_timeout must be positive, not {request_timeout}")
        if ping_interval is not None and ping_interval <= 0:
            raise LocalProtocolError(f"ping_interval must be positive, not {ping_interval}")
        for name in features:
            if not is_feature_name(name):
                raise LocalProtocolError(f"{name!r} is not a feature name")
        self.uid = uid
        self._token = token
        self._version = version
        self.requested_features = tuple(dict.fromkeys(features))
        self.request_timeout = request_timeout
        self._ping_interval = ping_interval
        self._state = SessionState.LOGGED_OUT
        self._decoder = FrameDecoder()
        self._seqs = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._events: deque[SessionEvent] = deque()
        self._outgoing = bytearray()
        self._login_result: LoginResult | None = None
        self._last_sent = 0.0
        self._ping_seq: str | None = None
        self._frames_received = 0  # whole frames: a server still sending is there
        self.pings_sent = 0
        self.odd_frames = 0
        """Frames from the server that were no message, or an error answering no request:
        the first is logged as a warning, the rest only counted (a server sending garbage
        must not flood the log)."""
        self.close_reason = ""

    # ---- reading the state -------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is SessionState.CLOSED

    @property
    def logged_in(self) -> bool:
        return self._state is SessionState.LOGGED_IN

    @property
    def login_result(self) -> LoginResult | None:
        """The successful login response (roster, udp_port, keepalive, max_talk)."""
        return self._login_result

    @property
    def features(self) -> frozenset[str]:
        """The extensions granted at login: empty before it, and for the base contract.

        Only names this session asked for count (a server granting others broke
        the contract; they are ignored).
        """
        if self._login_result is None:
            return frozenset()
        return frozenset(self._login_result.features) & frozenset(self.requested_features)

    @property
    def ping_interval(self) -> float | None:
        """Seconds of silence after which a ping goes out (None before login)."""
        if self._ping_interval is not None:
            return self._ping_interval
        if self._login_result is None:
            return None
        return float(sane_keepalive(self._login_result.keepalive))

    @property
    def pending(self) -> tuple[str, ...]:
        """The seqs of the requests awaiting an answer (keepalive pings included)."""
        return tuple(self._pending)

    # ---- sending -----------------------------------------------------------------------

    def login(self, now: float, *, timeout: float | None = None) -> str:
        """Send the login request (the session's first); returns its seq."""
        if self._state is not SessionState.LOGGED_OUT:
            raise LocalProtocolError(f"cannot log in: session is {self._state.value}")
        login = Login(self.uid, self._token, self._version, self.requested_features)
        seq = self._send(login, now, timeout)
        self._state = SessionState.LOGGING_IN
        return seq

    def send_request(self, body: Request, now: float, *, timeout: float | None = None) -> str:
        """Send one request once logged in; returns the seq its answer will carry."""
        if isinstance(body, Login):
            raise LocalProtocolError("log in with ClientSession.login()")
        if not isinstance(body, Request):
            raise LocalProtocolError(f"{type(body).__name__} is not a request")
        if self._state is not SessionState.LOGGED_IN:
            raise LocalProtocolError(
                f"cannot send {type(body).__name__}: session is {self._state.value} "
                "(the login must succeed first)")
        return self._send(body, now, timeout)

    def cancel(self, seq: str) -> None:
        """Stop waiting for ``seq`` (its caller gave up); a later answer is ignored."""
        entry = self._pending.pop(seq, None)
        if entry is not None and entry.internal:
            self._ping_seq = None

    def data_to_send(self) -> bytes:
        """The bytes to write to the connection now (and forget)."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def _send(self, body: Body, now: float, timeout: float | None, *,
              internal: bool = False) -> str:
        limit = self.request_timeout if timeout is None else timeout
        if limit <= 0:
            raise LocalProtocolError(f"timeout must be positive, not {limit}")
        seq = str(next(self._seqs))
        try:
            frame = encode_frame(encode_message(Message.request(seq, body)))
        except ValueError as exc:  # too large, or a value the codec cannot write
            raise LocalProtocolError(f"cannot send {type(body).__name__}: {exc}") from exc
        self._outgoing += frame
        self._pending[seq] = _Pending(body, now + limit, limit, internal,
                                      self._frames_received)
        self._last_sent = now
        return seq

    # ---- receiving ---------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes read from the connection (any split); events follow in wire order."""
        if self.closed:
            return
        try:
            frames = self._decoder.feed(data)
        except FrameTooLarge as exc:
            self._close(f"server sent an oversized frame: {exc}",
                        RemoteProtocolError(f"oversized frame: {exc}"))
            return
        for frame in frames:
            if self.closed:
                return
            self._receive_frame(frame)

    def connection_lost(self, reason: str = "connection closed") -> None:
        """The connection ended (whoever closed it). Idempotent."""
        self._close(reason, None)

    def next_event(self) -> SessionEvent | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def _receive_frame(self, frame: bytes) -> None:
        self._frames_received += 1
        try:
            message = decode_message(frame)
        except ProtocolError as exc:
            entry = self._pending.pop(exc.seq, None) if exc.seq is not None else None
            if entry is None:
                self._odd_frame("undecodable frame from the server: %s", exc)
                return
            self._request_ended(exc.seq or "", entry, ResponseUnreadable(
                exc.seq or "", entry.request, RemoteProtocolError(f"unreadable answer: {exc}")))
            return
        if message.kind is MessageKind.RESPONSE:
            self._receive_response(message)
        elif message.kind is MessageKind.NOTIFICATION:
            self._receive_notification(message.body)
        else:
            logger.debug("ignoring a request from the server: %r", message.body)

    def _receive_response(self, message: Message) -> None:
        seq = message.seq or ""
        body = message.body
        entry = self._pending.pop(seq, None)
        if entry is None:
            if isinstance(body, ErrorReply):
                self._odd_frame("server error without a pending request: %s %s",
                                body.errcode, body.errmsg)
            else:
                logger.debug("late or unknown response seq=%r", message.seq)
            return
        expected = _ANSWER_OF[type(entry.request)]
        event: RequestEnded
        if isinstance(body, ErrorReply):
            event = RequestRefused(seq, entry.request, body)
        elif not isinstance(body, expected):
            event = ResponseUnreadable(seq, entry.request, RemoteProtocolError(
                f"answered with {type(body).__name__}"))
        elif (other := _answered_for(entry.request, body)) is not None:
            # the model would take it as the state of that other interphone (joined,
            # left, its members), while the request's own was never answered
            event = ResponseUnreadable(seq, entry.request, RemoteProtocolError(
                f"about {other[0]}, answered for {other[1]}"))
        else:
            event = ResponseReceived(seq, entry.request, body)
        self._request_ended(seq, entry, event)

    def _request_ended(self, seq: str, entry: _Pending, event: RequestEnded) -> None:
        if isinstance(entry.request, Login):
            if isinstance(event, ResponseReceived) and isinstance(event.body, LoginResult):
                self._login_result = event.body
                self._state = SessionState.LOGGED_IN
                unasked = set(event.body.features) - set(self.requested_features)
                if unasked:
                    logger.warning("server granted features never asked for: %s",
                                   " ".join(sorted(unasked)))
            else:
                self._state = SessionState.LOGGED_OUT
        if entry.internal:
            self._ping_seq = None
            if not isinstance(event, ResponseReceived):
                logger.warning("keepalive ping failed: %s", event)
            return
        self._events.append(event)

    def _odd_frame(self, text: str, *args: object) -> None:
        self.odd_frames += 1
        if self.odd_frames == 1:
            logger.warning(text + " (further odd frames are counted, not logged)", *args)
        else:
            logger.debug(text, *args)

    def _receive_notification(self, body: Body) -> None:
        if isinstance(body, Kicked):
            self._events.append(SessionKicked(body.reason))
            self._close(f"kicked: {body.reason or 'kicked'}", None)
        elif isinstance(body, InterphoneChanged | MediaKeyNotice | FloorNotice
                        | EmergencyState | FeedbackNotice) or (
                isinstance(body, PresenceChanged | CallNotice) and PRESENCE in self.features) or (
                isinstance(body, RosterNotice) and ROSTER in self.features) or (
                isinstance(body, HealthNotice) and HEALTH in self.features):
            self._events.append(NotificationReceived(body))
        else:
            logger.debug("ignoring notification %r", body)

    # ---- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must run next (None: no timer needed)."""
        if self.closed:
            return None
        deadlines = [entry.deadline for entry in self._pending.values()]
        ping_at = self._ping_due()
        if ping_at is not None:
            deadlines.append(ping_at)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Time out overdue requests and send a keepalive ping when one is due."""
        if self.closed:
            return
        timed_out = False
        for seq, entry in list(self._pending.items()):
            if entry.deadline > now:
                continue
            if self._frames_received > entry.heard_at and entry.extensions < PATIENCE:
                # a server still sending whole messages is there: the answer is queued
                # behind them
                entry.extensions += 1
                entry.heard_at = self._frames_received
                entry.deadline = now + entry.timeout
                continue
            waited = entry.timeout * (1 + entry.extensions)
            if entry.internal:
                self._close(f"ping not answered within {waited:g} s", None)
                return
            del self._pending[seq]
            timed_out = True
            self._request_ended(seq, entry, RequestTimedOut(seq, entry.request, waited))
        ping_at = self._ping_due()
        # a request left unanswered: the server may be gone. The keepalive ping, due only
        # after ``keepalive`` seconds without sending, would never go out while requests
        # keep going (each timing out on its own): the link is checked now instead.
        if ping_at is not None and (ping_at <= now or timed_out):
            self._ping_seq = self._send_ping(now)
            self.pings_sent += 1

    def postpone(self, seconds: float) -> None:
        """The process did not run for ``seconds`` (stopped, the machine asleep, a blocked
        loop): every pending request's deadline moves by as much, the time not run not
        counting against the server. Answers that came meanwhile wait unread in the socket,
        and a loop may run an overdue timer before it reads them (the desktop app's does):
        they are read before anything times out. The keepalive ping is not put off."""
        if seconds <= 0:
            return
        for entry in self._pending.values():
            entry.deadline += seconds

    def probe(self, now: float) -> None:
        """Check now that the server is still there (the machine woke up from a sleep): a
        keepalive ping goes out at once instead of after ``keepalive`` seconds of silence,
        or the one in flight is kept. Unanswered in time it closes the session, as any
        keepalive ping does; a connection the server closed meanwhile fails at the write.
        Nothing before login or once closed."""
        if self._state is not SessionState.LOGGED_IN or self._ping_seq is not None:
            return
        self._ping_seq = self._send_ping(now)
        self.pings_sent += 1

    def _send_ping(self, now: float) -> str:
        return self._send(Ping(), now, self._ping_timeout(), internal=True)

    def _ping_timeout(self) -> float:
        interval = self.ping_interval or self.request_timeout
        return max(_MIN_PING_TIMEOUT, min(self.request_timeout, interval))

    def _ping_due(self) -> float | None:
        interval = self.ping_interval
        if self._state is not SessionState.LOGGED_IN or interval is None \
                or self._ping_seq is not None:
            return None
        return self._last_sent + interval

    # ---- closing -----------------------------------------------------------------------

    def _close(self, reason: str, error: RemoteProtocolError | None) -> None:
        if self.closed:
            return
        logged_in = self._state is SessionState.LOGGED_IN
        self._state = SessionState.CLOSED
        self.close_reason = reason
        abandoned = tuple(seq for seq, entry in self._pending.items() if not entry.internal)
        self._pending.clear()
        self._ping_seq = None
        self._outgoing.clear()
        if error is not None:
            # before login the error is the login's own failure, which its caller reports
            # (the CLI's one line, the sign-in dialog): a warning would only say it twice
            logger.log(logging.WARNING if logged_in else logging.INFO,
                       "closing the signaling session: %s", reason)
        self._events.append(ConnectionClosed(reason, abandoned, error))
