"""A floor released while this node cannot reach its shared store (several nodes).

Every other change waits for the store (docs/protocol-extensions.md, 1.8), but a walkie-talkie
whose talker let go must fall silent: a ``speak off`` of the holder (and the end of its
connection) is carried out by this node on its own. It answers as for any release, tells its
own sessions the floor is free (change notification 5), stops relaying the talker's audio
(``record.holder`` is emptied, the relay and the media gate read it) and hands the release to
the log, appended when the store is back (:meth:`~app.server.store.SharedLog.released_alone`;
a lost connection's ``logout`` already waits so). Every node then applies it, in the log's
order, as a release of the holder: the floor frees everywhere (or goes to the head of the
line), the other nodes' sessions are told; this node's were told already, and are not told
again unless something else changed (a grant from the line, a member gone).

Until then the shared floor (``record.floor``) still names the talker, on this node too:
nothing is granted without the store (a request for the floor is refused as before), and a
log entry another node appended meanwhile is applied exactly as everywhere else.
:attr:`released_here` keeps what this node shows instead, so that an entry applied before
the release comes back (a node cut off alone: the others went on) does not show the talker
again (:meth:`shown_holder`). A request waiting in line whose ``speak off`` this node
answered alone keeps its place until the log has it (:attr:`withdrawn_here`): its session,
told it no longer waits, is not told of moves in that line meanwhile
(:meth:`told_in_line`), and should the log grant it the floor from the line before it has
the withdrawal, this node lets that grant go at once as above (the withdrawal ends it).
There is no lease in the store to run out: the floor frees when the log says so.

A mixin over :class:`~app.server.state_base.StateBase`.
"""

from __future__ import annotations

import logging

from app.protocol.ids import InterphoneId
from app.protocol.messages import FloorNotice, FloorNoticeType, Message, SpeakResult
from app.server.floor import FloorOutcome
from app.server.outbox import Outbox, Result
from app.server.records import Interphone
from app.server.state_base import StateBase

log = logging.getLogger(__name__)

UNTOLD_WITHDRAWN = (FloorNoticeType.QUEUED, FloorNoticeType.LEFT, FloorNoticeType.GRANTED)
"""What a session whose request in line its node withdrew alone is not told of that line."""

UNTOLD = "(store unreachable: the other nodes learn it when it is back)"


class LoneRelease(StateBase):
    """Floors released by this node on its own while its store is out of reach."""

    def release_alone(self, sid: int, interphone: InterphoneId, now: float) -> Result:
        """``speak off`` while the store is unreachable: answered as a release is (403 for a
        non-member, as always). The holder lets go at once; a request waiting in line leaves
        it when the log has the release (nothing here changes meanwhile); anyone else:
        harmless, as always."""
        session = self.session(sid)
        record = self.member_record(sid, session, interphone)
        self.now = now
        outbox = Outbox()
        uid = session.uid
        holding = record.holder == uid and record.floor.holder == uid
        if holding:
            self.let_go(record, uid, "off", outbox)
        elif record.floor.position_of(uid):
            self.withdrawn_here.setdefault(record.id, set()).add(uid)
        if (holding or record.floor.position_of(uid)) and self.shared is not None:
            self.shared.released_alone(sid, interphone)
        return Result(SpeakResult(False, interphone), outbox)

    def session_lost_alone(self, sid: int) -> Outbox:
        """The connection of ``sid`` ended while the store is unreachable: the floors it
        holds are let go here at once (its ``logout`` waits for the store and frees them
        everywhere)."""
        outbox = Outbox()
        session = self.sessions.get(sid)
        if session is None:
            return outbox
        for interphone in session.joined:
            record = self.interphones.get(interphone)
            if (record is not None and record.holder == session.uid
                    and record.floor.holder == session.uid):
                self.let_go(record, session.uid, "session end", outbox)
        return outbox

    def told_in_line(self, record: Interphone, notices: list[tuple[int, Message]], *,
                     after: bool = False) -> list[tuple[int, Message]]:
        """The floor-queue notices of ``record`` less those (``queued``, ``left``,
        ``granted``) to a session whose ``speak off`` this node answered alone while it
        waited in line: it was told it no longer waits, and leaves the line (or the grant
        the line gave it meanwhile, :meth:`shown_holder`) when the log has its request.
        ``after`` the change (steps 6 and 7): sessions that no longer wait are forgotten."""
        withdrawn = self.withdrawn_here.get(record.id)
        if not withdrawn:
            return notices
        sids = {record.members.get(uid) for uid in withdrawn}
        told = [(sid, message) for sid, message in notices
                if sid not in sids or not isinstance(message.body, FloorNotice)
                or message.body.type not in UNTOLD_WITHDRAWN]
        if after:
            withdrawn.intersection_update(record.floor.queue)
            if not withdrawn:
                del self.withdrawn_here[record.id]
        return told

    def let_go(self, record: Interphone, uid: str, why: str, outbox: Outbox) -> None:
        """``uid`` no longer speaks in ``record`` as far as this node shows and relays."""
        self.released_here[record.id] = uid
        if self.on_release is not None:
            self.on_release(record, uid)  # (the relay keeps its earlier audio)
        self.media_released(record)
        record.holder = ""
        outbox.log(f"floor release uid={uid} interphone={record.id} reason={why} {UNTOLD}")
        self._notify(record.id, outbox)

    def told_alone(self, record: Interphone, outcome: FloorOutcome) -> bool:
        """``outcome`` (applied from the log) is the end of a grant this node let go on its
        own with nobody granted: its sessions were told already."""
        return bool(outcome.ended) and not outcome.granted and not record.holder \
            and self.released_here.get(record.id) == outcome.ended

    def shown_holder(self, record: Interphone, outcome: FloorOutcome) -> str:
        """Who this node shows and relays as the holder after ``outcome``: nobody while the
        floor is still the grant it let go on its own; the mark goes once the log ended it
        (or granted it again). A grant from the line to a request this node withdrew on its
        own is let go so at once."""
        if outcome.granted and outcome.granted in self.withdrawn_here.get(record.id, ()):
            self.released_here[record.id] = outcome.granted  # (its withdrawal will end it)
            log.debug("floor of %s: granted from the line to %s, who left it here", record.id,
                      outcome.granted)
            return ""
        released = self.released_here.get(record.id)
        if released is None:
            return outcome.holder
        if outcome.holder == released and outcome.granted != released:
            return ""
        del self.released_here[record.id]
        log.debug("floor of %s: the log caught up with the release of %s", record.id, released)
        return outcome.holder
