"""Media admission in :class:`~app.server.state.ServerState` (PROTOCOL.md 5.1): which UDP
address receives an interphone's audio (``recvbegin``, and registrations handed back by
a shared log), and which audiopacket the relay may forward (:meth:`accept_audio`, and
:meth:`accept_forwarded` for audio another node's relay forwarded).

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

    def _route(self, key: str) -> Interphone | None:
        """The interphone an audiopacket's ``id`` names (a chat's either way round)."""
        record = self.routes.get(key)
        if record is None and key.startswith("chat_"):
            try:
                record = self.routes.get(str(InterphoneId.parse(key)))
            except ProtocolError:
                return None
        return record

    def accept_audio(self, key: str, uid: str, addr: Address, now: float) -> Interphone | None:
        """PROTOCOL.md 5.1 for one audiopacket of ``uid`` in interphone ``key`` from ``addr``,
        a client of this node (audio from another node's relay is :meth:`accept_forwarded`'s).

        The interphone if ``uid`` holds its floor, ``addr`` is its registered address and
        the grant was made by ``now`` (when the packet arrived: a relay may judge it later)
        and has not run out at ``now`` (then its silence clock restarts): the packet goes
        to ``fanout(uid)``. None otherwise, also for a member registered at another node
        (its audio comes from that node's relay only). A grant found run out is left to
        :meth:`handle_timer`, which :meth:`next_deadline` already asks for.
        """
        record = self._route(key)
        if record is None or record.addrs.get(uid) != addr or uid in record.remote:
            return None
        if record.holder != uid:
            return None
        if now < record.granted_at or now >= record.floor_deadline(self.settings):
            return None
        record.last_audio_at = now
        return record

    def accept_forwarded(self, key: str,
                         uid: str) -> tuple[Interphone, tuple[Address, ...]] | None:
        """An audiopacket of ``uid`` in interphone ``key`` that another node's relay forwarded
        (the caller checked its node-auth trailer, :mod:`app.server.node_auth`; the source
        address proves nothing): the interphone and where it goes, or None if this node
        has no such interphone (no listener here).

        That node judged it: ``uid``'s registered address there, its floor, its grant. This
        node applies the same registration and grant from the log at its own pace and may
        not have applied them yet when the packet arrives, so it checks neither and takes
        the peer's word for who speaks. The packet goes to this node's own listeners only
        (:meth:`Interphone.forwarded_fanout`), never to another node's relay: the speaker's
        node sends each node its copy, and one sent on would come back.
        """
        record = self._route(key)
        if record is None:
            return None
        return record, record.forwarded_fanout(uid)
