"""The ``interphone`` change notifications of :class:`~app.server.state.ServerState`
(PROTOCOL.md 5): who is told (members, watchers, the parties of a chat), in which view
(member list or count only, the receiver's ``attach_id``, the emergency for sessions of
extension emergency), and when (member changes coalesced for sessions granted
``coalesce``, :mod:`app.server.coalesce`).

A mixin over :class:`~app.server.state_base.StateBase`.
"""

from __future__ import annotations

from app.protocol.features import EMERGENCY
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.messages import InterphoneChanged, InterphoneInfo, Message
from app.server.coalesce import COALESCE
from app.server.outbox import Outbox
from app.server.state_base import StateBase

MEMBER_LIST_LIMIT = 64
"""Notifications to members list them only up to this many (then count-only)."""


class NotificationRules(StateBase):
    """Telling everyone concerned the new state of an interphone."""

    def _notify_members(self, interphone: InterphoneId, outbox: Outbox) -> None:
        """A member change: told now; to the sessions granted ``coalesce``, unless the
        interphone was told within the window (then with the next change or at its end)."""
        record = self.interphones.get(interphone)
        if self.coalescer.hold(interphone, self.now, len(record.members) if record else 0):
            if self.uncoalesced:  # (told now to the sessions that are not coalesced)
                self._notify(interphone, outbox, coalescing=False)
        else:
            self._notify(interphone, outbox)

    def _notify(self, interphone: InterphoneId, outbox: Outbox, *,
                coalescing: bool | None = None, removed: int | None = None) -> None:
        """Tell every member, watcher and chat party, each once, the new state (only those
        granted ``coalesce`` if ``coalescing``, only the others if it is False). ``removed``:
        a session the server just took out of the interphone (a directory reload), told as
        the members are, with the member list that no longer names it."""
        if coalescing is None:
            self.coalescer.told(interphone, self.now)
        record = self.interphones.get(interphone)
        members: tuple[str, ...] = tuple(record.members) if record else ()
        speaker = record.holder if record else ""
        recipients: dict[int, bool] = {}
        if record is not None:
            for sid in record.members.values():
                recipients[sid] = True
        if removed is not None and removed in self.sessions:
            recipients[removed] = True
        for sid in self.watchers.get(interphone, ()):
            recipients.setdefault(sid, False)
        if interphone.kind is AttachType.CHAT:
            for party in interphone.parties:
                party_sid = self.by_uid.get(party)
                if party_sid is not None:
                    recipients.setdefault(party_sid, False)
        listed = len(members) <= MEMBER_LIST_LIMIT
        raised_by = record.floor.emergency_by if record else ""
        emergency_id = record.floor.emergency_id if record and raised_by else ""
        views: dict[tuple[bool, str, str], Message] = {}
        others_elsewhere = self.shared is not None  # sessions of other nodes: told there
        peers = self.peers
        for sid, is_member in recipients.items():
            peer = peers.get(sid)
            if peer is None and others_elsewhere:
                continue
            if peer is not None and peer.lost:  # its end comes in a later turn: never sent
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
                                      members if view[0] else None, emergency=view[2],
                                      emergency_id=emergency_id if view[2] else "")
                message = views[view] = Message.notification(InterphoneChanged(info))
            outbox.send(sid, message)
