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

import heapq
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from app.protocol.errors import ErrCode, FrameTooLarge, ProtocolError
from app.protocol.features import EMERGENCY, KNOWN_FEATURES, PRIORITY, grant_features
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.limits import MAX_FRAME, MAX_MEMBERS
from app.protocol.media_crypto import FEATURE, InterphoneKeys
from app.protocol.messages import (
    Body,
    EmergencyRequest,
    InterphoneChanged,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Ping,
    QualityReport,
    QuitRequest,
    QuitResult,
    SpeakRequest,
    SyncRequest,
    SyncResult,
)
from app.protocol.presence import CallRequest, PresenceSyncRequest
from app.protocol.replies import protocol_error_reply, refusal
from app.protocol.xmlcodec import decode_message, encode_message
from app.server.addr_limits import ConnectionLimits, RecvBeginBuckets, RefusalLog, address_key
from app.server.admission_rules import AdmissionRules
from app.server.coalesce import COALESCE, Coalescer
from app.server.directory import Directory
from app.server.directory_changes import DirectoryChanges
from app.server.feedback import FeedbackBoard
from app.server.floor import (
    EmergencyRecord,
    EndReason,
    Floor,
)
from app.server.floor_rules import FloorRules
from app.server.media_auth_rules import MediaAuthRules
from app.server.media_gate import (
    ERRCODE_MEDIA_AUTH_REQUIRED,
    ERRMSG_MEDIA_AUTH_REQUIRED,
    MediaEncryption,
    SealedMediaGate,
)
from app.server.outbox import Outbox, Refused, RefusedAndClosed, Result
from app.server.peers import Peer
from app.server.presence import PresenceRules
from app.server.records import Address, Interphone, Session, normalize_ip
from app.server.settings import ServerSettings, address_limit_settings
from app.server.store import SharedLog

log = logging.getLogger(__name__)

HELD_FRAMES_LIMIT = 32
"""Frames a connection may send while its login is being checked (beyond: closed)."""
MEMBER_LIST_LIMIT = 64
"""Notifications to members list them only up to this many (then count-only)."""
ACCOUNT_REMOVED = "account_removed"
"""The ``kicked`` reason sent to a session whose user a directory reload removed."""


