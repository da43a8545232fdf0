"""What the stateful test of the server's rules (tests/test_server_state_model.py) checks: the
directory it runs on, the frames it sends, and the invariants of PROTOCOL.md and
docs/protocol-extensions.md it checks after each step, against the state's tables and
against what each session was told (its own view of its memberships and floors)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from server_model_ext import FEEDBACK, ExtensionModel

from app.protocol import InterphoneId, Message, decode_message, encode_frame, encode_message
from app.protocol.features import (
    COALESCE,
    EMERGENCY,
    FLOOR_FEATURES,
    FLOOR_QUEUE,
    PRIORITY,
    ROSTER,
)
from app.protocol.media_crypto import FEATURE as MEDIA_AUTH
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import (
    EmergencyAction,
    EmergencyState,
    ErrorReply,
    FeedbackNotice,
    FloorNotice,
    FloorNoticeType,
    InterphoneChanged,
    InterphoneInfo,
    JoinResult,
    Kicked,
    LoginResult,
    MediaKeyNotice,
    MembersResult,
    MessageKind,
    QuitResult,
    RosterNotice,
    SpeakRequest,
    SpeakResult,
)
from app.protocol.presence import CallNotice, PresenceChanged, PresenceSyncResult
from app.server import Directory, ServerSettings
from app.server.outbox import Outbox
from app.server.records import Address
from app.server.state import ServerState

DIRECTORY_USERS = ("alice", "bob", "carol", "dave", "eve")
USERS = (*DIRECTORY_USERS, "zed")
"""zed is in no directory: refused with ``auth = "token"``, let in with ``auth = "open"``."""
PRIORITIES = {"alice": 9, "bob": 5, "dave": 3}  # alice: a dispatcher (level >= 8)

_HEAD = """\
[server]
auth = "token"
"""


def _toml(*, with_eve: bool, ops: list[str], preemptible: bool) -> str:
    lines = [_HEAD]
    for uid in DIRECTORY_USERS:
        if uid == "eve" and not with_eve:
            continue
        lines += ["[[users]]", f'uid = "{uid}"', f'token = "pw-{uid}"',
                  f"priority = {PRIORITIES.get(uid, 0)}", ""]
    lines += ["[[groups]]", 'id = "58"', f"members = {ops!r}".replace("'", '"'),
              f"preemptible = {'true' if preemptible else 'false'}", "",
              "[[groups]]", 'id = "all"', 'members = ["*"]', "",
              "[[discussions]]", 'id = "12"', 'members = ["alice", "bob", "dave"]',
              "queue_limit = 1", ""]
    return "\n".join(lines)


def first_directory() -> Directory:
    return Directory.from_toml_text(_toml(with_eve=True, ops=["alice", "bob", "carol"],
                                          preemptible=True), source="model-a.toml")


def second_directory() -> Directory:
    """eve removed, carol out of group 58, which no longer pre-empts."""
    return Directory.from_toml_text(_toml(with_eve=False, ops=["alice", "bob"],
                                          preemptible=False), source="model-b.toml")


DIRECTORIES = (first_directory, second_directory)

SETTINGS = ServerSettings(
    auth="token", max_talk=30.0, keepalive=15.0, silence_timeout=5.0, queue_limit=2,
    queue_timeout=10.0, rate_burst=100_000, membership_burst=100_000, floor_burst=100_000,
    max_sessions_per_address=100_000, max_unauthenticated_per_address=100_000,
    media_encryption="optional")
"""No rate limit gets in the way of the rules (they have tests of their own); media-auth is
granted to the sessions that ask for it, the others get plain media."""
OPEN_SETTINGS = SETTINGS.with_overrides(auth="open")
"""Any uid logs in with any token; a chat with a uid in no directory may be joined."""


INTERPHONES = (InterphoneId.group("58"), InterphoneId.group("all"), InterphoneId.discuss("12"),
               InterphoneId.chat("alice", "bob"), InterphoneId.chat("carol", "dave"),
               InterphoneId.chat("dave", "eve"), InterphoneId.chat("alice", "zed"))

FEATURE_SETS = ((), (FLOOR_QUEUE,), (PRIORITY,), (EMERGENCY,), ("presence",),
                (FLOOR_QUEUE, PRIORITY, EMERGENCY, "presence"), (FLOOR_QUEUE, EMERGENCY),
                (PRIORITY, "presence"), (COALESCE,), (COALESCE, FLOOR_QUEUE, "presence"),
                (MEDIA_AUTH,), (FEEDBACK,), (MEDIA_AUTH, FEEDBACK, FLOOR_QUEUE, "presence"),
                (MEDIA_AUTH, FEEDBACK), (MEDIA_AUTH, FEEDBACK), (MEDIA_AUTH, PRIORITY, EMERGENCY),
                (FEEDBACK, COALESCE, PRIORITY), (MEDIA_AUTH, FEEDBACK, COALESCE),
                (ROSTER, "presence"), (ROSTER,))


def request_frame(seq: str, body: object) -> bytes:
    return encode_frame(encode_message(Message.request(seq, body)))  # type: ignore[arg-type]


def _as_decoded(message: Message) -> Message:
    """``message`` as the codec reads it back: a quit response is read count-only (its
    ``emergency`` attributes, which the server may send on any ``<interphone>`` of an
    interphone in emergency, tell a session that just left nothing it needs)."""
    body = message.body
    if isinstance(body, QuitResult) and body.info.emergency:
        info = replace(body.info, emergency="", emergency_id="")
        return replace(message, body=QuitResult(info))
    return message


@dataclass
class View:
    """What one session was told: its uid and, per interphone it was told it is a member
    of, the member list and speaker it was last told."""

    uid: str = ""
    features: frozenset[str] = frozenset()
    joined: dict[InterphoneId, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    queued: dict[InterphoneId, int] = field(default_factory=dict)
    """Extension floor-queue: where it was last told it waits in line (1: next)."""
    emergency: dict[InterphoneId, str] = field(default_factory=dict)
    """Extension emergency: who raised the emergency up in each interphone, as last told."""
    online: dict[str, bool] = field(default_factory=dict)
    """Extension presence: each contact's status as last told (after a presence sync)."""
    secret: bytes | None = None
    """Extension media-auth: the session's media secret."""
    epochs: dict[InterphoneId, int] = field(default_factory=dict)
    """Extension media-auth: the epoch of each interphone's voice key as last told."""
    grants: dict[InterphoneId, int] = field(default_factory=dict)
    """Extension media-auth: the grant of each floor it was last handed (and still holds)."""

    def told(self, message: Message) -> None:
        body = message.body
        if isinstance(body, LoginResult):
            self.uid, self.features = body.uid, frozenset(body.features)
            if body.media_secret:
                self.secret = decode_b64(body.media_secret, SECRET_BYTES)
        elif isinstance(body, Kicked):
            self.joined.clear()
            self.queued.clear()
            self.epochs.clear()
            self.grants.clear()
        elif isinstance(body, QuitResult):
            self.joined.pop(body.info.id, None)
            self.queued.pop(body.info.id, None)
            self.epochs.pop(body.info.id, None)
            self.grants.pop(body.info.id, None)
        elif isinstance(body, JoinResult | MembersResult | InterphoneChanged):
            if isinstance(body, JoinResult) and body.media_key is not None:
                self.epochs[body.info.id] = body.media_key.epoch
            self._info(body.info)
        elif isinstance(body, MediaKeyNotice):
            self.epochs[body.id] = body.epoch
        elif isinstance(body, SpeakResult) and body.id is not None:
            if body.on and body.queued:
                self.queued[body.id] = body.position
            else:  # granted, or the request withdrawn by speak off
                self.queued.pop(body.id, None)
            if body.on and not body.queued and body.grant:
                self.grants[body.id] = body.grant
            elif not body.on:
                self.grants.pop(body.id, None)
        elif isinstance(body, EmergencyState):
            self.emergency[body.id] = body.by if body.action is EmergencyAction.RAISE else ""
        elif isinstance(body, PresenceSyncResult):
            self.online = {c.uid: c.online for c in body.contacts}
        elif isinstance(body, PresenceChanged):
            self.online[body.uid] = body.online
        elif isinstance(body, FloorNotice):
            if body.type is FloorNoticeType.QUEUED:
                self.queued[body.id] = body.position
            elif body.type in (FloorNoticeType.GRANTED, FloorNoticeType.LEFT):
                self.queued.pop(body.id, None)
            if body.type is FloorNoticeType.GRANTED and body.grant:
                self.grants[body.id] = body.grant
            elif body.type is FloorNoticeType.REVOKED:
                self.grants.pop(body.id, None)

    def _info(self, info: InterphoneInfo) -> None:
        if info.members is None:
            return
        if info.speaker != self.uid:
            self.grants.pop(info.id, None)
        if self.uid in info.members:
            self.joined[info.id] = (info.members, info.speaker)
            self.emergency[info.id] = info.emergency
        else:
            self.joined.pop(info.id, None)
            self.queued.pop(info.id, None)
            self.epochs.pop(info.id, None)


