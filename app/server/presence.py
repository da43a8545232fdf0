"""The server side of the ``presence`` extension: contacts' status and ringing calls.

Sans-IO like :class:`~app.server.state.ServerState`, which owns one
:class:`PresenceRules` and calls it at a few points: a session started or
ended, a member joined or left a chat, a ``<presence>``/``<call>`` request,
and its timers (:meth:`PresenceRules.next_deadline` / :meth:`handle_timer`).
Every message it sends goes only to sessions granted ``presence``; a base
session never sees one. The rules are specified in docs/protocol-extensions.md
("Extension: presence").
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.protocol.errors import ErrCode
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.limits import MAX_FRAME, MAX_SEQ_LEN
from app.protocol.messages import Message
from app.protocol.presence import (
    PRESENCE,
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    CallResult,
    ContactPresence,
    PresenceChanged,
    PresenceSyncResult,
    RingState,
)
from app.protocol.xmlcodec.presence import contact_size
from app.server.frame_fit import fitting_entries
from app.server.outbox import Outbox, Refused, Result
from app.server.records import Session

if TYPE_CHECKING:
    from app.server.state import ServerState

SYNC_ENVELOPE = 256
"""Bytes of a presence sync answer around its entries, at most (a seq of 64 included)."""
SYNC_ENTRY = 40
"""Bytes of one ``<contact id="" status="offline"/>`` beside its uid, at most (33)."""
RING_TIMEOUT = 30.0
"""Seconds a call rings before the caller is told ``no_answer``."""


@dataclass(slots=True)
class Ring:
    """A ringing call: ``caller`` is in the chat and waits for ``callee`` to join."""

    chat: InterphoneId
    caller: str
    callee: str
    deadline: float
    number: int


class PresenceRules:
    """Who watches whose status, and the calls that ring (at most one per chat)."""

    def __init__(self, state: ServerState, ring_timeout: float = RING_TIMEOUT) -> None:
        self._state = state
        self.ring_timeout = ring_timeout
        self.contacts_of: dict[int, frozenset[str]] = {}  # sid granted presence -> contacts
        self.rings: dict[InterphoneId, Ring] = {}
        self._timers: list[tuple[float, int, InterphoneId]] = []
        self._rings_started = 0
        self._removed_online: set[str] = set()
        """Users a reload removed whose sessions had not ended: their contacts' sessions
        watch them until they end (:meth:`roster_reloaded`)."""
        self._entries: dict[str, tuple[ContactPresence, ContactPresence]] = {}
        """Each contact's two entries of a sync's answer (offline, online), made once: every
        sync of a thousand contacts made a thousand, and the codec looked each one's XML
        up by value (~2.5 ms a sync; every client asks one after a reload's roster
        notice). Removed users' stay: two small objects each."""

    # ---- sessions ------------------------------------------------------------------------------

    def session_started(self, session: Session, *, replaced: bool, outbox: Outbox) -> None:
        """A login made ``session`` (``replaced``: it ended an older one of the same uid,
        so the user was online all along and nobody is told)."""
        if PRESENCE in session.features:
            state = self._state
            self.contacts_of[session.sid] = state.directory.contact_ids(session.uid,
                                                                        state.settings.auth)
        if not replaced:
            self._tell_watchers(session, True, outbox)

    def roster_reloaded(self, session: Session, leaving: Collection[str] = ()) -> None:
        """A directory reload may have changed ``session``'s contacts: its status changes
        follow the roster served now (extension roster's notice replaces the login's).
        ``leaving``: removed users whose sessions are still to end (several nodes: their
        kicks come through the shared log; ``auth = "open"``: nobody is kicked); those that
        were contacts stay watched until then, so that ``session`` is told they went
        offline, as on one server.
        The contacts are the directory's set for the uid (made once per uid; a reload makes
        those of the live sessions in its thread, :meth:`Directory.prepare`): the loop does
        a few set operations per session, not one per contact."""
        contacts = self.contacts_of.get(session.sid)
        if contacts is not None:
            state = self._state
            served = state.directory.contact_ids(session.uid, state.settings.auth)
            kept = contacts.intersection(leaving) if leaving else frozenset()
            self.contacts_of[session.sid] = served | kept if kept else served
            self._removed_online.update(kept)

    def watcher_lost(self, sid: int) -> None:
        """The connection of ``sid`` is lost and its session ends later: it watches nobody
        meanwhile (what it would be told is never sent; a crowd lost at once queued each
        other's ``offline``, ~216k notices for 465 sessions)."""
        self.contacts_of.pop(sid, None)

    def session_ended(self, session: Session, *, replaced: bool, outbox: Outbox) -> None:
        """``session`` ended (``replaced``: by a new login of its uid). Its rings end:
        as caller, the callee's ring stops (``cancelled``); as callee, the caller is
        told ``offline``."""
        self.contacts_of.pop(session.sid, None)
        for ring in [r for r in self.rings.values() if session.uid in (r.caller, r.callee)]:
            self._end(ring)
            if ring.caller == session.uid:
                self._notify(ring.callee, CallNotice(CallNoticeType.ENDED, ring.chat,
                                                     reason="cancelled"), outbox)
            else:
                self._notify(ring.caller, CallNotice(CallNoticeType.OFFLINE, ring.chat), outbox)
        if not replaced:
            self._tell_watchers(session, False, outbox)
            state = self._state
            kept = session.uid in self._removed_online
            self._removed_online.discard(session.uid)
            if ((kept or state.settings.auth == "token")
                    and session.uid not in state.directory.users):
                # a removed user, kept by roster_reloaded until now: watched no more
                for sid, contacts in self.contacts_of.items():
                    if session.uid in contacts:
                        self.contacts_of[sid] = contacts - {session.uid}

    def _tell_watchers(self, session: Session, online: bool, outbox: Outbox) -> None:
        message = Message.notification(PresenceChanged(session.uid, online))
        for sid, contacts in self.contacts_of.items():
            if sid != session.sid and session.uid in contacts:
                outbox.send(sid, message)

    # ---- chats ---------------------------------------------------------------------------------

    def member_joined(self, uid: str, interphone: InterphoneId, now: float,
                      outbox: Outbox) -> None:
        """``uid`` joined ``interphone``. If it was being rung there, the call is answered;
        if it is a chat whose other party is online and not in it, that party rings
        (whoever joined, base session or not: joining a chat is how one calls)."""
        ring = self.rings.get(interphone)
        if ring is not None and ring.callee == uid:
            self._end(ring)
            self._notify(ring.caller, CallNotice(CallNoticeType.ANSWERED, ring.chat), outbox)
            return
        if interphone.kind is not AttachType.CHAT or ring is not None:
            return
        callee = _other_party(interphone, uid)
        record = self._state.interphones.get(interphone)
        if callee is None or record is None or callee in record.members \
                or callee not in self._state.by_uid:
            return
        self._rings_started += 1
        ring = self.rings[interphone] = Ring(interphone, uid, callee, now + self.ring_timeout,
                                             self._rings_started)
        heapq.heappush(self._timers, (ring.deadline, ring.number, interphone))
        self._notify(callee, CallNotice(CallNoticeType.RINGING, interphone, uid,
                                        self._seconds_left(ring, now)), outbox)

    def member_left(self, uid: str, interphone: InterphoneId, outbox: Outbox) -> None:
        """``uid`` quit ``interphone``: a caller quitting stops its ring."""
        ring = self.rings.get(interphone)
        if ring is not None and ring.caller == uid:
            self._end(ring)
            self._notify(ring.callee, CallNotice(CallNoticeType.ENDED, ring.chat,
                                                 reason="cancelled"), outbox)

    # ---- requests ------------------------------------------------------------------------------

    def presence_sync(self, session: Session) -> Result:
        self._require_granted(session, "presence")
        contacts = self.contacts_of.get(session.sid, frozenset())
        state = self._state
        roster = state.directory.roster(session.uid, state.settings.auth)
        entries, online = self._entries, state.by_uid
        listed = tuple((entries.get(e.id) or self._entries_of(e.id))[e.id in online]
                       for e in roster if e.kind == "contact" and e.id in contacts)
        # uids need no escaping: an entry is its uid and 33 bytes at most; cut only when
        # that bound passes a frame, as a roster is (app.server.frame_fit: the sizes of the
        # contacts' kept XML; every client asks again after a reload's roster notice)
        count = len(listed)
        if SYNC_ENVELOPE + sum(len(c.uid) + SYNC_ENTRY for c in listed) > MAX_FRAME:
            count = fitting_entries(lambda entries: Message.response(
                "x" * MAX_SEQ_LEN, PresenceSyncResult(entries), "MID_SESSION"),
                (), listed, contact_size)
        return Result(PresenceSyncResult(listed[:count]))

    def _entries_of(self, uid: str) -> tuple[ContactPresence, ContactPresence]:
        pair = self._entries[uid] = (ContactPresence(uid, False), ContactPresence(uid, True))
        return pair

    def call(self, session: Session, request: CallRequest, now: float) -> Result:
        self._require_granted(session, "call")
        chat = request.id
        if chat.kind is not AttachType.CHAT:
            raise Refused(ErrCode.BAD_REQUEST, f"{chat} is not a chat")
        if not chat.involves(session.uid):
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} is not a party of {chat}")
        if request.action is CallAction.RING:
            return self._ring(session, chat, now)
        ring = self.rings.get(chat)
        outbox = Outbox()
        if request.action is CallAction.DECLINE:
            if ring is None or ring.callee != session.uid:
                raise Refused(ErrCode.NOT_FOUND, f"nothing rings {session.uid} in {chat}")
            self._end(ring)
            self._notify(ring.caller, CallNotice(CallNoticeType.DECLINED, chat), outbox)
        else:
            if ring is None or ring.caller != session.uid:
                raise Refused(ErrCode.NOT_FOUND, f"{session.uid} is not ringing in {chat}")
            self._end(ring)
            self._notify(ring.callee, CallNotice(CallNoticeType.ENDED, chat,
                                                 reason="cancelled"), outbox)
        return Result(CallResult(request.action, chat), outbox)

    def _ring(self, session: Session, chat: InterphoneId, now: float) -> Result:
        """Where the caller's ring stands (the ring itself started with the join)."""
        record = self._state.interphones.get(chat)
        if record is None or record.members.get(session.uid) != session.sid:
            raise Refused(ErrCode.FORBIDDEN, f"join {chat} before ringing")
        callee = _other_party(chat, session.uid)
        ring = self.rings.get(chat)
        if callee is None or callee in record.members:
            return Result(CallResult(CallAction.RING, chat, RingState.ANSWERED))
        if ring is None and callee in self._state.by_uid:
            # Rung before and unanswered (timed out or declined): ring again.
            self.member_joined(session.uid, chat, now, outbox := Outbox())
            ring = self.rings.get(chat)
            if ring is not None:
                return Result(CallResult(CallAction.RING, chat, RingState.RINGING,
                                         self._seconds_left(ring, now)), outbox)
        if ring is None or ring.caller != session.uid:
            return Result(CallResult(CallAction.RING, chat, RingState.OFFLINE))
        return Result(CallResult(CallAction.RING, chat, RingState.RINGING,
                                 self._seconds_left(ring, now)))

    # ---- timers --------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float, outbox: Outbox) -> None:
        """Every ring past its timeout ends: ``no_answer`` to the caller, ``ended`` to the
        callee."""
        while self._timers and self._timers[0][0] <= now:
            _, number, chat = heapq.heappop(self._timers)
            ring = self.rings.get(chat)
            if ring is None or ring.number != number:
                continue
            shared = self._state.shared
            if shared is not None:  # several nodes: it ends on every node through the log
                shared.ring_expired(chat, ring.caller, ring.callee)
                continue
            self.ring_timed_out(chat, ring.caller, ring.callee, outbox)

    def ring_timed_out(self, chat: InterphoneId, caller: str, callee: str,
                       outbox: Outbox) -> None:
        """The call of ``caller`` to ``callee`` in ``chat`` was not answered in time:
        ``no_answer`` to the caller, ``ended`` to the callee (nothing if it no longer
        rings)."""
        ring = self.rings.get(chat)
        if ring is None or (ring.caller, ring.callee) != (caller, callee):
            return
        self._end(ring)
        self._notify(ring.caller, CallNotice(CallNoticeType.NO_ANSWER, chat), outbox)
        self._notify(ring.callee, CallNotice(CallNoticeType.ENDED, chat,
                                             reason="no_answer"), outbox)

    # ---- a shared log's snapshot --------------------------------------------------------------

    def snapshot_rings(self, now: float) -> list[list[object]]:
        """The ringing calls as JSON (chat, caller, callee, seconds left): a node that
        starts later restores them with :meth:`restore_rings`."""
        return [[str(r.chat), r.caller, r.callee, max(0.0, r.deadline - now)]
                for r in self.rings.values()]

    def restore_rings(self, rings: list[list[object]], now: float) -> None:
        for chat_text, caller, callee, left in rings:
            chat = InterphoneId.parse(str(chat_text))
            self._rings_started += 1
            ring = self.rings[chat] = Ring(chat, str(caller), str(callee),
                                           now + float(str(left)), self._rings_started)
            heapq.heappush(self._timers, (ring.deadline, ring.number, chat))

    # ---- internals -----------------------------------------------------------------------------

    def _end(self, ring: Ring) -> None:
        if self.rings.get(ring.chat) is ring:
            del self.rings[ring.chat]
        # The heap entry stays; handle_timer skips it (no ring, or another number).

    def _notify(self, uid: str, notice: CallNotice, outbox: Outbox) -> None:
        """Send ``notice`` to ``uid``'s live session if it was granted presence."""
        sid = self._state.by_uid.get(uid)
        if sid is not None and sid in self.contacts_of:
            outbox.send(sid, Message.notification(notice))

    @staticmethod
    def _seconds_left(ring: Ring, now: float) -> int:
        return max(1, math.ceil(ring.deadline - now))

    @staticmethod
    def _require_granted(session: Session, tag: str) -> None:
        if PRESENCE not in session.features:
            raise Refused(ErrCode.BAD_REQUEST, f"unknown request <{tag}>")


def _other_party(chat: InterphoneId, uid: str) -> str | None:
    """The party of ``chat`` that is not ``uid`` (None for a chat with oneself)."""
    others = [p for p in chat.parties if p != uid]
    return others[0] if others else None
