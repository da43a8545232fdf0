"""TurnDriver: runs the one :class:`~app.client.turn.TurnMachine` of a client on asyncio.

The GUI (and any front end with a talk key) feeds it presses and releases; it
feeds the machine everything else from the :class:`~app.client.InterphoneClient`'s
model: what became of the request (granted, queued, refused, given up, the wait
in line ended, revoked with its reason) from the ``outcome`` of its floor changes
(the one record of what the server said, applied in wire order), disconnections
from the connection state. What ``talk_start`` returns or raises is its caller's
(here only logged). It carries out the machine's actions: requests and releases
through the client, transmit start/stop and cues through the callbacks it is
given, timers (debounce, release delay, drain timeout, talk-limit warnings) with
``loop.call_at``. No Qt: with qasync the loop is Qt's.

::

    driver = TurnDriver(client, on_transmit=audio_on_off, on_tone=play,
                        wait_drained=audio.wait_transmit_stopped)
    driver.press(); ...; driver.release()
    driver.machine.view(now)          # what to draw (with client.model's floor_holder,
                                      # queue_position)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from app.client.client import InterphoneClient
from app.client.deadline_timer import DeadlineTimer
from app.client.errors import ClientError
from app.client.events import (
    ConnectionChanged,
    ConnectionState,
    FloorChanged,
    FloorOutcome,
    FloorState,
    ModelEvent,
    RemovedFromInterphone,
)
from app.client.tasks import TaskSet
from app.client.turn import (
    Action,
    Disconnected,
    EndReason,
    Granted,
    PlayTone,
    Press,
    Queued,
    QueueExpired,
    Refused,
    Release,
    Revoked,
    SendRelease,
    SendRequest,
    StartTransmit,
    StopTransmit,
    TransmitDrained,
    TurnConfig,
    TurnEvent,
    TurnMachine,
    TurnPhase,
    TurnTone,
)
from app.protocol.features import FLOOR_QUEUE

logger = logging.getLogger(__name__)


_REASONS = {reason.value: reason for reason in EndReason if reason is not EndReason.NONE}


def revoke_reason(text: str) -> EndReason:
    """A ``revoked`` notice's ``reason`` (docs/protocol-extensions.md); an unknown one
    reads as ``server``."""
    return _REASONS.get(text, EndReason.SERVER)


def _nothing(*_: object) -> None:
    pass


class TurnDriver:
    """One client's turn; see the module docstring.

    ``config`` makes the machine's settings (called again whenever a fresh press
    starts from idle, so a changed release delay or ``max_talk`` applies);
    by default ``max_talk`` from the login and queueing wherever the server
    offers ``floor-queue``. ``on_ended(reason, by)`` is told why a turn or a wait
    ended without the user letting go; ``on_change()`` after every step.
    """

    def __init__(self, client: InterphoneClient, *,
                 config: Callable[[], TurnConfig] | None = None,
                 on_transmit: Callable[[bool], None] = _nothing,
                 on_tone: Callable[[TurnTone], None] = _nothing,
                 wait_drained: Callable[[float], Awaitable[object]] | None = None,
                 on_ended: Callable[[EndReason, str], None] = _nothing,
                 on_change: Callable[[], None] = _nothing) -> None:
        self.client = client
        self._config = config or self.default_config
        self.on_transmit = on_transmit
        self.on_tone = on_tone
        self.wait_drained = wait_drained
        self.on_ended = on_ended
        self.on_change = on_change
        self.machine = TurnMachine(self._config())
        self.requests = 0  # speak-on requests sent, ever
        # the client's talk_start and talk_stop calls of the machine's requests and
        # releases, still being carried out
        self._talk_starts = 0
        self._talk_stops = 0
        self._timer = DeadlineTimer(self._on_timer)
        self._closed = False
        self._tasks = TaskSet(lambda exc: logger.warning("turn task failed: %s", exc))
        self._unsubscribe = client.model.subscribe(self._on_model)

    def default_config(self) -> TurnConfig:
        return TurnConfig(max_talk=float(self.client.model.max_talk or 60),
                          queue=FLOOR_QUEUE in self.client.features)

    # ---- the key -----------------------------------------------------------------------

    def press(self, *, emergency: bool = False) -> None:
        if self.machine.phase is TurnPhase.IDLE:
            self.machine.config = self._config()
        self.feed(Press(emergency=emergency))

    def release(self) -> None:
        self.feed(Release())

    @property
    def busy(self) -> bool:
        """A turn is running: asking, waiting in line, talking, releasing, or a request or
        release is still being carried out."""
        return bool(self._talk_starts or self._talk_stops) or self.machine.holds_floor \
            or self.machine.phase in (TurnPhase.REQUESTING, TurnPhase.CANCELLING,
                                      TurnPhase.QUEUED)

    def reset(self) -> None:
        """Leaving or switching interphones (quitting releases the floor at the server):
        stop sending and start over with a fresh machine."""
        if self.machine.transmitting:
            self.on_transmit(False)
        self.machine = TurnMachine(self._config())
        self._cancel_timer()
        self.on_change()

    async def close(self) -> None:
        """Stop sending and carry nothing out any more: a task that ends while the others
        are cancelled neither arms the timer nor tells ``on_change`` (the window it would
        update may be gone)."""
        self._closed = True
        self._unsubscribe()
        self._cancel_timer()
        if self.machine.transmitting:
            self.on_transmit(False)
        await self._tasks.close()

    # ---- events in, actions out --------------------------------------------------------

    def feed(self, event: TurnEvent) -> None:
        """Times are ``time.monotonic()`` (the clock :meth:`TurnMachine.view` is read with)."""
        self._carry_out(self.machine.handle(event, time.monotonic()))

    def _on_timer(self, due: float) -> None:
        self._carry_out(self.machine.handle_timer(time.monotonic()))

    def _carry_out(self, actions: list[Action]) -> None:
        if self._closed:
            return
        for action in actions:
            if isinstance(action, SendRequest):
                self.requests += 1
                self._talk_starts += 1
                self._tasks.spawn(self._request(action), "turn-request")
            elif isinstance(action, SendRelease):
                self._talk_stops += 1
                self._tasks.spawn(self._release(), "turn-release")
            elif isinstance(action, StartTransmit):
                self.on_transmit(True)
            elif isinstance(action, StopTransmit):
                self.on_transmit(False)
                self._tasks.spawn(self._drain(), "turn-drain")
            elif isinstance(action, PlayTone):
                self.on_tone(action.tone)
        self._arm()
        self.on_change()

    def _arm(self) -> None:
        self._timer.arm(self.machine.next_deadline())

    def _cancel_timer(self) -> None:
        self._timer.cancel()

    async def _request(self, action: SendRequest) -> None:
        """Carry out a request. What becomes of it reaches the machine from the model
        (:meth:`_on_model`, in wire order: a revocation read right behind a grant follows
        it). (A grant after the key went up: the machine releases it.)"""
        try:
            await self.client.talk_start(queue=action.queue, emergency=action.emergency)
        except ClientError as exc:
            logger.info("talk refused or given up: %s", exc)
        except Exception:
            logger.exception("floor request failed")
        finally:
            self._talk_starts -= 1
        event = self._unanswered()
        if event is not None:
            self.feed(event)
        elif not self._closed:
            self.on_change()

    def _unanswered(self) -> TurnEvent | None:
        """``talk_start`` is over and the machine still waits for its answer: the model
        told nothing (the floor was ours already, or the request failed before it was
        sent or without changing the floor): the model's floor answers."""
        if self._talk_starts or self.machine.phase not in (TurnPhase.REQUESTING,
                                                      TurnPhase.CANCELLING):
            return None  # (a later request is still being carried out: its outcome counts)
        floor = self.client.model.floor
        if floor is FloorState.TALKING:
            return Granted()
        if floor in (FloorState.REQUESTING, FloorState.QUEUED):
            return None  # another request of the client's is pending: its outcome will come
        return Refused(busy=False)

    async def _release(self) -> None:
        try:
            await self.client.talk_stop()
        except ClientError as exc:
            logger.info("release not confirmed: %s", exc)
        finally:
            self._talk_stops -= 1
            if not self._closed:
                self.on_change()

    async def _drain(self) -> None:
        if self.wait_drained is not None:
            await self.wait_drained(self.machine.config.drain_timeout)
        else:
            await asyncio.sleep(0)
        self.feed(TransmitDrained())

    def _on_model(self, event: ModelEvent) -> None:
        if isinstance(event, ConnectionChanged):
            if event.state.final or event.state is ConnectionState.RECONNECTING:
                self.feed(Disconnected())
        elif isinstance(event, RemovedFromInterphone):
            if event.talk_target:  # as when the user leaves it (the server ended the floor)
                self.reset()
        elif isinstance(event, FloorChanged):
            self._on_floor(event)

    def _on_floor(self, event: FloorChanged) -> None:
        """What became of our request or grant, in wire order. An event the machine did not
        ask for (no request of its own) is ignored by it."""
        match event.outcome:
            case FloorOutcome.GRANTED:
                self.feed(Granted())
            case FloorOutcome.QUEUED:  # (if the key went up meanwhile the machine leaves)
                self.feed(Queued())
            case FloorOutcome.MOVED:  # the place in line is the model's alone
                self.on_change()
            case FloorOutcome.REFUSED_BUSY | FloorOutcome.REFUSED:
                self.feed(Refused(busy=event.outcome is FloorOutcome.REFUSED_BUSY))
            case FloorOutcome.CANCELLED | FloorOutcome.ENDED:
                # given up elsewhere (talk_stop, a leave, another talk target): a request
                # the machine still waits on ends as refused. (Given up by the machine's
                # own release: it has moved on already, perhaps to a fresh request.)
                own = event.outcome is FloorOutcome.CANCELLED and self._talk_stops > 0
                if not own and self.machine.phase in (TurnPhase.REQUESTING,
                                                      TurnPhase.CANCELLING, TurnPhase.QUEUED):
                    self.feed(Refused(busy=False))
            case FloorOutcome.LEFT_QUEUE:
                if self.machine.phase is TurnPhase.QUEUED:
                    self.feed(QueueExpired())
                    self.on_ended(EndReason.QUEUE_EXPIRED, "")
            case FloorOutcome.REVOKED:
                if self.machine.holds_floor:
                    self._revoked(event)
            # DISCONNECTED: the connection's change tells the machine; REQUESTED, RELEASED
            # and NONE (someone else's turn) change nothing in it

    def _revoked(self, event: FloorChanged) -> None:
        reason = (revoke_reason(event.cause) if event.cause
                  else self.machine.likely_revoke_reason(time.monotonic()))
        self.feed(Revoked(reason))
        self.on_ended(reason, event.by)
