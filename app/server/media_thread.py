"""The relay's socket, served by a thread of its own: the media fast path.

A datagram relayed by asyncio costs an event-loop iteration (selector wake-up,
callback, transport) on top of the relay's own work, and most of a mostly idle
server's CPU per packet went there. :class:`MediaThread` instead blocks in
``recvfrom_into`` on a preallocated buffer and fans out with ``sendto``; both
release the GIL, so the event loop keeps serving signaling meanwhile.

Per datagram the thread does one dictionary look-up (the source address in
:attr:`MediaRelay.fast`), a prefix comparison, the route's validity, the layout,
crc and deadline checks of PROTOCOL.md 5.1 (inline: a Python call per datagram
costs more than the check), and the sends: one ``sendmmsg`` of the receive buffer
to every listener where Linux has it (:mod:`app.server.fanout`, prepared once per
route), else one ``sendto`` each. Everything else, which is rare, goes
to :class:`MediaRelay` on the event loop's thread, which owns the state:

- audio without a valid :class:`~app.server.relay.FastRoute` (the first packet
  of each utterance, or after a registration changed), so the full rules
  decide it and publish a new route;
- recvbegin (registration and its ack), and any other type in
  :attr:`MediaRelay.handled_types`;
- a grant found run out (the loop revokes it and tells the members).

Hand-overs are queued (bounded) and the loop is woken once per batch, so a
flood of forged datagrams costs the loop no more than it did before; audio
from a uid that does not hold the floor at arrival is dropped in the thread, unless
another node forwarded it (that node judged the floor; this one may be behind it). Datagrams
of a type the relay does not handle, or over 1,400 bytes, are dropped in the
thread.

With several nodes (:mod:`app.server.node_auth`), a route's listeners at other nodes
(``FastRoute.peers``) are sent the datagram sealed in place in the receive buffer (one
MAC per datagram for all of them); audio another node forwarded is checked here, on
its route (``FastRoute.trailer``) or before it is handed over, and goes on without its
trailer; one that does not authenticate is dropped in the thread.

A floor given up reaches the loop before the datagrams its holder sent earlier may
have been read or judged: the relay then keeps a retired grant and calls :meth:`mark`,
which puts a marker datagram (from a socket of this transport's own) behind them in
the socket's queue. Until the thread reads that marker, the holder's audio from its
registered address is still forwarded (and what was handed over before the release
is judged so on the loop); the marker, handed over in turn, lets the relay prune it.

Audio keeps its order per source: while audio the thread handed over from an address
waits for the loop (the first packets of an utterance, before its route is published),
the address's next audio is handed over too, even on a valid route, instead of
overtaking it.

The thread reads the state only through valid fast routes and writes nothing
but the holder's ``last_audio_at``. It is a daemon thread: :meth:`close` wakes
it (``shutdown``, then a datagram to itself) and joins it briefly, and an
interpreter exit never waits for it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import struct
import threading
import time
import zlib
from typing import Any

from app.protocol.limits import MAX_DATAGRAM
from app.protocol.udp import PacketType, audio_well_formed, crc_ok, peek_route
from app.server.fanout import Batch, BatchSender
from app.server.node_auth import TRAILER
from app.server.records import Address
from app.server.relay import (
    DROP_REASONS,
    EXPIRED,
    MALFORMED,
    NOT_ADMITTED,
    OVERLOAD,
    OVERSIZE,
    UNKNOWN_TYPE,
    FastRoute,
    MediaRelay,
    forwarded_inner,
    forwarded_served,
)
from app.server.tcp import SignalingServer

log = logging.getLogger("app.server.media")

MAX_HANDOVERS = 1024
"""Datagrams waiting for the event loop above which more are dropped."""
_JOIN_TIMEOUT = 2.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_U32 = struct.Struct(">I")
_AUDIO = int(PacketType.AUDIO)
_SEALED = 18  # media-auth's sealed audio (app.protocol.media_crypto.MediaPacketType)
_AUTH_RECVBEGIN = 16
_RECVBEGINS = frozenset({int(PacketType.RECVBEGIN), _AUTH_RECVBEGIN})
_MARKER = struct.Struct(">Q")
_UNPREPARED: Any = object()
_MAX_BATCHES = 256
_MAX_AUDIO_WAITING = 64
"""Sources with audio handed over above which those the loop has judged are forgotten."""
"""Fast routes whose sendmmsg messages are kept; above, those no longer valid go."""


def bind_udp(host: str, port: int) -> socket.socket:
    """A blocking UDP socket bound to ``(host, port)``, as asyncio's ``local_addr`` binds:
    the first address ``host`` resolves to that can be bound."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM, 0, socket.AI_PASSIVE)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"cannot bind UDP to {host} port {port}")