def check_extensions(message: Message, features: frozenset[str]) -> None:
    """A session sees an extension's elements only if it was granted the extension: one
    granted none sees exactly the base contract."""
    body = message.body
    if isinstance(body, FloorNotice):
        wanted = FLOOR_FEATURES if body.type is FloorNoticeType.REVOKED else {FLOOR_QUEUE}
        assert features & wanted, f"{body} to a session granted {set(features)}"
    elif isinstance(body, EmergencyState) and message.kind is MessageKind.NOTIFICATION:
        assert EMERGENCY in features, f"{body} to a session granted {set(features)}"
    elif isinstance(body, CallNotice | PresenceChanged):
        assert "presence" in features, f"{body} to a session granted {set(features)}"
    elif isinstance(body, SpeakResult) and body.queued:
        assert FLOOR_QUEUE in features, f"{body} to a session granted {set(features)}"
    elif isinstance(body, FeedbackNotice):
        assert FEEDBACK in features, f"{body} to a session granted {set(features)}"
    media = (isinstance(body, MediaKeyNotice)
             or (isinstance(body, JoinResult) and body.media_key is not None)
             or (isinstance(body, SpeakResult | FloorNotice) and body.grant)
             or (isinstance(body, LoginResult) and body.media_secret))
    if media:
        assert MEDIA_AUTH in features, f"{body} to a session granted {set(features)}"
    if isinstance(body, RosterNotice) or (isinstance(body, LoginResult) and body.name):
        assert ROSTER in features, f"{body} to a session granted {set(features)}"
    info = getattr(body, "info", None)
    if isinstance(info, InterphoneInfo) and info.emergency:
        assert EMERGENCY in features, f"{body} to a session granted {set(features)}"


