"""The routes the relay admits (what the media thread forwards on its own) and the grants
given up whose earlier datagrams are still served: records, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.errors import ProtocolError
from app.protocol.ids import InterphoneId
from app.protocol.limits import MAX_OPUS_FRAME
from app.server.media_gate import SealedMediaGate
from app.server.records import Address, Interphone


def audio_frame_at(key: str, uid: str) -> int:
    """Offset of an audiopacket's frame length (after crc, type, id, uid and seq), the one
    number the fast path keeps per stream instead of calling
    :func:`~app.protocol.udp.audio_well_formed` per packet (same layout, see there)."""
    return 16 + len(key.encode()) + len(uid.encode()) + 4


@dataclass(frozen=True, slots=True, eq=False)
class FastRoute:
    """An audio stream the relay admitted: what the media thread needs to forward the next
    packets of ``uid`` in ``record`` from one source address on its own.

    ``prefix`` is the datagram's bytes from ``type`` to the end of ``uid`` (so a packet
    matches when it starts with them at offset 4) and ``frame_at`` the offset of its frame
    length. ``targets`` is the very tuple the state cached as ``uid``'s fan-out when the
    route was made: the state replaces or clears that cache whenever a registration
    changes or another member's audio is admitted, so identity means that the address
    registered for ``uid`` and the listeners are still the ones admitted.
    """

    prefix: bytes
    frame_at: int
    record: Interphone
    uid: str
    targets: tuple[Address, ...]

    max_frame: int = MAX_OPUS_FRAME
    """The largest frame (``bytes`` field) the route's packets may carry."""
    grant_no: int = 0
    """The grant the route was admitted under: a later grant to the same uid needs its own."""
    local: tuple[Address, ...] = ()
    """The ``targets`` that are this node's listeners, sent the datagram as it is (all of
    them when neither this nor ``peers`` is given)."""
    peers: tuple[Address, ...] = ()
    """The ``targets`` that are other nodes' relays, sent it with a node-auth trailer."""
    trailer: int = 0
    """Bytes after the datagram: :data:`~app.server.node_auth.TRAILER` on the route of
    audio another node forwarded (each one's trailer is checked), else 0."""
    sealed: bool = field(default=False, init=False)
    """False: :meth:`valid` is exactly the test the media thread makes inline (a sealed
    route's is the gate's and is called)."""

    def __post_init__(self) -> None:
        if not self.local and not self.peers:
            object.__setattr__(self, "local", self.targets)

    def valid(self) -> bool:
        """Still the holder, at the admitted address, with the admitted listeners (deadlines
        are checked per packet by the caller)."""
        record = self.record
        return (record.fanout_targets is self.targets and record.holder == self.uid
                and record.grant_no == self.grant_no)


@dataclass(frozen=True, slots=True, eq=False)
class SealedRoute(FastRoute):
    """A media-auth sealed audio stream the gate admitted. ``prefix`` runs through the
    grant, so a packet of another epoch or grant never matches it; the route holds while
    the grant is current and no authenticated registration changed (the gate's
    ``generation``)."""

    sealed: bool = field(default=True, init=False)
    gate: SealedMediaGate | None = None
    key_id: str = ""
    epoch: int = 0
    grant: int = 0
    generation: int = -1

    def valid(self) -> bool:
        gate = self.gate
        return (gate is not None and gate.generation == self.generation
                and self.record.holder == self.uid
                and gate.keys.relay_allows(self.key_id, self.epoch, self.grant))


@dataclass(frozen=True, slots=True, eq=False)
class RetiredGrant:
    """A floor given up (release number ``token``): what the holder's datagrams that arrived
    before the release still get."""

    record: Interphone
    uid: str
    targets: tuple[Address, ...]
    deadline: float
    token: int
    granted_mark: int = 0
    """The marker of the grant given up (:attr:`Interphone.grant_mark`): what was read
    before it arrived before the grant and was never the holder's to send."""

    def serves(self, key: str, uid: str, released_after: int) -> bool:
        """``uid``'s audio for interphone ``key``, read after the grant and before this
        release (``released_after``: the last marker sent when it was read)."""
        if not self.granted_mark <= released_after < self.token or uid != self.uid:
            return False
        if key == str(self.record.id):
            return True
        try:
            return key.startswith("chat_") and InterphoneId.parse(key) == self.record.id
        except ProtocolError:
            return False
