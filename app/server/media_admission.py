"""Media admission in :class:`~app.server.state.ServerState` (PROTOCOL.md 5.1): which UDP
address receives an interphone's audio (``recvbegin``, and registrations handed back by
a shared log), and which audiopacket the relay may forward (:meth:`accept_audio`).

A mixin over :class:`~app.server.state_base.StateBase`. The authenticated form of both
(extension media-auth) is in :mod:`app.server.media_auth_rules` and
:mod:`app.server.media_gate`.
"""

from __future__ import annotations

from app.protocol.errors import ProtocolError
from app.protocol.ids import InterphoneId
from app.server.records import Address, Interphone, normalize_ip
from app.server.state_base import StateBase


class MediaAdmission(StateBase):
    """Registered media addresses and the floor check of each packet."""

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
