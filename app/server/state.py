"""The rules of the server, without I/O and without a clock (``now`` is passed in).

Connections and their per-peer rules (framing, login first, rate limit,
malformed frames, login/idle/stall deadlines), sessions, interphones and their
members, sync subscriptions, floor control and the UDP addresses registered per
(interphone, uid). The socket code feeds bytes in with
:meth:`ServerState.receive_data` and carries out the
:class:`~app.server.outbox.Outbox` it gets back (messages to send, sessions to
close, lines to log); nothing here writes to a socket.

Timers follow aioquic: :meth:`ServerState.next_deadline` says when to call
:meth:`ServerState.handle_timer`, which revokes expired floor grants and
closes peers past a deadline.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from app.protocol.errors import ErrCode
from app.protocol.features import COALESCE, EMERGENCY, KNOWN_FEATURES
from app.protocol.ids import InterphoneId
from app.protocol.media_crypto import FEATURE
from app.protocol.media_keys import InterphoneKeys
from app.protocol.messages import (
    Body,
    EmergencyRequest,
    InterphoneInfo,
    JoinRequest,
    Login,
    LoginResult,
    MembersRequest,
    Message,
    Ping,
    QualityAck,
    QualityReport,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallRequest, PresenceSyncRequest
from app.protocol.replies import refusal
from app.server.addr_limits import ConnectionLimits, RecvBeginBuckets, RefusalLog
from app.server.admission_rules import AdmissionRules
from app.server.coalesce import Coalescer
from app.server.connection_rules import HELD_FRAMES_LIMIT, ConnectionRules
from app.server.directory import Directory
from app.server.feedback import FEATURE as FEEDBACK
from app.server.feedback import FeedbackBoard
from app.server.feedback_carrier import CarriedReport
from app.server.floor import NEW_EMERGENCY_ID, EmergencyRecord
from app.server.floor_grants import FloorGrants
from app.server.floor_rules import FloorRules, check_speak_flags
from app.server.health_rules import HealthRules
from app.server.lone_release import LoneRelease
from app.server.media_admission import MediaAdmission
from app.server.media_auth_rules import MediaAuthRules
from app.server.media_gate import MediaEncryption, SealedMediaGate
from app.server.membership_rules import MembershipRules
from app.server.node_auth import NodeAuth
from app.server.notifications import MEMBER_LIST_LIMIT, NotificationRules
from app.server.outbox import Outbox, Refused, RefusedAndClosed, Result
from app.server.peers import Peer
from app.server.presence import PresenceRules
from app.server.records import Interphone, Session
from app.server.session_rules import ACCOUNT_REMOVED, SessionRules, fit_one_frame
from app.server.settings import ServerSettings, address_limit_settings
from app.server.store import SharedLog

__all__ = ["ACCOUNT_REMOVED", "HELD_FRAMES_LIMIT", "MEMBER_LIST_LIMIT", "ServerState",
           "fit_one_frame"]

log = logging.getLogger(__name__)


class ServerState(ConnectionRules, SessionRules, MembershipRules, FloorGrants, NotificationRules,
                  MediaAdmission, AdmissionRules, MediaAuthRules, FloorRules, HealthRules,
                  LoneRelease):
    """Everything the server knows and every rule it applies, for all connections at once.

    Keyed by session id (``sid``, one per TCP connection, chosen by the I/O
    layer): ``peers`` (every open connection, logged in or not), ``sessions``
    (the logged-in ones), ``by_uid`` (the live session of each uid),
    ``interphones`` (the active ones; ``routes`` is the same by id text, for the
    relay), ``watchers`` (who synced an id) and ``chats_of`` (a user's active
    chats). ``features`` is the set of extensions this server grants.

    Driving it: :meth:`connect`, :meth:`receive_data`, :meth:`writing_paused` /
    :meth:`writing_resumed` and :meth:`disconnect` per connection, plus
    :meth:`next_deadline` / :meth:`handle_timer`; each returns an
    :class:`~app.server.outbox.Outbox` to carry out. The request methods
    (:meth:`login`, :meth:`sync`, ...) can also be called directly.

    This class holds the tables, the views, the dispatch of each request to its rule and
    the timers; the rules are mixins by family: connections (:class:`ConnectionRules`),
    sessions (:class:`SessionRules`), memberships (:class:`MembershipRules`), floor
    hand-over (:class:`FloorGrants`, and the requests in :class:`FloorRules`),
    notifications (:class:`NotificationRules`), media admission (:class:`MediaAdmission`,
    and extension media-auth in :class:`MediaAuthRules`), login checks off the loop and
    address limits (:class:`AdmissionRules`), the store's reachability told to sessions
    granted extension health (:class:`HealthRules`), a floor released while it is
    unreachable (:class:`LoneRelease`). The tables they share are declared in
    :class:`~app.server.state_base.StateBase`.
    """

    def __init__(self, directory: Directory, settings: ServerSettings | None = None,
                 udp_port: int = 0, *, features: frozenset[str] = KNOWN_FEATURES,
                 tls: bool = False) -> None:
        self.directory = directory
        self.settings = settings = settings or directory.settings
        self.udp_port = udp_port
        self.media_encryption = MediaEncryption.from_setting(settings.media_encryption or None,
                                                             tls=tls)
        self.features = features if self.media_encryption.offers() else features - {FEATURE}
        self.address_limits = ConnectionLimits(address_limit_settings(settings))
        self.refusals = RefusalLog(settings.refusal_log_interval)
        self.media_keys = InterphoneKeys()
        self.media_gate = SealedMediaGate(self, self.media_keys,
                                          RecvBeginBuckets.from_settings(
                                              address_limit_settings(settings)))
        self.check_tokens_off_loop = False
        """Set by an I/O layer that runs a :class:`~app.server.login_guard.LoginGuard`: token
        logins then come out as :class:`LoginCheck` entries and finish in :meth:`login_checked`."""
        self.peers: dict[int, Peer] = {}
        self.syncs_per_turn: int | None = None
        """Presence syncs answered per turn of the event loop (None: no bound). An I/O
        layer that sets it calls :meth:`next_turn` in the next turn whenever
        :meth:`turn_used` (:class:`~app.server.tcp.SignalingServer` does)."""
        self.syncs_left = 0
        self.deferred_sids: dict[int, None] = {}  # sessions with requests deferred, in order
        self._peer_timers: list[tuple[float, int]] = []
        self.sessions: dict[int, Session] = {}
        self.by_uid: dict[str, int] = {}
        self.interphones: dict[InterphoneId, Interphone] = {}
        self.routes: dict[str, Interphone] = {}  # str(id) -> interphone, for the relay
        self.watchers: dict[InterphoneId, dict[int, None]] = {}
        self.chats_of: dict[str, dict[InterphoneId, None]] = {}
        self._floor_timers: list[tuple[float, int, str]] = []
        self._queue_timers: list[tuple[float, str]] = []
        self._grants = 0
        self.on_release: Callable[[Interphone, str], None] | None = None
        """Told of a floor given up or taken (``speak off``, leaving, pre-emption) just
        before: a relay that judges datagrams after their arrival keeps the holder's
        earlier ones."""
        self.on_grant: Callable[[Interphone, str], None] | None = None
        """Told of a floor just granted: a relay that judges datagrams after their arrival
        refuses the holder's datagrams that arrived before."""
        self.presence = PresenceRules(self)  # extension presence: status and ringing calls
        self.coalescer: Coalescer[InterphoneId] = Coalescer()
        """Member changes of an interphone told at most once per window (floor changes at
        once); the clock it reads is :attr:`now`, the latest time passed in."""
        self.uncoalesced = 0  # sessions (of every node) not granted coalesce
        self.now: float | None = None
        self.node_auth: NodeAuth | None = None
        """Several nodes: the authentication of audio forwarded between their relays
        (:mod:`app.server.node_auth`); None on one node."""
        self.shared: SharedLog | None = None
        """None: this process alone holds the state (the in-memory store, the default).
        Otherwise the shared log (:mod:`app.server.store`) through which every change of
        sessions, memberships, floors and media registrations goes, in one order for
        every node; it hands each change back to :meth:`apply_shared`."""
        self.revocations: dict[str, int] = {}
        """Floor grants revoked by :meth:`handle_timer`, by reason (for the metrics)."""
        self.emergency_log: dict[InterphoneId, deque[EmergencyRecord]] = {}
        """Per interphone, its newest emergency raises and cancels (kept after it ends)."""
        self.feedback = FeedbackBoard()  # extension "feedback": listeners' quality reports
        self.released_here: dict[InterphoneId, str] = {}
        """Floors this node let go on its own while its store was unreachable, not yet
        released by the log: interphone -> the holder (:mod:`app.server.lone_release`)."""
        self.withdrawn_here: dict[InterphoneId, set[str]] = {}
        """Requests in line whose ``speak off`` this node answered on its own while its
        store was unreachable, still in the line: interphone -> uids."""

    # ---- storage -----------------------------------------------------------------------------

    def session(self, sid: int) -> Session:
        """The session of connection ``sid``; the login-first rule: 401 if it has none."""
        session = self.sessions.get(sid)
        if session is None:
            raise Refused(ErrCode.UNAUTHORIZED, "log in first")
        return session

    def interphone(self, interphone: InterphoneId) -> Interphone | None:
        return self.interphones.get(interphone)

    def member_record(self, sid: int, session: Session, interphone: InterphoneId) -> Interphone:
        """The record of ``interphone``, of which ``session`` (connection ``sid``) is a
        member: 403 if it is not."""
        record = self.interphones.get(interphone)
        if record is None or record.members.get(session.uid) != sid:
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} is not a member of {interphone}")
        return record

    def new_emergency_id(self) -> str:
        """The id of an emergency being raised (extension ``emergency``): the shared log's,
        the same on every node, or this process's own."""
        if self.shared is not None:
            return self.shared.new_emergency_id()
        return NEW_EMERGENCY_ID()  # one source per process: no id given twice

    def restore(self, sessions: list[Session], interphones: list[Interphone]) -> None:
        """Take ``sessions`` and active ``interphones`` as they are (a shared log's snapshot,
        on a node that has none yet)."""
        for session in sessions:
            self.sessions[session.sid] = session
            self.by_uid[session.uid] = session.sid
            self.uncoalesced += COALESCE not in session.features
        for record in interphones:
            self._start(record.id)
            self.interphones[record.id] = self.routes[str(record.id)] = record

    # ---- views -------------------------------------------------------------------------------

    def info(self, interphone: InterphoneId, receiver: str, *,
             with_members: bool) -> InterphoneInfo:
        record = self.interphones.get(interphone)
        if record is None:
            return InterphoneInfo.of(interphone, receiver, (), "", with_members=with_members)
        info = InterphoneInfo.of(interphone, receiver, tuple(record.members), record.holder,
                                 with_members=with_members)
        if record.floor.emergency_by and EMERGENCY in self._features_of(receiver):
            info = replace(info, emergency=record.floor.emergency_by,
                           emergency_id=record.floor.emergency_id)
        return info

    def _features_of(self, uid: str) -> frozenset[str]:
        sid = self.by_uid.get(uid)
        session = self.sessions.get(sid) if sid is not None else None
        return session.features if session is not None else frozenset()

    def _may_see(self, uid: str, interphone: InterphoneId) -> bool:
        return self.directory.may_see(uid, interphone, self.settings.auth)

    def _require_visible(self, session: Session, interphone: InterphoneId) -> None:
        if not self._may_see(session.uid, interphone):
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} may not use {interphone}")

    @staticmethod
    def _require_self(session: Session, member: str | None) -> None:
        if member is not None and member != session.uid:
            raise Refused(ErrCode.FORBIDDEN, f"{session.uid} cannot act for {member}")

    # ---- requests: each to its rule ----------------------------------------------------------

    def _answer(self, peer: Peer, request: Message, now: float, outbox: Outbox, *,
                verified: bool = False) -> None:
        """Answer one request, with what it set off: after the reply, except for a login
        (the older session of the uid is gone before the new one hears back)."""
        sid, body = peer.sid, request.body
        try:
            if (isinstance(body, Login) and not verified and self.check_tokens_off_loop
                    and self.settings.auth == "token" and sid not in self.sessions):
                self._check_login_first(peer, request, body, outbox, now)
                return
            if isinstance(body, SpeakRequest) and body.bad_flags and sid in self.sessions:
                check_speak_flags(self.sessions[sid].features, body.bad_flags)
            if self.shared is not None and self.shared.defer(peer, request, now):
                return  # answered when the shared log hands the change back (apply_shared)
            if self.shared is not None and isinstance(body, SpeakRequest) and not body.on:
                result = self.release_alone(sid, body.id, now)  # the store is unreachable
            else:
                result = self._apply(peer, body, now, verified)
        except Refused as refused:
            outbox.send(sid, refusal(request, refused.errcode, refused.errmsg,
                                     holder=refused.holder, reason=refused.reason))
            if isinstance(refused, RefusedAndClosed):
                self._close_peer(sid, outbox)
            return
        except Exception:
            log.exception("fault answering %s from session %d", type(body).__name__, sid)
            outbox.send(sid, refusal(request, ErrCode.SERVER_FAULT, "server fault"))
            return
        self._reply(sid, request, result, outbox)

    def answer(self, peer: Peer, request: Message, now: float) -> Outbox:
        """Answer ``request`` of ``peer`` as if it had just arrived (a request the shared
        log held back behind an earlier one of the same connection)."""
        outbox = Outbox()
        self._answer(peer, request, now, outbox)
        return outbox

    def apply_shared(self, sid: int, body: Body, now: float, *, peer_ip: str = "",
                     request: Message | None = None) -> Outbox:
        """Apply a change handed back by the shared log, on every node in the same order.

        ``sid`` may be a session of another node (messages to it go nowhere here);
        ``request`` is the original request when the change came from a connection of
        this node: it is answered (or refused) as :meth:`receive_data` would have.
        A login handed back here was already checked by its node (token, uid).
        """
        self.now = now
        outbox = Outbox()
        try:
            match body:
                case Login(uid=uid, features=features):
                    result = self._admit(sid, uid, peer_ip, features)
                case _:
                    result = self._apply_request(sid, body, now)
        except Refused as refused:
            if request is not None:
                outbox.send(sid, refusal(request, refused.errcode, refused.errmsg,
                                         holder=refused.holder, reason=refused.reason))
            return outbox
        if request is None:
            outbox.extend(result.outbox)
        else:
            self._reply(sid, request, result, outbox)
        return outbox

    def _reply(self, sid: int, request: Message, result: Result, outbox: Outbox) -> None:
        body = request.body
        reply = Message.response(request.seq, result.reply, request.module)
        if isinstance(body, Login):
            outbox.extend(result.outbox)
            served = isinstance(result.reply, LoginResult) \
                and self.directory.serves(result.reply.roster)
            outbox.send(sid, reply if served else fit_one_frame(reply))
            if sid in self.sessions:
                self.health_after_login(self.sessions[sid], outbox)
        else:
            outbox.send(sid, reply)
            outbox.extend(result.outbox)

    def _apply(self, peer: Peer, body: Body, now: float, verified: bool = False) -> Result:
        sid = peer.sid
        if isinstance(body, Login):
            return self.login(sid, body.uid, body.token, peer.ip, body.features,
                              verified=verified, now=now)
        return self._apply_request(sid, body, now)

    def _apply_request(self, sid: int, body: Body, now: float) -> Result:
        self.session(sid)  # login first: 401 before anything else
        match body:
            case Ping():
                return Result(Ping())
            case SyncRequest(ids):
                return self.sync(sid, ids)
            case MembersRequest(interphone):
                return self.members(sid, interphone)
            case JoinRequest(interphone, member):
                return self.join(sid, interphone, member, now)
            case QuitRequest(interphone, member):
                return self.quit(sid, interphone, member)
            case SpeakRequest(on, interphone):
                return self.speak(sid, interphone, on, now, queue=body.queue,
                                  emergency=body.emergency)
            case EmergencyRequest(action, interphone):
                return self.emergency(sid, action, interphone, now)
            case PresenceSyncRequest():
                return self.presence.presence_sync(self.sessions[sid])
            case CallRequest():
                return self.presence.call(self.sessions[sid], body, now)
            case QualityReport():
                return self.quality_report(sid, body, now)
        raise Refused(ErrCode.BAD_REQUEST, f"unexpected request {type(body).__name__}")

    def quality_report(self, sid: int, report: QualityReport, now: float) -> Result:
        """Extension ``feedback``: a listener's report, passed on to the floor holder (on
        several nodes, to the holder's node if that is another:
        :mod:`app.server.feedback_carrier`)."""
        reporter = self.session(sid)
        record = self.interphones.get(report.id)
        holder = self._holder_session(record) if record is not None else None
        if self.shared is None or holder is None or holder.sid in self.peers:
            return self.feedback.report(reporter, record, holder, report, now)
        if (self.feedback.counts(reporter, record, report)
                and FEEDBACK in holder.features):  # (a base holder is told nothing)
            assert record is not None
            self.shared.carry_report(holder.sid, CarriedReport(
                sid, reporter.uid, record.id, report.speaker, report.loss_pct,
                report.jitter_ms))
        return Result(QualityAck(report.id))

    def quality_carried(self, report: CarriedReport, now: float) -> Outbox:
        """Extension ``feedback``, several nodes: ``report`` of a listener on another node,
        which checked it, for a holder whose session is on this one. Kept as if received
        here if, on this node's replica too, its session is still the member's and the
        floor holder of its interphone is the speaker it is about, with its session here."""
        outbox = Outbox()
        record = self.interphones.get(report.interphone)
        reporter = self.sessions.get(report.sid)
        if (record is None or reporter is None or reporter.uid != report.uid
                or FEEDBACK not in reporter.features
                or record.members.get(report.uid) != report.sid
                or not record.holder or report.speaker != record.holder
                or report.uid == record.holder):
            return outbox
        holder = self._holder_session(record)
        if holder is not None and holder.sid in self.peers:
            self.feedback.heard(record, holder, report.uid, report.speaker, report.loss_pct,
                                report.jitter_ms, now, outbox)
        return outbox

    def _holder_session(self, record: Interphone) -> Session | None:
        holder_sid = self.by_uid.get(record.holder) if record.holder else None
        return self.sessions.get(holder_sid) if holder_sid is not None else None

    def _release_feedback(self, interphone: InterphoneId, now: float, outbox: Outbox) -> None:
        record = self.interphones.get(interphone)
        if record is None:
            self.feedback.forget(interphone)
            return
        self.feedback.release(record, self._holder_session(record), now, outbox)

    # ---- timers ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should run next (may be early: that is harmless)."""
        deadlines = [t[0][0] for t in (self._floor_timers, self._queue_timers,
                                       self._peer_timers) if t]
        deadlines += [t for t in (self.presence.next_deadline(), self.coalescer.next_deadline(),
                                  self.refusals.next_deadline(), self.feedback.next_deadline())
                      if t is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> Outbox:
        """Revoke every grant past ``max_talk`` or ``silence_timeout``, then close every
        peer past its login, idle or write-stall deadline, then tell the member changes
        held back by the coalescer and the feedback changes held back by its gap."""
        outbox = Outbox()
        self.now = now
        self._expire_grants(now, outbox)
        self._expire_queued(now, outbox)
        self.presence.handle_timer(now, outbox)
        self._expire_peers(now, outbox)
        self.refusals.handle_timer(now)  # logs the refusals it held back
        for interphone in self.coalescer.take_due(now):
            self._notify(interphone, outbox, coalescing=True)
        for interphone in self.feedback.take_due(now):
            self._release_feedback(interphone, now, outbox)
        return outbox
