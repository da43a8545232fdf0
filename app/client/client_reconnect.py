"""Establishing and re-establishing the connection of
:class:`~app.client.client.InterphoneClient`: one attempt (connect, log in, open media,
sync, re-join), the reconnect loop with backoff, and failover down the list of servers.

A mixin over :class:`~app.client.client_core.ClientCore`, whose attributes it uses.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl as ssl_module
from collections.abc import Iterable
from typing import Any

from app.client.client_core import ClientCore
from app.client.connection import SignalingConnection
from app.client.errors import (
    ClientError,
    ConnectionLost,
    LoginRefused,
    NotConnected,
    ServerError,
    failure_of,
)
from app.client.events import CallState, ConnectionState
from app.client.failures import CERTIFICATE_KINDS
from app.client.media import MediaEndpoint
from app.client.path_watch import AddressedConnection, PathChange, PathLookup, PathWatch
from app.client.session import ClientSession
from app.client.wake_watch import WakeWatch
from app.protocol.errors import ErrCode
from app.protocol.ids import InterphoneId
from app.protocol.messages import LoginResult
from app.protocol.presence import PRESENCE, CallAction, CallRequest, PresenceSyncRequest

logger = logging.getLogger(__name__)


STABLE_S = 10.0
"""A connection that ended sooner than this after it was established counts, for the
back-off, as an attempt that failed: a server that drops each session right after the
client is connected again is not retried at the back-off's first step every time."""

LOGGED_ATTEMPTS = 5
FAILURE_LOG_S = 60.0
"""A failed reconnect attempt is logged for the first ``LOGGED_ATTEMPTS`` of an outage, for
a reason not logged yet in it, and otherwise once every ``FAILURE_LOG_S`` (the attempt's
number says how many went by). Each was logged: one line every 5 s (the back-off's cap)
for as long as the network was down, 720 an hour for an app left running overnight."""


def backoff_delays(base: float, cap: float, *, start: int = 0) -> Iterable[float]:
    """Exponential backoff with jitter: each delay in [d/2, d], d doubling from base to cap;
    ``start``: doublings already done (attempts that failed before)."""
    delay = min(cap, base * 2 ** min(start, 32))
    while True:
        yield delay / 2 + random.uniform(0, delay / 2)
        delay = min(cap, delay * 2)


def worth_another_server(exc: BaseException) -> bool:
    """A failure another server of the list may not have: unreachable, or a refusal with
    errcode 500 (a node that cannot reach its store says so); a 401 is the same anywhere."""
    if isinstance(exc, LoginRefused):
        return exc.errcode == ErrCode.SERVER_FAULT
    return isinstance(exc, ClientError | OSError)


