"""The session rules of :class:`~app.server.state.ServerState` (PROTOCOL.md MID_SESSION):
login (an older session of the uid is kicked), the features granted, logout, and a
directory reload (SIGHUP) applied to the live sessions.

A mixin over :class:`~app.server.state_base.StateBase`.
"""

from __future__ import annotations

from dataclasses import replace

from app.protocol.errors import ErrCode
from app.protocol.features import COALESCE, PRIORITY, ROSTER, grant_features
from app.protocol.messages import (
    ACCOUNT_REMOVED,
    Kicked,
    LoginResult,
    Message,
    RosterEntry,
    RosterNotice,
)
from app.server.directory import Directory
from app.server.directory_changes import DirectoryChanges
from app.server.frame_fit import fitting_contacts
from app.server.media_gate import ERRCODE_MEDIA_AUTH_REQUIRED, ERRMSG_MEDIA_AUTH_REQUIRED
from app.server.outbox import Outbox, Refused, Result
from app.server.records import Session, normalize_ip
from app.server.state_base import StateBase


class SessionRules(StateBase):
    """Logging in and out, and what a directory reload ends."""

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
            self.uncoalesced += COALESCE not in granted
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
            name=self.directory.name_of(uid) if ROSTER in current.features else "",
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
        self.uncoalesced -= COALESCE not in session.features
        del self.sessions[sid]

    def replace_directory(self, directory: Directory, now: float,
                          rosters: list[int] | None = None) -> Outbox:
        """Serve ``directory`` from now on and bring the live sessions in line with it.

        In token mode the session of a removed user is kicked (``kicked
        reason='account_removed'``, then closed, leaving its interphones as at a
        logout). Every session leaves the interphones it may no longer see (the
        members are told, and so is the session itself, by the same change notification
        with the member list that no longer names it; a floor it held is released) and
        stops watching them. A session granted extension ``roster`` whose roster or own
        name changed is sent the new roster.
        Changed tokens apply at the next login: live sessions stay. The
        ``[server]`` settings are kept (they apply at the next start). One log
        line says what changed (:class:`DirectoryChanges`; never a token).
        ``rosters``: the sessions to tell their roster are added to it (in order, for the
        I/O layer to tell with :meth:`tell_roster` a few at a time) instead of told here.
        """
        changes = DirectoryChanges.between(self.directory, directory, self.settings)
        previous, self.directory = self.directory, directory
        outbox = Outbox()
        kicked = left = 0
        removed_users = set(changes.users_removed) if self.settings.auth == "token" else set()
        self.withdraw_waiting(
            [(session.sid, interphone) for session in self.sessions.values()
             for interphone in session.joined
             if session.uid in removed_users or not self._may_see(session.uid, interphone)],
            outbox)
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
        # auth "open" kicks nobody: a removed user still online stays watched until its end
        leaving = [uid for uid in changes.users_removed if uid in self.by_uid]
        for session in list(self.sessions.values()):
            for interphone in [i for i in session.joined if not self._may_see(session.uid, i)]:
                self._leave(session, self.interphones[interphone], outbox, "directory reload",
                            tell_leaver=True)
                left += 1
            hidden = [i for i in session.subscriptions if not self._may_see(session.uid, i)]
            for interphone in hidden:
                self.stop_watching(session.sid, interphone)
            self.presence.roster_reloaded(session, leaving)
            if rosters is None:
                self.tell_roster(session.sid, previous, outbox)
            else:
                rosters.append(session.sid)
        outbox.log(f"directory reloaded: {changes.describe()}; "
                   f"{kicked} session(s) kicked, {left} membership(s) ended")
        return outbox

    def tell_roster(self, sid: int, previous: Directory, outbox: Outbox) -> None:
        """Extension roster, after a reload from ``previous`` to the directory served now
        (here, or by a shared log's :meth:`~app.server.replica.Replica.replace_directory`):
        if session ``sid`` was granted the extension and its roster or own name changed,
        the whole new roster goes into ``outbox`` for it. Nothing else changes. A session
        that ended since is told nothing."""
        session = self.sessions.get(sid)
        if session is None or ROSTER not in session.features:
            return
        auth, uid = self.settings.auth, session.uid
        roster, name = self.directory.roster(uid, auth), self.directory.name_of(uid)
        if (roster, name) != (previous.roster(uid, auth), previous.name_of(uid)):
            notice = Message.notification(RosterNotice(roster, name))
            outbox.send(sid, notice if self.directory.serves(roster) else fit_one_frame(notice))


def fit_one_frame(message: Message) -> Message:
    """``message``, or for a login response (or extension roster's notice) too big for
    one frame, the same with its groups and discussions and as many of its contacts as
    fit. The directory's roster is cut already (with room for the rest of a login
    response): this only guards the frame."""
    body = message.body
    if not isinstance(body, LoginResult | RosterNotice):
        return message
    circles = tuple(e for e in body.roster if e.kind != "contact")
    contacts = tuple(e for e in body.roster if e.kind == "contact")

    def build(entries: tuple[RosterEntry, ...]) -> Message:
        return replace(message, body=replace(body, roster=entries))

    count = fitting_contacts(build, circles, contacts)
    return message if count == len(contacts) else build(circles + contacts[:count])
