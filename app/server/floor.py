"""One interphone's floor: who holds it, who waits, priority, pre-emption and emergency.

Pure: no I/O, the clock passed in (``now``, float seconds of a monotonic clock).
Every operation returns a :class:`FloorOutcome` saying what changed, so the
server state can answer the request and send the notifications described in
``docs/protocol-extensions.md`` (extensions ``floor-queue``, ``priority`` and
``emergency``). Timers follow aioquic: :meth:`Floor.next_deadline` and
:meth:`Floor.handle_timer` expire queued requests. The talk limit and the
silence timeout stay with the caller, which ends a grant with :meth:`Floor.revoke`.

Rules:

- A *base* request (``queue_ok=False``, the default priority, no emergency)
  behaves exactly like PROTOCOL.md §3.2 (6): granted when nobody holds the floor
  or the asker already does, else :attr:`FloorAnswer.BUSY` (errcode 409).
- The queue exists only while someone holds the floor: whenever the floor frees,
  the head of the queue is granted at once. It is ordered by emergency first,
  then priority (higher first), then arrival. It holds at most
  ``queue_limit`` entries; a request that outranks the last entry of a full
  queue displaces it, any other gets :attr:`FloorAnswer.QUEUE_FULL`. An entry
  expires ``queue_timeout`` seconds after it joined.
- Pre-emption: an emergency request pre-empts any holder that does not hold by
  an emergency grant; on a ``preemptible`` interphone a request with a higher
  priority than the holder's pre-empts it too. The pre-empted holder is not
  queued.
- Emergency: raised by a member (by :meth:`Floor.raise_emergency` or an
  emergency request); while raised, the raiser's requests count as emergency
  requests. It stays raised until the raiser, or a user whose priority is at
  least ``dispatcher_level``, cancels it, or the interphone ends
  (:meth:`Floor.close`). Every raise and cancel is recorded in
  :attr:`Floor.log` (bounded to ``log_limit`` records, oldest dropped). Each raise gets
  a new id (:attr:`Floor.emergency_id`) from the floor's id source, so that a client can
  tell an emergency raised again from the one before it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

MIN_PRIORITY, MAX_PRIORITY = 0, 9


class FloorAnswer(StrEnum):
    GRANTED = "granted"  # the asker holds the floor (perhaps already did)
    BUSY = "busy"  # 409: someone else holds it
    QUEUED = "queued"  # waiting in line at ``position``
    QUEUE_FULL = "queue_full"  # 409: someone holds it and the line is full


class EndReason(StrEnum):
    """Why a grant ended."""

    RELEASED = "released"  # the holder said speak off
    LEFT = "left"  # the holder quit the interphone or its session ended
    TIME_LIMIT = "time_limit"
    SILENCE = "silence"
    PREEMPTED = "preempted"
    SHUTDOWN = "shutdown"
    SERVER = "server"


class QueueExit(StrEnum):
    """Why a queued request left the line without the asker's doing."""

    TIMEOUT = "timeout"
    DISPLACED = "displaced"  # a higher-ranked request took the last place of a full line


class EmergencyAction(StrEnum):
    RAISE = "raise"
    CANCEL = "cancel"


class FloorError(Exception):
    """A refused floor operation; ``errcode`` is the PROTOCOL.md §4 code to answer with."""

    errcode = 500


class NotAllowed(FloorError):
    errcode = 403


class NoEmergency(FloorError):
    errcode = 404


@dataclass(frozen=True, slots=True)
class FloorPolicy:
    """Per-interphone settings (see the directory keys in docs/protocol-extensions.md)."""

    queue_limit: int = 8
    """Queued requests at most; 0 turns queuing off (every busy request gets BUSY)."""
    queue_timeout: float = 30.0
    """Seconds a queued request waits at most."""
    preemptible: bool = False
    """Whether a higher priority pre-empts the holder (emergency always does)."""
    dispatcher_level: int = 8
    """Users with at least this priority may cancel anyone's emergency."""
    log_limit: int = 256
    """Emergency records kept per interphone."""

    def __post_init__(self) -> None:
        if self.queue_limit < 0 or self.log_limit < 1:
            raise ValueError("queue_limit must be >= 0 and log_limit >= 1")
        if not math.isfinite(self.queue_timeout) or self.queue_timeout <= 0:
            raise ValueError(f"queue_timeout must be positive, not {self.queue_timeout!r}")
        if not MIN_PRIORITY <= self.dispatcher_level <= MAX_PRIORITY:
            raise ValueError(f"dispatcher_level must be {MIN_PRIORITY}..{MAX_PRIORITY}")