class ClientReconnect(ClientCore):
    """One connection attempt, and the loop that retries after a drop."""

    _token: str
    _reconnect: bool
    _request_timeout: float
    _connect_timeout: float
    _backoff: tuple[float, float]
    _ssl: ssl_module.SSLContext | None
    _features: tuple[str, ...]
    _reconnect_task: asyncio.Task[Any] | None
    _wake_watch: WakeWatch
    _path_lookup: PathLookup
    _path_watch: tuple[SignalingConnection, PathWatch] | None = None  # of the connection
    _established_at = 0.0  # (loop time) the current connection was reported connected
    _short_drops = 0  # connections in a row that ended within STABLE_S

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
            if conn.closed or self._conn is not conn:
                # dropped after the last answer (the server closed right after the
                # re-join): an attempt that failed, not a connection to report
                raise ConnectionLost(conn.session.close_reason or "connection closed")
            self.model.set_connection(ConnectionState.CONNECTED)
            self._established_at = asyncio.get_running_loop().time()
            watch = conn.path_watch(self._path_lookup) if isinstance(
                conn, AddressedConnection) else None
            self._path_watch = (conn, watch) if watch is not None else None
            self._wake_watch.start()
        except BaseException as exc:
            await self._abandon(conn, media)
            if self._closing and isinstance(exc, ClientError):
                raise NotConnected("client closed while connecting") from exc
            raise

    async def _open_signaling(self) -> SignalingConnection:
        session = ClientSession(self.uid, self._token, request_timeout=self._request_timeout,
                                features=self._features)
        return await AddressedConnection.open(
            self.host, self.port, session, on_event=self._on_session_event,
            on_closed=self._on_connection_closed, connect_timeout=self._connect_timeout,
            ssl=self._ssl)

    async def _log_in(self, conn: SignalingConnection) -> LoginResult:
        """Log in (the model took the roster already, in wire order); any refusal is final."""
        try:
            return await conn.login()
        except ServerError as exc:
            raise LoginRefused(exc.errcode, exc.errmsg, request="login") from None

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
        same); one that is refused is left, one the server removed us from meanwhile
        (no longer joined in the model) is skipped."""
        for interphone in rejoin:
            if not self.model.is_joined(interphone):
                continue
            try:
                await self._join_on(conn, interphone, make_target=interphone == target)
            except ServerError as exc:
                logger.warning("could not re-join %s: %s", interphone, exc)
                self.model.apply_left_one(interphone)
                continue
            if (PRESENCE in conn.session.features
                    and self.model.outgoing_call(interphone) is CallState.RINGING):
                # our call rang when the drop ended it: the join rang it again (or the
                # callee is offline now, or in the chat already), which the ring's answer says
                try:
                    await conn.request(CallRequest(CallAction.RING, interphone))
                except ServerError as exc:
                    logger.info("our call in %s after the re-join: %s", interphone, exc)

    async def _abandon(self, conn: SignalingConnection, media: MediaEndpoint | None) -> None:
        """Close what a failed :meth:`_establish` opened."""
        if self._conn is conn:
            self._conn = None
        if self._closing and media is not None and self._media is media:
            self._media = None  # close() may have run before it was opened
            await media.aclose()
        await conn.aclose()

    def _on_wake(self, slept: float) -> None:
        """The machine woke up, or the process resumed (:class:`WakeWatch`): the server may
        have closed the session meanwhile without a word reaching us, so the connection is
        checked at once (a keepalive ping now: a reset or no answer within the ping's
        timeout starts the reconnect), and the media registrations are sent again (a NAT
        may have given our UDP flow a new port while we slept)."""
        conn = self._conn
        if conn is None or conn.closed or self._closing:
            return
        self._check_connection_now(conn)

    def _check_connection_now(self, conn: SignalingConnection) -> None:
        conn.probe()
        for interphone in self.model.joined_ids:
            self._register_again(interphone)

    def _check_path(self) -> None:
        """At each :class:`WakeWatch` tick: has the network path to the server changed
        (:mod:`app.client.path_watch`)? Another source address or no route: the connection
        is checked at once and the media registered again, as after a wake-up; the
        connection's own address gone from this machine: reconnect at once (no answer can
        reach it), instead of showing *Connected* until the keepalive ping fails."""
        conn = self._conn
        if self._path_watch is None or self._path_watch[0] is not conn or conn is None \
                or conn.closed or self._closing:
            return
        watch = self._path_watch[1]
        change, route = watch.check()
        if change is PathChange.CHANGED:
            logger.info("the network path to the server changed (the route leaves from %s, "
                        "the connection from %s): checking the connection",
                        route or "nowhere", watch.local)
            self._check_connection_now(conn)
        elif change is PathChange.GONE:
            why = f"the network changed ({watch.local} is no longer this machine's address)"
            logger.info("%s: reconnecting at once", why)
            conn.session.connection_lost(why)
            conn.abort()

    def _on_connection_closed(self, conn: SignalingConnection, exc: Exception | None) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._path_watch = None
        media = self._media
        if media is not None:
            media.unregister()
        self._end_turn("disconnected")
        if self._closing or self.model.connection.final:
            return
        # the session's own reason when it ended the connection itself (a ping left
        # unanswered, an oversized frame): the user learns why, not only that
        why = conn.session.close_reason
        if not why or why.startswith("connection closed"):
            why = str(exc) if exc else ""
        reason = f"connection lost{': ' + why if why else ''}"
        if not self._reconnect:  # the state first, as when kicked (client._on_kicked)
            self.model.set_connection(ConnectionState.DISCONNECTED, reason)
            self.model.apply_left()
            return
        lasted = asyncio.get_running_loop().time() - self._established_at
        self._short_drops = self._short_drops + 1 if lasted < STABLE_S else 0
        logger.info("%s; reconnecting", reason)
        self.model.set_connection(ConnectionState.RECONNECTING, reason)
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = self._tasks.spawn(self._reconnect_loop(),
                                                     "interphone-reconnect")

    async def _reconnect_loop(self) -> None:
        rejoin, target = self.model.joined_ids, self.model.talk_target
        loop = asyncio.get_running_loop()
        logged_at, reasons = loop.time(), set[str]()  # of the failures logged
        for delay in backoff_delays(*self._backoff, start=self._short_drops):
            await asyncio.sleep(delay)
            if self._closing or self.model.connection.final:
                return
            self._next_server()
            try:
                await self._establish(rejoin=rejoin, target=target)
            except LoginRefused as exc:
                # a node that cannot reach its store (500): the next one; too many requests
                # (429: the server's login back-off, which others' wrong guesses for our uid
                # start, or its hash queue full in a login flood): later, not never
                if worth_another_server(exc) or exc.errcode == ErrCode.TOO_MANY_REQUESTS:
                    self.stats.reconnect_attempts += 1
                    self.model.set_connection(ConnectionState.RECONNECTING,
                                              exc.errmsg or str(exc),
                                              self.stats.reconnect_attempts)
                    continue
                logger.warning("login refused on reconnect: %s", exc)
                self.model.set_connection(ConnectionState.REFUSED, exc.errmsg or str(exc))
                self.model.apply_left()
                return
            except (ClientError, OSError) as exc:
                self.stats.reconnect_attempts += 1
                failure = failure_of(exc)
                if failure.kind in CERTIFICATE_KINDS:
                    self.stats.refused_certificate = failure
                attempt, why = self.stats.reconnect_attempts, str(exc)
                if attempt <= LOGGED_ATTEMPTS or loop.time() - logged_at >= FAILURE_LOG_S \
                        or (why not in reasons and len(reasons) < LOGGED_ATTEMPTS):
                    logger.info("reconnect attempt %d failed: %s", attempt, why)
                    logged_at = loop.time()
                    reasons.add(why)
                if not self.model.connection.final:
                    self.model.set_connection(ConnectionState.RECONNECTING, str(exc),
                                              self.stats.reconnect_attempts)
                continue
            self.stats.reconnects += 1
            self.stats.reconnect_attempts = 0
            self.stats.refused_certificate = None
            logger.info("reconnected to %s:%s", self.host, self.port)
            return

    def _next_server(self) -> None:
        """Move on to the next server of the list (none: stay)."""
        if len(self.servers) > 1:
            at = self.servers.index((self.host, self.port)) if (
                self.host, self.port) in self.servers else -1
            self.host, self.port = self.servers[(at + 1) % len(self.servers)]
