"""The rules of the server, without I/O and without a clock (``now`` is passed in).

Sessions, interphones and their members, sync subscriptions, floor control and
the UDP addresses registered per (interphone, uid). Every operation returns a
:class:`~app.server.outbox.Result` (the response body and an
:class:`~app.server.outbox.Outbox` of notifications) or raises
:class:`~app.server.outbox.Refused`; nothing here writes to a socket.

Timers follow aioquic: :meth:`ServerState.next_deadline` says when to call
:meth:`ServerState.handle_timer`, which revokes expired floor grants.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from app.protocol.errors import ErrCode, ProtocolError
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.limits import MAX_MEMBERS
from app.protocol.messages import (
    InterphoneChanged,
    InterphoneInfo,
    JoinResult,
    Kicked,
    LoginResult,
    MembersResult,
    Message,
    QuitResult,
    SpeakResult,
    SyncResult,
)
from app.server.directory import Directory
from app.server.outbox import Outbox, Refused, Result
from app.server.settings import ServerSettings

Address = tuple  # what asyncio gives as a datagram's source: (host, port[, flow, scope])

MEMBER_LIST_LIMIT = 64
"""Notifications to members list them only up to this many (then count-only)."""


def normalize_ip(host: str) -> str:
    """``::ffff:1.2.3.4`` and ``1.2.3.4`` are the same peer."""
    return host[7:] if host.startswith("::ffff:") and "." in host else host


@dataclass(slots=True, eq=False)
class Session:
    sid: int
    uid: str
    peer_ip: str
    subscriptions: dict[InterphoneId, None] = field(default_factory=dict)
    joined: dict[InterphoneId, None] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Interphone:
    """An active interphone: its members (join order), floor and media registrations.

    The relay reads ``holder``, ``addrs``, ``granted_at`` and ``last_audio_at``
    directly on its hot path (and writes ``last_audio_at``); it fans out through
    :meth:`fanout`, so ``addrs`` is changed only by :meth:`set_addr` / :meth:`drop_addr`.
    """

    id: InterphoneId
    members: dict[str, int] = field(default_factory=dict)  # uid -> session id
    addrs: dict[str, Address] = field(default_factory=dict)  # uid -> registered UDP address
    holder: str = ""
    granted_at: float = 0.0
    last_audio_at: float = 0.0
    grant_no: int = 0
    fanout_for: str = ""
    fanout_targets: tuple[Address, ...] | None = None
    """The relay's cached fan-out: every registered address but ``fanout_for``'s, in
    registration order; None when stale (set by :meth:`fanout`, cleared by
    :meth:`set_addr` and :meth:`drop_addr`)."""

    def set_addr(self, uid: str, address: Address) -> None:
        self.addrs[uid] = address
        self.fanout_targets = None

    def drop_addr(self, uid: str) -> None:
        if self.addrs.pop(uid, None) is not None:
            self.fanout_targets = None

    def fanout(self, speaker: str) -> tuple[Address, ...]:
        """Where ``speaker``'s audio goes: every registered address except its own."""
        targets = self.fanout_targets
        if targets is None or self.fanout_for != speaker:
            targets = tuple(addr for uid, addr in self.addrs.items() if uid != speaker)
            self.fanout_for, self.fanout_targets = speaker, targets
        return targets

    def floor_deadline(self, settings: ServerSettings) -> float:
        return min(self.granted_at + settings.max_talk,
                   self.last_audio_at + settings.silence_timeout)


