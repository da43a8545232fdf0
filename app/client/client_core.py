"""What every part of :class:`~app.client.client.InterphoneClient` shares: its state
(declared here, set up by ``InterphoneClient.__init__``), its counters, and the request
helpers the parts use (joining, syncing, the connection check).

The parts are mixins over :class:`ClientCore`: media (:mod:`app.client.client_media`), the
floor (:mod:`app.client.client_floor`), extension feedback
(:mod:`app.client.client_feedback`) and (re)connecting (:mod:`app.client.client_reconnect`).
A method one part calls in another is declared at the end of :class:`ClientCore`,
for the type checker only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.client.connection import SignalingConnection
from app.client.errors import NotAllowed, NotConnected
from app.client.failures import Failure
from app.client.media import AudioCallback, MediaEndpoint
from app.client.model import ClientModel
from app.client.session import SessionEvent
from app.client.tasks import TaskSet
from app.protocol.ids import InterphoneId
from app.protocol.limits import MAX_SYNC_IDS
from app.protocol.messages import (
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    LoginResult,
    SyncRequest,
    SyncResult,
)

logger = logging.getLogger(__name__)

JOIN_WAITS_FOR_MEDIA_S = 1.0
"""How long a join waits for its media registration to be acknowledged before it returns
(the registration's first two tries; on a working path the answer comes in one round
trip). Its other tries go on behind it: with UDP blocked on the way a join returned only
after all five, about 4.5 s, so a call rang that late."""

InterphoneAudio = Callable[[InterphoneId, str, int, bytes], None]
"""``on_interphone_audio(interphone, uid, seq, opus_packet)``: audio with its interphone."""


@dataclass(slots=True)
class ClientStats:
    tx_packets: int = 0
    tx_dropped: int = 0  # send_audio calls while not granted
    rx_packets: int = 0  # audio packets delivered to on_audio
    reconnects: int = 0  # successful reconnects since connect()
    reconnect_attempts: int = 0  # failed attempts in the current outage (0 when connected)
    # the last attempt of the current outage refused for its server's certificate (a node
    # of the list given another certificate, or a renewed one the app had pinned the old
    # of): the reconnection goes on, and the user is told why it may not succeed
    refused_certificate: Failure | None = None


class ClientCore:
    """The shared state and request helpers of :class:`~app.client.client.InterphoneClient`."""

    host: str
    port: int
    servers: list[tuple[str, int]]
    uid: str
    model: ClientModel
    stats: ClientStats
    on_audio: AudioCallback | None
    on_interphone_audio: InterphoneAudio | None
    _conn: SignalingConnection | None
    _media: MediaEndpoint | None
    _tasks: TaskSet
    _closing: bool
    _sync_ids: tuple[InterphoneId, ...] | None

    @property
    def features(self) -> frozenset[str]:
        """The protocol extensions the current connection was granted (empty: base contract)."""
        conn = self._conn
        return conn.session.features if conn is not None else frozenset()

    def _require_conn(self) -> SignalingConnection:
        conn = self._conn
        if conn is None or conn.closed or self._closing or self.model.connection.final:
            raise NotConnected(f"not connected (state {self.model.connection.value})")
        return conn

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
        except BaseException as exc:  # refused, failed or cancelled: once on every path
            self.model.join_abandoned(target)
            if isinstance(exc, NotAllowed):
                self.model.forget_unavailable(target)  # a roster group we may no longer see
            raise
        assert isinstance(body, JoinResult)
        media = self._media
        if media is not None:
            registering = self._tasks.spawn(self._register_joined(media, target),
                                            f"interphone-register-{target}")
            if registering is not None:
                await asyncio.wait({registering}, timeout=JOIN_WAITS_FOR_MEDIA_S)
        return body.info

    async def _register_joined(self, media: MediaEndpoint, target: InterphoneId) -> None:
        if not await media.register(str(target), interval=self.model.keepalive,
                                    talk=self.model.talk_target == target) \
                and media is self._media and str(target) in media.interphones:
            # (not when the registration ended because we left, closed or reconnected)
            logger.warning("audio registration of %s not acknowledged yet", target)

    if TYPE_CHECKING:
        # ---- provided by the parts (declared for the type checker only: at run time
        # nothing here can hide a part's method, whatever the order of the bases) ----------

        def _end_turn(self, reason: str) -> None: ...  # client_floor
        def _register_again(self, interphone: InterphoneId, *,
                            unless_heard: bool = False) -> None: ...  # client_media
        async def _open_media(self, conn: SignalingConnection,
                              login: LoginResult) -> MediaEndpoint: ...  # client_media
        def _on_session_event(self, event: SessionEvent) -> None: ...  # client