@dataclass(frozen=True, slots=True)
class EmergencyRecord:
    action: EmergencyAction
    raised_by: str  # whose emergency
    by: str  # who raised or cancelled it ('' when the interphone ended)
    at: float
    id: str = ""  # the emergency's id (the raise's, also on its cancel)


class EmergencyIds:
    """New emergency ids of one process: the wall clock in milliseconds, made strictly
    increasing (``'1764670000123'``), so that an id is not given twice, also across
    restarts of a server that keeps its state in memory (several nodes use their shared
    log's entry ids instead: :class:`~app.server.replica.Replica`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0

    def __call__(self) -> str:
        self._last = max(self._last + 1, int(self._clock() * 1000))
        return str(self._last)


NEW_EMERGENCY_ID = EmergencyIds()
"""The id source of a floor that was given none."""


class NoticeKind(StrEnum):
    """The ``type`` of a ``<floor>`` notice (docs/protocol-extensions.md, floor-queue)."""

    REVOKED = "revoked"
    GRANTED = "granted"
    LEFT = "left"
    QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class FloorNotice:
    """One ``<floor id=.. type=..>`` notification to the session of ``uid``."""

    uid: str
    kind: NoticeKind
    position: int = 0  # QUEUED
    reason: str = ""  # REVOKED: an EndReason; LEFT: a QueueExit
    by: str = ""  # REVOKED for pre-emption: who took the floor


_NOTIFIED_ENDS = frozenset({"time_limit", "silence", "preempted", "shutdown", "server"})


@dataclass(frozen=True, slots=True)
class FloorOutcome:
    """What one operation changed. Fields that did not change keep their defaults."""

    holder: str
    """Who holds the floor afterwards ('' for nobody)."""
    answer: FloorAnswer | None = None
    """:meth:`Floor.request` only."""
    position: int = 0
    """QUEUED: the asker's place in line (1 = next)."""
    busy_holder: str = ""
    """BUSY / QUEUE_FULL: who holds the floor."""
    granted: str = ""
    """Who was newly granted the floor by this operation ('' if the holder did not change
    to someone new): the asker, or the head of the queue."""
    granted_from_queue: bool = False
    ended: str = ""
    """Whose grant ended ('' if none)."""
    ended_reason: EndReason | None = None
    preempted_by: str = ""
    """PREEMPTED: who took the floor."""
    positions: tuple[tuple[str, int], ...] = ()
    """Queued uids (other than the asker) whose place changed, with the new place, in
    queue order."""
    dropped: tuple[tuple[str, QueueExit], ...] = ()
    """Uids that left the line without asking to, and why."""
    emergency: EmergencyRecord | None = None
    """The emergency raised or cancelled by this operation."""

    @property
    def holder_changed(self) -> bool:
        """The base change notification (5) is due."""
        return bool(self.granted or self.ended)

    @property
    def preempted(self) -> str:
        """The holder this operation pre-empted ('' if none)."""
        return self.ended if self.ended_reason is EndReason.PREEMPTED else ""

    def notices_before_change(self) -> list[FloorNotice]:
        """``revoked`` then ``granted``: send after the response and the emergency
        notifications, before the change notification (5)."""
        notices = []
        if self.ended and self.ended_reason in _NOTIFIED_ENDS:
            notices.append(FloorNotice(self.ended, NoticeKind.REVOKED,
                                       reason=str(self.ended_reason), by=self.preempted_by))
        if self.granted and self.granted_from_queue:
            notices.append(FloorNotice(self.granted, NoticeKind.GRANTED))
        return notices

    def notices_after_change(self) -> list[FloorNotice]:
        """``left`` then ``queued``, in line order: send after the change notification (5)."""
        return ([FloorNotice(uid, NoticeKind.LEFT, reason=str(why)) for uid, why in self.dropped]
                + [FloorNotice(uid, NoticeKind.QUEUED, position=place)
                   for uid, place in self.positions])


