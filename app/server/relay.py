"""The UDP media relay (PROTOCOL.md 5.1): the rules, and the routes of its fast path.

:class:`MediaRelay` is an asyncio datagram protocol. Every datagram it is given
goes through the whole rule set: :func:`peek_route`, the layout and crc checks,
then :meth:`ServerState.accept_audio` (holder, registered address, expiry), or
:meth:`ServerState.accept_forwarded` for audio another node forwarded (authenticated
by its trailer, :mod:`app.server.node_auth`, not by its source address), or
:meth:`ServerState.register_media` for a recvbegin. Nothing is logged per packet
and every malformed or unauthorised datagram is dropped silently.

The server runs it behind :class:`app.server.media_thread.MediaThread`, a
transport whose own thread forwards the steady stream of a floor holder without
the event loop: for each audio stream the relay admitted it publishes a
:class:`FastRoute` in :attr:`MediaRelay.fast` (written only by the event loop's
thread, read by the media thread), which stays valid exactly as long as the
state's cached fan-out for that speaker (see :meth:`FastRoute.valid`). Whatever
the media thread cannot settle with a route comes back here, on the loop.

A floor given up or taken (``speak off``, leaving, pre-emption) is seen by the loop
while datagrams the holder sent before it may still wait in the socket or in the media
thread's hand-over queue. So that they are judged against the floor as it was when they
arrived, the state's ``on_release`` leaves a :class:`RetiredGrant` (the holder, its
registered address and fan-out) and the transport is asked to
:meth:`~app.server.media_thread.MediaThread.mark` the socket: the grant serves only
datagrams read before that marker (the socket's queue is first in, first out) or handed
over before the release, for at most :data:`RETIRED_FOR`, then is pruned.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any, cast

from app.protocol.errors import PacketError
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME
from app.protocol.media_crypto import TAG_BYTES, MediaPacketType, peek_sealed_route
from app.protocol.udp import (
    PacketType,
    RecvBeginPacket,
    audio_well_formed,
    crc_ok,
    parse_packet,
    peek_route,
)
from app.server.node_auth import TRAILER, NodeAuth, inner_length
from app.server.records import Address, Interphone
from app.server.relay_routes import FastRoute, RetiredGrant, SealedRoute, audio_frame_at
from app.server.settings import ServerSettings
from app.server.tcp import SignalingServer

_AUDIO = PacketType.AUDIO
_RECVBEGIN = PacketType.RECVBEGIN
_SEALED_TYPES = frozenset(struct.pack(">I", int(t)) for t in MediaPacketType)
"""The type fields of the media-auth packets, compared as raw bytes (no unpacking)."""
MAX_UDP_BACKLOG = 1 << 20
"""Bytes the OS would not take yet above which the relay drops instead of queueing."""
OVERSIZE, MALFORMED, UNKNOWN_TYPE = "oversize", "malformed", "unknown_type"
NOT_ADMITTED, EXPIRED, BACKLOG, OVERLOAD = "not_admitted", "expired", "backlog", "overload"
UNAUTHENTICATED = "unauthenticated"
DROP_REASONS = (OVERSIZE, MALFORMED, UNKNOWN_TYPE, NOT_ADMITTED, EXPIRED, BACKLOG, OVERLOAD,
                UNAUTHENTICATED)
"""Why a datagram is dropped: over 1,400 bytes; not a well-formed packet (layout, crc);
a type the relay does not handle; not admitted (no such interphone, not the holder, not
its registered address, the grant ran out, a refused recvbegin); the grant found run out
by the media thread; the send buffer is full; too many waiting for the event loop; a
datagram forwarded by another node (its shape says so) that fails node authentication
(:mod:`app.server.node_auth`: tag, node, replay)."""
RETIRED_FOR = 0.5
"""Seconds a floor given up serves at most, and a new grant refuses datagrams read before
its marker at most, should the marker be lost (a full socket buffer drops it like any
datagram; a later marker ends it too)."""
MAX_FAST_SOURCES = 4096
"""Source addresses with fast routes above which routes no longer valid are pruned."""


def _discard(data: bytes, addr: Address) -> None:
    pass


def _full() -> int:
    """The backlog without a transport: over any limit, so audio is dropped."""
    return MAX_UDP_BACKLOG + 1


def forwarded_served(auth: NodeAuth, data: bytes | bytearray | memoryview, size: int,
                     addr: Address, drops: dict[str, int]) -> bool:
    """The verdict on ``data[:size]``, which has a forwarded datagram's shape
    (:func:`~app.server.node_auth.inner_length`): True, serve it (without its trailer);
    False, not: refused (counted in ``drops`` as :data:`UNAUTHENTICATED` and told to
    ``auth``, which logs it, rate-limited) or held while its node is looked up (judged
    again then, :meth:`~app.server.node_auth.NodeAuth.take_held`)."""
    verdict = auth.open(data, size, addr)
    if verdict is False:
        drops[UNAUTHENTICATED] += 1
        auth.refuse(addr)
    return verdict is True


def forwarded_inner(auth: NodeAuth, data: bytes | bytearray | memoryview, size: int,
                    addr: Address, drops: dict[str, int]) -> int | None:
    """Whether ``data[:size]`` is another node's: 0 when it does not have a forwarded
    datagram's shape (it is judged as a client's), else the length of the datagram it
    carries if :func:`forwarded_served` serves it, None if not (refused, or held)."""
    if size > MAX_DATAGRAM + TRAILER:
        return 0
    inner = inner_length(data, size)
    if inner and not forwarded_served(auth, data, size, addr, drops):
        return None
    return inner


class MediaRelay(asyncio.DatagramProtocol):
    """The relay's rules for every datagram it is given, and the fast routes it admits."""

    handled_types: frozenset[int] = frozenset({int(_AUDIO), int(_RECVBEGIN)})
    """The packet types :meth:`datagram_received` may accept: a transport that filters
    (the media thread) drops every other type before it reaches the event loop. Per
    server: base types unless ``media_encryption`` is ``required``, media-auth's 16 and 18
    unless it is ``off``."""

    def __init__(self, hub: SignalingServer) -> None:
        self.hub = hub
        self.state = hub.state
        self.settings: ServerSettings = hub.settings
        self.time = hub.loop.time
        self.transport: asyncio.DatagramTransport | None = None
        # bound once (the hot path): the transport's sendto and write-buffer size
        self._sendto: Callable[[bytes, Address], None] = _discard
        self._backlog: Callable[[], int] = _full
        self.fast: dict[Address, tuple[FastRoute, ...]] = {}
        """Source address -> the fast routes of the streams admitted from it. Only this
        (the loop's) thread writes it, one whole tuple per address at a time."""
        self.retired: dict[Address, tuple[RetiredGrant, ...]] = {}
        """Registered address -> floors given up whose earlier datagrams may still come
        (written by the loop's thread only, one whole tuple at a time)."""
        self.releases = 0
        """Markers sent so far, one per floor given up (the last :attr:`RetiredGrant.token`)
        and one per floor granted (:attr:`Interphone.grant_mark`)."""
        self._relayed = 0
        self._relayed_bytes = 0
        self._drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.base_media = self.state.media_encryption.accepts_base_media()
        self.gate = self.state.media_gate
        self.base_recvbegins = self.gate.buckets.fresh()
        """Base recvbegins per uid they name, at the rate and burst media-auth's have per
        address (``recvbegin_rate``/``recvbegin_burst``; a client sends one per join and
        keepalive): each is a registration and an ack on the event loop, and a member
        flooding valid ones of its own (240,000 a second) held another user's ping for
        20 s. Per uid, not per address: the many clients of one address (a NAT, the
        benchmarks) register at once."""
        self.auth: NodeAuth | None = self.state.node_auth
        """Several nodes: seals what this relay forwards to the others and opens what they
        forward here (None on one node)."""
        types: set[int] = {int(_AUDIO), int(_RECVBEGIN)} if self.base_media else set()
        if self.state.media_encryption.offers():
            types |= {int(MediaPacketType.AUTH_RECVBEGIN), int(MediaPacketType.SEALED_AUDIO)}
        self.handled_types = frozenset(types)

    def sealed_source(self, addr: Address) -> bool:
        """Whether sealed audio from ``addr`` is worth handing over: only a source that
        registered by an authenticated recvbegin (a single dictionary read, any thread)."""
        return self.gate.has_source(addr)

    @property
    def relayed(self) -> int:
        """Audiopackets forwarded, here and by the transport itself (the media thread)."""
        return self._relayed + getattr(self.transport, "relayed", 0)

    @property
    def dropped(self) -> int:
        """Datagrams dropped, here and by the transport itself (the media thread)."""
        return self._dropped + getattr(self.transport, "dropped", 0)

    @property
    def relayed_bytes(self) -> int:
        """Bytes of the audiopackets forwarded, here and by the transport itself."""
        return self._relayed_bytes + getattr(self.transport, "relayed_bytes", 0)

    @property
    def drops(self) -> dict[str, int]:
        """Datagrams dropped by reason, here and by the transport itself (for the metrics)."""
        drops = dict(self._drops)
        for reason, count in getattr(self.transport, "drops", {}).items():
            drops[reason] = drops.get(reason, 0) + count
        return drops

    @property
    def _dropped(self) -> int:
        """Datagrams dropped here (on the loop), all reasons."""
        return sum(self._drops.values())

    def _drop(self, reason: str) -> None:
        self._drops[reason] += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._sendto = self.transport.sendto
        # not in DatagramTransport's stubs, but asyncio's, uvloop's and MediaThread's have it
        self._backlog = cast(Any, self.transport).get_write_buffer_size
        if hasattr(transport, "mark"):  # it judges datagrams after their arrival
            self.state.on_release = self._retire
            self.state.on_grant = self._granted

    def connection_lost(self, exc: Exception | None) -> None:
        self._sendto, self._backlog = _discard, _full
        self.fast.clear()
        self.retired.clear()
        if self.state.on_release == self._retire:
            self.state.on_release = None
        if self.state.on_grant == self._granted:
            self.state.on_grant = None

    # ---- floors given up ----------------------------------------------------------------------

    def _retire(self, record: Interphone, uid: str) -> None:
        """``uid`` is giving up ``record``'s floor: keep it for what it sent before."""
        addr = record.addrs.get(uid)
        if addr is None:
            # also a media-auth holder: its address is the gate's (never ``addrs``, base
            # audio of it is refused) and its sealed audio is judged on the loop
            return
        now = self.time()
        self.releases += 1
        grant = RetiredGrant(record, uid, record.fanout(uid),
                             min(record.floor_deadline(self.settings), now + RETIRED_FOR),
                             self.releases, granted_mark=record.grant_mark)
        kept = tuple(g for g in self.retired.get(addr, ()) if g.deadline > now)
        self.retired[addr] = (*kept, grant)
        cast(Any, self.transport).mark(self.releases)

    def _granted(self, record: Interphone, uid: str) -> None:
        """``uid`` was just granted ``record``'s floor: datagrams the transport reads before
        this marker arrived before the grant, so they are not admitted (PROTOCOL.md 5.1:
        audio sent while nobody held the floor is never relayed, even if judged later)."""
        self.releases += 1
        record.grant_mark = self.releases
        cast(Any, self.transport).mark(self.releases)

    def retired_grant(self, addr: Address, key: str, uid: str,
                      released_after: int) -> RetiredGrant | None:
        """The floor ``uid`` gave up after release ``released_after`` in ``key``, if its
        datagram came from the address registered then."""
        for grant in self.retired.get(addr, ()):
            if grant.serves(key, uid, released_after):
                return grant
        return None

    def marked(self, token: int) -> None:
        """Everything read before the marker of release ``token`` has been judged."""
        for addr, grants in list(self.retired.items()):
            kept = tuple(g for g in grants if g.token > token)
            if kept:
                self.retired[addr] = kept
            else:
                del self.retired[addr]

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors from departed peers: nothing to do

    # ---- node to node -------------------------------------------------------------------------

    def split_targets(self, record: Interphone | None, targets: tuple[Address, ...]
                      ) -> tuple[tuple[Address, ...], tuple[Address, ...]]:
        """``targets`` of ``record``'s audio as (this node's listeners, other nodes' relays):
        the relays are the addresses of the members registered at other nodes
        (:attr:`Interphone.remote`), sent the datagram sealed (:mod:`app.server.node_auth`)."""
        if self.auth is None or record is None or not record.remote:
            return targets, ()
        addrs = record.addrs
        relays = {addrs[uid] for uid in record.remote if uid in addrs}
        return (tuple(t for t in targets if t not in relays),
                tuple(t for t in targets if t in relays))

    def send_fanout(self, data: bytes, record: Interphone | None,
                    targets: tuple[Address, ...]) -> None:
        """``data`` to ``targets``: as it is to this node's listeners, sealed (one tag) to
        other nodes' relays."""
        local, peers = self.split_targets(record, targets)
        sendto = self._sendto
        for target in local:
            sendto(data, target)
        if peers and self.auth is not None:
            sealed = self.auth.seal(data)
            for target in peers:
                sendto(sealed, target)

    def datagram_received(self, data: bytes, addr: Address,
                          received_at: float | None = None,
                          released_after: int | None = None, *,
                          forwarded: bool = False) -> None:
        """One datagram; ``received_at`` when it arrived earlier than now (a transport that
        queued it): audio is judged as of then, so it cannot ride a grant made meanwhile;
        ``released_after``, the releases counted then: it still gets a floor given up
        since (a :class:`RetiredGrant`). ``forwarded``: ``data`` is what another node
        forwarded, its trailer already checked and removed (by the media thread); else a
        datagram of a forwarded one's shape is checked here."""
        auth = self.auth
        if not forwarded and auth is not None:
            inner = forwarded_inner(auth, data, len(data), addr, self._drops)
            if inner is None:
                return  # another node's, refused or held
            if inner:
                data, forwarded = data[:inner], True
        if len(data) > MAX_DATAGRAM:
            self._drop(OVERSIZE)
            return
        if len(data) < 8:
            self._drop(MALFORMED)
            return
        if forwarded:
            self._from_node(data, addr)
            return
        if data[4:8] in _SEALED_TYPES:
            self._media_auth(data, addr, self.time() if received_at is None else received_at)
            return
        if not self.base_media:
            self._drop(UNKNOWN_TYPE)  # media_encryption = "required": no base packet is served
            return
        route = peek_route(data)
        if route is None:
            self._drop(MALFORMED)
            return
        kind, key, uid = route
        if kind == _AUDIO:
            self._audio(data, key, uid, addr, self.time() if received_at is None else received_at,
                        released_after)
        elif kind == _RECVBEGIN:
            self._recvbegin(data, addr)
        else:
            self._drop(UNKNOWN_TYPE)

    def _from_node(self, data: bytes, addr: Address) -> None:
        """What another node forwarded (authenticated by its trailer, whatever ``addr``)."""
        if data[4:8] in _SEALED_TYPES:
            result = self.gate.forwarded(data)
            if not result.targets:
                self._drop(NOT_ADMITTED)
                return
            if self._backlog() > MAX_UDP_BACKLOG:
                self._drop(BACKLOG)
                return
            self._relayed += 1
            sendto = self._sendto
            for target in result.targets:
                sendto(data, target)
            return
        if not self.base_media:
            self._drop(UNKNOWN_TYPE)
            return
        route = peek_route(data)
        if route is None or route[0] != _AUDIO:
            self._drop(MALFORMED if route is None else UNKNOWN_TYPE)
            return
        _, key, uid = route
        if not audio_well_formed(data, key, uid) or not crc_ok(data):
            self._drop(MALFORMED)
            return
        self._forwarded(data, key, uid, addr)

    def _audio(self, data: bytes, key: str, uid: str, addr: Address, now: float,
               released_after: int | None = None) -> None:
        if not audio_well_formed(data, key, uid) or not crc_ok(data):
            self._drop(MALFORMED)
            return
        record = self.state.accept_audio(key, uid, addr, now)
        if (record is not None and released_after is not None
                and released_after < record.grant_mark
                and now < record.granted_at + RETIRED_FOR):
            # read before the grant's marker: it arrived before the grant (only a speaker of
            # this node's: audio another node forwards was judged there, see _forwarded)
            record = None
        if record is None and released_after is not None and self.retired:
            grant = self.retired_grant(addr, key, uid, released_after)
            if grant is not None and now < grant.deadline:
                self.send_fanout(data, grant.record, grant.targets)
                self._relayed += 1
                self._relayed_bytes += len(data)
                return
        if record is None:
            self._drop(NOT_ADMITTED)
            self._forget(addr, data, audio_frame_at(key, uid))
            deadline = self.state.next_deadline()
            if deadline is not None and deadline <= now:
                self.hub.expire(now)
            return
        if self._backlog() > MAX_UDP_BACKLOG:
            self._drop(BACKLOG)
            return
        targets = record.fanout(uid)
        local, peers = self.split_targets(record, targets)
        self.send_fanout(data, record, targets)
        self._relayed += 1
        self._relayed_bytes += len(data)
        frame_at = audio_frame_at(key, uid)
        self._publish(addr, FastRoute(bytes(data[4:frame_at - 4]), frame_at, record, uid,
                                      targets, grant_no=record.grant_no, local=local,
                                      peers=peers))

    def _forwarded(self, data: bytes, key: str, uid: str, addr: Address) -> None:
        """Audio another node's relay forwarded (from ``addr``, its trailer authenticated,
        :mod:`app.server.node_auth`): that node judged the floor, the
        grant and the speaker's registered address there, and this node may not have
        applied them from the log yet (the grant's marker here may come behind the
        datagram, the speaker's registration may not be known here at all). It goes to
        this node's own listeners only, never on to another node
        (:meth:`ServerState.accept_forwarded`)."""
        accepted = self.state.accept_forwarded(key, uid)
        if accepted is None:
            self._drop(NOT_ADMITTED)
            self._forget(addr, data, audio_frame_at(key, uid))
            return
        if self._backlog() > MAX_UDP_BACKLOG:
            self._drop(BACKLOG)
            return
        record, targets = accepted
        sendto = self._sendto
        for target in targets:
            sendto(data, target)
        self._relayed += 1
        self._relayed_bytes += len(data)
        if targets is record.fanout_targets and record.holder == uid:
            # the cached fan-out of a speaker registered at that node, under the grant this
            # node applied: the media thread may forward the next packets itself (each one
            # authenticated by its trailer)
            frame_at = audio_frame_at(key, uid)
            self._publish(addr, FastRoute(bytes(data[4:frame_at - 4]), frame_at, record, uid,
                                          targets, grant_no=record.grant_no, trailer=TRAILER))

    def _publish(self, addr: Address, route: FastRoute) -> None:
        fast = self.fast
        kept = tuple(r for r in fast.get(addr, ()) if r.prefix != route.prefix and r.valid())
        fast[addr] = (*kept, route)
        if len(fast) > MAX_FAST_SOURCES:
            for source, routes in list(fast.items()):
                live = tuple(r for r in routes if r.valid())
                if live:
                    fast[source] = live
                else:
                    del fast[source]

    def _forget(self, addr: Address, data: bytes, frame_at: int) -> None:
        routes = self.fast.get(addr)
        if routes is None:
            return
        prefix = data[4:frame_at - 4]
        kept = tuple(r for r in routes if r.prefix != prefix)
        if kept:
            self.fast[addr] = kept
        else:
            del self.fast[addr]

    def _media_auth(self, data: bytes, addr: Address, now: float) -> None:
        """media-auth types (16-18): the gate decides; sealed audio is relayed unopened."""
        result = self.gate.datagram(data, addr, now)
        if result.fresh and result.registered is not None:
            self.state.sealed_registered(*result.registered)
        record: Interphone | None = None
        if result.heard is not None:
            record = self.state.routes.get(result.heard[0])
            if record is None:
                self._drop(NOT_ADMITTED)
                return
            if now >= record.floor_deadline(self.settings):
                self._drop(EXPIRED)
                self.hub.expire(now)
                return
            record.last_audio_at = now
            if self._backlog() > MAX_UDP_BACKLOG:
                self._drop(BACKLOG)
                return
            self._relayed += 1
        elif not result.sends:
            self._drop(NOT_ADMITTED)
            return
        sendto = self._sendto
        for payload, target in result.sends:
            sendto(payload, target)
        self.send_fanout(data, record, result.targets)
        if result.heard is not None:
            self._publish_sealed(data, addr, result.heard, result.targets)

    def _publish_sealed(self, data: bytes, addr: Address, heard: tuple[str, str],
                        targets: tuple[Address, ...]) -> None:
        route = peek_sealed_route(data)
        record = self.state.routes.get(heard[0])
        if route is None or record is None:
            return
        key_id, uid, epoch, grant = route
        end = 4 + 4 + 4 + len(key_id.encode()) + 4 + len(uid.encode()) + 8  # through grant
        local, peers = self.split_targets(record, targets)
        self._publish(addr, SealedRoute(
            bytes(data[4:end]), end + 4, record, uid, targets, MAX_OPUS_FRAME + TAG_BYTES,
            local=local, peers=peers, gate=self.gate, key_id=key_id, epoch=epoch,
            grant=grant, generation=self.gate.generation))

    def _recvbegin(self, data: bytes, addr: Address) -> None:
        try:
            packet = parse_packet(data)
        except PacketError:
            self._drop(MALFORMED)
            return
        # plausible first: recvbegins naming a user from elsewhere must not spend that
        # user's bucket (the media thread, when there is one, asks in the same order)
        if not isinstance(packet, RecvBeginPacket) \
                or not self.state.recvbegin_plausible(int(_RECVBEGIN), packet.uid, addr[0]) \
                or not self.base_recvbegins.allow(packet.uid, self.time()) \
                or not self.state.register_media(packet.id, packet.uid, addr):
            self._drop(NOT_ADMITTED)
            return
        if self.transport is not None:
            self.transport.sendto(RecvBeginPacket(packet.id, packet.uid).serialize(), addr)
