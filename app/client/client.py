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
import ssl as ssl_module
from collections.abc import Callable, Iterable
from typing import Any

from app.client.call_resume import CallResume
from app.client.client_core import ClientStats, InterphoneAudio
from app.client.client_feedback import FEEDBACK, ClientFeedback, FeedbackCallback
from app.client.client_floor import ClientFloor, FloorAsk
from app.client.client_media import ClientMedia
from app.client.client_reconnect import ClientReconnect, worth_another_server
from app.client.connection import SignalingConnection
from app.client.errors import (
    ClientError,
    LoginRefused,
    NotAllowed,
    NotConnected,
    NotFound,
    NotJoined,
    StoreUnavailable,
    error_from_reply,
    failure_of,
)
from app.client.events import ConnectionState
from app.client.handoff import Handoff
from app.client.media import AudioCallback, MediaEndpoint
from app.client.members_refresh import MembersRefresh
from app.client.model import ClientModel
from app.client.path_watch import PathLookup
from app.client.session import (
    NotificationReceived,
    RequestRefused,
    ResponseReceived,
    SessionEvent,
    SessionKicked,
)
from app.client.store_outage import PROBE_FIRST_S, PROBE_MAX_S
from app.client.store_watch import StoreWatch
from app.client.tasks import TaskSet
from app.client.wake_watch import WakeWatch
from app.protocol import (
    InterphoneId,
    InterphoneInfo,
    MembersRequest,
    MembersResult,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.ids import as_interphone_id
from app.protocol.limits import MAX_SYNC_IDS
from app.protocol.messages import FeedbackNotice, FloorNotice, RosterNotice, SpeakResult
from app.protocol.presence import PRESENCE, CallAction, CallRequest, PresenceSyncRequest

__all__ = ["FEEDBACK", "ClientStats", "FeedbackCallback", "InterphoneAudio", "InterphoneClient"]

logger = logging.getLogger(__name__)

_LEAVE_ON_CLOSE_TIMEOUT = 1.0


class InterphoneClient(ClientMedia, ClientFloor, ClientFeedback, ClientReconnect):
    """A push-to-talk client for one uid.

    It holds at most one :class:`SignalingConnection` at a time (the asyncio
    driver of a sans-IO :class:`ClientSession`, which keeps the protocol rules),
    the reconnect loop around it, the UDP :class:`MediaEndpoint`, and the
    :class:`ClientModel`, which it updates from every response and notification
    in the order they were read (:meth:`_on_session_event`). Its coroutines
    only check preconditions, send one request each and report the outcome.

    This class holds the session's requests (connect, sync, join, leave, calls)
    and the dispatch of what the server sends; the other parts are mixins:
    media (:class:`ClientMedia`), the floor (:class:`ClientFloor`), extension
    feedback (:class:`ClientFeedback`) and (re)connecting (:class:`ClientReconnect`),
    over the shared state of :class:`ClientCore`.

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
                 fallbacks: Iterable[tuple[str, int]] = (),
                 store_probe: tuple[float, float] = (PROBE_FIRST_S, PROBE_MAX_S)) -> None:
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
        self.on_sent_audio: InterphoneAudio | None = None
        self._sent_audio: Handoff[tuple[str, int, bytes]] = Handoff(
            lambda sent: self._deliver_sent(*sent), "sent audio")
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
        self._call_resume = CallResume(
            self.model, ring=lambda request: self._require_conn().request(request),
            spawn=self._tasks.spawn)
        self._reconnect_task: asyncio.Task[Any] | None = None
        # the server cannot reach its store: degraded, probed on ``store_probe``'s backoff
        # (first wait, cap), what waits for the store done once it is back
        self._store = StoreWatch(self.model, self._tasks, self._probe_store, store_probe)
        # Both looked up at each refresh (``members`` may be replaced on the instance).
        self._members_refresh = MembersRefresh(
            self._tasks, fetch=lambda interphone: self.members(interphone),
            still_wanted=lambda interphone: (self.model.is_joined(interphone)
                                             and self._conn is not None),
            on_refused=self._on_members_refused)
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._leaving: set[InterphoneId] = set()  # interphones whose quit is under way
        self._registering: set[InterphoneId] = set()  # a recvbegin sent again, until acked
        # a speaker change in a joined interphone, waiting to hear its audio (HEARD_WAIT_S):
        # (media endpoint, its rx_packets then, when to look)
        self._heard_checks: dict[InterphoneId, tuple[MediaEndpoint, int, float]] = {}
        # the machine woke up (or the process resumed): the connection is checked at once
        # and at each of its ticks, whether the network path to the server changed
        self._path_lookup = PathLookup()
        self._wake_watch = WakeWatch(self._on_wake, on_tick=self._check_path)
        self.model.subscribe(self._on_model_event)
        self._asking: FloorAsk | None = None  # our speak-on request, until its outcome
        self._talk_check: asyncio.Task[None] | None = None  # the link checked while talking

    # ---- properties --------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self.model.connection

    @property
    def connected(self) -> bool:
        return self.model.connection is ConnectionState.CONNECTED

    @property
    def encrypted(self) -> bool:
        """Whether the signaling connection is TLS."""
        return self._ssl is not None

    @property
    def store_available(self) -> bool:
        """False while the server refuses requests because it cannot reach its store."""
        return self.model.store_available

    @property
    def store_probes(self) -> int:
        """Probes sent in the current (or last) store outage."""
        return self._store.probes

    def when_store_back(self, key: str, action: Callable[[], object]) -> bool:
        """Call ``action`` once the server reaches its store again (replacing an action of
        the same ``key``; dropped if the connection ends first). False, and nothing kept,
        when the server is not degraded."""
        return self._store.when_back(key, action)

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
                    if i == len(self.servers) - 1 or not worth_another_server(exc):
                        raise
                    # a node down is what the list is for; a certificate or TLS problem
                    # on one is its operator's to fix, and the user never sees it
                    level = logging.WARNING if failure_of(exc).kind.tls else logging.INFO
                    logger.log(level, "%s:%s: %s; trying the next server", self.host,
                               self.port, exc)
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
        infos = await self._sync_on(self._require_conn(), wanted)
        for interphone in self.model.unlisted_joined():  # (its counts came without lists)
            self._members_refresh.schedule(interphone)
        return infos

    async def members(self, interphone: InterphoneId | str) -> InterphoneInfo:
        """Members and speaker of one interphone (the model is refreshed too)."""
        wanted = as_interphone_id(interphone)
        try:
            body = await self._require_conn().request(MembersRequest(wanted))
        except NotAllowed:
            self.model.forget_unavailable(wanted)  # a roster group we may no longer see
            raise
        assert isinstance(body, MembersResult)  # the session checked the answer's kind
        return body.info

    async def join(self, interphone: InterphoneId | str, *,
                   target: bool = True) -> InterphoneInfo:
        """Join one more interphone (the others stay joined) and register for its audio;
        returns the members. ``target``: it becomes the talk target (always when there
        is none yet); a floor held in the previous target is released first."""
        wanted = as_interphone_id(interphone)
        conn = self._require_conn()
        self._store.forget(f"quit:{wanted}")  # joined again before the store was back
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
        # left again while the join waited for its audio registration: hung up before it
        # rang (a ring sent after the quit would be refused, "join ... before ringing")
        if (PRESENCE in self.features and self.model.is_joined(chat)
                and chat not in self._leaving):
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
        talk target is left, the most recently joined of the others becomes it. Refused
        because the server cannot reach its store, it is left here all the same and the
        quit is sent again once the store is back (:meth:`when_store_back`)."""
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
        self._leaving.add(current)
        try:
            await conn.request(QuitRequest(current, self.uid))
        except NotFound:
            self.model.apply_left_one(current)
        except StoreUnavailable:
            # left here at once (no audio, not joined again on reconnect); the server
            # hears of it once its store is back (a session that ends first leaves anyway)
            self.model.apply_left_one(current)
            self._store.when_back(f"quit:{current}", lambda: self._tasks.spawn(
                self._quit_later(conn, current), "interphone-quit-later"))
        except ClientError:
            self.model.apply_left_one(current)
            raise
        finally:
            self._leaving.discard(current)

    async def _quit_later(self, conn: SignalingConnection, interphone: InterphoneId) -> None:
        if conn is self._conn and not self.model.is_joined(interphone):
            try:
                await conn.request(QuitRequest(interphone, self.uid))
            except ClientError as exc:
                logger.info("quit of %s once the store was back: %s", interphone, exc)

    async def _probe_store(self) -> None:
        """A cheap read that goes through the server's store: the talk target's members,
        or the sync of the ids synced last (the same subscription set)."""
        conn = self._require_conn()
        target = self.model.talk_target
        if target is not None:
            await conn.request(MembersRequest(target))
        else:
            await conn.request(SyncRequest(self._sync_ids or ()))

    async def _close(self) -> None:
        self._closing = True
        self._wake_watch.stop()
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
        self._store.seen(event)
        if isinstance(event, ResponseReceived) and isinstance(event.request, SpeakRequest) \
                and isinstance(event.body, SpeakResult):
            self._on_speak_answer(event.request, event.body)
        elif isinstance(event, RequestRefused) and isinstance(event.request, SpeakRequest):
            self._on_speak_refused(event.request,
                                   error_from_reply(event.error, type(event.request).__name__))
        elif isinstance(event, NotificationReceived) and isinstance(event.body, FloorNotice):
            self._on_floor_notice(event.body)
        elif isinstance(event, NotificationReceived) and isinstance(event.body, FeedbackNotice):
            self._on_feedback(event.body)
        elif isinstance(event, NotificationReceived) and isinstance(event.body, RosterNotice):
            self._on_roster_notice(event.body)
        elif isinstance(event, ResponseReceived | NotificationReceived) \
                and self._call_resume.holds_back(event.body):
            pass  # a call of ours cut by the callee's server: rung again once they are back
        elif isinstance(event, ResponseReceived | NotificationReceived):
            stale = self.model.apply_body(event.body)
            if stale is not None:
                self._members_refresh.schedule(stale)
            self._install_media_key(event.body)
        elif isinstance(event, SessionKicked):
            self._on_kicked(event.reason)

    def _on_roster_notice(self, notice: RosterNotice) -> None:
        """Extension roster: a directory reload changed our roster. A sync of the whole
        roster is asked again, so the groups and discussions added are watched too (a
        sync of chosen ids is the caller's: kept); with extension presence the contacts'
        status is asked again too (a contact added is otherwise unknown until it changes)."""
        whole = self._sync_ids == self.model.roster_ids()[:MAX_SYNC_IDS]
        self.model.apply_roster(notice)
        if whole and self._conn is not None:
            self._tasks.spawn(self._sync_roster(), "interphone-roster-sync")
        if PRESENCE in self.features:
            self._tasks.spawn(self._sync_presence(), "interphone-presence-sync")

    async def _sync_roster(self) -> None:
        try:
            await self.sync()
        except ClientError as exc:  # the next reconnect syncs again
            logger.info("sync after a roster change failed: %s", exc)

    async def _sync_presence(self) -> None:
        try:
            await self._require_conn().request(PresenceSyncRequest())
        except ClientError as exc:  # the next reconnect asks again
            logger.info("presence sync after a roster change failed: %s", exc)

    def _on_members_refused(self, interphone: InterphoneId) -> None:
        """403 on a joined interphone's members: we may no longer see it, so we are no
        longer in it (the server removed us; its count-only notice could not say so).
        :meth:`members` has forgotten it already when it read the 403 itself (then this
        finds it no longer joined and emits nothing: one removal per refusal)."""
        if self.connected:
            self.model.apply_removed(interphone)

    def _on_kicked(self, reason: str) -> None:
        # info, not a warning: the front end tells the user (the CLI's error line, the
        # window's link status); a warning said the same event twice on a CLI's stderr
        logger.info("session ended by the server: %s", reason or "kicked")
        self._end_turn("kicked")
        # the state first: who watches the joined set then sees it dropped with the session
        # (not left by the user, which the app would remember instead of rejoining)
        self.model.set_connection(ConnectionState.KICKED, reason or "kicked")
        self.model.apply_left()
