"""The floor rules of :class:`~app.server.state.ServerState`: ``speak`` and
``emergency`` requests, and the messages every floor change sends
(docs/protocol-extensions.md, extensions floor-queue, priority and emergency).

A mixin, so that the state's floor paths live apart from sessions and
membership: it relies on the attributes and helpers declared below, which
:class:`~app.server.state.ServerState` provides. A session that negotiated none
of the three extensions gets exactly PROTOCOL.md §3.2 (6).
"""

from __future__ import annotations

import heapq
from collections import deque

from app.protocol.errors import ErrCode
from app.protocol.features import EMERGENCY, FLOOR_QUEUE, PRIORITY
from app.protocol.ids import InterphoneId
from app.protocol.messages import EmergencyAction, EmergencyState, SpeakResult
from app.server.floor import EndReason, FloorAnswer, FloorError, FloorOutcome
from app.server.floor_notify import (
    emergency_body,
    emergency_notices,
    notices_after_change,
    notices_before_change,
)
from app.server.outbox import Outbox, Refused, Result
from app.server.records import Interphone
from app.server.state_base import StateBase

FLAG_FEATURES = {"queue": FLOOR_QUEUE, "emergency": EMERGENCY}
"""The extension that gives each ``speak`` flag its meaning."""


def check_speak_flags(features: frozenset[str],
                      bad_flags: tuple[tuple[str, str, int], ...]) -> None:
    """400 for a ``speak`` flag with a value other than '0'/'1' (413 for an over-long
    one), but only from a session granted the flag's extension: for any other the
    attribute is unknown, and the base contract ignores what it does not know
    (PROTOCOL.md section 6)."""
    for name, errmsg, errcode in bad_flags:
        if FLAG_FEATURES[name] in features:
            raise Refused(errcode, errmsg)


EMERGENCY_LOG_LIMIT = 256
"""Emergency records kept per interphone (docs/protocol-extensions.md, emergency)."""

EMERGENCY_LOG_INTERPHONES = 1024
"""Interphones whose emergency records are kept at most: beyond, those of the one
recorded least recently go. Without it a user raising an emergency in ever new chats
(open mode: with any uid) grew the records without end, as they outlive the interphone."""