class ModelChecker:
    """Feeds each outbox through the checks and keeps what they need between steps."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.views: dict[int, View] = {}
        self.ended: set[int] = set()  # sessions that ended in an earlier step
        self.gone: set[int] = set()  # connections the socket layer closed
        self.live: set[int] = set()
        self.answered: dict[int, int] = {}  # the seq of each connection's latest answer
        self.now = 0.0
        self.ext = ExtensionModel(state)

    # ---- the socket layer's events ---------------------------------------------------------

    def connected(self, sid: int) -> None:
        self.views[sid] = View()

    def disconnected(self, sid: int) -> None:
        self.gone.add(sid)
        self.views.pop(sid, None)

    def open_sids(self, state: ServerState) -> set[int]:
        return {sid for sid, peer in state.peers.items() if not peer.closing}

    def closing_sids(self, state: ServerState) -> set[int]:
        return {sid for sid, peer in state.peers.items() if peer.closing}

    # ---- each outbox -------------------------------------------------------------------------

    def step(self, outbox: Outbox, *, now: float) -> None:
        """Check ``outbox``, then let each session's view take in what it was told."""
        self.now = self.ext.now = now
        kicked: set[int] = set()
        for sid, message in outbox.messages:
            assert sid not in self.gone, f"{message} to connection {sid}, closed before"
            assert sid not in self.ended, f"{message} to session {sid}, ended before"
            assert sid not in kicked, f"{message} to session {sid} after its kick"
            if isinstance(message.body, Kicked):
                kicked.add(sid)
            if message.kind is MessageKind.RESPONSE and message.seq:
                # PROTOCOL.md: each session's answers in the order of its requests
                assert int(message.seq) > self.answered.get(sid, 0), (sid, message)
                self.answered[sid] = int(message.seq)
            peer = self.state.peers.get(sid)
            if peer is not None and peer.lost:  # its end comes later: not told others' ends
                assert not isinstance(message.body, InterphoneChanged | PresenceChanged), (
                    f"{message} to lost connection {sid}")
            decoded = decode_message(encode_message(message))
            assert decoded == _as_decoded(message), f"{message} decodes as {decoded}"
            view = self.views.get(sid)
            self.ext.told(sid, message, frozenset(view.joined) if view is not None else frozenset())
            if view is not None:
                view.told(message)
                check_extensions(message, view.features)
                if isinstance(message.body, LoginResult):
                    self.ext.logged_in(view.uid, view.secret)
        self.ext.keys_before_changes(outbox.messages)
        self.ext.after_step()
        now_live = set(self.state.sessions)
        self.ended |= self.live - now_live
        self.live = now_live

    def run_clock(self, until: float, *, drain: bool = False) -> float:
        """Call ``handle_timer`` at each ``next_deadline`` up to ``until`` (``drain``: until
        none is left, however late)."""
        state = self.state
        now = self.now
        for _ in range(10_000):
            deadline = state.next_deadline()
            if deadline is None or (deadline > until and not drain):
                break
            now = max(now, deadline)
            self.step(state.handle_timer(now), now=now)
            after = state.next_deadline()
            assert after is None or after > now, f"next_deadline {after} after handle_timer({now})"
        else:
            raise AssertionError("the timers never run out")
        self.now = max(now, until)
        return self.now

    def speak_answered(self, sid: int, request: SpeakRequest, answer: object) -> None:
        """PROTOCOL.md 3.2 (6): a granted ``on`` leaves the asker holding the floor, a 409
        names another holder, ``off`` leaves the asker neither holding nor waiting."""
        record = self.state.interphones.get(request.id)
        uid = self.views[sid].uid
        if isinstance(answer, SpeakResult) and request.on and not answer.queued:
            assert record is not None and record.holder == uid, (request, answer)
        elif isinstance(answer, SpeakResult) and request.on:
            assert record is not None and record.floor.position_of(uid) == answer.position
        elif isinstance(answer, SpeakResult):
            assert record is None or (record.holder != uid
                                      and not record.floor.position_of(uid)), request
        elif isinstance(answer, ErrorReply) and answer.errcode == 409:
            assert record is not None and record.holder not in ("", uid), (request, answer)

    def recvbegin(self, uid: str, key: str, address: Address) -> None:
        state = self.state
        sid = state.by_uid.get(uid)
        record = state.routes.get(key)
        member = sid is not None and record is not None and record.members.get(uid) == sid
        # media-auth: a base recvbegin naming a uid whose session holds it is always dropped
        member = member and sid is not None and MEDIA_AUTH not in state.sessions[sid].features
        member = member and address[0] == "127.0.0.1"  # the signaling peer's IP (5.1)
        assert state.register_media(key, uid, address) == member, (uid, key)
        if member:
            assert record is not None and record.addrs[uid] == address

    def audio(self, uid: str, key: str, address: Address, now: float) -> None:
        state = self.state
        record = state.routes.get(key)
        expected = (record is not None and record.holder == uid
                    and record.addrs.get(uid) == address
                    and record.granted_at <= now < record.floor_deadline(state.settings))
        accepted = state.accept_audio(key, uid, address, now)
        assert (accepted is not None) == expected, (uid, key, address)

    # ---- invariants --------------------------------------------------------------------------

    def invariants(self) -> None:
        state = self.state
        assert state.routes == {str(i): r for i, r in state.interphones.items()}
        for sid, session in state.sessions.items():
            assert session.sid == sid
            assert state.by_uid[session.uid] == sid, "one live session per uid"
            for interphone in session.joined:
                record = state.interphones.get(interphone)
                assert record is not None and record.members.get(session.uid) == sid
            for interphone in session.subscriptions:
                assert sid in state.watchers.get(interphone, {})
        assert set(state.by_uid.values()) == set(state.sessions)
        for interphone, watchers in state.watchers.items():
            assert watchers, f"an empty watcher list of {interphone}"
            for sid in watchers:
                assert interphone in state.sessions[sid].subscriptions
        for interphone, record in state.interphones.items():
            self._interphone(interphone, record)
        for uid, chats in state.chats_of.items():
            assert chats
            for chat in chats:
                assert chat in state.interphones and uid in chat.parties
        for chat, ring in state.presence.rings.items():
            record = state.interphones.get(chat)
            assert record is not None and ring.caller in record.members, ring
            assert ring.callee not in record.members, ring
            assert ring.caller in state.by_uid and ring.callee in state.by_uid, ring
        self._views()

    def _interphone(self, interphone: InterphoneId, record) -> None:  # type: ignore[no-untyped-def]
        state = self.state
        assert record.id == interphone and record.members, f"{interphone} without members"
        for uid, sid in record.members.items():
            session = state.sessions.get(sid)
            assert session is not None and session.uid == uid, (interphone, uid, sid)
            assert interphone in session.joined
        floor = record.floor
        assert record.holder == floor.holder
        if record.holder:
            assert record.holder in record.members, f"holder of {interphone} not a member"
        queue = floor.queue
        assert len(set(queue)) == len(queue), queue
        assert record.holder or not queue, f"{interphone}: a line without a holder"
        for uid in queue:
            assert uid in record.members and uid != record.holder, (interphone, queue)
        assert len(queue) <= state.directory.floor_policy(interphone, state.settings).queue_limit
        ranks = [entry.rank() for entry in floor._queue]
        assert ranks == sorted(ranks), f"{interphone}: a line out of order {floor._queue}"
        assert set(record.addrs) <= set(record.members), (interphone, record.addrs)
        if interphone.kind.value == "chat":
            for party in interphone.parties:
                assert interphone in state.chats_of.get(party, {})

    def _views(self) -> None:
        """Each live session (not lost) was told every membership it has, with the member
        list and speaker of now, and believes in no other."""
        state = self.state
        for sid, session in state.sessions.items():
            peer = state.peers.get(sid)
            view = self.views.get(sid)
            if peer is None or peer.lost or view is None:
                continue
            told = dict(view.joined)
            actual = {i: (tuple(state.interphones[i].members), state.interphones[i].holder)
                      for i in session.joined}
            if COALESCE in session.features:  # a member change held back: told later
                for i in state.coalescer.held:
                    if i in told and i in actual:
                        told[i] = (actual[i][0], told[i][1])
            assert told == actual, f"session {sid} ({session.uid}) was told {told}, is {actual}"
            if EMERGENCY in session.features:
                raised = {i: view.emergency.get(i, "") for i in session.joined}
                up = {i: state.interphones[i].floor.emergency_by for i in session.joined}
                assert raised == up, f"session {sid} ({session.uid}) was told {raised}, is {up}"
            contacts = state.presence.contacts_of.get(sid, frozenset())
            told_status = {c: on for c, on in view.online.items() if c in contacts}
            status = {c: c in state.by_uid for c in told_status}
            assert told_status == status, (
                f"session {sid} ({session.uid}) was told {told_status}, is {status}")
            lines = {i: state.interphones[i].floor.position_of(session.uid)
                     for i in session.joined}
            waiting = {i: place for i, place in lines.items() if place}
            assert view.queued == waiting, (
                f"session {sid} ({session.uid}) was told it waits at {view.queued}, is {waiting}")

    def nothing_left(self) -> None:
        """No session lives: no interphone, floor, line, timer, watch, ring or count is left."""
        state = self.state
        assert not state.sessions and not state.by_uid and not state.peers
        assert not state.interphones and not state.routes and not state.watchers
        assert not state.chats_of and not state.deferred_sids
        assert not state._floor_timers and not state._queue_timers and not state._peer_timers
        presence = state.presence
        assert not presence.rings and not presence.contacts_of and not presence._timers
        assert state.next_deadline() is None
        assert state.uncoalesced == 0 and not state.coalescer.held
        limits = state.address_limits
        assert not limits._sessions and not limits._unauthenticated, (
            limits._sessions, limits._unauthenticated)
        assert limits.unauthenticated_total == 0
        assert not state.media_keys.__dict__.get("_keys"), state.media_keys.__dict__


__all__ = ["DIRECTORIES", "DIRECTORY_USERS", "FEATURE_SETS", "INTERPHONES", "OPEN_SETTINGS",
           "SETTINGS", "USERS", "ModelChecker", "request_frame"]
