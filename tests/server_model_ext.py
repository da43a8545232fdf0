"""The server model's checks of the media-auth, feedback and presence extensions
(docs/protocol-extensions.md), taken from the document: who may register where with an
authenticated recvbegin, which sealed audio is relayed and to whom, which aggregate of its
listeners' reports a floor holder is told, and who is told a contact's status.

Used by :class:`server_model.ModelChecker`; the machine drives it through
:meth:`ExtensionModel.auth_recvbegin`, :meth:`ExtensionModel.sealed_audio` and
:meth:`ExtensionModel.reported`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypothesis import event

from app.protocol import InterphoneId, Message
from app.protocol.features import COALESCE
from app.protocol.media_crypto import FEATURE as MEDIA_AUTH
from app.protocol.media_crypto import AuthRecvBegin, MediaKey, seal_audio
from app.protocol.messages import (
    ErrorReply,
    FeedbackNotice,
    InterphoneChanged,
    JoinResult,
    MediaKeyNotice,
    QualityAck,
    QualityReport,
    RosterNotice,
)
from app.protocol.presence import PresenceChanged
from app.server.records import Address

if TYPE_CHECKING:
    from server_model import View

    from app.server.state import ServerState

FEEDBACK = "feedback"
FEEDBACK_WINDOW = 3.0
"""A listener's latest report counts this long (extension feedback, the aggregate)."""
RESEND_SECONDS = 1.0
CHANGE_PCT = 0.5
MIN_GAP_SECONDS = 0.25
PEER_IP = "127.0.0.1"
"""Every connection of the model comes from here."""


@dataclass
class _Report:
    sid: int
    speaker: str
    loss: float
    jitter: float
    at: float


@dataclass
class _Notice:
    sid: int
    at: float
    worst: float
    p90: float
    change: bool
    """Sent for a change (a resend that also was one too; not the first to its session)."""