class ServerState:
    def __init__(self, directory: Directory, settings: ServerSettings | None = None,
                 udp_port: int = 0) -> None:
        self.directory = directory
        self.settings = settings or directory.settings
        self.udp_port = udp_port
        self.sessions: dict[int, Session] = {}
        self.by_uid: dict[str, int] = {}
        self.interphones: dict[InterphoneId, Interphone] = {}
        self.routes: dict[str, Interphone] = {}  # str(id) -> interphone, for the relay
        self.watchers: dict[InterphoneId, dict[int, None]] = {}
        self.chats_of: dict[str, dict[InterphoneId, None]] = {}
        self._timers: list[tuple[float, int, str]] = []
        self._grants = 0

    # ---- storage -----------------------------------------------------------------------------

    def session(self, sid: int) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            raise Refused(ErrCode.UNAUTHORIZED, "not logged in")
        return session

    def interphone(self, interphone: InterphoneId) -> Interphone | None:
        return self.interphones.get(interphone)

    def _start(self, interphone: InterphoneId) -> Interphone:
        record = Interphone(interphone)
        self.interphones[interphone] = record
        self.routes[str(interphone)] = record
        if interphone.kind is AttachType.CHAT:
            for party in interphone.parties:
                self.chats_of.setdefault(party, {})[interphone] = None
        return record

    def _end(self, record: Interphone) -> None:
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

    def _unwatch(self, sid: int, interphone: InterphoneId) -> None:
        watchers = self.watchers.get(interphone)
        if watchers is not None:
            watchers.pop(sid, None)
            if not watchers:
                del self.watchers[interphone]

    # ---- views -------------------------------------------------------------------------------

    def info(self, interphone: InterphoneId, receiver: str, *,
             with_members: bool) -> InterphoneInfo:
        record = self.interphones.get(interphone)
        if record is None:
            return InterphoneInfo.of(interphone, receiver, (), "", with_members=with_members)
        return InterphoneInfo.of(interphone, receiver, tuple(record.members), record.holder,
                                 with_members=with_members)

    def _may_see(self, uid: str, interphone: InterphoneId) -> bool:
        return self.directory.may_see(uid, interphone, self.settings.auth)

    def _require_visible(self, session: Session, interphone: InterphoneId) -> None:
        if not self._may_see(session.uid, interphone):
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} may not use {interphone}")

    @staticmethod
    def _require_self(session: Session, member: str | None) -> None:
        if member is not None and member != session.uid:
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} cannot act for {member}")

    # ---- MID_SESSION ---------------------------------------------------------------------------

    def login(self, sid: int, uid: str, token: str, peer_ip: str) -> Result:
        """Log ``sid`` in as ``uid``; an older session of ``uid`` is kicked and ended first."""
        current = self.sessions.get(sid)
        if current is not None and current.uid != uid:
            raise Refused(ErrCode.FORBIDDEN, f"already logged in as {current.uid}")
        if not self.directory.may_log_in(uid, token, self.settings.auth):
            raise Refused(ErrCode.UNAUTHORIZED, "login refused")
        outbox = Outbox()
        if current is None:
            older = self.by_uid.get(uid)
            if older is not None:
                outbox.send(older, Message.notification(Kicked("login_elsewhere")))
                outbox.log(f"kick uid={uid} session={older} reason=login_elsewhere")
                self._end_session(older, outbox)
                outbox.close(older)
            self.sessions[sid] = Session(sid, uid, normalize_ip(peer_ip))
            self.by_uid[uid] = sid
            outbox.log(f"login uid={uid} session={sid} peer={peer_ip}")
        reply = LoginResult(
            uid=uid,
            udp_port=self.udp_port,
            keepalive=self.settings.advertised_keepalive,
            max_talk=self.settings.advertised_max_talk,
            roster=self.directory.roster(uid, self.settings.auth),
        )
        return Result(reply, outbox)

    def logout(self, sid: int) -> Outbox:
        """The session ended (disconnect, timeout, close): leave everything. Idempotent."""
        outbox = Outbox()
        session = self.sessions.get(sid)
        if session is not None:
            self._end_session(sid, outbox)
            outbox.log(f"logout uid={session.uid} session={sid}")
        return outbox

    def _end_session(self, sid: int, outbox: Outbox) -> None:
        # Stop watching first, so the ending session is told nothing about its own exit.
        session = self.sessions[sid]
        for interphone in session.subscriptions:
            self._unwatch(sid, interphone)
        session.subscriptions = {}
        if self.by_uid.get(session.uid) == sid:
            del self.by_uid[session.uid]
        for interphone in list(session.joined):
            self._leave(session, self.interphones[interphone], outbox, "session end")
        del self.sessions[sid]

    # ---- MID_INTERPHONE ------------------------------------------------------------------------

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

    def join(self, sid: int, interphone: InterphoneId, member: str | None = None) -> Result:
        session = self.session(sid)
        self._require_self(session, member)
        self._require_visible(session, interphone)
        outbox = Outbox()
        record = self.interphones.get(interphone)
        if record is None or session.uid not in record.members:
            if record is not None and len(record.members) >= MAX_MEMBERS:
                raise Refused(ErrCode.TOO_LARGE, f"{interphone} has {MAX_MEMBERS} members")
            if record is None:
                record = self._start(interphone)
            record.members[session.uid] = sid
            session.joined[interphone] = None
            outbox.log(f"join uid={session.uid} interphone={interphone} "
                       f"members={len(record.members)}")
            self._notify(record.id, outbox)
        return Result(JoinResult(self.info(interphone, session.uid, with_members=True)), outbox)

    def quit(self, sid: int, interphone: InterphoneId, member: str | None = None) -> Result:
        session = self.session(sid)
        self._require_self(session, member)
        record = self.interphones.get(interphone)
        if record is None or record.members.get(session.uid) != sid:
            raise Refused(ErrCode.NOT_FOUND, f"{session.uid} is not in {interphone}")
        outbox = Outbox()
        self._leave(session, record, outbox, "quit")
        return Result(QuitResult(self.info(interphone, session.uid, with_members=False)), outbox)

    def _leave(self, session: Session, record: Interphone, outbox: Outbox, why: str) -> None:
        uid = session.uid
        del record.members[uid]
        record.drop_addr(uid)
        session.joined.pop(record.id, None)
        outbox.log(f"quit uid={uid} interphone={record.id} members={len(record.members)} "
                   f"reason={why}")
        if record.holder == uid:
            record.holder = ""
            outbox.log(f"floor release uid={uid} interphone={record.id} reason={why}")
        if not record.members:
            self._end(record)
        self._notify(record.id, outbox)

    def speak(self, sid: int, interphone: InterphoneId, on: bool, now: float) -> Result:
        session = self.session(sid)
        record = self.interphones.get(interphone)
        if record is None or record.members.get(session.uid) != sid:
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} is not a member of {interphone}")
        outbox = Outbox()
        if on and record.holder != session.uid:
            if record.holder:
                raise Refused(ErrCode.FLOOR_BUSY, f"{record.holder} is speaking")
            self._grant(record, session.uid, now)
            outbox.log(f"floor grant uid={session.uid} interphone={interphone}")
            self._notify(interphone, outbox)
        elif not on and record.holder == session.uid:
            record.holder = ""
            outbox.log(f"floor release uid={session.uid} interphone={interphone} reason=off")
            self._notify(interphone, outbox)
        return Result(SpeakResult(on, interphone), outbox)

    # ---- floor timers --------------------------------------------------------------------------

    def _grant(self, record: Interphone, uid: str, now: float) -> None:
        self._grants += 1
        record.holder = uid
        record.granted_at = record.last_audio_at = now
        record.grant_no = self._grants
        heapq.heappush(self._timers,
                       (record.floor_deadline(self.settings), self._grants, str(record.id)))

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should run next (may be early: that is harmless)."""
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float) -> Outbox:
        """Revoke every grant past ``max_talk`` or ``silence_timeout``."""
        outbox = Outbox()
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, grant_no, key = heapq.heappop(timers)
            record = self.routes.get(key)
            if record is None or record.grant_no != grant_no or not record.holder:
                continue
            deadline = record.floor_deadline(self.settings)
            if deadline > now:
                heapq.heappush(timers, (deadline, grant_no, key))
                continue
            too_long = now >= record.granted_at + self.settings.max_talk
            outbox.log(f"floor revoke uid={record.holder} interphone={record.id} "
                       f"reason={'max_talk' if too_long else 'silence'}")
            record.holder = ""
            self._notify(record.id, outbox)
        return outbox

    # ---- media ---------------------------------------------------------------------------------

    def register_media(self, interphone_text: str, uid: str, address: Address) -> bool:
        """recvbegin: register ``address`` for (interphone, uid) if the rules allow it."""
        record = self.routes.get(interphone_text)
        if record is None:
            try:
                record = self.interphones.get(InterphoneId.parse(interphone_text))
            except ProtocolError:
                return False
            if record is None:
                return False
        sid = record.members.get(uid)
        if sid is None or self.by_uid.get(uid) != sid:
            return False
        if self.sessions[sid].peer_ip != normalize_ip(str(address[0])):
            return False
        record.set_addr(uid, address)
        return True

    # ---- notifications -------------------------------------------------------------------------

    def _notify(self, interphone: InterphoneId, outbox: Outbox) -> None:
        """Tell every member, watcher and chat party, each once, the new state."""
        record = self.interphones.get(interphone)
        members: tuple[str, ...] = tuple(record.members) if record else ()
        speaker = record.holder if record else ""
        recipients: dict[int, bool] = {}
        if record is not None:
            for sid in record.members.values():
                recipients[sid] = True
        for sid in self.watchers.get(interphone, ()):
            recipients.setdefault(sid, False)
        if interphone.kind is AttachType.CHAT:
            for party in interphone.parties:
                sid = self.by_uid.get(party)
                if sid is not None:
                    recipients.setdefault(sid, False)
        listed = len(members) <= MEMBER_LIST_LIMIT
        views: dict[tuple[bool, str], Message] = {}
        for sid, is_member in recipients.items():
            attach_id = interphone.attach_id_for(self.sessions[sid].uid)
            view = (is_member and listed, attach_id)
            message = views.get(view)
            if message is None:
                info = InterphoneInfo(interphone, attach_id, len(members), speaker,
                                      members if view[0] else None)
                message = views[view] = Message.notification(InterphoneChanged(info))
            outbox.send(sid, message)
