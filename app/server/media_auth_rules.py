"""The server state's part of the media-auth extension (docs/protocol-extensions.md).

A mixin of :class:`~app.server.state.ServerState`, kept apart so the state's
base rules stay readable: each session granted ``media-auth`` gets a media
secret at login (its :class:`~app.protocol.media_crypto.RecvBeginVerifier`
lives in the session), each live interphone a voice key that is rotated on
every membership change and handed to the media-auth members only, and every
floor grant a number. It also is the :class:`~app.server.media_gate.MembershipView`
the relay's :class:`~app.server.media_gate.SealedMediaGate` asks.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.protocol.ids import InterphoneId
from app.protocol.media_crypto import (
    FEATURE,
    MediaKey,
    MediaPacketType,
    RecvBeginVerifier,
    encode_b64,
    new_secret,
)
from app.protocol.messages import MediaKeyNotice, Message
from app.server.outbox import Outbox
from app.server.records import Address, Interphone, Session, normalize_ip
from app.server.state_base import StateBase

AUTH_RECVBEGIN = int(MediaPacketType.AUTH_RECVBEGIN)


class MediaAuthRules(StateBase):
    """Keys, secrets and grant numbers; the membership view of the media gate."""

    # ---- the gate's MembershipView ----------------------------------------------------------

    def recvbegin_verifier(self, uid: str, source_ip: str) -> RecvBeginVerifier | None:
        session = self._live_session(uid)
        if session is None or not self._media_source_allowed(session, source_ip):
            return None
        return session.media

    def _media_source_allowed(self, session: Session, source_ip: str) -> bool:
        """A media-auth registration comes from the session's IP (as a base one must),
        unless ``media_auth_any_source_ip``: the mac proves who sent it, not from where,
        so without this a member who spoofs its source could send voice to any host."""
        return self.settings.media_auth_any_source_ip \
            or session.peer_ip == normalize_ip(source_ip)

    def is_member(self, interphone_id: str, uid: str) -> bool:
        record = self.routes.get(interphone_id)
        return record is not None and record.members.get(uid) == self.by_uid.get(uid)

    def floor_holder(self, interphone_id: str) -> str | None:
        record = self.routes.get(interphone_id)
        return record.holder or None if record is not None else None

    def media_auth_members(self, interphone_id: str) -> Iterator[str]:
        record = self.routes.get(interphone_id)
        if record is None:
            return
        for uid, sid in record.members.items():
            session = self.sessions.get(sid)
            if session is not None and session.media is not None:
                yield uid

    def remote_relays(self, interphone_id: str, speaker: str) -> tuple[Address, ...]:
        record = self.routes.get(interphone_id)
        if record is None or not record.remote:
            return ()
        return tuple(dict.fromkeys(record.addrs[uid] for uid in record.remote
                                   if uid != speaker and uid in record.addrs))

    def sealed_registered(self, interphone_id: str, uid: str) -> None:
        """The gate registered (id, uid) for the first time: on several nodes, the others
        learn (through the log) that its sealed audio goes to this node's relay."""
        record = self.routes.get(interphone_id)
        sid = record.members.get(uid) if record is not None else None
        if self.shared is not None and record is not None and sid is not None:
            self.shared.sealed_registered(record, uid, sid)

    # ---- hooks of the state's rules ---------------------------------------------------------

    def recvbegin_plausible(self, kind: int, uid: str, source_ip: str) -> bool:
        """Whether a recvbegin of ``kind`` (2 base, 16 media-auth) naming ``uid`` from
        ``source_ip`` could register at all: a live session of ``uid`` that holds media-auth
        (16), or that does not and logged in from that IP (2), as ``register_media`` and
        the gate require. Single dictionary reads: the media thread asks it before handing a
        recvbegin to the event loop, so a flood of recvbegins for nobody never gets there."""
        session = self._live_session(uid)
        if session is None:
            return False
        if kind == AUTH_RECVBEGIN:
            return session.media is not None and self._media_source_allowed(session, source_ip)
        return session.media is None and session.peer_ip == normalize_ip(source_ip)

    def _live_session(self, uid: str) -> Session | None:
        sid = self.by_uid.get(uid)
        return self.sessions.get(sid) if sid is not None else None

    def media_login(self, session: Session) -> str:
        """A media secret for a session granted media-auth ('' for any other)."""
        if FEATURE not in session.features:
            return ""
        secret = new_secret()
        session.media = RecvBeginVerifier(secret, session.uid)
        return encode_b64(secret)

    def media_session_ended(self, session: Session) -> None:
        if session.media is not None:
            session.media = None
            self.media_gate.unregister_uid(session.uid)

    def media_membership_changed(self, record: Interphone, outbox: Outbox,
                                 skip: int | None = None) -> MediaKey | None:
        """Rotate the key of ``record`` (or forget it when it ended) and send the new one
        to every media-auth member but ``skip`` (the joiner gets it in its response).
        Call before the change notification."""
        key_id = str(record.id)
        if not record.members:
            self.media_keys.end(key_id)
            return None
        key = self.media_keys.rotate(key_id)
        notice: Message | None = None
        peers, others_elsewhere = self.peers, self.shared is not None
        for sid in record.members.values():
            session = self.sessions.get(sid)
            if sid == skip or session is None or session.media is None:
                continue
            peer = peers.get(sid)
            if (peer is None and others_elsewhere) or (peer is not None and peer.lost):
                continue  # told by its own node; or its end comes in a later turn: never sent
            if notice is None:
                notice = Message.notification(self.key_notice(record.id, key))
            outbox.send(sid, notice)
        return key

    def media_key_for(self, session: Session, interphone: InterphoneId) -> MediaKeyNotice | None:
        """The current key of ``interphone`` for a join response (None: not media-auth)."""
        if session.media is None:
            return None
        key = self.media_keys.current(str(interphone))
        return self.key_notice(interphone, key) if key is not None else None

    @staticmethod
    def key_notice(interphone: InterphoneId, key: MediaKey) -> MediaKeyNotice:
        return MediaKeyNotice(interphone, key.epoch, encode_b64(key.key))

    def media_left(self, record: Interphone, uid: str) -> None:
        self.media_gate.unregister(str(record.id), uid)
        if self.shared is not None:
            self.media_gate.changed()  # it may have listened through another node's relay

    def media_grant(self, record: Interphone) -> int:
        """A new grant number for the floor of ``record`` (every grant, re-grants too)."""
        return self.media_keys.new_grant(str(record.id))

    def media_released(self, record: Interphone) -> None:
        self.media_keys.release(str(record.id))