@dataclass
class ExtensionModel:
    state: ServerState
    registered: dict[tuple[str, str], tuple[int, Address]] = field(default_factory=dict)
    """media-auth: (id, uid) -> the session that registered it and where."""
    counters: dict[int, int] = field(default_factory=dict)
    """media-auth: the last counter each session sent."""
    accepted: dict[int, int] = field(default_factory=dict)
    """media-auth: the greatest counter the server accepted from each session."""
    secrets: dict[str, list[bytes]] = field(default_factory=dict)
    """media-auth: every media secret each uid was given, in order (the last is its session's
    now, if it has one)."""
    announced: dict[InterphoneId, int] = field(default_factory=dict)
    """media-auth: the newest epoch anyone was told for each interphone."""
    reports: dict[tuple[InterphoneId, str], _Report] = field(default_factory=dict)
    """feedback: each listener's latest report kept (rule 5)."""
    notices: dict[InterphoneId, _Notice] = field(default_factory=dict)
    """feedback: the last notice of each interphone."""

    # ---- what the server sent ------------------------------------------------------------------

    def told(self, sid: int, message: Message, joined: frozenset[InterphoneId]) -> None:
        """``message`` to ``sid``, which believed itself a member of ``joined``."""
        body = message.body
        state = self.state
        epoch = (body.epoch if isinstance(body, MediaKeyNotice)
                 else body.media_key.epoch if isinstance(body, JoinResult) and body.media_key
                 else 0)
        if epoch:
            interphone = body.id if isinstance(body, MediaKeyNotice) else body.info.id
            assert epoch >= self.announced.get(interphone, 0), (
                f"{body} to {sid}: an older epoch than told before")
            self.announced[interphone] = epoch
            session = state.sessions.get(sid)
            assert session is not None and MEDIA_AUTH in session.features, (sid, body)
            if isinstance(body, MediaKeyNotice):  # (a member told the key it joined under
                # its join response; a later change in the same step may remove it)
                assert interphone in joined, f"{body} to {sid}, not a member of {interphone}"
        if isinstance(body, FeedbackNotice):
            self._feedback(sid, body)
        if isinstance(body, RosterNotice):  # the roster of the directory served now
            session = state.sessions.get(sid)
            assert session is not None, (sid, body)
            auth = state.settings.auth
            assert body.roster == state.directory.roster(session.uid, auth), (sid, body)
            assert body.name == state.directory.name_of(session.uid), (sid, body)
        if isinstance(body, PresenceChanged):
            # (watched as before the step: a user a reload removes is watched until its end)
            contacts = (state.presence.contacts_of.get(sid, frozenset())
                        | self.watched.get(sid, frozenset()))
            assert body.uid in contacts, f"{body} to {sid}, which does not watch {body.uid}"
            session = state.sessions.get(sid)
            assert session is not None and session.uid != body.uid, (sid, body)

    def _feedback(self, sid: int, notice: FeedbackNotice) -> None:
        """Only the holder of the floor, granted feedback, is told; the aggregate of the
        latest report of each listener still a member, about it, at most 3 s old."""
        state = self.state
        session = state.sessions.get(sid)
        record = state.interphones.get(notice.id)
        event("feedback notice")
        assert session is not None and FEEDBACK in session.features, (sid, notice)
        assert record is not None and record.holder == session.uid, (
            f"{notice} to {session.uid}, not the holder of {notice.id}")
        now = self.now
        counted = [r for (interphone, uid), r in self.reports.items()
                   if interphone == notice.id and record.members.get(uid) == r.sid
                   and r.speaker == session.uid and now - r.at <= FEEDBACK_WINDOW]
        assert notice.listeners == len(counted), (notice, counted, now)
        assert notice.worst_pct == max((r.loss for r in counted), default=0.0), (notice, counted)
        assert notice.jitter_ms == max((r.jitter for r in counted), default=0.0), (
            notice, counted)
        losses = sorted(r.loss for r in counted)
        p90 = losses[math.ceil(0.9 * len(losses)) - 1] if losses else 0.0
        assert notice.p90_pct == p90, (notice, losses)
        self._notice_bound(sid, notice)

    def _notice_bound(self, sid: int, notice: FeedbackNotice) -> None:
        """A notice is a first one (the last of this interphone went to another session),
        a resend (a second since the last) or a change (worst or p90 moved by 0.5); one sent
        for a change alone comes 0.25 s after the last if that one was sent for a change."""
        now = self.now
        last = self.notices.get(notice.id)
        first = last is None or last.sid != sid
        resend = last is not None and now - last.at >= RESEND_SECONDS
        change = last is not None and (abs(notice.worst_pct - last.worst) >= CHANGE_PCT
                                       or abs(notice.p90_pct - last.p90) >= CHANGE_PCT)
        assert first or resend or change, (f"{notice} at {now}: neither a first notice, a "
                                           f"resend nor a change after {last}")
        if not first and not resend and last is not None and last.change:
            assert now - last.at >= MIN_GAP_SECONDS, (
                f"{notice} at {now}, a change only {now - last.at} s after {last}")
        self.notices[notice.id] = _Notice(sid, now, notice.worst_pct, notice.p90_pct,
                                          change and not first)

    def keys_before_changes(self, messages: list[tuple[int, Message]]) -> None:
        """media-auth 3: a member's key notice comes before the change notification of the
        same membership change (a session granted coalesce may have that one held back; a
        lost connection, whose session ends later, is not told others' changes)."""
        state = self.state
        for index, (sid, message) in enumerate(messages):
            body = message.body
            session = state.sessions.get(sid)
            peer = state.peers.get(sid)
            if (not isinstance(body, MediaKeyNotice) or session is None
                    or COALESCE in session.features or peer is None or peer.lost):
                continue
            assert any(to == sid and isinstance(later.body, InterphoneChanged)
                       and later.body.info.id == body.id
                       for to, later in messages[index + 1:]), (
                f"{body} to {sid} and no change notification of {body.id} after it")

    now: float = 0.0
    watched: dict[int, frozenset[str]] = field(default_factory=dict)
    """presence: each session's contacts before the step."""

    def after_step(self) -> None:
        """Registrations end with the membership or the session (media-auth 6); an
        interphone that ends forgets its reports (feedback)."""
        state = self.state
        self.watched = dict(state.presence.contacts_of)
        for key in [k for k in self.reports if k[0] not in state.interphones]:
            del self.reports[key]  # the interphone ended: its reports are forgotten
        for interphone in [i for i in self.notices if i not in state.interphones]:
            del self.notices[interphone]
        for (interphone, uid), (sid, _) in list(self.registered.items()):
            record = state.routes.get(interphone)
            if record is None or record.members.get(uid) != sid or sid not in state.sessions:
                del self.registered[(interphone, uid)]

    def logged_in(self, uid: str, secret: bytes | None) -> None:
        if secret is not None and secret not in self.secrets.get(uid, []):
            self.secrets.setdefault(uid, []).append(secret)

    # ---- the machine's datagrams and requests --------------------------------------------------

    def auth_recvbegin(self, uid: str, interphone: InterphoneId, address: Address, *,
                       stale_secret: bool, replay: bool, views: dict[int, View]) -> None:
        """An auth_recvbegin naming ``uid``: registered only for the live media-auth session
        of a member, under its secret, with a counter above every one accepted, from the
        signaling peer's IP (section 5)."""
        state = self.state
        secrets = self.secrets.get(uid, [])
        sid = state.by_uid.get(uid)
        view = views.get(sid) if sid is not None else None
        current = view.secret if view is not None else None
        if stale_secret:
            old = [s for s in secrets if s != current]
            secret = old[-1] if old else None
        else:
            secret = current
        if secret is None:
            return
        key = sid if sid is not None else 0
        if replay and self.accepted.get(key):
            counter = self.accepted[key]
        else:
            counter = self.counters.get(key, 0) + 1
            self.counters[key] = counter
        packet = AuthRecvBegin.sign(secret, str(interphone), uid, counter).serialize()
        record = state.interphones.get(interphone)
        expected = (sid is not None and current is not None and secret == current
                    and record is not None and record.members.get(uid) == sid
                    and counter > self.accepted.get(sid, 0) and address[0] == PEER_IP)
        result = state.media_gate.datagram(packet, address, self.now)
        assert (result.registered == (str(interphone), uid)) == expected, (
            uid, interphone, address, stale_secret, replay, counter, result)
        event(f"auth recvbegin registered: {expected}")
        if expected:
            assert sid is not None
            self.accepted[sid] = counter
            self.registered[(str(interphone), uid)] = (sid, address)
            assert [to for _, to in result.sends] == [address]
        else:
            assert not result.sends

    def sealed_audio(self, uid: str, interphone: InterphoneId, address: Address, *,
                     old_epoch: bool, old_grant: bool, views: dict[int, View]) -> None:
        """Sealed audio of ``uid`` under the key and grant it was told: relayed only from
        its registered address while it holds the floor, under the current epoch and grant,
        to the registered address of every other media-auth member (section 6)."""
        state = self.state
        sid = state.by_uid.get(uid)
        view = views.get(sid) if sid is not None else None
        if view is None or interphone not in view.epochs:
            return
        epoch = view.epochs[interphone] - (1 if old_epoch else 0)
        grant = view.grants.get(interphone, 1) - (1 if old_grant else 0)
        if epoch < 1 or grant < 1:
            return
        packet = seal_audio(MediaKey(epoch, bytes(32)), str(interphone), uid, grant, 0, b"\xf8")
        record = state.interphones.get(interphone)
        expected = (record is not None and record.holder == uid
                    and self.registered.get((str(interphone), uid)) == (sid, address)
                    and epoch == self.announced.get(interphone)
                    and interphone in view.grants and not old_grant)
        result = state.media_gate.datagram(packet, address, self.now)
        event(f"sealed audio relayed: {expected}")
        assert (result.heard is not None) == expected, (
            uid, interphone, address, epoch, grant, old_epoch, old_grant, result)
        if not expected:
            assert not result.targets, result
            return
        assert record is not None
        listeners = {where for (i, member), (member_sid, where) in self.registered.items()
                     if i == str(interphone) and member != uid
                     and record.members.get(member) == member_sid}
        assert set(result.targets) == listeners, (result.targets, listeners)

    def reported(self, sid: int, report: QualityReport, answer: object, now: float) -> None:
        """Rules 2-5 of the report: 400 without the feature, 403 from a non-member, else
        acknowledged; kept when it is about the holder and not from the holder."""
        state = self.state
        session = state.sessions[sid]
        record = state.interphones.get(report.id)
        if FEEDBACK not in session.features:
            assert isinstance(answer, ErrorReply) and answer.errcode == 400, answer
            return
        if record is None or record.members.get(session.uid) != sid:
            assert isinstance(answer, ErrorReply) and answer.errcode == 403, answer
            return
        assert answer == QualityAck(report.id), answer
        if record.holder and report.speaker == record.holder != session.uid:
            event("feedback report kept")
            self.reports[(report.id, session.uid)] = _Report(
                sid, report.speaker, report.loss_pct, report.jitter_ms, now)

