"""The floor (turn) requests of :class:`~app.client.client.InterphoneClient`: ``talk_start``
and ``talk_stop``, waiting in line (extension floor-queue), emergencies (extension
emergency) and the ``<floor>`` notices about our own request or grant.

The answer to a speak request is applied to the model (and the utterance begun) when
it is read, in wire order with the notices behind it (:meth:`ClientFloor._on_speak_answer`
and, for a refusal, :meth:`ClientFloor._on_speak_refused`, called from the client's
dispatch): a grant revoked in the same read is then ended by the ordinary ``revoked``
notice, and a refusal is followed by the speaker's change behind it, before
``talk_start`` resumes to report it.

A mixin over :class:`~app.client.client_core.ClientCore`, whose attributes it uses.
"""

from __future__ import annotations

import asyncio
import logging
import time

from app.client.client_core import ClientCore
from app.client.connection import SignalingConnection
from app.client.errors import (
    ClientError,
    FloorBusy,
    NotJoined,
    QueueLeft,
    RemoteProtocolError,
    RequestTimeout,
    ServerError,
)
from app.client.events import FloorState
from app.protocol.features import EMERGENCY, FLOOR_QUEUE
from app.protocol.ids import InterphoneId, as_interphone_id
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    FloorNotice,
    FloorNoticeType,
    Ping,
    SpeakRequest,
    SpeakResult,
)

logger = logging.getLogger(__name__)

TALKING_CHECK_S = 2.0
"""While we hold the floor the signaling is checked this often: a ping, as a request (5 s
to answer); one left unanswered sends the keepalive ping at once, which closes the session
when it too goes unanswered (5 s). The audio goes over UDP and nothing else is sent while
talking, so the keepalive alone, due only after ``keepalive`` seconds without sending
(15 s), told a talker whose link died (a tunnel, a dead Wi-Fi, a new address) some 20 s
later, talking to nobody all that time while the server took the floor back after its
``silence_timeout`` (5 s). Now "connection lost" comes within about 12 s, and the talk ends
with it. (A probe closing the session at its first 5 s unanswered, every 2 s, cut talks
on a link losing 30 % of its packets each way twice a minute: the TCP stream stalls
behind a segment resent with back-off; this needs it stalled for 10 s. At 20 % each way
talks of a minute went through with every check answered.)"""


class FloorAsk:
    """Our speak-on request, from its sending until granted, refused or given up.

    ``outcome`` is decided where the server's word is read (the client's dispatch, in
    wire order): True once granted (the model says TALKING), False when ``talk_stop``, a
    leave or a disconnection gave it up, :class:`QueueLeft` when the wait in line ended.
    """

    def __init__(self, request: SpeakRequest) -> None:
        self.request = request
        self.outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.outcome.add_done_callback(_consume_exception)

    def end(self, outcome: bool | BaseException) -> None:
        if self.outcome.done():
            return
        if isinstance(outcome, BaseException):
            self.outcome.set_exception(outcome)
        else:
            self.outcome.set_result(outcome)


def _consume_exception(future: asyncio.Future[bool]) -> None:
    """A wait in line that ends after its talk_start was cancelled: nobody hears of it."""
    if not future.cancelled():
        future.exception()


