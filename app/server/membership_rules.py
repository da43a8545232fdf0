"""The membership rules of :class:`~app.server.state.ServerState` (PROTOCOL.md
MID_INTERPHONE): ``sync`` (the subscription set), ``members``, ``join`` and ``quit``, an
interphone starting with its first member and ending with its last.

A mixin over :class:`~app.server.state_base.StateBase`.
"""

from __future__ import annotations

from app.protocol.errors import ErrCode
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.limits import MAX_CHATS, MAX_MEMBERS
from app.protocol.messages import JoinResult, MembersResult, QuitResult, SyncResult
from app.server.floor import Floor
from app.server.outbox import Outbox, Refused, Result
from app.server.records import Interphone, Session
from app.server.state_base import StateBase


class MembershipRules(StateBase):
    """Who watches and who is in each interphone."""

    def sync(self, sid: int, interphones: tuple[InterphoneId, ...]) -> Result:
        session = self.session(sid)
        visible = {i: None for i in interphones if self._may_see(session.uid, i)}
        self._subscribe(sid, visible)
        listed = [i for i in visible if i in self.interphones]
        chats = [c for c in self.chats_of.get(session.uid, {}) if c not in visible]
        infos = tuple(self.info(i, session.uid, with_members=False) for i in listed + chats)
        return Result(SyncResult(infos))

    def members(self, sid: int, interphone: InterphoneId) -> Result:
        session = self.session(sid)
        self._require_visible(session, interphone)
        return Result(MembersResult(self.info(interphone, session.uid, with_members=True)))

    def join(self, sid: int, interphone: InterphoneId, member: str | None = None,
             now: float = 0.0) -> Result:
        session = self.session(sid)
        self._require_self(session, member)
        self._require_visible(session, interphone)
        outbox = Outbox()
        record = self.interphones.get(interphone)
        if record is None or session.uid not in record.members:
            if record is not None and len(record.members) >= MAX_MEMBERS:
                raise Refused(ErrCode.TOO_LARGE, f"{interphone} has {MAX_MEMBERS} members")
            if record is None:
                self._require_chat_room(interphone)
                record = self._start(interphone)
            record.members[session.uid] = sid
            session.joined[interphone] = None
            outbox.log(f"join uid={session.uid} interphone={interphone} "
                       f"members={len(record.members)}")
            self.media_membership_changed(record, outbox, skip=sid)
            self._notify_members(record.id, outbox)
            self.presence.member_joined(session.uid, record.id, now, outbox)
        return Result(JoinResult(self.info(interphone, session.uid, with_members=True),
                                 self.media_key_for(session, interphone)), outbox)

    def quit(self, sid: int, interphone: InterphoneId, member: str | None = None) -> Result:
        session = self.session(sid)
        self._require_self(session, member)
        record = self.interphones.get(interphone)
        if record is None or record.members.get(session.uid) != sid:
            raise Refused(ErrCode.NOT_FOUND, f"{session.uid} is not in {interphone}")
        outbox = Outbox()
        self._leave(session, record, outbox, "quit")
        return Result(QuitResult(self.info(interphone, session.uid, with_members=False)), outbox)

    def remove(self, sid: int, interphone: InterphoneId, why: str) -> Outbox:
        """The server ends the membership of ``sid`` in ``interphone`` (a directory reload
        hides it): as a quit, but nobody asked, so the removed session is told too. It gets
        the change notification (5) that tells the others, with the member list (which no
        longer names it), at once (never coalesced: nothing later would tell it). Nothing
        if ``sid`` is not in ``interphone``."""
        session = self.sessions.get(sid)
        record = self.interphones.get(interphone)
        outbox = Outbox()
        if session is not None and record is not None and record.members.get(session.uid) == sid:
            self._leave(session, record, outbox, why, tell_leaver=True)
        return outbox

    def withdraw_waiting(self, leaving: list[tuple[int, InterphoneId]], outbox: Outbox) -> None:
        """Before a directory reload ends the memberships ``leaving`` (session, interphone)
        one by one: their waiting floor requests leave the lines first, so that a floor one
        of them frees never goes, even for an instant, to another member the same reload
        takes out (docs/protocol-extensions.md 1.6)."""
        by_interphone: dict[InterphoneId, set[str]] = {}
        for sid, interphone in leaving:
            session = self.sessions.get(sid)
            record = self.interphones.get(interphone)
            if session is not None and record is not None \
                    and record.members.get(session.uid) == sid:
                by_interphone.setdefault(interphone, set()).add(session.uid)
        for interphone, uids in by_interphone.items():
            record = self.interphones[interphone]
            if uids.intersection(record.floor.queue):
                self._floor_changed(record, record.floor.withdraw(uids), outbox)

    def _leave(self, session: Session, record: Interphone, outbox: Outbox, why: str, *,
               tell_leaver: bool = False) -> None:
        """``session`` leaves ``record``; the members, watchers and chat parties are told by
        one change notification (5), which also goes to ``session`` if ``tell_leaver``."""
        uid = session.uid
        removed = session.sid if tell_leaver else None
        if record.holder == uid and self.on_release is not None:
            self.on_release(record, uid)
        del record.members[uid]
        record.drop_addr(uid)
        self.media_left(record, uid)
        session.joined.pop(record.id, None)
        outbox.log(f"quit uid={uid} interphone={record.id} members={len(record.members)} "
                   f"reason={why}")
        floor_changed = record.holder == uid
        if floor_changed:
            self.media_released(record)
            outbox.log(f"floor release uid={uid} interphone={record.id} reason={why}")
        self.media_membership_changed(record, outbox)  # (before the change notification)
        now = self.now or 0.0
        if not record.members:
            record.holder = ""
            self._record_emergency(record, record.floor.close(now), outbox)
            self._end(record)
            self._notify(record.id, outbox, removed=removed)
        else:
            outcome = record.floor.leave(uid, now)
            told_by_floor = floor_changed or outcome.holder_changed  # (below)
            if not told_by_floor and removed is not None:
                self._notify(record.id, outbox, removed=removed)
            elif not told_by_floor:
                self._notify_members(record.id, outbox)  # (may be coalesced)
            self._floor_changed(record, outcome, outbox, notify=told_by_floor, removed=removed)
        self.presence.member_left(uid, record.id, outbox)

    def _require_chat_room(self, interphone: InterphoneId) -> None:
        """A chat that would start may not give either party more than ``MAX_CHATS``
        (one caller cannot, but many uids calling one user would make that user's sync
        answer outgrow a frame, and one uid calling ever new ones (open mode) would grow
        the server without end)."""
        if interphone.kind is not AttachType.CHAT:
            return
        for party in interphone.parties:
            if len(self.chats_of.get(party, ())) >= MAX_CHATS:
                raise Refused(ErrCode.TOO_LARGE, f"{party} is in {MAX_CHATS} chats already")

    def _start(self, interphone: InterphoneId) -> Interphone:
        record = Interphone(interphone, floor=Floor(
            self.directory.floor_policy(interphone, self.settings), self.new_emergency_id))
        self.interphones[interphone] = record
        self.routes[str(interphone)] = record
        if interphone.kind is AttachType.CHAT:
            for party in interphone.parties:
                self.chats_of.setdefault(party, {})[interphone] = None
        return record

    def _end(self, record: Interphone) -> None:
        self.feedback.forget(record.id)
        self.released_here.pop(record.id, None)
        self.withdrawn_here.pop(record.id, None)
        del self.interphones[record.id]
        del self.routes[str(record.id)]
        if record.id.kind is AttachType.CHAT:
            for party in record.id.parties:
                chats = self.chats_of.get(party)
                if chats is not None:
                    chats.pop(record.id, None)
                    if not chats:
                        del self.chats_of[party]

    def _subscribe(self, sid: int, interphones: dict[InterphoneId, None]) -> None:
        session = self.sessions[sid]
        for old in session.subscriptions:
            if old not in interphones:
                self._unwatch(sid, old)
        for new in interphones:
            self.watchers.setdefault(new, {})[sid] = None
        session.subscriptions = dict(interphones)

    def stop_watching(self, sid: int, interphone: InterphoneId) -> None:
        """Session ``sid`` no longer watches ``interphone``, as if its last sync had not
        named it: it is told no more of its changes (e.g. one a directory reload hides
        from it). A session not watching it is left as it is. Sans-IO: the tables only,
        nothing is sent."""
        session = self.sessions.get(sid)
        if session is not None:
            session.subscriptions.pop(interphone, None)
        self._unwatch(sid, interphone)

    def _unwatch(self, sid: int, interphone: InterphoneId) -> None:
        watchers = self.watchers.get(interphone)
        if watchers is not None:
            watchers.pop(sid, None)
            if not watchers:
                del self.watchers[interphone]
