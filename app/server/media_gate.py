"""The server's media-auth decisions for one datagram (pure; no socket, clock passed in).

docs/protocol-extensions.md, "Extension: media-auth", sections 5 and 6: who may
register where (authenticated recvbegin), and which sealed audio packets are
relayed to whom. The relay owns the socket and hands each datagram whose type
field is a media-auth type (:func:`~app.protocol.media_crypto.media_packet_type`)
to :meth:`SealedMediaGate.datagram`, then sends what it returns. Sessions,
membership and the floor stay in the server's state, seen through
:class:`MembershipView`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from app.protocol.errors import PacketError
from app.protocol.media_crypto import (
    FEATURE,
    AuthRecvBegin,
    MediaPacketType,
    RecvBeginVerifier,
    media_packet_type,
    parse_media_packet,
    peek_sealed_route,
)
from app.protocol.media_keys import InterphoneKeys
from app.server.addr_limits import RecvBeginBuckets

logger = logging.getLogger(__name__)

Address = tuple[str, int]

ERRCODE_MEDIA_AUTH_REQUIRED = 426
ERRMSG_MEDIA_AUTH_REQUIRED = "media-auth required"


class MediaEncryption(enum.StrEnum):
    """The ``[server]`` key ``media_encryption`` (docs/protocol-extensions.md, section 2)."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    OFF = "off"

    @classmethod
    def from_setting(cls, value: str | None, *, tls: bool) -> MediaEncryption:
        """The configured mode; unset means ``required`` with TLS and ``off`` without."""
        if value is None:
            return cls.REQUIRED if tls else cls.OFF
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f'media_encryption must be "required", "optional" or "off", '
                             f"not {value!r}") from None

    def offers(self) -> bool:
        """Whether ``media-auth`` goes into the server's offered feature names."""
        return self is not MediaEncryption.OFF

    def refuses(self, requested: Iterable[str]) -> bool:
        """Whether a login asking for ``requested`` features is refused (errcode 426)."""
        return self is MediaEncryption.REQUIRED and FEATURE not in set(requested)

    def accepts_base_media(self) -> bool:
        """Whether base packets (types 1 and 2) are served at all."""
        return self is not MediaEncryption.REQUIRED


class MembershipView(Protocol):
    """What the gate needs to know about sessions; the server's state provides it."""

    def recvbegin_verifier(self, uid: str, source_ip: str) -> RecvBeginVerifier | None:
        """The verifier of ``uid``'s live session if it was granted media-auth and may
        register from ``source_ip``, else None."""

    def is_member(self, interphone_id: str, uid: str) -> bool: ...

    def floor_holder(self, interphone_id: str) -> str | None: ...

    def media_auth_members(self, interphone_id: str) -> Iterable[str]:
        """Members of ``interphone_id`` whose sessions hold media-auth."""

    def remote_relays(self, interphone_id: str, speaker: str) -> tuple[Address, ...]:
        """Several nodes: the relays of the other nodes where members of ``interphone_id``
        but ``speaker`` registered (one copy of each packet per node)."""


@dataclass(frozen=True, slots=True)
class GateResult:
    sends: tuple[tuple[bytes, Address], ...] = ()
    """Datagrams to send (an ack)."""
    targets: tuple[Address, ...] = ()
    """Where the received datagram itself goes, byte for byte (sealed audio)."""
    heard: tuple[str, str] | None = None
    """(id, uid) when audio of the floor holder was relayed (resets the silence timer)."""
    registered: tuple[str, str] | None = None
    """(id, uid) when an authenticated recvbegin registered or refreshed an address."""
    fresh: bool = False
    """With ``registered``: (id, uid) had no address before (not a refresh or a move)."""
    forwarded: bool = False
    """Sealed audio another node's relay forwarded (its node judged it): relayed to
    ``targets``, this node's members."""


_NOTHING = GateResult()
_FAST_ROUTES = 4096


@dataclass(frozen=True, slots=True)
class _Route:
    id: str
    epoch: int
    grant: int
    source: Address
    result: GateResult


def _sealed_head(data: bytes) -> bytes | None:
    """The bytes from the id's length through the grant of a sealed audio packet."""
    if len(data) < 32:
        return None
    id_end = 12 + int.from_bytes(data[8:12], "big")
    uid_end = id_end + 4 + int.from_bytes(data[id_end:id_end + 4], "big")
    if uid_end + 8 > len(data):
        return None
    return data[8:uid_end + 8]


