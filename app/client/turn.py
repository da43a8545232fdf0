"""The client's turn (floor) state machine: pure, no I/O, the clock passed in.

One :class:`TurnMachine` per joined interphone decides, from the talk key and the
server's answers, when to ask for the floor, when to transmit, when to release,
which cue to play and what the UI shows. The GUI, the CLI and the bots feed it
events (:meth:`TurnMachine.handle`) and carry out the :data:`Action` objects it
returns; timers follow aioquic (:meth:`TurnMachine.next_deadline`,
:meth:`TurnMachine.handle_timer`).

Key handling, the part auto-repeat breaks:

- A :class:`Press` while the key is already held is ignored (auto-repeat).
- A :class:`Release` is only *provisional* for ``debounce`` seconds: a press
  within that window continues the same physical press and changes nothing
  (X servers send release/press pairs for a held key, most without Qt's
  auto-repeat flag). Only a confirmed release enters the table below, so one
  physical press makes at most one floor request.
- After a refusal or a revocation the key must be released and pressed again
  (phases ``BUSY``, ``DENIED`` and ``REVOKED`` wait for the release): holding
  the key never re-requests.

Every transition lives in :data:`TRANSITIONS`, a table of
``(phase, trigger) -> handler``; a pair not in it is a stale or irrelevant
event and is ignored (e.g. a grant answering a request already cancelled by a
disconnect). The phase also says where the key is: it is down in ``REQUESTING``,
``QUEUED``, ``TALKING``, ``BUSY``, ``DENIED`` and ``REVOKED``, and up in the others.

What the server said of the floor (the place in line, who holds it, a refusal's
message) is not kept here: the client model keeps it, and the machine only hears
that the request was granted, queued, refused or ended.

Times are float seconds of whatever monotonic clock the caller uses.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

logger = logging.getLogger(__name__)


# ---- configuration ---------------------------------------------------------------------------

DEFAULT_RELEASE_DELAY = 0.150
DEFAULT_DEBOUNCE = 0.040
DEFAULT_DRAIN_TIMEOUT = 1.0
DEFAULT_WARNINGS = (10.0, 3.0)


@dataclass(frozen=True, slots=True)
class TurnConfig:
    max_talk: float = 60.0
    """Seconds a grant lasts at most (the login response's ``max_talk``)."""
    release_delay: float = DEFAULT_RELEASE_DELAY
    """Seconds to keep transmitting after the key is released (the last syllable)."""
    debounce: float = DEFAULT_DEBOUNCE
    """A press this soon after a release continues the same physical press."""
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    """Seconds to wait for :class:`TransmitDrained` before releasing anyway."""
    queue: bool = False
    """Ask to wait in line when the floor is busy (extension ``floor-queue``)."""
    warnings: tuple[float, ...] = DEFAULT_WARNINGS
    """Seconds before ``max_talk`` at which a warning cue plays (10 s and 3 s)."""

    def __post_init__(self) -> None:
        for name in ("max_talk", "release_delay", "debounce", "drain_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.max_talk <= 0:
            raise ValueError("max_talk must be positive")


# ---- phases, reasons, cues, views --------------------------------------------------------------

class TurnPhase(StrEnum):
    IDLE = "idle"  # key up, nothing in flight
    REQUESTING = "requesting"  # key down, request sent, no answer yet
    CANCELLING = "cancelling"  # key released before the answer came
    QUEUED = "queued"  # key down, waiting in the server's queue
    TALKING = "talking"  # key down, floor granted, transmitting
    RELEASING = "releasing"  # key up, still transmitting for the release delay
    DRAINING = "draining"  # transmit stopping, waiting for the last frame to leave
    BUSY = "busy"  # key down, refused: someone else speaks
    DENIED = "denied"  # key down, refused for another reason
    REVOKED = "revoked"  # key down, the turn was taken away: a fresh press is needed


class EndReason(StrEnum):
    """Why a turn or a wait ended without the user releasing the key."""

    NONE = ""
    TIME_LIMIT = "time_limit"
    SILENCE = "silence"
    PREEMPTED = "preempted"
    SHUTDOWN = "shutdown"
    SERVER = "server"
    DISCONNECTED = "disconnected"
    QUEUE_EXPIRED = "queue_expired"


class TurnTone(StrEnum):
    PERMIT = "permit"
    BUSY = "busy"
    QUEUED = "queued"
    YOUR_TURN = "your_turn"
    PREEMPTED = "preempted"
    TIME_WARNING_10S = "time_warning_10s"
    TIME_WARNING_3S = "time_warning_3s"
    CUT_OFF = "cut_off"


class TurnViewKind(StrEnum):
    IDLE = "idle"
    REQUESTING = "requesting"
    TALKING = "talking"
    QUEUED = "queued"
    BUSY = "busy"
    DENIED = "denied"
    PREEMPTED = "preempted"
    REVOKED = "revoked"  # revoked for another reason; release and press again


@dataclass(frozen=True, slots=True)
class TurnView:
    """What the UI shows of the turn. While talking, ``elapsed + remaining == max_talk``
    exactly, and the whole-second fields add up the same way (``elapsed_s + remaining_s``
    is ``ceil(max_talk)``), so the display is never off by one.

    What the server said is not repeated here: the place in line, who holds the floor
    and a refusal's message are the client model's (``queue_position``,
    ``floor_holder``, ``FloorChanged.reason``), the one record of the floor's state."""

    kind: TurnViewKind
    reason: EndReason = EndReason.NONE  # PREEMPTED/REVOKED, and IDLE after a cut-off
    elapsed: float = 0.0
    remaining: float = 0.0
    elapsed_s: int = 0
    remaining_s: int = 0
    warning: float = 0.0  # seconds of the last warning passed (10, 3); 0 for none


# ---- events (in) -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Press:
    emergency: bool = False


@dataclass(frozen=True, slots=True)
class Release:
    pass


@dataclass(frozen=True, slots=True)
class Granted:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    busy: bool = True  # 409: someone else speaks


@dataclass(frozen=True, slots=True)
class Revoked:
    reason: EndReason = EndReason.SERVER


@dataclass(frozen=True, slots=True)
class Queued:
    pass


@dataclass(frozen=True, slots=True)
class QueueExpired:
    pass


@dataclass(frozen=True, slots=True)
class TransmitDrained:
    pass


@dataclass(frozen=True, slots=True)
class Disconnected:
    pass


TurnEvent = (Press | Release | Granted | Refused | Revoked | Queued | QueueExpired
             | TransmitDrained | Disconnected)


# ---- actions (out) -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SendRequest:
    queue: bool = False
    emergency: bool = False


@dataclass(frozen=True, slots=True)
class SendRelease:
    pass


@dataclass(frozen=True, slots=True)
class StartTransmit:
    pass


@dataclass(frozen=True, slots=True)
class StopTransmit:
    pass


@dataclass(frozen=True, slots=True)
class PlayTone:
    tone: TurnTone


Action = SendRequest | SendRelease | StartTransmit | StopTransmit | PlayTone


class Trigger(StrEnum):
    """The table's inputs: events after key debouncing, plus the machine's own timers."""

    PRESS = "press"  # a fresh physical press
    RELEASE = "release"  # a confirmed release
    GRANTED = "granted"
    REFUSED = "refused"
    REVOKED = "revoked"
    QUEUED = "queued"
    QUEUE_EXPIRED = "queue_expired"
    TRANSMIT_DRAINED = "transmit_drained"
    DISCONNECTED = "disconnected"
    RELEASE_DELAY_OVER = "release_delay_over"  # timer
    DRAIN_TIMEOUT = "drain_timeout"  # timer


_TRIGGER_OF: dict[type, Trigger] = {
    Granted: Trigger.GRANTED, Refused: Trigger.REFUSED, Revoked: Trigger.REVOKED,
    Queued: Trigger.QUEUED, QueueExpired: Trigger.QUEUE_EXPIRED,
    TransmitDrained: Trigger.TRANSMIT_DRAINED, Disconnected: Trigger.DISCONNECTED,
}



def _warning_tone(seconds_left: float) -> TurnTone:
    """The 10 s cue for warnings above 5 s, the 3 s cue for the last ones."""
    return TurnTone.TIME_WARNING_10S if seconds_left > 5 else TurnTone.TIME_WARNING_3S


Handler = Callable[["TurnMachine", object, float], list[Action]]


class TurnMachine:
    """One interphone's turn. Feed :meth:`handle` and :meth:`handle_timer`; carry out the
    returned actions in order; read :meth:`view` to draw."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = config or TurnConfig()
        self.phase = TurnPhase.IDLE
        self._held = False
        self._released_at: float | None = None  # provisional release, not yet confirmed
        self._key_up_at = 0.0  # time of the last confirmed release
        self._granted_at = 0.0
        self._drain_since = 0.0
        self._warnings_due: list[tuple[float, float]] = []  # (when, seconds left), ascending
        self._warning_passed = 0.0
        self._reason = EndReason.NONE

    # ---- inputs ------------------------------------------------------------------------------

    def handle(self, event: TurnEvent, now: float) -> list[Action]:
        """Feed one event; returns the actions to carry out, in order."""
        actions = self.handle_timer(now)  # a due timer happened before this event
        if isinstance(event, Press):
            if self._released_at is not None:  # within the debounce: same physical press
                self._released_at = None
                self._held = True
                return actions
            if self._held:  # auto-repeat
                return actions
            self._held = True
            return actions + self._fire(Trigger.PRESS, event, now)
        if isinstance(event, Release):
            if not self._held:
                return actions
            self._held = False
            self._released_at = now
            if self.config.debounce <= 0:
                return actions + self.handle_timer(now)
            return actions
        return actions + self._fire(_TRIGGER_OF[type(event)], event, now)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should run next, or None."""
        times: list[float] = []
        if self._released_at is not None:
            times.append(self._released_at + self.config.debounce)
        if self.phase is TurnPhase.RELEASING:
            times.append(self._release_delay_end())
        elif self.phase is TurnPhase.DRAINING:
            times.append(self._drain_since + self.config.drain_timeout)
        if self.phase is TurnPhase.TALKING and self._warnings_due:
            times.append(self._warnings_due[0][0])
        return min(times) if times else None

    def handle_timer(self, now: float) -> list[Action]:
        """Run every timer due at ``now`` (calling it early is harmless)."""
        actions: list[Action] = []
        if self._released_at is not None and now >= self._released_at + self.config.debounce:
            self._key_up_at = self._released_at
            self._released_at = None
            actions += self._fire(Trigger.RELEASE, None, now)
        if self.phase is TurnPhase.TALKING:
            tone: TurnTone | None = None
            while self._warnings_due and now >= self._warnings_due[0][0]:
                _, left = self._warnings_due.pop(0)
                self._warning_passed = left
                tone = _warning_tone(left)
            limit = self._granted_at + self.config.max_talk
            if tone is not None and now < limit:  # several overdue: only the latest plays
                actions.append(PlayTone(tone))
        if self.phase is TurnPhase.RELEASING and now >= self._release_delay_end():
            actions += self._fire(Trigger.RELEASE_DELAY_OVER, None, now)
        if (self.phase is TurnPhase.DRAINING
                and now >= self._drain_since + self.config.drain_timeout):
            actions += self._fire(Trigger.DRAIN_TIMEOUT, None, now)
        return actions

    # ---- outputs -----------------------------------------------------------------------------

    @property
    def key_held(self) -> bool:
        """The key as the machine sees it (a provisional release counts as held)."""
        return self._held or self._released_at is not None

    @property
    def transmitting(self) -> bool:
        return self.phase in (TurnPhase.TALKING, TurnPhase.RELEASING)

    @property
    def holds_floor(self) -> bool:
        return self.phase in (TurnPhase.TALKING, TurnPhase.RELEASING, TurnPhase.DRAINING)

    def likely_revoke_reason(self, now: float, slack: float = 1.0) -> EndReason:
        """For a server that does not say why (no extension): the speaker changed away
        from us while talking. ``TIME_LIMIT`` if the grant had about run out, else ``SERVER``."""
        if self.holds_floor and now - self._granted_at >= self.config.max_talk - slack:
            return EndReason.TIME_LIMIT
        return EndReason.SERVER

    def view(self, now: float) -> TurnView:
        phase = self.phase
        if phase in (TurnPhase.REQUESTING, TurnPhase.CANCELLING):
            return TurnView(TurnViewKind.REQUESTING)
        if phase is TurnPhase.QUEUED:
            return TurnView(TurnViewKind.QUEUED)
        if phase is TurnPhase.BUSY:
            return TurnView(TurnViewKind.BUSY)
        if phase is TurnPhase.DENIED:
            return TurnView(TurnViewKind.DENIED)
        if phase is TurnPhase.REVOKED:
            kind = (TurnViewKind.PREEMPTED if self._reason is EndReason.PREEMPTED
                    else TurnViewKind.REVOKED)
            return TurnView(kind, reason=self._reason)
        if self.holds_floor:
            return self._talking_view(now)
        return TurnView(TurnViewKind.IDLE, reason=self._reason)

    def _talking_view(self, now: float) -> TurnView:
        max_talk = self.config.max_talk
        elapsed = min(max(now - self._granted_at, 0.0), max_talk)
        elapsed_s = min(math.floor(elapsed), math.ceil(max_talk))
        return TurnView(TurnViewKind.TALKING, elapsed=elapsed, remaining=max_talk - elapsed,
                        elapsed_s=elapsed_s, remaining_s=math.ceil(max_talk) - elapsed_s,
                        warning=self._warning_passed)

    # ---- the table ---------------------------------------------------------------------------

    def _fire(self, trigger: Trigger, event: object, now: float) -> list[Action]:
        handler = TRANSITIONS.get((self.phase, trigger))
        if handler is None:
            logger.debug("turn: %s ignored in %s", trigger, self.phase)
            return []
        before = self.phase
        actions = handler(self, event, now)
        logger.debug("turn: %s + %s -> %s %s", before, trigger, self.phase, actions)
        return actions

    def _release_delay_end(self) -> float:
        return self._key_up_at + self.config.release_delay

    # Handlers: each sets the next phase and returns the actions.

    def _request(self, event: object, now: float) -> list[Action]:
        emergency = isinstance(event, Press) and event.emergency
        self._reason = EndReason.NONE
        self.phase = TurnPhase.REQUESTING
        return [SendRequest(queue=self.config.queue, emergency=emergency)]

    def _resume_request(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.REQUESTING  # the request in flight serves this press too
        return []

    def _cancel_request(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.CANCELLING
        return []

    def _grant(self, event: object, now: float) -> list[Action]:
        from_queue = self.phase is TurnPhase.QUEUED
        self.phase = TurnPhase.TALKING
        self._granted_at = now
        limit = now + self.config.max_talk
        self._warnings_due = sorted((limit - w, w) for w in self.config.warnings
                                    if 0 < w < self.config.max_talk)
        self._warning_passed = 0.0
        tone = TurnTone.YOUR_TURN if from_queue else TurnTone.PERMIT
        return [StartTransmit(), PlayTone(tone)]

    def _release_unwanted_grant(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE
        return [SendRelease()]

    def _refuse(self, event: object, now: float) -> list[Action]:
        assert isinstance(event, Refused)
        self.phase = TurnPhase.BUSY if event.busy else TurnPhase.DENIED
        return [PlayTone(TurnTone.BUSY)]

    def _refused_after_cancel(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE
        return [PlayTone(TurnTone.BUSY)] if isinstance(event, Refused) and event.busy else []

    def _queue(self, event: object, now: float) -> list[Action]:
        assert isinstance(event, Queued)
        self.phase = TurnPhase.QUEUED
        return [PlayTone(TurnTone.QUEUED)]

    def _leave_queue(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE
        return [SendRelease()]

    def _queue_expired(self, event: object, now: float) -> list[Action]:
        self.phase, self._reason = TurnPhase.REVOKED, EndReason.QUEUE_EXPIRED
        return [PlayTone(TurnTone.BUSY)]

    def _lost_wait(self, event: object, now: float) -> list[Action]:
        """Disconnected while requesting, revoked or disconnected while queued: a fresh press
        is needed. (A revoke while requesting is ignored: the answer is still to come.)"""
        self.phase = TurnPhase.REVOKED
        self._reason = (event.reason if isinstance(event, Revoked) else EndReason.DISCONNECTED)
        return []

    def _start_release_delay(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.RELEASING
        if now >= self._release_delay_end():
            return self._stop_after_delay(event, now)
        return []

    def _keep_talking(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.TALKING  # pressed again within the release delay
        return []

    def _restart_transmit(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.TALKING  # pressed again while the tail drains: still our floor
        return [StartTransmit()]

    def _stop_after_delay(self, event: object, now: float) -> list[Action]:
        self.phase, self._drain_since = TurnPhase.DRAINING, now
        return [StopTransmit()]

    def _send_release(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE
        return [SendRelease()]

    def _cut_off(self, event: object, now: float) -> list[Action]:
        """Revoked or disconnected while talking with the key down."""
        reason = event.reason if isinstance(event, Revoked) else EndReason.DISCONNECTED
        self.phase, self._reason = TurnPhase.REVOKED, reason
        tone = TurnTone.PREEMPTED if reason is EndReason.PREEMPTED else TurnTone.CUT_OFF
        return [StopTransmit(), PlayTone(tone)]

    def _cut_off_tail(self, event: object, now: float) -> list[Action]:
        """Revoked or disconnected while the key is up: stop, no cue, nothing to release."""
        transmitting = self.phase is TurnPhase.RELEASING
        self.phase = TurnPhase.IDLE
        self._reason = event.reason if isinstance(event, Revoked) else EndReason.DISCONNECTED
        return [StopTransmit()] if transmitting else []

    def _forget(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE
        return []

    def _to_idle(self, event: object, now: float) -> list[Action]:
        self.phase = TurnPhase.IDLE  # the key is up after a refusal or a revocation
        return []


P, T = TurnPhase, Trigger
M = TurnMachine
TRANSITIONS: dict[tuple[TurnPhase, Trigger], Handler] = {
    (P.IDLE, T.PRESS): M._request,

    (P.REQUESTING, T.RELEASE): M._cancel_request,
    (P.REQUESTING, T.GRANTED): M._grant,
    (P.REQUESTING, T.REFUSED): M._refuse,
    (P.REQUESTING, T.QUEUED): M._queue,
    (P.REQUESTING, T.DISCONNECTED): M._lost_wait,

    (P.CANCELLING, T.PRESS): M._resume_request,
    (P.CANCELLING, T.GRANTED): M._release_unwanted_grant,
    (P.CANCELLING, T.QUEUED): M._release_unwanted_grant,
    (P.CANCELLING, T.REFUSED): M._refused_after_cancel,
    (P.CANCELLING, T.DISCONNECTED): M._forget,

    (P.QUEUED, T.RELEASE): M._leave_queue,
    (P.QUEUED, T.GRANTED): M._grant,
    (P.QUEUED, T.QUEUE_EXPIRED): M._queue_expired,
    (P.QUEUED, T.REFUSED): M._refuse,
    (P.QUEUED, T.REVOKED): M._lost_wait,
    (P.QUEUED, T.DISCONNECTED): M._lost_wait,

    (P.TALKING, T.RELEASE): M._start_release_delay,
    (P.TALKING, T.REVOKED): M._cut_off,
    (P.TALKING, T.DISCONNECTED): M._cut_off,

    (P.RELEASING, T.PRESS): M._keep_talking,
    (P.RELEASING, T.RELEASE_DELAY_OVER): M._stop_after_delay,
    (P.RELEASING, T.REVOKED): M._cut_off_tail,
    (P.RELEASING, T.DISCONNECTED): M._cut_off_tail,

    (P.DRAINING, T.PRESS): M._restart_transmit,
    (P.DRAINING, T.TRANSMIT_DRAINED): M._send_release,
    (P.DRAINING, T.DRAIN_TIMEOUT): M._send_release,
    (P.DRAINING, T.REVOKED): M._cut_off_tail,
    (P.DRAINING, T.DISCONNECTED): M._cut_off_tail,

    (P.BUSY, T.RELEASE): M._to_idle,
    (P.DENIED, T.RELEASE): M._to_idle,
    (P.REVOKED, T.RELEASE): M._to_idle,
}
"""Every transition. A (phase, trigger) pair not listed is ignored."""
del P, T, M