class MediaThread(asyncio.DatagramTransport):
    """The relay's transport: one socket, one thread, the fast path (see the module)."""

    def __init__(self, sock: socket.socket, relay: MediaRelay,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__({"socket": sock, "sockname": sock.getsockname()})
        self._sock = sock
        self._relay = relay
        self._loop = loop
        self._settings = relay.settings
        self._closing = False
        self._handovers: collections.deque[tuple[bytes | None, Address, float, int, bool]] = (
            collections.deque())
        self._marker: socket.socket | None = None
        self._marker_addr: Address | None = None
        self._marked = 0  # the last marker read (the thread writes it)
        self._drain_scheduled = False
        self._expiry_scheduled = False
        self._handed = 0  # hand-overs queued so far (the thread writes it)
        self._drained = 0  # hand-overs the loop has judged so far (the loop writes it)
        self._audio_waiting: dict[Address, int] = {}
        """Source address -> the number (``_handed``) of its last audio handed over; only
        the thread writes it. While the loop has not judged that one, the source's audio
        is handed over too, even on a valid fast route, so that it leaves in the order it
        came (the first packets of an utterance wait for the loop, which publishes the
        route; the next ones must not overtake them)."""
        self.clock = time.monotonic
        """The thread's clock, asyncio's (``loop.time()`` is ``time.monotonic()``; uvloop's
        is the same clock, read at each loop iteration)."""
        self.relayed = 0
        """Audiopackets forwarded by the thread itself (the relay counts the rest)."""
        self.relayed_bytes = 0
        self.drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        """Datagrams the thread dropped, by reason (only the thread writes it)."""
        self._recvbegin_buckets = relay.gate.buckets.fresh()
        """media-auth's per-address recvbegin buckets, the thread's own (the gate keeps its
        own on the loop: both see the same datagrams, so they agree)."""
        self._base_recvbegin_buckets = relay.gate.buckets.fresh()
        """Base recvbegins' buckets, per uid named (the relay's ``base_recvbegins``)."""
        self._batches: dict[FastRoute, Batch | None] = {}
        """Fast route -> its prepared sendmmsg (None: sendto per target); the thread's."""
        self._thread = threading.Thread(target=self._serve, name="interphone-media",
                                        daemon=True)

    @property
    def dropped(self) -> int:
        """Datagrams the thread dropped, all reasons."""
        return sum(self.drops.values())

    @classmethod
    def open(cls, hub: SignalingServer, host: str, port: int) -> tuple[MediaThread, MediaRelay]:
        """Bind, make the relay its protocol and start serving (on the running loop)."""
        return cls.serve(hub, bind_udp(host, port))

    @classmethod
    def serve(cls, hub: SignalingServer, sock: socket.socket) -> tuple[MediaThread, MediaRelay]:
        """Serve the bound, blocking UDP socket ``sock`` (see :mod:`app.server.binding`)."""
        relay = MediaRelay(hub)
        transport = cls(sock, relay, hub.loop)
        try:
            transport._open_marker()
        except OSError:
            sock.close()
            raise
        relay.connection_made(transport)
        transport._thread.start()
        return transport, relay

    def _own_address(self) -> tuple[str, int]:
        """Where a local socket reaches this one."""
        host, port = self._sock.getsockname()[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "::1" if self._sock.family == socket.AF_INET6 else "127.0.0.1"
        return host, port

    def _open_marker(self) -> None:
        marker = socket.socket(self._sock.family, socket.SOCK_DGRAM)
        try:
            marker.connect(self._own_address())
        except OSError:
            marker.close()
            raise
        self._marker, self._marker_addr = marker, marker.getsockname()

    # ---- the transport, for the relay on the loop's thread ------------------------------------

    def mark(self, token: int) -> None:
        """Queue marker ``token`` behind every datagram the socket holds now (see the module)."""
        if self._marker is not None and not self._closing:
            try:
                self._marker.send(_MARKER.pack(token))
            except OSError:  # cannot happen on a local socket; the grant then stays
                log.warning("marker %d not sent", token)

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if self._closing:
            return
        with contextlib.suppress(OSError):  # full buffer or a departed peer: UDP drops
            self._sock.sendto(data, _DONTWAIT, addr)

    def get_write_buffer_size(self) -> int:
        return 0  # nothing is ever queued: what the socket does not take is dropped

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop the thread, wait briefly for it, close the socket, tell the relay."""
        if self._closing:
            return
        self._closing = True
        self._wake()
        self._thread.join(_JOIN_TIMEOUT)
        if self._thread.is_alive():
            log.warning("the media thread did not stop within %gs", _JOIN_TIMEOUT)
        else:
            self._sock.close()
        self._handovers.clear()
        if self._marker is not None:
            self._marker.close()
        self._relay.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def _wake(self) -> None:
        """Return the thread from ``recvfrom_into``: ``shutdown`` does on Linux; elsewhere a
        datagram to the socket's own address does."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RD)
        with contextlib.suppress(OSError), socket.socket(self._sock.family,
                                                         socket.SOCK_DGRAM) as poke:
            poke.sendto(b"", self._own_address())

    # ---- the thread ---------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._closing:
            try:
                self._forward()
            except Exception:  # a bug: log it and serve on, media must not stop
                log.exception("the media thread failed on a datagram")

    def _forward(self) -> None:
        """The hot loop. Everything it needs is bound to a local once; per datagram it does
        the route look-up, the prefix, validity, layout, crc and deadline checks inline
        (each a few bytecodes: no call but the C ones) and the sends from one memoryview
        slice of the receive buffer (no copy)."""
        # room to seal a datagram in place for other nodes (and more than a forwarded one
        # can be: an over-long datagram shows)
        buffer = bytearray(MAX_DATAGRAM + TRAILER + 1)
        view = memoryview(buffer)
        receive = self._sock.recvfrom_into
        send = self._sock.sendto
        routes_from = self._relay.fast.get
        settings = self._settings
        unpack = _U32.unpack_from
        starts = buffer.startswith
        crc32 = zlib.crc32
        drops = self.drops
        largest = MAX_DATAGRAM
        dontwait = _DONTWAIT
        batcher = BatchSender(self._sock, buffer)
        sendmmsg, fd, iov = batcher.call, batcher.fd, batcher.iov
        batches = self._batches
        audio_waiting = self._audio_waiting
        auth = self._relay.auth
        seal_into = auth.seal_into if auth is not None else None
        # Interphone.floor_deadline, inline (the settings of a server never change)
        max_talk, silence = settings.max_talk, settings.silence_timeout
        while True:
            try:
                size, addr = receive(buffer)
            except OSError:  # e.g. a datagram over the buffer on Windows, ICMP errors
                if self._closing:
                    return
                continue
            routes = routes_from(addr)
            if routes is None or size > largest:
                if self._closing:  # (close() wakes the thread by a datagram without routes)
                    return
                self._hand_over(view, size, addr)
                continue
            for route in routes:  # usually one: the streams admitted from this address
                if starts(route.prefix, 4):
                    break
            else:
                self._hand_over(view, size, addr)
                continue
            record = route.record
            if route.sealed:
                if not route.valid():
                    self._hand_over(view, size, addr)
                    continue
            elif (record.fanout_targets is not route.targets or record.holder != route.uid
                  or record.grant_no != route.grant_no):  # FastRoute.valid, inline
                self._hand_over(view, size, addr)
                continue
            if audio_waiting:  # (empty but for the start of an utterance)
                last = audio_waiting.get(addr)
                if last is not None:
                    if last > self._drained:  # earlier audio of this source still waits
                        self._hand_over(view, size, addr)
                        continue
                    del audio_waiting[addr]
            # udp.audio_well_formed, inline: exactly a frame of at most max_frame bytes after
            # the seq (a datagram too short for the length fails too: length >= 0)
            frame_at = route.frame_at
            (length,) = unpack(buffer, frame_at)
            trailer = route.trailer  # another node forwarded it: its node-auth trailer
            if length > route.max_frame or frame_at + 4 + length + trailer != size:
                drops[MALFORMED] += 1
                continue
            if trailer:  # (a route has one only where there are several nodes: auth)
                if auth is None or not forwarded_served(auth, view, size, addr, drops):
                    continue
                size -= trailer
            (crc,) = unpack(buffer, 0)  # udp.crc_ok, inline: 0 is "not computed"
            if crc and crc != crc32(view[4:size]):
                drops[MALFORMED] += 1
                continue
            now = self.clock()  # an attribute: tests move it
            if now >= record.granted_at + max_talk or now >= record.last_audio_at + silence:
                drops[EXPIRED] += 1
                self._expire(now)
                continue
            record.last_audio_at = now
            self.relayed += 1  # before the sends: a listener that got it sees it counted
            self.relayed_bytes += size
            batch = batches.get(route, _UNPREPARED)
            if batch is _UNPREPARED:
                batch = self._prepare(batcher, route)
            if batch is not None:  # one sendmmsg of the buffer itself to every listener
                iov.len = size
                sent = sendmmsg(fd, batch.msgs, batch.count, dontwait)  # type: ignore[misc]
                if sent != batch.count:
                    self._send_rest(batch, sent, view[:size])
            else:
                payload = view[:size]
                for target in route.local:
                    try:  # noqa: SIM105 (a context manager per send costs more than the send's checks)
                        send(payload, dontwait, target)
                    except OSError:
                        pass  # full buffer or an ICMP error from a departed peer: UDP drops
            peers = route.peers
            if peers and seal_into is not None:  # other nodes' relays: sealed in place, once
                payload = view[:seal_into(view, size)]
                for target in peers:
                    try:  # noqa: SIM105
                        send(payload, dontwait, target)
                    except OSError:
                        pass

    def _prepare(self, batcher: BatchSender, route: FastRoute) -> Batch | None:
        """The route's sendmmsg messages (None: one sendto per target), kept while the route
        is valid."""
        batches = self._batches
        if len(batches) >= _MAX_BATCHES:
            for stale in [r for r in batches if not r.valid()]:
                del batches[stale]
            if len(batches) >= _MAX_BATCHES:
                batches.clear()
        batch = batches[route] = batcher.prepare(route.local)
        return batch

    def _send_rest(self, batch: Batch, sent: int, payload: memoryview) -> None:
        """sendmmsg stopped at a message the kernel refused (a full buffer): that one is
        dropped, as a failed sendto would be, and the rest go one by one."""
        for target in batch.targets[max(sent, 0) + 1:]:
            with contextlib.suppress(OSError):
                self._sock.sendto(payload, _DONTWAIT, target)

    def _hand_over(self, view: memoryview, size: int, addr: Address) -> None:
        """To the relay on the loop's thread: the types it handles only, bounded, batched.

        Audio whose sender does not hold the floor now is dropped here: the loop would judge
        it later, after a grant that reached the loop meanwhile (a client may send audio and
        then ``speak on``; audio sent before its grant is not relayed). The relay's clock
        may be coarser than this thread's, so the arrival time alone cannot tell. Unless
        the sender gave the floor up after this datagram arrived (a retired grant whose
        marker is not read yet): then it goes to the fan-out of then.

        A datagram another node forwarded (its shape says so, :mod:`app.server.node_auth`)
        is handed over only if its trailer authenticates it, without the trailer."""
        relay = self._relay
        auth = relay.auth
        forwarded = False
        if auth is not None:
            inner = forwarded_inner(auth, view, size, addr, self.drops)
            if inner is None:
                return  # another node's, refused or held
            if inner:
                size, forwarded = inner, True
        if size > MAX_DATAGRAM:
            self.drops[OVERSIZE] += 1
            return
        # the socket is first in, first out: this datagram arrived before every marker not
        # read yet, so before the releases and grants they mark
        released_after = self._marked
        if addr == self._marker_addr and size == _MARKER.size:
            (self._marked,) = _MARKER.unpack_from(view)
            self._queue(None, addr, 0.0, self._marked)
            return
        kind = _U32.unpack_from(view, 4)[0] if size >= 8 else 0
        if kind not in relay.handled_types:
            self.drops[UNKNOWN_TYPE if size >= 8 else MALFORMED] += 1
            return
        if kind != _SEALED and not crc_ok(view[:size]):  # type: ignore[arg-type]
            # a crc that does not match: the loop would drop it as malformed, so a flood of
            # random bytes never reaches it (sealed audio's crc is the listeners' to check)
            self.drops[MALFORMED] += 1
            return
        if len(self._handovers) >= MAX_HANDOVERS:
            self.drops[OVERLOAD] += 1
            return
        if kind == _SEALED and not forwarded and not self._relay.sealed_source(addr):
            self.drops[NOT_ADMITTED] += 1  # media-auth: sealed audio only from a registered source
            return
        data = bytes(view[:size])
        if forwarded:  # the loop judges it: this node may not have applied its grant, nor
            # its speaker's registration, yet (and never judges its floor)
            if kind in _RECVBEGINS:
                self.drops[UNKNOWN_TYPE] += 1
                return
            self._queue(data, addr, self.clock(), released_after, forwarded=True)
            self._audio_waiting[addr] = self._handed
            return
        if kind in _RECVBEGINS:  # only for a live session that could register, within rate
            route = peek_route(data)
            if (route is None or not relay.state.recvbegin_plausible(kind, route[2], addr[0])
                    or not (self._recvbegin_buckets.allow(addr[0], self.clock())
                            if kind == _AUTH_RECVBEGIN
                            else self._base_recvbegin_buckets.allow(route[2], self.clock()))):
                self.drops[NOT_ADMITTED] += 1
                return
        if kind == _AUDIO:
            route = peek_route(data)  # pure; the look-ups below are single reads
            if route is None:  # not an audiopacket's layout: the loop would drop it so
                self.drops[MALFORMED] += 1
                return
            record = relay.state.routes.get(route[1])
            if record is None or record.holder != route[2]:
                if relay.retired and self._forward_retired(data, addr, route[1], route[2]):
                    return
                if record is not None:
                    self.drops[NOT_ADMITTED] += 1
                    return
        self._queue(data, addr, self.clock(), released_after)
        if kind in (_AUDIO, _SEALED):
            self._audio_waiting[addr] = self._handed

    def _forward_retired(self, data: bytes, addr: Address, key: str, uid: str) -> bool:
        """Audio read before the marker of a floor its sender gave up: forward it (or drop
        it, malformed) and say so; False if no such floor."""
        grant = self._relay.retired_grant(addr, key, uid, self._marked)
        if grant is None:
            return False
        if (not audio_well_formed(data, key, uid) or not crc_ok(data)
                or self.clock() >= grant.deadline):
            self.drops[MALFORMED if self.clock() < grant.deadline else EXPIRED] += 1
            return True
        self.relayed += 1
        self.relayed_bytes += len(data)
        self._relay.send_fanout(data, grant.record, grant.targets)  # (this transport's sendto)
        return True

    def _queue(self, data: bytes | None, addr: Address, received_at: float,
               released_after: int, *, forwarded: bool = False) -> None:
        self._handovers.append((data, addr, received_at, released_after, forwarded))
        self._handed += 1
        if len(self._audio_waiting) > _MAX_AUDIO_WAITING:  # sources that went quiet
            drained = self._drained
            for source in [a for a, n in self._audio_waiting.items() if n <= drained]:
                del self._audio_waiting[source]
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._call_on_loop(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False  # first: what is queued from now on schedules again
        handovers, relay = self._handovers, self._relay
        while handovers and not self._closing:
            data, addr, received_at, released_after, forwarded = handovers.popleft()
            try:
                if data is None:  # a marker: released_after is its token
                    relay.marked(released_after)
                else:
                    relay.datagram_received(data, addr, received_at, released_after,
                                            forwarded=forwarded)
            finally:
                self._drained += 1  # after its sends: what follows it may now overtake

    def _expire(self, now: float) -> None:
        if not self._expiry_scheduled:
            self._expiry_scheduled = True
            self._call_on_loop(self._expire_on_loop, now)

    def _expire_on_loop(self, now: float) -> None:
        self._expiry_scheduled = False
        if not self._closing:
            self._relay.hub.expire(now)

    def _call_on_loop(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is going away
            self._loop.call_soon_threadsafe(callback, *args)