class FloorRules(StateBase):
    """``speak``, ``emergency`` and the effects of a floor change (mixed into the state)."""

    def speak(self, sid: int, interphone: InterphoneId, on: bool, now: float, *,
              queue: bool = False, emergency: bool = False) -> Result:
        """``speak on``/``off``. ``queue`` and ``emergency`` count only for a session that
        negotiated ``floor-queue`` / ``emergency``; its level only with ``priority``."""
        session = self.session(sid)
        record = self.member_record(sid, session, interphone)
        self.now = now
        outbox = Outbox()
        floor, uid, features = record.floor, session.uid, session.features
        if not on:
            self._floor_changed(record, floor.release(uid, now), outbox, why="off")
            return Result(SpeakResult(on, interphone), outbox)
        holding = floor.holder == uid
        outcome = floor.request(
            uid, now,
            priority=self.directory.priority_of(uid) if PRIORITY in features else 0,
            queue_ok=queue and FLOOR_QUEUE in features,
            emergency=emergency and EMERGENCY in features)
        if outcome.answer in (FloorAnswer.BUSY, FloorAnswer.QUEUE_FULL):
            # (neither raises an emergency nor moves the line: nothing else to send)
            raise Refused(ErrCode.FLOOR_BUSY, f"{outcome.busy_holder} is speaking",
                          holder=outcome.busy_holder,
                          reason="queue_full" if outcome.answer is FloorAnswer.QUEUE_FULL
                          else "")
        grant = self._floor_changed(record, outcome, outbox)
        if outcome.answer is FloorAnswer.QUEUED:
            outbox.log(f"floor queue uid={uid} interphone={interphone} "
                       f"position={outcome.position}")
            return Result(SpeakResult(on, interphone, queued=True, position=outcome.position),
                          outbox)
        if holding and session.media is not None:
            self.media_released(record)  # a re-grant: seq restarts under a new number
            grant = self.media_grant(record)
        return Result(SpeakResult(on, interphone, grant=grant), outbox)

    def emergency(self, sid: int, action: EmergencyAction, interphone: InterphoneId,
                  now: float) -> Result:
        """``<emergency type='raise|cancel'>`` (extension ``emergency``)."""
        session = self.session(sid)
        if EMERGENCY not in session.features:
            raise Refused(ErrCode.BAD_REQUEST, "unknown request <emergency>")
        record = self.member_record(sid, session, interphone)
        self.now = now
        floor = record.floor
        try:
            if action is EmergencyAction.RAISE:
                outcome = floor.raise_emergency(session.uid, now)
            else:
                outcome = floor.cancel_emergency(
                    session.uid, self.directory.priority_of(session.uid), now)
        except FloorError as exc:
            raise Refused(ErrCode(exc.errcode), str(exc)) from None
        outbox = Outbox()
        self._floor_changed(record, outcome, outbox)
        if outcome.emergency is not None:
            reply = emergency_body(interphone, outcome.emergency)
        else:  # a second raise: changes nothing, names the raiser
            reply = EmergencyState(EmergencyAction.RAISE, interphone, floor.emergency_by,
                                   emergency_id=floor.emergency_id)
        return Result(reply, outbox)

    def _record_emergency(self, record: Interphone, outcome: FloorOutcome,
                          outbox: Outbox) -> None:
        event = outcome.emergency
        if event is None:
            return
        log_ = self.emergency_log.pop(record.id, None)
        if log_ is None:
            log_ = deque(maxlen=EMERGENCY_LOG_LIMIT)
            while len(self.emergency_log) >= EMERGENCY_LOG_INTERPHONES:
                del self.emergency_log[next(iter(self.emergency_log))]
        self.emergency_log[record.id] = log_  # (the one recorded most recently last)
        log_.append(event)
        outbox.log(f"emergency {event.action} interphone={record.id} "
                   f"raised_by={event.raised_by} by={event.by} emergency_id={event.id}")

    def _floor_changed(self, record: Interphone, outcome: FloorOutcome, outbox: Outbox, *,
                       notify: bool = False, why: str = "", removed: int | None = None) -> int:
        """Carry out what a floor operation changed, in the order of
        docs/protocol-extensions.md (after the response): emergency notices, ``revoked``,
        ``granted``, the change notification (5, also sent when ``notify``), ``left``,
        ``queued``. Keeps ``record.holder``, the grant timers and the media-auth grant
        number in step with the floor; returns the media-auth grant number of a new holder
        (0: no new holder, or one without media-auth). A ``granted`` notice carries it.
        ``removed``: a session the server just took out of ``record``, also told by the
        change notification (:meth:`_notify`)."""
        members = {uid: (sid, self.sessions[sid].features)
                   for uid, sid in record.members.items() if sid in self.sessions}
        ended = outcome.ended
        if ended and outcome.ended_reason is not EndReason.LEFT:
            reason = (why if outcome.ended_reason is EndReason.RELEASED
                      else "max_talk" if outcome.ended_reason is EndReason.TIME_LIMIT
                      else str(outcome.ended_reason))
            by = f" by={outcome.preempted_by}" if outcome.preempted_by else ""
            outbox.log(f"floor {'release' if reason == 'off' else 'revoke'} uid={ended} "
                       f"interphone={record.id} reason={reason}{by}")
        self._record_emergency(record, outcome, outbox)
        for sid, message in emergency_notices(record.id, outcome, members):
            outbox.send(sid, message)
        if outcome.ended or outcome.granted:
            self.media_released(record)  # every release and revocation ends the grant
        grant = 0
        if outcome.granted:
            granted_sid = record.members.get(outcome.granted)
            granted = self.sessions.get(granted_sid) if granted_sid is not None else None
            if granted is not None and granted.media is not None:
                grant = self.media_grant(record)
        for sid, message in self.told_in_line(record, notices_before_change(
                record.id, outcome, members, grant=grant)):
            outbox.send(sid, message)
        told = self.told_alone(record, outcome)  # (this node's sessions: the store was away)
        if record.holder and outcome.holder != record.holder and self.on_release is not None:
            self.on_release(record, record.holder)  # (the relay keeps its earlier audio)
        shown_before = record.holder
        record.holder = self.shown_holder(record, outcome)
        # nobody shown speaking before nor after (a grant this node let go on its own): its
        # sessions saw no change of speaker
        told = told or (not shown_before and not record.holder and outcome.emergency is None)
        if outcome.granted:
            if record.holder:  # (not a grant from the line to a request withdrawn here alone)
                self._grant(record, outcome.granted, self.now or 0.0)
            outbox.log(f"floor grant uid={outcome.granted} interphone={record.id}"
                       + (" from=queue" if outcome.granted_from_queue else ""))
        if notify or (outcome.holder_changed and not told):
            self._notify(record.id, outbox, removed=removed)
        for sid, message in self.told_in_line(record, notices_after_change(
                record.id, outcome, members), after=True):
            outbox.send(sid, message)
        for uid, why_left in outcome.dropped:
            outbox.log(f"floor queue left uid={uid} interphone={record.id} reason={why_left}")
        deadline = record.floor.next_deadline()
        if deadline is not None:
            heapq.heappush(self._queue_timers, (deadline, str(record.id)))
        return grant

    def expire_queued(self, record: Interphone, uids: list[str], outbox: Outbox) -> None:
        """The queued requests of ``uids`` expired (several nodes: as the shared log says)."""
        self._floor_changed(record, record.floor.expire(uids), outbox)

    def shut_down(self) -> Outbox:
        """The server is stopping: every holder that negotiated a floor extension is told
        its grant ends (``revoked``, reason ``shutdown``). Nothing else changes: base
        sessions learn it from the connection closing, as before."""
        outbox = Outbox()
        for record in self.interphones.values():
            if not record.holder:
                continue
            members = {uid: (sid, self.sessions[sid].features)
                       for uid, sid in record.members.items() if sid in self.sessions}
            notice = FloorOutcome(holder="", ended=record.holder,
                                  ended_reason=EndReason.SHUTDOWN)
            for sid, message in notices_before_change(record.id, notice, members):
                outbox.send(sid, message)
        return outbox