@dataclass(slots=True)
class SealedMediaGate:
    view: MembershipView
    keys: InterphoneKeys
    buckets: RecvBeginBuckets = field(default_factory=RecvBeginBuckets)
    _where: dict[tuple[str, str], Address] = field(default_factory=dict)
    _by_address: dict[Address, set[tuple[str, str]]] = field(default_factory=dict)
    generation: int = 0
    """Counts registration changes: a route remembered under an older one is stale."""
    _fast: dict[bytes, _Route] = field(default_factory=dict)
    """Routes of sealed audio that passed every check, by header bytes (id, uid, epoch,
    grant); emptied whenever a registration changes, checked against the current grant."""
    relays: set[Address] = field(default_factory=set)
    """Several nodes: the other nodes' relays (empty on one node), where sealed audio of
    this node's members goes once per node with members. What they forward here is
    recognised by its node-auth trailer, not by their address (:meth:`forwarded`)."""

    def datagram(self, data: bytes, source: Address, now: float) -> GateResult:
        kind = media_packet_type(data)
        if kind is None:
            return _NOTHING
        if kind is MediaPacketType.AUTH_RECVBEGIN:
            return self._recvbegin(data, source, now)
        if source not in self._by_address:
            return _NOTHING  # unregistered source: no parsing beyond the type field
        if kind is MediaPacketType.SEALED_AUDIO:
            head = _sealed_head(data)
            route = self._fast.get(head) if head is not None else None
            if route is not None:
                if route.source != source or not self.keys.relay_allows(
                        route.id, route.epoch, route.grant):
                    return _NOTHING
                return route.result
            return self._sealed(data, source, head)
        return _NOTHING  # acks travel from the server only

    def has_source(self, address: Address) -> bool:
        """Whether ``address`` holds an authenticated registration."""
        return address in self._by_address

    def changed(self) -> None:
        """Registrations at other nodes changed: remembered routes are stale."""
        self._fast.clear()
        self.generation += 1

    def registered(self, interphone_id: str, uid: str) -> Address | None:
        return self._where.get((interphone_id, uid))

    def unregister(self, interphone_id: str, uid: str) -> None:
        """The member quit or its session ended."""
        address = self._where.pop((interphone_id, uid), None)
        if address is not None:
            self._fast.clear()
            self.generation += 1
            self._unlink(address, (interphone_id, uid))

    def unregister_uid(self, uid: str) -> None:
        for route in [r for r in self._where if r[1] == uid]:
            self.unregister(*route)

    def _recvbegin(self, data: bytes, source: Address, now: float) -> GateResult:
        if not self.buckets.allow(source[0], now):
            return _NOTHING
        try:
            packet = parse_media_packet(data)
        except PacketError:
            return _NOTHING
        assert isinstance(packet, AuthRecvBegin)
        verifier = self.view.recvbegin_verifier(packet.uid, str(source[0]))
        if (verifier is None or not self.view.is_member(packet.id, packet.uid)
                or not verifier.accept(packet)):
            return _NOTHING
        route = (packet.id, packet.uid)
        self._fast.clear()
        self.generation += 1
        previous = self._where.get(route)
        if previous is not None and previous != source:
            self._unlink(previous, route)
        self._where[route] = source
        self._by_address.setdefault(source, set()).add(route)
        return GateResult(sends=((verifier.ack(packet), source),), registered=route,
                          fresh=previous is None)

    def _sealed(self, data: bytes, source: Address, head: bytes | None) -> GateResult:
        header = peek_sealed_route(data)
        if header is None:
            return _NOTHING
        interphone_id, uid, epoch, grant = header
        if (self._where.get((interphone_id, uid)) != source
                or self.view.floor_holder(interphone_id) != uid
                or not self.keys.relay_allows(interphone_id, epoch, grant)):
            return _NOTHING
        targets = tuple(
            address
            for member in self.view.media_auth_members(interphone_id)
            if member != uid and (address := self._where.get((interphone_id, member)))
        )
        if self.relays:
            targets += self.view.remote_relays(interphone_id, uid)
        result = GateResult(targets=targets, heard=(interphone_id, uid))
        if head is not None:
            if len(self._fast) >= _FAST_ROUTES:
                self._fast.clear()
            self._fast[head] = _Route(interphone_id, epoch, grant, source, result)
        return result

    def forwarded(self, data: bytes) -> GateResult:
        """Sealed audio another node's relay forwarded (its trailer authenticated it,
        :mod:`app.server.node_auth`): that node checked the speaker's registration there,
        the holder, the grant and the epoch, and this node may not have applied them yet
        from the log (the speaker's ``media`` event included), so it takes that node's word for who
        speaks. It goes to this node's members only, never to another node (the speaker's
        node sends each its copy; one sent on would come back)."""
        header = peek_sealed_route(data)
        if header is None:
            return _NOTHING
        interphone_id, uid = header[0], header[1]
        targets = tuple(
            address
            for member in self.view.media_auth_members(interphone_id)
            if member != uid and (address := self._where.get((interphone_id, member)))
        )
        return GateResult(targets=targets, forwarded=True)

    def _unlink(self, address: Address, route: tuple[str, str]) -> None:
        routes = self._by_address.get(address)
        if routes is not None:
            routes.discard(route)
            if not routes:
                del self._by_address[address]