@dataclass(slots=True)
class _Entry:
    uid: str
    priority: int
    emergency: bool
    arrival: int
    expires_at: float

    def rank(self) -> tuple[int, int, int]:
        return (0 if self.emergency else 1, -self.priority, self.arrival)


@dataclass(slots=True)
class _Change:
    """Collects an operation's effects before they become a :class:`FloorOutcome`."""

    granted: str = ""
    from_queue: bool = False
    ended: str = ""
    ended_reason: EndReason | None = None
    preempted_by: str = ""
    dropped: list[tuple[str, QueueExit]] = field(default_factory=list)
    emergency: EmergencyRecord | None = None


def clamp_priority(priority: int) -> int:
    return max(MIN_PRIORITY, min(MAX_PRIORITY, int(priority)))


class Floor:
    """The floor of one interphone."""

    def __init__(self, policy: FloorPolicy | None = None,
                 new_id: Callable[[], str] = NEW_EMERGENCY_ID) -> None:
        self.policy = policy or FloorPolicy()
        self.new_id = new_id
        """Where the id of each new emergency comes from."""
        self.holder = ""
        self.holder_priority = MIN_PRIORITY
        self.holder_emergency = False
        self.emergency_by = ""
        """Who raised the emergency that is up ('' for none)."""
        self.emergency_id = ""
        """The id of the emergency that is up ('' for none), new for each raise."""
        self.emergency_since = 0.0
        self.log: list[EmergencyRecord] = []
        self._queue: list[_Entry] = []
        self._arrivals = 0

    # ---- reading -----------------------------------------------------------------------------

    @property
    def queue(self) -> tuple[str, ...]:
        """The uids in line, head first."""
        return tuple(entry.uid for entry in self._queue)

    def position_of(self, uid: str) -> int:
        """1-based place in line, 0 when not queued."""
        for index, entry in enumerate(self._queue):
            if entry.uid == uid:
                return index + 1
        return 0

    # ---- requests ----------------------------------------------------------------------------

    def request(self, uid: str, now: float, *, priority: int = MIN_PRIORITY,
                queue_ok: bool = False, emergency: bool = False) -> FloorOutcome:
        """``speak on``. ``priority``, ``queue_ok`` and ``emergency`` must be the defaults
        for a session that did not negotiate the matching extension."""
        priority = clamp_priority(priority)
        before = self._positions()
        change = _Change()
        if emergency and not self.emergency_by:
            change.emergency = self._raise(uid, now)
        emergency = emergency or self.emergency_by == uid
        if self.holder == uid:
            if emergency:
                self.holder_emergency = True
            return self._outcome(change, before, FloorAnswer.GRANTED)
        if not self.holder:
            self._take(uid, priority, emergency, change)
            return self._outcome(change, before, FloorAnswer.GRANTED)
        if self._preempts(priority, emergency):
            self._remove(uid)  # it may have been waiting
            change.ended, change.ended_reason = self.holder, EndReason.PREEMPTED
            change.preempted_by = uid
            logger.info("floor: %s pre-empts %s", uid, self.holder)
            self._take(uid, priority, emergency, change)
            return self._outcome(change, before, FloorAnswer.GRANTED)
        if not queue_ok or self.policy.queue_limit == 0:
            return self._outcome(change, before, FloorAnswer.BUSY, busy_holder=self.holder)
        return self._enqueue(uid, priority, emergency, now, change, before)

    def _preempts(self, priority: int, emergency: bool) -> bool:
        if self.holder_emergency:
            return False
        if emergency:
            return True
        return self.policy.preemptible and priority > self.holder_priority

    def _enqueue(self, uid: str, priority: int, emergency: bool, now: float,
                 change: _Change, before: dict[str, int]) -> FloorOutcome:
        old = self._remove(uid)
        if old is not None:  # asking again keeps its place, or improves it
            entry = _Entry(uid, max(priority, old.priority), emergency or old.emergency,
                           old.arrival, old.expires_at)
        else:
            self._arrivals += 1
            entry = _Entry(uid, priority, emergency, self._arrivals,
                           now + self.policy.queue_timeout)
        if len(self._queue) >= self.policy.queue_limit:
            last = self._queue[-1]
            if entry.rank() >= last.rank():  # (never a re-request: its removal made room)
                return self._outcome(change, before, FloorAnswer.QUEUE_FULL,
                                     busy_holder=self.holder)
            self._queue.pop()
            change.dropped.append((last.uid, QueueExit.DISPLACED))
        self._insert(entry)
        return self._outcome(change, before, FloorAnswer.QUEUED,
                             position=self.position_of(uid), asker=uid)

    # ---- ends of grants and waits ------------------------------------------------------------

    def release(self, uid: str, now: float) -> FloorOutcome:
        """``speak off``: the holder releases, or a queued asker leaves the line;
        anyone else: nothing changes."""
        return self._end(uid, EndReason.RELEASED)

    def leave(self, uid: str, now: float) -> FloorOutcome:
        """``uid`` quit the interphone or lost its session (its emergency stays up)."""
        return self._end(uid, EndReason.LEFT)

    def revoke(self, reason: EndReason, now: float) -> FloorOutcome:
        """The server ends the current grant (talk limit, silence, shutdown)."""
        return self._end(self.holder, reason) if self.holder else self._outcome(_Change(), {})

    def _end(self, uid: str, reason: EndReason) -> FloorOutcome:
        before = self._positions()
        change = _Change()
        if uid and uid == self.holder:
            change.ended, change.ended_reason = uid, reason
            self.holder, self.holder_priority, self.holder_emergency = "", MIN_PRIORITY, False
            self._grant_head(change)
        else:
            self._remove(uid)
        return self._outcome(change, before)

    def withdraw(self, uids: Collection[str]) -> FloorOutcome:
        """Take the waiting requests of ``uids`` out of the line, with no ``left`` notice:
        a directory reload is taking them out of the interphone, which tells them. The
        others' new places are told as usual."""
        before = self._positions()
        self._queue = [entry for entry in self._queue if entry.uid not in uids]
        return self._outcome(_Change(), before)

    # ---- emergency ---------------------------------------------------------------------------

    def raise_emergency(self, uid: str, now: float) -> FloorOutcome:
        """Raise an emergency without asking for the floor. Raising while one is up
        changes nothing (see :attr:`emergency_by`)."""
        change = _Change()
        before = self._positions()
        if not self.emergency_by:
            change.emergency = self._raise(uid, now)
        return self._outcome(change, before)

    def _raise(self, uid: str, now: float) -> EmergencyRecord:
        self.emergency_by, self.emergency_id, self.emergency_since = uid, self.new_id(), now
        return self._record(EmergencyAction.RAISE, uid, uid, now)

    def cancel_emergency(self, uid: str, priority: int, now: float) -> FloorOutcome:
        """Cancel the emergency: allowed to its raiser and to dispatchers.

        Raises :class:`NoEmergency` (404) when none is up and :class:`NotAllowed` (403)
        for anyone else. The holder's emergency grant, if any, becomes an
        ordinary grant (pre-emptible again); queued emergency requests keep their place."""
        raised_by = self.emergency_by
        if not raised_by:
            raise NoEmergency("no emergency is raised")
        if uid != raised_by and clamp_priority(priority) < self.policy.dispatcher_level:
            raise NotAllowed(f"only {raised_by} or a dispatcher may cancel the emergency")
        change = _Change()
        before = self._positions()
        change.emergency = self._record(EmergencyAction.CANCEL, raised_by, uid, now)
        self.emergency_by = self.emergency_id = ""
        self.holder_emergency = False
        return self._outcome(change, before)

    def close(self, now: float) -> FloorOutcome:
        """The interphone ended: a raised emergency is recorded as cancelled by ''."""
        change = _Change()
        if self.emergency_by:
            change.emergency = self._record(EmergencyAction.CANCEL, self.emergency_by, "", now)
            self.emergency_by = self.emergency_id = ""
        self._queue.clear()
        return self._outcome(change, {})

    def _record(self, action: EmergencyAction, raised_by: str, by: str,
                now: float) -> EmergencyRecord:
        record = EmergencyRecord(action, raised_by, by, now, self.emergency_id)
        self.log.append(record)
        if len(self.log) > self.policy.log_limit:
            del self.log[: len(self.log) - self.policy.log_limit]
        logger.info("emergency %s id=%s raised_by=%s by=%s at=%.3f", action, record.id,
                    raised_by, by, now)
        return record

    # ---- a shared log's snapshot --------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        """The floor as JSON (several nodes: a node that starts later restores it): the
        holder and its rank, the emergency up, the line with each entry's time left."""
        return {"holder": self.holder, "priority": self.holder_priority,
                "emergency": self.holder_emergency, "emergency_by": self.emergency_by,
                "emergency_id": self.emergency_id,
                "arrivals": self._arrivals,
                "queue": [[e.uid, e.priority, e.emergency, e.arrival,
                           max(0.0, e.expires_at - now)] for e in self._queue]}

    def restore(self, data: dict[str, Any], now: float) -> None:
        """Take the state :meth:`snapshot` wrote (on another node, at another time)."""
        self.holder = str(data.get("holder", ""))
        self.holder_priority = clamp_priority(data.get("priority", MIN_PRIORITY))
        self.holder_emergency = bool(data.get("emergency", False))
        self.emergency_by = str(data.get("emergency_by", ""))
        self.emergency_id = str(data.get("emergency_id", "")) if self.emergency_by else ""
        self._arrivals = int(data.get("arrivals", 0))
        self._queue = [_Entry(str(uid), clamp_priority(priority), bool(emergency),
                              int(arrival), now + float(left))
                       for uid, priority, emergency, arrival, left in data.get("queue", ())]

    # ---- timers ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When the next queued request expires, or None."""
        return min((entry.expires_at for entry in self._queue), default=None)

    def handle_timer(self, now: float) -> FloorOutcome:
        """Drop every queued request past its ``queue_timeout``."""
        return self.expire(self.expired(now))

    def expired(self, now: float) -> list[str]:
        """The queued askers past their ``queue_timeout``, in line order."""
        return [entry.uid for entry in self._queue if entry.expires_at <= now]

    def expire(self, uids: Collection[str]) -> FloorOutcome:
        """Drop the queued requests of ``uids`` as expired (several nodes: the node that
        judged them past their timeout said so through the shared log)."""
        before = self._positions()
        change = _Change()
        kept = []
        for entry in self._queue:
            if entry.uid in uids:
                change.dropped.append((entry.uid, QueueExit.TIMEOUT))
            else:
                kept.append(entry)
        self._queue = kept
        return self._outcome(change, before)

    # ---- internals ---------------------------------------------------------------------------

    def _take(self, uid: str, priority: int, emergency: bool, change: _Change) -> None:
        self.holder, self.holder_priority, self.holder_emergency = uid, priority, emergency
        change.granted = uid

    def _grant_head(self, change: _Change) -> None:
        if self._queue:
            head = self._queue.pop(0)
            self._take(head.uid, head.priority, head.emergency, change)
            change.from_queue = True

    def _insert(self, entry: _Entry) -> None:
        index = 0
        while index < len(self._queue) and self._queue[index].rank() < entry.rank():
            index += 1
        self._queue.insert(index, entry)

    def _remove(self, uid: str) -> _Entry | None:
        for index, entry in enumerate(self._queue):
            if entry.uid == uid:
                return self._queue.pop(index)
        return None

    def _positions(self) -> dict[str, int]:
        return {entry.uid: index + 1 for index, entry in enumerate(self._queue)}

    def _outcome(self, change: _Change, before: dict[str, int],
                 answer: FloorAnswer | None = None, *, position: int = 0,
                 busy_holder: str = "", asker: str = "") -> FloorOutcome:
        moved = tuple((uid, place) for uid, place in self._positions().items()
                      if uid != asker and before.get(uid) != place)
        return FloorOutcome(
            holder=self.holder, answer=answer, position=position, busy_holder=busy_holder,
            granted=change.granted, granted_from_queue=change.from_queue,
            ended=change.ended, ended_reason=change.ended_reason,
            preempted_by=change.preempted_by, positions=moved,
            dropped=tuple(change.dropped), emergency=change.emergency)
