"""The floor (turn) requests of :class:`~app.client.client.InterphoneClient`: ``talk_start``
and ``talk_stop``, waiting in line (extension floor-queue), emergencies (extension
emergency) and the ``<floor>`` notices about our own request or grant.

A mixin over :class:`~app.client.client_core.ClientCore`, whose attributes it uses.
"""

from __future__ import annotations

import asyncio
import logging

from app.client.client_core import ClientCore
from app.client.errors import ClientError, FloorBusy, NotJoined, QueueLeft, ServerError
from app.client.events import FloorState
from app.protocol.features import EMERGENCY, FLOOR_QUEUE
from app.protocol.ids import InterphoneId, as_interphone_id
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    FloorNotice,
    FloorNoticeType,
    SpeakRequest,
    SpeakResult,
)

logger = logging.getLogger(__name__)


class ClientFloor(ClientCore):
    """Asking for the floor, keeping it, waiting for it and giving it back."""

    _line: asyncio.Future[bool] | None
    _line_grant: int
    _grant_answered: bool
    _early_revoke: FloorNotice | None

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
        self._grant_answered, self._early_revoke = False, None
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
        early, self._early_revoke = self._early_revoke, None
        if self.model.floor is not FloorState.REQUESTING or self.model.joined != target:
            return False  # cancelled by talk_stop/leave/disconnect while waiting
        if early is not None:  # granted, and taken away again in the same read
            self.model.floor_released("revoked", cause=early.reason, by=early.by)
            return True
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
                    self._grant_answered = True  # (a revocation may come before it does)
                    self._line_grant = notice.grant
                    self._end_line(True)
            case FloorNoticeType.LEFT:
                if self.model.floor is FloorState.QUEUED:
                    self.model.floor_released("left_queue", cause=notice.reason)
                    self._end_line(QueueLeft(notice.reason))
            case FloorNoticeType.REVOKED:
                if self.model.floor is FloorState.TALKING:
                    self.model.floor_released("revoked", cause=notice.reason, by=notice.by)
                elif self.model.floor is FloorState.REQUESTING and self._grant_answered:
                    # our grant's answer came, talk_start has not resumed yet: it ends it
                    self._early_revoke = notice