class ServerState(AdmissionRules, MediaAuthRules, FloorRules):
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
        self.now: float | None = None
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

    # ---- storage -----------------------------------------------------------------------------

    def session(self, sid: int) -> Session:
        """The session of connection ``sid``; the login-first rule: 401 if it has none."""
        session = self.sessions.get(sid)
        if session is None:
            raise Refused(ErrCode.UNAUTHORIZED, "log in first")
        return session

    def interphone(self, interphone: InterphoneId) -> Interphone | None:
        return self.interphones.get(interphone)

    def restore(self, sessions: list[Session], interphones: list[Interphone]) -> None:
        """Take ``sessions`` and active ``interphones`` as they are (a shared log's snapshot,
        on a node that has none yet)."""
        for session in sessions:
            self.sessions[session.sid] = session
            self.by_uid[session.uid] = session.sid
        for record in interphones:
            self._start(record.id)
            self.interphones[record.id] = self.routes[str(record.id)] = record

    def _start(self, interphone: InterphoneId) -> Interphone:
        record = Interphone(interphone, floor=Floor(
            self.directory.floor_policy(interphone, self.settings)))
        self.interphones[interphone] = record
        self.routes[str(interphone)] = record
        if interphone.kind is AttachType.CHAT:
            for party in interphone.parties:
                self.chats_of.setdefault(party, {})[interphone] = None
        return record

    def _end(self, record: Interphone) -> None:
        self.feedback.forget(record.id)
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
        info = InterphoneInfo.of(interphone, receiver, tuple(record.members), record.holder,
                                 with_members=with_members)
        if record.floor.emergency_by and EMERGENCY in self._features_of(receiver):
            info = replace(info, emergency=record.floor.emergency_by)
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

    # ---- connections: bytes in, per-peer rules ----------------------------------------------

    def connect(self, sid: int, peer_ip: str, now: float) -> bool:
        """A connection was accepted; False if the server is full (drop it unanswered)."""
        address = address_key(peer_ip)
        if len(self.peers) >= self.settings.max_sessions:
            self.refusals.refused(address, f"{len(self.peers)} connections open", now)
            return False
        if not self.address_limits.open(address):
            self.refusals.refused(address, "too many connections before login", now)
            return False
        peer = self.peers[sid] = Peer.open(sid, peer_ip, now, self.settings)
        self._arm_peer(peer, peer.deadline(self.settings, logged_in=False))
        return True

    def disconnect(self, sid: int) -> Outbox:
        """The connection is gone: forget the peer and end its session. Idempotent."""
        peer = self.peers.pop(sid, None)
        if peer is not None:
            self._uncount(peer)
        if self.shared is not None:
            self.shared.session_gone(sid)
            return Outbox()
        return self.logout(sid)

    def writing_paused(self, sid: int, now: float) -> None:
        """The peer's output backed up above the high-water mark (its stall clock starts)."""
        peer = self.peers.get(sid)
        if peer is None or peer.paused_since is not None:
            return
        peer.paused_since = now
        deadline = peer.deadline(self.settings, logged_in=sid in self.sessions)
        if deadline < peer.timer_at:
            self._arm_peer(peer, deadline)

    def writing_resumed(self, sid: int) -> None:
        peer = self.peers.get(sid)
        if peer is not None:
            peer.paused_since = None

    def receive_data(self, sid: int, data: bytes, now: float) -> Outbox:
        """Bytes from connection ``sid``: answer every whole frame they complete.

        Per-peer rules, in order for each frame: the rate bucket is charged; a
        frame that does not decode is answered with an error and counted (the
        ``max_malformed``-th closes the session); only requests are answered; a
        request over the rate limit gets 429; anything but login before a
        login gets 401. A frame header over the size limit aborts the
        connection (the stream cannot be resynchronised).
        """
        outbox = Outbox()
        self.now = now
        peer = self.peers.get(sid)
        if peer is None or peer.closing:
            return outbox
        peer.last_rx = now
        self.now = now
        try:
            frames = peer.decoder.feed(data)
        except FrameTooLarge as exc:
            outbox.log(f"closing session {sid}: {exc}")
            self._close_peer(sid, outbox, abort=True)
            return outbox
        self._receive_frames(peer, frames, now, outbox)
        return outbox

    def _receive_frames(self, peer: Peer, frames: list[bytes], now: float,
                        outbox: Outbox) -> None:
        for index, frame in enumerate(frames):
            if peer.closing:
                break
            if peer.checking is not None:  # a login is being checked: the rest waits
                peer.held += frames[index:]
                if len(peer.held) > HELD_FRAMES_LIMIT:
                    outbox.log(f"closing session {peer.sid}: too many frames during login")
                    self._close_peer(peer.sid, outbox)
                break
            try:
                self._receive_frame(peer, frame, now, outbox)
            except Exception:
                log.exception("fault handling a frame of session %d", peer.sid)
                outbox.send(peer.sid, Message.frame_error("server fault", ErrCode.SERVER_FAULT))

    def _receive_frame(self, peer: Peer, frame: bytes, now: float, outbox: Outbox) -> None:
        sid = peer.sid
        allowed = peer.bucket.take(now)
        try:
            message = decode_message(frame)
        except ProtocolError as exc:
            peer.malformed += 1
            outbox.send(sid, protocol_error_reply(exc))
            if peer.malformed >= self.settings.max_malformed:
                outbox.log(f"closing session {sid}: {peer.malformed} malformed frames")
                self._close_peer(sid, outbox)
            return
        if message.kind is not MessageKind.REQUEST:
            return  # nothing a client sends besides requests needs an answer
        if not allowed:
            outbox.send(sid, refusal(message, ErrCode.TOO_MANY_REQUESTS, "too many requests"))
            return
        self._answer(peer, message, now, outbox)

    def _answer(self, peer: Peer, request: Message, now: float, outbox: Outbox, *,
                verified: bool = False) -> None:
        """Answer one request, with what it set off: after the reply, except for a login
        (the older session of the uid is gone before the new one hears back)."""
        sid, body = peer.sid, request.body
        try:
            if (isinstance(body, Login) and not verified and self.check_tokens_off_loop
                    and self.settings.auth == "token" and sid not in self.sessions):
                self._check_login_first(peer, request, body, outbox)
                return
            if self.shared is not None and self.shared.defer(peer, request, now):
                return  # answered when the shared log hands the change back (apply_shared)
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
            outbox.send(sid, fit_one_frame(reply))
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

    def _close_peer(self, sid: int, outbox: Outbox, *, abort: bool = False) -> None:
        """Ask the I/O layer to close ``sid`` (flushing first unless ``abort``); from now
        on its bytes are ignored."""
        peer = self.peers.get(sid)
        if peer is not None:
            peer.closing = True
        if abort:
            outbox.abort(sid)
        else:
            outbox.close(sid)

    # ---- MID_SESSION ---------------------------------------------------------------------------

    def login(self, sid: int, uid: str, token: str, peer_ip: str,
              features: tuple[str, ...] = (), *, verified: bool = False,
              now: float = 0.0) -> Result:
        """Log ``sid`` in as ``uid``; an older session of ``uid`` is kicked and ended first.

        The session is granted the requested ``features`` this server offers; a
        repeated login on the same connection keeps the set granted first.
        """
        self.check_login(sid, uid, token, features, verified=verified)
        return self._admit(sid, uid, peer_ip, features, now)

    def check_login(self, sid: int, uid: str, token: str, features: tuple[str, ...] = (), *,
                    verified: bool = False) -> None:
        """The login rules that need the token: refused unless ``uid`` may log in (a token
        the login guard already checked off the loop, ``verified``, is not checked again)."""
        peer = self.peers.get(sid)
        verified = verified or (peer is not None and peer.token_verified)
        current = self.sessions.get(sid)
        if current is not None and current.uid != uid:
            raise Refused(ErrCode.FORBIDDEN, f"already logged in as {current.uid}")
        if current is None and self.media_encryption.refuses(features):
            raise Refused(ERRCODE_MEDIA_AUTH_REQUIRED, ERRMSG_MEDIA_AUTH_REQUIRED)
        if not verified and not self.directory.may_log_in(uid, token, self.settings.auth):
            raise Refused(ErrCode.UNAUTHORIZED, "login refused")

    def _admit(self, sid: int, uid: str, peer_ip: str, features: tuple[str, ...],
               now: float = 0.0) -> Result:
        current = self.sessions.get(sid)
        if current is not None and current.uid != uid:
            raise Refused(ErrCode.FORBIDDEN, f"already logged in as {current.uid}")
        outbox = Outbox()
        if current is None:
            older = self.by_uid.get(uid)
            if older is not None:
                outbox.send(older, Message.notification(Kicked("login_elsewhere")))
                outbox.log(f"kick uid={uid} session={older} reason=login_elsewhere")
                self._end_session(older, outbox, replaced=True)
                self._close_peer(older, outbox)
                older_peer = self.peers.get(older)
                if older_peer is not None:
                    self._uncount(older_peer)
            self._count_session(sid, peer_ip, now)
            granted = frozenset(grant_features(features, self.features))
            current = self.sessions[sid] = Session(sid, uid, normalize_ip(peer_ip),
                                                   features=granted)
            self.by_uid[uid] = sid
            current.media_secret = self.media_login(current)
            self.presence.session_started(current, replaced=older is not None, outbox=outbox)
            outbox.log(f"login uid={uid} session={sid} peer={peer_ip}"
                       + (f" features={' '.join(sorted(granted))}" if granted else ""))
        level = self.directory.priority_of(uid)
        with_level = PRIORITY in current.features
        reply = LoginResult(
            uid=uid,
            udp_port=self.udp_port,
            keepalive=self.settings.advertised_keepalive,
            max_talk=self.settings.advertised_max_talk,
            roster=self.directory.roster(uid, self.settings.auth),
            features=tuple(sorted(current.features)),
            media_secret=current.media_secret,
            priority=level if with_level else None,
            dispatcher=with_level and level >= self.settings.dispatcher_level,
        )
        return Result(reply, outbox)

    def logout(self, sid: int) -> Outbox:
        """The session ended (disconnect, timeout, close): leave everything. Idempotent.

        The connection's :class:`Peer` stays until :meth:`disconnect`."""
        outbox = Outbox()
        session = self.sessions.get(sid)
        if session is not None:
            self._end_session(sid, outbox)
            outbox.log(f"logout uid={session.uid} session={sid}")
        return outbox

    def _end_session(self, sid: int, outbox: Outbox, *, replaced: bool = False) -> None:
        # Stop watching first, so the ending session is told nothing about its own exit.
        session = self.sessions[sid]
        for interphone in session.subscriptions:
            self._unwatch(sid, interphone)
        session.subscriptions = {}
        if self.by_uid.get(session.uid) == sid:
            del self.by_uid[session.uid]
        for interphone in list(session.joined):
            self._leave(session, self.interphones[interphone], outbox, "session end")
        self.media_session_ended(session)
        self.presence.session_ended(session, replaced=replaced, outbox=outbox)
        del self.sessions[sid]

    # ---- directory reload (SIGHUP) -------------------------------------------------------------

    @property
    def grants_total(self) -> int:
        """Floor grants since the start (for the metrics)."""
        return self._grants

    def replace_directory(self, directory: Directory, now: float) -> Outbox:
        """Serve ``directory`` from now on and bring the live sessions in line with it.

        In token mode the session of a removed user is kicked (``kicked
        reason='account_removed'``, then closed, leaving its interphones as at a
        logout). Every session leaves the interphones it may no longer see (the
        members are told, a floor it held is released) and stops watching them.
        Changed tokens apply at the next login: live sessions stay. The
        ``[server]`` settings are kept (they apply at the next start). One log
        line says what changed (:class:`DirectoryChanges`; never a token).
        """
        changes = DirectoryChanges.between(self.directory, directory)
        self.directory = directory
        outbox = Outbox()
        kicked = left = 0
        if self.settings.auth == "token":
            for uid in changes.users_removed:
                sid = self.by_uid.get(uid)
                if sid is None:
                    continue
                outbox.send(sid, Message.notification(Kicked(ACCOUNT_REMOVED)))
                outbox.log(f"kick uid={uid} session={sid} reason={ACCOUNT_REMOVED}")
                self._end_session(sid, outbox)
                self._close_peer(sid, outbox)
                kicked += 1
        for session in list(self.sessions.values()):
            for interphone in [i for i in session.joined if not self._may_see(session.uid, i)]:
                self._leave(session, self.interphones[interphone], outbox, "directory reload")
                left += 1
            hidden = [i for i in session.subscriptions if not self._may_see(session.uid, i)]
            for interphone in hidden:
                self._unwatch(session.sid, interphone)
                del session.subscriptions[interphone]
        outbox.log(f"directory reloaded: {changes.describe()}; "
                   f"{kicked} session(s) kicked, {left} membership(s) ended")
        return outbox

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

    def _leave(self, session: Session, record: Interphone, outbox: Outbox, why: str) -> None:
        uid = session.uid
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
            self._notify(record.id, outbox)
        else:
            outcome = record.floor.leave(uid, now)
            if not (floor_changed or outcome.holder_changed):
                self._notify_members(record.id, outbox)  # (may be coalesced)
            self._floor_changed(record, outcome, outbox,
                                notify=floor_changed or outcome.holder_changed)
        self.presence.member_left(uid, record.id, outbox)

    def quality_report(self, sid: int, report: QualityReport, now: float) -> Result:
        """Extension ``feedback``: a listener's report, passed on to the floor holder."""
        record = self.interphones.get(report.id)
        holder_sid = self.by_uid.get(record.holder) if record is not None and record.holder \
            else None
        holder = self.sessions.get(holder_sid) if holder_sid is not None else None
        return self.feedback.report(self.session(sid), record, holder, report, now)

    # ---- floor timers --------------------------------------------------------------------------

    def _grant(self, record: Interphone, uid: str, now: float) -> None:
        self._grants += 1
        record.holder = uid
        record.granted_at = record.last_audio_at = now
        record.grant_no = self._grants
        if self.on_grant is not None:
            self.on_grant(record, uid)
        heapq.heappush(self._floor_timers,
                       (record.floor_deadline(self.settings), self._grants, str(record.id)))

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should run next (may be early: that is harmless)."""
        deadlines = [t[0][0] for t in (self._floor_timers, self._queue_timers,
                                       self._peer_timers) if t]
        deadlines += [t for t in (self.presence.next_deadline(), self.coalescer.next_deadline(),
                                  self.refusals.next_deadline()) if t is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> Outbox:
        """Revoke every grant past ``max_talk`` or ``silence_timeout``, then close every
        peer past its login, idle or write-stall deadline, then tell the member changes
        held back by the coalescer."""
        outbox = Outbox()
        self.now = now
        timers = self._floor_timers
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
            reason = "max_talk" if too_long else "silence"
            if self.shared is not None:
                # revoked when the log says so; asked again later if the grant still stands
                self.shared.floor_expired(record, reason)
                heapq.heappush(timers, (now + self.settings.silence_timeout, grant_no, key))
                continue
            self.revoke(record, reason, outbox)
        queued = self._queue_timers
        while queued and queued[0][0] <= now:
            _, key = heapq.heappop(queued)
            record = self.routes.get(key)
            if record is not None:
                self._floor_changed(record, record.floor.handle_timer(now), outbox)
        self.presence.handle_timer(now, outbox)
        self._expire_peers(now, outbox)
        self.refusals.handle_timer(now)  # logs the refusals it held back
        for interphone in self.coalescer.take_due(now):
            self._notify(interphone, outbox, coalescing=True)
        return outbox

    def revoke(self, record: Interphone, reason: str, outbox: Outbox) -> None:
        """Take the floor back from its holder (``max_talk`` or ``silence``) and tell; the
        head of the line, if any, is granted in the same step."""
        self.revocations[reason] = self.revocations.get(reason, 0) + 1
        end = {"max_talk": EndReason.TIME_LIMIT, "silence": EndReason.SILENCE}.get(
            reason, EndReason.SERVER)
        self._floor_changed(record, record.floor.revoke(end, self.now or 0.0), outbox)

    def _expire_peers(self, now: float, outbox: Outbox) -> None:
        # Each peer has one live heap entry (at ``peer.timer_at``); deadlines that moved
        # later (data received, logged in) are found here and the entry re-armed.
        timers = self._peer_timers
        while timers and timers[0][0] <= now:
            at, sid = heapq.heappop(timers)
            peer = self.peers.get(sid)
            if peer is None or peer.closing or peer.timer_at != at:
                continue
            logged_in = sid in self.sessions
            expiry = peer.expiry(self.settings, now, logged_in=logged_in)
            if expiry is None:
                self._arm_peer(peer, peer.deadline(self.settings, logged_in=logged_in))
                continue
            outbox.log(f"closing session {sid}: {expiry.reason}")
            self._close_peer(sid, outbox, abort=expiry.abort)

    def _arm_peer(self, peer: Peer, deadline: float) -> None:
        peer.timer_at = deadline
        heapq.heappush(self._peer_timers, (deadline, peer.sid))

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
        session = self.sessions[sid]
        if session.media is not None or not self.media_encryption.accepts_base_media():
            return False  # media-auth sessions register only with the authenticated form
        if session.peer_ip != normalize_ip(str(address[0])):
            return False
        if self.shared is not None and (uid not in record.addrs or uid in record.remote):
            # a new registration on this node: registered and acknowledged when the shared
            # log hands it back (then every node that sees a later change knows it)
            self.shared.media_registered(record, uid, sid, interphone_text, address)
            return False
        record.set_addr(uid, address)
        return True

    def register_shared_media(self, interphone: InterphoneId, uid: str, sid: int,
                              address: Address, *, remote: bool) -> bool:
        """A registration handed back by the shared log: ``uid`` (session ``sid``) receives
        ``interphone``'s audio at ``address``, its own or (``remote``) the relay of the
        node it registered at, where one copy per packet goes. False if it left since."""
        record = self.interphones.get(interphone)
        if record is None or record.members.get(uid) != sid:
            return False
        record.set_addr(uid, address, remote=remote)
        return True

    # ---- notifications -------------------------------------------------------------------------

    def _notify_members(self, interphone: InterphoneId, outbox: Outbox) -> None:
        """A member change: told now; to the sessions granted ``coalesce``, unless the
        interphone was told within the window (then with the next change or at its end)."""
        if self.coalescer.hold(interphone, self.now):
            self._notify(interphone, outbox, coalescing=False)
        else:
            self._notify(interphone, outbox)

    def _notify(self, interphone: InterphoneId, outbox: Outbox, *,
                coalescing: bool | None = None) -> None:
        """Tell every member, watcher and chat party, each once, the new state (only those
        granted ``coalesce`` if ``coalescing``, only the others if it is False)."""
        if coalescing is None:
            self.coalescer.told(interphone, self.now)
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
                party_sid = self.by_uid.get(party)
                if party_sid is not None:
                    recipients.setdefault(party_sid, False)
        listed = len(members) <= MEMBER_LIST_LIMIT
        raised_by = record.floor.emergency_by if record else ""
        views: dict[tuple[bool, str, str], Message] = {}
        others_elsewhere = self.shared is not None  # sessions of other nodes: told there
        for sid, is_member in recipients.items():
            if others_elsewhere and sid not in self.peers:
                continue
            session = self.sessions[sid]
            if coalescing is not None and (COALESCE in session.features) != coalescing:
                continue
            attach_id = interphone.attach_id_for(session.uid)
            view = (is_member and listed, attach_id,
                    raised_by if EMERGENCY in session.features else "")
            message = views.get(view)
            if message is None:
                info = InterphoneInfo(interphone, attach_id, len(members), speaker,
                                      members if view[0] else None, emergency=view[2])
                message = views[view] = Message.notification(InterphoneChanged(info))
            outbox.send(sid, message)

    # ---- the relay's admission of audio (appended last: see the relay) -------------------------

    def accept_audio(self, key: str, uid: str, addr: Address, now: float) -> Interphone | None:
        """PROTOCOL.md 5.1 for one audiopacket of ``uid`` in interphone ``key`` from ``addr``.

        The interphone if ``uid`` holds its floor, ``addr`` is its registered address and
        the grant was made by ``now`` (when the packet arrived: a relay may judge it later)
        and has not run out at ``now`` (then its silence clock restarts): the packet goes
        to ``fanout(uid)``. None otherwise. A grant found run out is left to
        :meth:`handle_timer`, which :meth:`next_deadline` already asks for.
        """
        record = self.routes.get(key)
        if record is None and key.startswith("chat_"):
            try:
                record = self.routes.get(str(InterphoneId.parse(key)))
            except ProtocolError:
                return None
        if record is None or record.addrs.get(uid) != addr:
            return None
        if uid in record.remote:
            # forwarded by the relay of the node ``uid`` registered at, which applied the
            # floor rules (this node may not have applied that node's latest grant yet)
            return record
        if record.holder != uid:
            return None
        if now < record.granted_at or now >= record.floor_deadline(self.settings):
            return None
        record.last_audio_at = now
        return record


def fit_one_frame(message: Message) -> Message:
    """``message``, or for a login response too big for one frame, the same with half its
    contacts dropped as many times as needed (groups and discussions are kept)."""
    body = message.body
    if not isinstance(body, LoginResult) or len(encode_message(message)) <= MAX_FRAME:
        return message
    roster = body.roster
    while True:
        contacts = [e for e in roster if e.kind == "contact"]
        roster = tuple(e for e in roster if e.kind != "contact") + tuple(
            contacts[:len(contacts) // 2])
        fitted = replace(message, body=replace(body, roster=roster))
        if not contacts or len(encode_message(fitted)) <= MAX_FRAME:
            return fitted