class ClientFloor(ClientCore):
    """Asking for the floor, keeping it, waiting for it and giving it back."""

    _asking: FloorAsk | None
    _talk_check: asyncio.Task[None] | None  # the link checked while talking
    _talk_confirmed_at: float | None = None  # (monotonic) granted, or a check answered

    async def talk_start(self, *, queue: bool = False, emergency: bool = False) -> bool:
        """Ask for the floor; returns True once granted (transmission may start).

        ``queue`` (extension ``floor-queue``): when the floor is busy, wait in line
        until granted (the model shows the place, ``FloorState.QUEUED``); raises
        :class:`QueueLeft` if the wait ends without a grant. ``emergency``
        (extension ``emergency``): raise an emergency and pre-empt the holder.
        Either is ignored when the server did not grant the extension.

        Raises :class:`FloorBusy` (``.holder``), :class:`NotAllowed`,
        :class:`NotJoined`, :class:`NotConnected`. Returns False when
        :meth:`talk_stop` or a leave cancelled the request meanwhile. Cancelling the
        call itself (a timeout), or a request the server did not answer in time
        (:class:`RequestTimeout`, raised) or answered unreadably
        (:class:`RemoteProtocolError`, raised), gives the request up as :meth:`talk_stop`
        would: the model is no longer REQUESTING or QUEUED (``FloorChanged`` reason
        ``"cancelled"``) and the client leaves the line. A grant taken
        away again in the same read (an emergency pre-empting at once) was granted:
        True, with the model already past it (``FloorChanged`` ``revoked``).
        """
        target = self.model.joined
        if target is None:
            raise NotJoined("join an interphone before talking")
        if self.model.floor is FloorState.TALKING:
            return True
        conn = self._require_conn()
        features = conn.session.features
        ask = FloorAsk(SpeakRequest(True, target, queue=queue and FLOOR_QUEUE in features,
                                    emergency=emergency and EMERGENCY in features))
        self._end_ask(False)  # a request still in flight is not ours to answer any more
        self._asking = ask
        self.model.floor_requesting()
        # our media address as it is now (a NAT may have renewed it): registered as the
        # request goes, so the audio sent once granted is taken
        self._register_again(target)
        try:
            await conn.request(ask.request)  # its answer was applied as it was read
            return await ask.outcome  # decided already, or once the wait in line ends
        except ServerError:
            raise  # the model was told as the refusal was read (_on_speak_refused)
        except (asyncio.CancelledError, RequestTimeout, RemoteProtocolError):
            # the session is up, and the server may have queued or granted the request
            self._give_up(ask, target)
            raise
        except BaseException:
            if self.model.floor is FloorState.REQUESTING:
                self.model.floor_released("disconnected")
            raise
        finally:
            if self._asking is ask:
                self._asking = None

    def _give_up(self, ask: FloorAsk, target: InterphoneId) -> None:
        """``talk_start`` was cancelled (its caller's timeout, a closing window) while its
        request was in flight or waiting in line, or the server did not answer it in time
        (its late answer is not read) or its answer could not be read: as :meth:`talk_stop`
        then, the model forgets it at once and ``speak off`` (sent in the background) leaves
        the line, or gives back a grant the server made meanwhile. A grant already applied
        stays."""
        if self._asking is not ask or self.model.floor not in (FloorState.REQUESTING,
                                                               FloorState.QUEUED):
            return  # granted, or given up already (talk_stop, leave, another request)
        self.model.floor_released("cancelled")
        self._end_ask(False)
        self._tasks.spawn(self._speak_off(target), "interphone-speak-off")

    def _on_speak_answer(self, request: SpeakRequest, result: SpeakResult) -> None:
        """The answer to a speak request, as it is read (before ``talk_start`` resumes, and
        before the notices behind it): the grant is ours now, or our place in line."""
        ask = self._asking
        if not request.on or ask is None or ask.request is not request:
            return
        if self.model.floor is not FloorState.REQUESTING or self.model.joined != request.id:
            self._end_ask(False)  # given up meanwhile (talk_stop, leave, another target)
        elif result.queued:
            self.model.floor_queued(result.position)
        else:
            self._granted(result.grant)

    def _on_speak_refused(self, request: SpeakRequest, error: ServerError) -> None:
        """A refusal of our speak-on request, as it is read (before the notices behind it,
        e.g. the holder stopping: the floor is then not left 'busy' with them)."""
        ask = self._asking
        if not request.on or ask is None or ask.request is not request:
            return
        if self.model.floor is FloorState.REQUESTING and self.model.joined == request.id:
            if isinstance(error, FloorBusy):
                self.model.floor_refused(holder=error.holder, busy=True, reason=error.errmsg,
                                         errcode=error.errcode)
            else:
                self.model.floor_refused(busy=False, reason=error.errmsg or str(error),
                                         errcode=error.errcode)
        self._end_ask(False)  # (talk_start raises the error itself)

    def _granted(self, grant: int) -> None:
        """The floor is ours (media-auth: ``grant`` is its number)."""
        if self._media is not None:
            self._media.begin_utterance(grant)
        self.model.floor_granted()
        self._talk_confirmed_at = time.monotonic()
        self._end_ask(True)
        self._stop_talk_check()
        if self._conn is not None:
            self._talk_check = self._tasks.spawn(self._check_while_talking(self._conn),
                                                 "interphone-talk-check")

    async def _check_while_talking(self, conn: SignalingConnection) -> None:
        """Check the link every :data:`TALKING_CHECK_S` while the floor is ours on ``conn``."""
        while True:
            await asyncio.sleep(TALKING_CHECK_S)
            if self.model.floor is not FloorState.TALKING or conn is not self._conn \
                    or conn.closed:
                return
            try:
                await conn.request(Ping())
                self._talk_confirmed_at = time.monotonic()  # the link carried it so far
            except RequestTimeout as exc:  # the keepalive ping went at once
                logger.info("no answer to the check while talking: %s", exc)
            except ClientError:
                return  # the connection is gone (its loss is told and logged as such)

    def _stop_talk_check(self) -> None:
        check, self._talk_check = self._talk_check, None
        if check is not None:
            check.cancel()

    def _end_ask(self, outcome: bool | BaseException) -> None:
        ask, self._asking = self._asking, None
        if ask is not None:
            ask.end(outcome)

    def _end_turn(self, reason: str) -> None:
        """Our grant, request or wait in line ends locally (left, disconnected, closed,
        kicked): the model forgets it and a waiting :meth:`talk_start` returns False. A
        talk cut by a lost connection ends where the link was last known to carry it."""
        cut = reason == "disconnected" and self.model.floor is FloorState.TALKING
        self.model.ending_floor(reason, self._talk_confirmed_at if cut else None)
        self._end_ask(False)
        self._stop_talk_check()

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
        self._end_ask(False)
        self._stop_talk_check()
        if target is not None:
            await self._speak_off(target)

    async def _speak_off(self, target: InterphoneId) -> None:
        conn = self._conn
        if conn is None or conn.closed:
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
                if self._asking is not None and self.model.floor is FloorState.QUEUED:
                    self._granted(notice.grant)
            case FloorNoticeType.LEFT:
                if self.model.floor is FloorState.QUEUED:
                    self.model.floor_released("left_queue", cause=notice.reason)
                    self._end_ask(QueueLeft(notice.reason))
            case FloorNoticeType.REVOKED:
                if self.model.floor is FloorState.TALKING:
                    self.model.floor_released("revoked", cause=notice.reason, by=notice.by)
