"""InterphoneClient: the facade a UI or the CLI uses (asyncio, no Qt).

One object owns the signaling session (with reconnect), the UDP media endpoint
and the :class:`~app.client.model.ClientModel`. Every coroutine runs on the
loop :meth:`InterphoneClient.connect` was awaited on; ``model`` events and
``on_audio`` are called on that loop. See docs/client-api.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl as ssl_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.client.connection import SignalingConnection
from app.client.errors import (
    ClientError,
    FloorBusy,
    LoginRefused,
    NotConnected,
    NotFound,
    NotJoined,
    QueueLeft,
    ServerError,
)
from app.client.events import ConnectionState, FloorState, JoinedChanged, ModelEvent
from app.client.media import AudioCallback, MediaEndpoint
from app.client.model import ClientModel
from app.client.session import (
    ClientSession,
    NotificationReceived,
    ResponseReceived,
    SessionEvent,
    SessionKicked,
)
from app.client.tasks import TaskSet
from app.protocol import (
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    LoginResult,
    MembersRequest,
    MembersResult,
    QuitRequest,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
)
from app.protocol.errors import ErrCode
from app.protocol.features import EMERGENCY, FLOOR_QUEUE, MEDIA_AUTH
from app.protocol.ids import as_interphone_id
from app.protocol.limits import MAX_SYNC_IDS
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    FeedbackNotice,
    FloorNotice,
    FloorNoticeType,
    MediaKeyNotice,
    QualityReport,
)
from app.protocol.presence import PRESENCE, CallAction, CallRequest, PresenceSyncRequest

logger = logging.getLogger(__name__)

InterphoneAudio = Callable[[InterphoneId, str, int, bytes], None]
"""``on_interphone_audio(interphone, uid, seq, opus_packet)``: audio with its interphone."""

FEEDBACK = "feedback"
"""The loss-feedback extension (docs/protocol-extensions.md): ask for it with
``features=(FEEDBACK,)``; then :meth:`InterphoneClient.report_quality` and
:attr:`InterphoneClient.on_feedback` work."""

FeedbackCallback = Callable[[FeedbackNotice], None]

_MEMBERS_DEBOUNCE = 0.25
_LEAVE_ON_CLOSE_TIMEOUT = 1.0


@dataclass(slots=True)
class ClientStats:
    tx_packets: int = 0
    tx_dropped: int = 0  # send_audio calls while not granted
    rx_packets: int = 0  # audio packets delivered to on_audio
    reconnects: int = 0  # successful reconnects since connect()
    reconnect_attempts: int = 0  # failed attempts in the current outage (0 when connected)


def media_secret_of(login: LoginResult) -> bytes | None:
    """The media secret when the server granted media-auth with a valid one, else None
    (base contract, plain media)."""
    if MEDIA_AUTH not in login.features or not login.media_secret:
        return None
    try:
        return decode_b64(login.media_secret, SECRET_BYTES)
    except ValueError:
        logger.warning("media-auth granted with a malformed media secret: plain media")
        return None


def backoff_delays(base: float, cap: float) -> Iterable[float]:
    """Exponential backoff with jitter: each delay in [d/2, d], d doubling from base to cap."""
    delay = base
    while True:
        yield delay / 2 + random.uniform(0, delay / 2)
        delay = min(cap, delay * 2)


class InterphoneClient:
    """A push-to-talk client for one uid.

    It holds at most one :class:`SignalingConnection` at a time (the asyncio
    driver of a sans-IO :class:`ClientSession`, which keeps the protocol rules),
    the reconnect loop around it, the UDP :class:`MediaEndpoint`, and the
    :class:`ClientModel`, which it updates from every response and notification
    in the order they were read (:meth:`_on_session_event`). Its coroutines
    only check preconditions, send one request each and report the outcome.

    ::

        client = InterphoneClient("127.0.0.1", 9400, "sung", "secret")
        await client.connect()            # LoginRefused / ServerUnreachable
        await client.join("group_58")
        await client.talk_start()         # FloorBusy if someone else speaks
        client.send_audio(opus_packet)    # one Opus frame, only while granted
        await client.talk_stop()
        await client.close()
    """

    def __init__(self, host: str, port: int, uid: str, token: str, *,
                 reconnect: bool = True, request_timeout: float = 5.0,
                 connect_timeout: float = 5.0,
                 backoff: tuple[float, float] = (0.2, 5.0),
                 ssl: ssl_module.SSLContext | None = None,
                 media_addr: tuple[str, int] | None = None,
                 features: tuple[str, ...] = (),
                 fallbacks: Iterable[tuple[str, int]] = ()) -> None:
        self.host = host
        self.port = port
        # Every server to try, in order (several nodes of one deployment): connect()
        # goes down the list until one answers, and each reconnect attempt moves on.
        self.servers: list[tuple[str, int]] = list(dict.fromkeys([(host, port),
                                                                  *fallbacks]))
        self.uid = uid
        self._token = token
        self._reconnect = reconnect
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._ssl = ssl
        # Where UDP media goes instead of (server host, login's udp_port): a
        # relay or impairment proxy on the same host (bench/impair.py).
        self._media_addr = media_addr
        # Protocol extensions to ask for at each login (docs/protocol-extensions.md).
        self._features = tuple(features)
        self.model = ClientModel(uid)
        self.on_audio: AudioCallback | None = None
        self.on_interphone_audio: InterphoneAudio | None = None
        self._audio_sink: InterphoneAudio | None = None
        self._audio_ids: dict[str, InterphoneId] = {}
        # Extension "feedback": called with each notice of what our listeners lose
        # (only while we hold the floor); feed it to app.audio.fec_policy.FecPolicy.
        self.on_feedback: FeedbackCallback | None = None
        self.last_feedback: FeedbackNotice | None = None
        self._report_tasks: dict[InterphoneId, asyncio.Task[Any]] = {}
        self.stats = ClientStats()
        self._conn: SignalingConnection | None = None
        self._media: MediaEndpoint | None = None
        self._sync_ids: tuple[InterphoneId, ...] | None = None
        self._tasks = TaskSet()
        self._reconnect_task: asyncio.Task[Any] | None = None
        self._refresh_task: asyncio.Task[Any] | None = None
        self._refresh_wanted: dict[InterphoneId, None] = {}
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self.model.subscribe(self._on_model_event)
        self._line: asyncio.Future[bool] | None = None  # talk_start waiting in line
        self._line_grant = 0  # media-auth: the grant number of the granted notice

    # ---- properties --------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self.model.connection

    @property
    def connected(self) -> bool:
        return self.model.connection is ConnectionState.CONNECTED

    @property
    def joined(self) -> InterphoneId | None:
        """The talk target (the single-interphone name of it)."""
        return self.model.joined

    @property
    def talk_target(self) -> InterphoneId | None:
        return self.model.talk_target

    @property
    def joined_ids(self) -> tuple[InterphoneId, ...]:
        """Every joined interphone, in join order."""
        return self.model.joined_ids

    @property
    def features(self) -> frozenset[str]:
        """The protocol extensions the current connection was granted (empty: base contract)."""
        conn = self._conn
        return conn.session.features if conn is not None else frozenset()

    def loss_pct(self, uid: str) -> float:
        """Packet loss (%) measured from the seq gaps of ``uid``'s audio."""
        return self._media.loss_pct(uid) if self._media is not None else 0.0

    def max_loss_pct(self) -> float:
        """The worst loss over all speakers heard on the current connection."""
        if self._media is None:
            return 0.0
        return max(self._media.loss_by_speaker().values(), default=0.0)

    # ---- session -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, log in and sync the roster's groups and discussions.

        Raises :class:`LoginRefused` (state ``refused``) or
        :class:`ServerUnreachable` (state ``disconnected``). With
        ``reconnect=True`` later drops are retried in the background.
        """
        if self._closing or self.model.connection.final:
            raise NotConnected(f"client is {self.model.connection.value}")
        if self._conn is not None or self.model.connection is ConnectionState.RECONNECTING:
            return  # connected, or the background reconnect is already at it
        self.model.set_connection(ConnectionState.CONNECTING)
        try:
            for i in range(len(self.servers)):
                try:
                    await self._establish(rejoin=(), target=None)
                    break
                except (ClientError, OSError) as exc:
                    if i == len(self.servers) - 1 or not _worth_another_server(exc):
                        raise
                    logger.info("%s:%s: %s; trying the next server", self.host, self.port, exc)
                    self._next_server()
        except LoginRefused as exc:
            self.model.set_connection(ConnectionState.REFUSED, exc.errmsg or str(exc))
            raise
        except BaseException as exc:
            if not self._closing:
                self.model.set_connection(ConnectionState.DISCONNECTED, str(exc))
            raise

    async def close(self) -> None:
        """Leave the joined interphone (best effort), close TCP and UDP, end every task.

        Idempotent; concurrent callers wait for the same close.
        """
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._close_task)

    async def __aenter__(self) -> InterphoneClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- requests ----------------------------------------------------------------------

    async def sync(self, ids: Iterable[InterphoneId | str] | None = None) -> list[InterphoneInfo]:
        """Which interphones are live: ``ids`` (default: the roster's groups and
        discussions) plus every active chat involving us. Replaces the
        subscription set, which reconnects restore."""
        wanted = self.model.roster_ids() if ids is None else tuple(as_interphone_id(i) for i in ids)
        return await self._sync_on(self._require_conn(), wanted)

    async def members(self, interphone: InterphoneId | str) -> InterphoneInfo:
        """Members and speaker of one interphone (the model is refreshed too)."""
        body = await self._require_conn().request(MembersRequest(as_interphone_id(interphone)))
        assert isinstance(body, MembersResult)  # the session checked the answer's kind
        return body.info

    async def join(self, interphone: InterphoneId | str, *,
                   target: bool = True) -> InterphoneInfo:
        """Join one more interphone (the others stay joined) and register for its audio;
        returns the members. ``target``: it becomes the talk target (always when there
        is none yet); a floor held in the previous target is released first."""
        wanted = as_interphone_id(interphone)
        conn = self._require_conn()
        make_target = target or self.model.talk_target is None
        if make_target and self.model.talk_target not in (None, wanted):
            await self.talk_stop()
        return await self._join_on(conn, wanted, make_target=make_target)

    async def set_talk_target(self, interphone: InterphoneId | str) -> None:
        """Make a joined interphone the talk target; a floor held in the previous one is
        released first. Raises :class:`NotJoined` for an interphone we are not in."""
        wanted = as_interphone_id(interphone)
        if not self.model.is_joined(wanted):
            raise NotJoined(f"{wanted} is not joined")
        if self.model.talk_target == wanted:
            return
        await self.talk_stop()
        if self.model.is_joined(wanted):
            self.model.set_talk_target(wanted)

    async def call(self, uid: str) -> InterphoneInfo:
        """Join the one-to-one chat with ``uid`` (which rings them). With the extension
        ``presence``, ``model.outgoing_call(id)`` then says ringing / answered / offline,
        and later declined / no_answer (:class:`OutgoingCallChanged` events)."""
        chat = InterphoneId.chat(self.uid, uid)
        info = await self.join(chat)
        if PRESENCE in self.features:
            await self._require_conn().request(CallRequest(CallAction.RING, chat))
        return info

    async def decline(self, interphone: InterphoneId | str) -> None:
        """Refuse a call ringing us in that chat (extension ``presence``; without it, or
        when it no longer rings, nothing is sent: the caller simply is not answered)."""
        chat = as_interphone_id(interphone)
        if PRESENCE not in self.features or chat not in self.model.incoming_calls:
            return
        with contextlib.suppress(NotFound):  # it stopped ringing meanwhile
            await self._require_conn().request(CallRequest(CallAction.DECLINE, chat))

    async def leave(self, interphone: InterphoneId | str | None = None) -> None:
        """Quit ``interphone`` (default: the talk target; no-op when not in it). When the
        talk target is left, the most recently joined of the others becomes it."""
        current = self.model.talk_target if interphone is None else as_interphone_id(interphone)
        if current is not None and self.model.is_joined(current):
            await self._leave_on(self._require_conn(), current)

    async def leave_all(self) -> None:
        """Quit every joined interphone."""
        for interphone in reversed(self.model.joined_ids):
            await self.leave(interphone)

    async def _leave_on(self, conn: SignalingConnection, current: InterphoneId) -> None:
        if current == self.model.talk_target:
            self._end_turn("left")
        if self._media is not None:
            self._media.unregister(str(current))
        try:
            await conn.request(QuitRequest(current, self.uid))
        except NotFound:
            self.model.apply_left_one(current)
        except ClientError:
            self.model.apply_left_one(current)
            raise

    async def talk_start(self, *, queue: bool = False, emergency: bool = False) -> bool:
        """Ask for the floor; returns True once granted (transmission may start).

        ``queue`` (extension ``floor-queue``): when the floor is busy, wait in line
        until granted (the model shows the place, ``FloorState.QUEUED``); raises
        :class:`QueueLeft` if the wait ends without a grant. ``emergency``
        (extension ``emergency``): raise an emergency and pre-empt the holder.
        Either is ignored when the server did not grant the extension.

        Raises :class:`FloorBusy` (``.holder``), :class:`NotAllowed`,
        :class:`NotJoined`, :class:`NotConnected`. Returns False when
        :meth:`talk_stop` or a leave cancelled the request meanwhile.
        """
        target = self.model.joined
        if target is None:
            raise NotJoined("join an interphone before talking")
        if self.model.floor is FloorState.TALKING:
            return True
        conn = self._require_conn()
        self.model.floor_requesting()
        features = conn.session.features
        request = SpeakRequest(True, target, queue=queue and FLOOR_QUEUE in features,
                               emergency=emergency and EMERGENCY in features)
        try:
            body = await conn.request(request)
            grant = body.grant if isinstance(body, SpeakResult) else 0
            if isinstance(body, SpeakResult) and body.queued:
                if not await self._wait_in_line(body.position):
                    return False
                grant = self._line_grant  # media-auth: carried by the granted notice
        except FloorBusy as exc:
            if self.model.floor is FloorState.REQUESTING:
                self.model.floor_refused(holder=exc.holder, busy=True, reason=exc.errmsg)
            raise
        except ServerError as exc:
            if self.model.floor is FloorState.REQUESTING:
                self.model.floor_refused(busy=False, reason=exc.errmsg or str(exc))
            raise
        except BaseException:
            if self.model.floor is FloorState.REQUESTING:
                self.model.floor_released("disconnected")
            raise
        if self.model.floor is not FloorState.REQUESTING or self.model.joined != target:
            return False  # cancelled by talk_stop/leave/disconnect while waiting
        if self._media is not None:
            self._media.begin_utterance(grant)
        self.model.floor_granted()
        return True

    async def _wait_in_line(self, position: int) -> bool:
        """Queued at ``position``: wait for ``granted`` (True), our own ``talk_stop`` or a
        disconnect (False), or ``left`` (:class:`QueueLeft`)."""
        if self.model.floor is not FloorState.REQUESTING:
            return False  # talk_stop ran while the request was in flight
        self.model.floor_queued(position)
        self._line_grant = 0
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._line = waiter
        try:
            return await waiter
        finally:
            if self._line is waiter:
                self._line = None

    def _end_line(self, outcome: bool | BaseException) -> None:
        waiter, self._line = self._line, None
        if waiter is not None and not waiter.done():
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)

    def _end_turn(self, reason: str) -> None:
        """Our grant, request or wait in line ends locally (left, disconnected, closed,
        kicked): the model forgets it and a waiting :meth:`talk_start` returns False."""
        self.model.ending_floor(reason)
        self._end_line(False)

    async def raise_emergency(self, interphone: InterphoneId | str | None = None) -> str:
        """Raise an emergency on ``interphone`` (default: the joined one) without asking
        for the floor; returns who raised the one that is up (extension ``emergency``)."""
        body = await self._require_conn().request(
            EmergencyRequest(EmergencyAction.RAISE, self._target(interphone)))
        assert isinstance(body, EmergencyState)
        return body.by

    async def cancel_emergency(self, interphone: InterphoneId | str | None = None) -> str:
        """Cancel the emergency (the raiser or a dispatcher); returns who had raised it.
        Raises :class:`NotFound` when none is up, :class:`NotAllowed` for others."""
        body = await self._require_conn().request(
            EmergencyRequest(EmergencyAction.CANCEL, self._target(interphone)))
        assert isinstance(body, EmergencyState)
        return body.by

    @property
    def dispatcher(self) -> bool:
        """The login said we may cancel anyone's emergency (extension ``priority``)."""
        conn = self._conn
        result = conn.session.login_result if conn is not None else None
        return bool(result is not None and result.dispatcher)

    def _target(self, interphone: InterphoneId | str | None) -> InterphoneId:
        if interphone is not None:
            return as_interphone_id(interphone)
        if self.model.joined is None:
            raise NotJoined("join an interphone first")
        return self.model.joined

    async def talk_stop(self) -> None:
        """Stop transmitting at once, then release the floor (or leave the line).
        Harmless when not talking."""
        target = self.model.joined
        if self.model.floor not in (FloorState.TALKING, FloorState.REQUESTING,
                                    FloorState.QUEUED):
            return
        self.model.floor_released("released")
        self._end_line(False)
        conn = self._conn
        if target is None or conn is None or conn.closed:
            return
        try:
            await conn.request(SpeakRequest(False, target))
        except ClientError as exc:
            logger.info("speak off not confirmed: %s", exc)

    def send_audio(self, payload: bytes) -> bool:
        """Send one Opus packet while granted; otherwise drop it (counted) and return False."""
        media = self._media
        if self.model.floor is not FloorState.TALKING or media is None \
                or media.interphone is None or not media.send_audio(payload):
            self.stats.tx_dropped += 1
            return False
        self.stats.tx_packets += 1
        return True

    # ---- extension "feedback" ---------------------------------------------------------

    @property
    def feedback_enabled(self) -> bool:
        """True when the current connection was granted the ``feedback`` extension."""
        return FEEDBACK in self.features

    def report_quality(self, speaker: str, loss_pct: float, *, jitter_ms: float = 0.0,
                       late: int = 0, concealed: int = 0, recovered: int = 0,
                       packets: int = 0, interphone: InterphoneId | str | None = None
                       ) -> bool:
        """Tell the server what we measured of ``speaker``'s audio in ``interphone``
        (default: the talk target); listener side.

        Fire and forget: returns False (nothing sent) without the ``feedback``
        extension, when not in that interphone, when ``speaker`` is ourselves, or
        while the previous report about that interphone is unanswered (reports are
        not queued up).
        """
        target = self.model.joined if interphone is None else as_interphone_id(interphone)
        conn = self._conn
        if (target is None or not self.model.is_joined(target) or conn is None or conn.closed
                or not self.feedback_enabled or speaker == self.uid):
            return False
        pending = self._report_tasks.get(target)
        if pending is not None and not pending.done():
            return False
        report = QualityReport(target, speaker, max(0.0, min(100.0, loss_pct)),
                               max(0.0, jitter_ms), late, concealed, recovered, packets)
        task = self._tasks.spawn(self._send_report(conn, report), "interphone-quality-report")
        if task is None:
            return False
        self._report_tasks[target] = task
        task.add_done_callback(lambda _: self._report_tasks.pop(target, None)
                               if self._report_tasks.get(target) is task else None)
        return True

    async def _send_report(self, conn: SignalingConnection, report: QualityReport) -> None:
        try:
            await conn.request(report)
        except ClientError as exc:
            logger.debug("quality report not accepted: %s", exc)

    def _on_feedback(self, notice: FeedbackNotice) -> None:
        if notice.id != self.model.joined or self.model.floor is not FloorState.TALKING:
            return
        self.last_feedback = notice
        callback = self.on_feedback
        if callback is not None:
            callback(notice)

    # ---- establishing and reconnecting -------------------------------------------------

    async def _establish(self, rejoin: tuple[InterphoneId, ...],
                         target: InterphoneId | None) -> None:
        """Open one signaling session and bring the client back in line with the server.

        The steps, each a method below: connect (:meth:`_open_signaling`), log
        in (:meth:`_log_in`), open UDP media (:meth:`_open_media`), publish the
        connection (``self._conn``), restore the subscription set
        (:meth:`_resync`) and the joined interphones (:meth:`_rejoin`), then
        report ``connected``. A failure at any step closes what this attempt
        opened (:meth:`_abandon`) and raises; :class:`NotConnected` when
        :meth:`close` ran meanwhile.
        """
        conn = await self._open_signaling()
        media: MediaEndpoint | None = None
        try:
            result = await self._log_in(conn)
            media = await self._open_media(conn, result)
            self._conn = conn
            await self._resync(conn)
            await self._rejoin(conn, rejoin, target)
            if self._closing:
                raise NotConnected("client closed while connecting")
            self.model.set_connection(ConnectionState.CONNECTED)
        except BaseException as exc:
            await self._abandon(conn, media)
            if self._closing and isinstance(exc, ClientError):
                raise NotConnected("client closed while connecting") from exc
            raise
        if conn.closed:  # dropped while we were finishing: let the loss handler see it
            self._on_connection_closed(conn, None)

    async def _open_signaling(self) -> SignalingConnection:
        session = ClientSession(self.uid, self._token, request_timeout=self._request_timeout,
                                features=self._features)
        return await SignalingConnection.open(
            self.host, self.port, session, on_event=self._on_session_event,
            on_closed=self._on_connection_closed, connect_timeout=self._connect_timeout,
            ssl=self._ssl)

    async def _log_in(self, conn: SignalingConnection) -> LoginResult:
        """Log in (the model took the roster already, in wire order); any refusal is final."""
        try:
            return await conn.login()
        except ServerError as exc:
            raise LoginRefused(exc.errcode, exc.errmsg, request="login") from None

    async def _open_media(self, conn: SignalingConnection, login: LoginResult) -> MediaEndpoint:
        """A fresh UDP endpoint towards the login's ``udp_port`` (or ``media_addr``)."""
        media_host, media_port = self._media_addr or (conn.peer_host or self.host,
                                                      login.udp_port)
        secret = media_secret_of(login)
        media = await MediaEndpoint.open(media_host, media_port, self.uid, self._on_media_audio,
                                         media_secret=secret)
        media.audio_sink = self._sink_media_audio if self._audio_sink is not None else None
        old_media, self._media = self._media, media
        if old_media is not None:
            await old_media.aclose()
        return media

    async def _resync(self, conn: SignalingConnection) -> None:
        """Subscribe again to the last sync set (the roster's ids the first time)."""
        try:
            await self._sync_on(conn, self._sync_ids or self.model.roster_ids())
            if PRESENCE in conn.session.features:
                await conn.request(PresenceSyncRequest())
        except ServerError as exc:
            logger.warning("sync after login failed: %s", exc)

    async def _rejoin(self, conn: SignalingConnection, rejoin: tuple[InterphoneId, ...],
                      target: InterphoneId | None) -> None:
        """Join the interphones we were in before the drop (the talk target stays the
        same); one that is refused is left."""
        for interphone in rejoin:
            try:
                await self._join_on(conn, interphone, make_target=interphone == target)
            except ServerError as exc:
                logger.warning("could not re-join %s: %s", interphone, exc)
                self.model.apply_left_one(interphone)

    async def _abandon(self, conn: SignalingConnection, media: MediaEndpoint | None) -> None:
        """Close what a failed :meth:`_establish` opened."""
        if self._conn is conn:
            self._conn = None
        if self._closing and media is not None and self._media is media:
            self._media = None  # close() may have run before it was opened
            await media.aclose()
        await conn.aclose()

    def _on_connection_closed(self, conn: SignalingConnection, exc: Exception | None) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        media = self._media
        if media is not None:
            media.unregister()
        self._end_turn("disconnected")
        if self._closing or self.model.connection.final:
            return
        reason = f"connection lost{': ' + str(exc) if exc else ''}"
        if not self._reconnect:
            self.model.apply_left()
            self.model.set_connection(ConnectionState.DISCONNECTED, reason)
            return
        logger.info("%s; reconnecting", reason)
        self.model.set_connection(ConnectionState.RECONNECTING, reason)
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = self._tasks.spawn(self._reconnect_loop(),
                                                     "interphone-reconnect")

    async def _reconnect_loop(self) -> None:
        rejoin, target = self.model.joined_ids, self.model.talk_target
        for delay in backoff_delays(*self._backoff):
            await asyncio.sleep(delay)
            if self._closing or self.model.connection.final:
                return
            self._next_server()
            try:
                await self._establish(rejoin=rejoin, target=target)
            except LoginRefused as exc:
                if _worth_another_server(exc):  # that node cannot reach its store: next one
                    self.stats.reconnect_attempts += 1
                    continue
                logger.warning("login refused on reconnect: %s", exc)
                self.model.set_connection(ConnectionState.REFUSED, exc.errmsg or str(exc))
                self.model.apply_left()
                return
            except (ClientError, OSError) as exc:
                self.stats.reconnect_attempts += 1
                logger.info("reconnect attempt %d failed: %s", self.stats.reconnect_attempts, exc)
                if not self.model.connection.final:
                    self.model.set_connection(ConnectionState.RECONNECTING, str(exc))
                continue
            self.stats.reconnects += 1
            self.stats.reconnect_attempts = 0
            logger.info("reconnected to %s:%s", self.host, self.port)
            return

    def _next_server(self) -> None:
        """Move on to the next server of the list (none: stay)."""
        if len(self.servers) > 1:
            at = self.servers.index((self.host, self.port)) if (
                self.host, self.port) in self.servers else -1
            self.host, self.port = self.servers[(at + 1) % len(self.servers)]

    async def _close(self) -> None:
        self._closing = True
        conn = self._conn
        if conn is not None and not conn.closed and self.model.joined_ids:
            with contextlib.suppress(ClientError, TimeoutError):
                async with asyncio.timeout(_LEAVE_ON_CLOSE_TIMEOUT):
                    for interphone in reversed(self.model.joined_ids):
                        await self._leave_on(conn, interphone)
        await self._tasks.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.aclose()
        media, self._media = self._media, None
        if media is not None:
            await media.aclose()
        self._end_turn("closed")
        if not self.model.connection.final:
            self.model.set_connection(ConnectionState.CLOSED)

    # ---- incoming ----------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        """Every answer and notification, in wire order, before any awaiting task resumes."""
        if self._media is not None:  # audio that came before it is heard of before it
            self._media.flush()
        if isinstance(event, NotificationReceived) and isinstance(event.body, FloorNotice):
            self._on_floor_notice(event.body)
        elif isinstance(event, NotificationReceived) and isinstance(event.body, FeedbackNotice):
            self._on_feedback(event.body)
        elif isinstance(event, ResponseReceived | NotificationReceived):
            stale = self.model.apply_body(event.body)
            if stale is not None:
                self._schedule_members_refresh(stale)
            self._install_media_key(event.body)
        elif isinstance(event, SessionKicked):
            self._on_kicked(event.reason)

    def _install_media_key(self, body: object) -> None:
        """media-auth: a voice key from a join response or a notification, for a joined
        interphone only (a key for any other is ignored)."""
        notice = body.media_key if isinstance(body, JoinResult) else body
        media = self._media
        if (isinstance(notice, MediaKeyNotice) and media is not None
                and notice.id in self.model.joined_ids):
            media.install_key(str(notice.id), notice.epoch, notice.key)

    def _on_floor_notice(self, notice: FloorNotice) -> None:
        """``<floor>`` notices of the floor extensions about our own request or grant."""
        if notice.id != self.model.joined:
            return
        match notice.type:
            case FloorNoticeType.QUEUED:
                if self.model.floor is FloorState.QUEUED:
                    self.model.floor_queued(notice.position)
            case FloorNoticeType.GRANTED:
                if self._line is not None and self.model.floor is FloorState.QUEUED:
                    self.model.floor_requesting()  # floor_granted follows in talk_start
                    self._line_grant = notice.grant
                    self._end_line(True)
            case FloorNoticeType.LEFT:
                if self.model.floor is FloorState.QUEUED:
                    self.model.floor_released("left_queue", cause=notice.reason)
                    self._end_line(QueueLeft(notice.reason))
            case FloorNoticeType.REVOKED:
                if self.model.floor is FloorState.TALKING:
                    self.model.floor_released("revoked", cause=notice.reason, by=notice.by)

    def _on_kicked(self, reason: str) -> None:
        logger.warning("session ended by the server: %s", reason or "kicked")
        self._end_turn("kicked")
        self.model.apply_left()
        self.model.set_connection(ConnectionState.KICKED, reason or "kicked")
        # The session closed itself on the kick: its driver drops the connection.

    @property
    def audio_sink(self) -> InterphoneAudio | None:
        """``sink(interphone, uid, seq, opus_packet)`` called for every audio packet in the
        media receive thread, before the loop hears of it (see :mod:`app.client.media`):
        it must be thread-safe (the mixer's ``receive`` is). While one is set,
        ``on_audio``/``on_interphone_audio`` are still called for every packet, in order,
        on the loop, but in batches (about every 0.1 s): use the sink to play."""
        return self._audio_sink

    @audio_sink.setter
    def audio_sink(self, sink: InterphoneAudio | None) -> None:
        self._audio_sink = sink
        if self._media is not None:
            self._media.audio_sink = self._sink_media_audio if sink is not None else None

    def _sink_media_audio(self, interphone: str, uid: str, seq: int, payload: bytes) -> None:
        """In the media receive thread."""
        sink = self._audio_sink
        if sink is None:
            return
        parsed = self._audio_ids.get(interphone)
        if parsed is None:
            parsed = self._audio_ids[interphone] = InterphoneId.parse(interphone)
        sink(parsed, uid, seq, payload)

    def _on_media_audio(self, interphone: str, uid: str, seq: int, payload: bytes) -> None:
        self.stats.rx_packets += 1
        callback = self.on_audio
        if callback is not None:
            callback(uid, seq, payload)
        with_id = self.on_interphone_audio
        if with_id is not None:
            parsed = self._audio_ids.get(interphone)
            if parsed is None:
                parsed = self._audio_ids[interphone] = InterphoneId.parse(interphone)
            with_id(parsed, uid, seq, payload)

    def _on_model_event(self, event: ModelEvent) -> None:
        """The talk target moved (join, retarget, leave): audio goes there from now on."""
        if isinstance(event, JoinedChanged) and self._media is not None:
            self._media.talk_to(str(event.id) if event.id is not None else None)

    def _schedule_members_refresh(self, interphone: InterphoneId) -> None:
        self._refresh_wanted[interphone] = None
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = self._tasks.spawn(self._refresh_members(),
                                                   "interphone-members-refresh")

    async def _refresh_members(self) -> None:
        """Ask for the member list until no change came after the last answer."""
        while self._refresh_wanted:
            await asyncio.sleep(_MEMBERS_DEBOUNCE)
            # Cleared before asking: a count-only change read after the answer asks again.
            wanted, self._refresh_wanted = list(self._refresh_wanted), {}
            for interphone in wanted:
                if not self.model.is_joined(interphone) or self._conn is None:
                    continue
                try:
                    info = await self.members(interphone)
                except ClientError as exc:
                    logger.info("members refresh of %s failed: %s", interphone, exc)
                    return
                logger.debug("members of %s refreshed: %d", interphone, info.member_count)

    # ---- helpers -----------------------------------------------------------------------

    async def _sync_on(self, conn: SignalingConnection,
                       ids: tuple[InterphoneId, ...]) -> list[InterphoneInfo]:
        if len(ids) > MAX_SYNC_IDS:
            logger.warning("syncing only the first %d of %d ids", MAX_SYNC_IDS, len(ids))
            ids = ids[:MAX_SYNC_IDS]
        body = await conn.request(SyncRequest(ids))
        assert isinstance(body, SyncResult)  # the session checked the answer's kind
        self._sync_ids = ids
        return list(body.interphones)

    async def _join_on(self, conn: SignalingConnection, target: InterphoneId, *,
                       make_target: bool = True) -> InterphoneInfo:
        self.model.expect_join(target, target=make_target)
        try:
            body = await conn.request(JoinRequest(target, self.uid))
        except BaseException:
            self.model.join_abandoned(target)
            raise
        assert isinstance(body, JoinResult)
        media = self._media
        if media is not None and not await media.register(
                str(target), interval=self.model.keepalive,
                talk=self.model.talk_target == target):
            logger.warning("audio registration of %s not acknowledged yet", target)
        return body.info

    def _require_conn(self) -> SignalingConnection:
        conn = self._conn
        if conn is None or conn.closed or self._closing or self.model.connection.final:
            raise NotConnected(f"not connected (state {self.model.connection.value})")
        return conn


def _worth_another_server(exc: BaseException) -> bool:
    """A failure another server of the list may not have: unreachable, or a refusal with
    errcode 500 (a node that cannot reach its store says so); a 401 is the same anywhere."""
    if isinstance(exc, LoginRefused):
        return exc.errcode == ErrCode.SERVER_FAULT
    return isinstance(exc, ClientError | OSError)
