"""The UDP media relay (PROTOCOL.md 5.1).

The audio path is the hot path: route with :func:`peek_route`, three dict
look-ups, one CRC, forward the same bytes. Nothing is logged per packet and
every malformed or unauthorised datagram is dropped silently.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Callable
from typing import cast

from app.protocol.errors import PacketError, ProtocolError
from app.protocol.ids import InterphoneId
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME
from app.protocol.media_crypto import MediaPacketType
from app.protocol.udp import PacketType, RecvBeginPacket, parse_packet, peek_route
from app.server.state import Address
from app.server.tcp import Signaling

_U32 = struct.Struct(">I")
_AUDIO = PacketType.AUDIO
_RECVBEGIN = PacketType.RECVBEGIN
_SEALED_TYPES = frozenset(_U32.pack(int(t)) for t in MediaPacketType)
"""The type fields of the media-auth packets, compared as raw bytes (no unpacking)."""
MAX_UDP_BACKLOG = 1 << 20
"""Bytes the OS would not take yet above which the relay drops instead of queueing."""


def _discard(data: bytes, addr: Address) -> None:
    pass


def _full() -> int:
    """The backlog without a transport: over any limit, so audio is dropped."""
    return MAX_UDP_BACKLOG + 1


def audio_well_formed(data: bytes, key: str, uid: str) -> bool:
    """The rest of an audiopacket after its routed id and uid: seq, then exactly one frame."""
    offset = 16 + len(key.encode()) + len(uid.encode()) + 4
    if offset + 4 > len(data):
        return False
    (length,) = _U32.unpack_from(data, offset)
    return length <= MAX_OPUS_FRAME and offset + 4 + length == len(data)


class MediaRelay(asyncio.DatagramProtocol):
    def __init__(self, hub: Signaling) -> None:
        self.hub = hub
        self.state = hub.state
        self.routes = hub.state.routes
        self.time = hub.loop.time
        self.silence = hub.settings.silence_timeout
        self.max_talk = hub.settings.max_talk
        self.transport: asyncio.DatagramTransport | None = None
        # bound once (the hot path): the transport's sendto and write-buffer size
        self._sendto: Callable[[bytes, Address], None] = _discard
        self._backlog: Callable[[], int] = _full
        self.base_media = hub.state.media_encryption.accepts_base_media()
        self.relayed = 0
        self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._sendto = self.transport.sendto
        self._backlog = self.transport.get_write_buffer_size

    def connection_lost(self, exc: Exception | None) -> None:
        self._sendto, self._backlog = _discard, _full

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors from departed peers: nothing to do

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if len(data) > MAX_DATAGRAM or len(data) < 8:
            self.dropped += 1
            return
        kind_field = data[4:8]
        if kind_field in _SEALED_TYPES:
            self._media_auth(data, addr)
            return
        if not self.base_media:
            self.dropped += 1  # media_encryption = "required": no base packet is served
            return
        route = peek_route(data)
        if route is None:
            self.dropped += 1
            return
        kind, key, uid = route
        if kind == _AUDIO:
            self._audio(data, key, uid, addr)
        elif kind == _RECVBEGIN:
            self._recvbegin(data, addr)
        else:
            self.dropped += 1

    def _audio(self, data: bytes, key: str, uid: str, addr: tuple) -> None:
        record = self.routes.get(key)
        if record is None and key.startswith("chat_"):
            try:
                record = self.routes.get(str(InterphoneId.parse(key)))
            except ProtocolError:
                record = None
        if (record is None or record.holder != uid or record.addrs.get(uid) != addr
                or not audio_well_formed(data, key, uid)):
            self.dropped += 1
            return
        (crc,) = _U32.unpack_from(data, 0)
        if crc and crc != zlib.crc32(memoryview(data)[4:]):
            self.dropped += 1
            return
        now = self.time()
        if now >= record.last_audio_at + self.silence or now >= record.granted_at + self.max_talk:
            self.dropped += 1
            self.hub.expire(now)
            return
        record.last_audio_at = now
        if self._backlog() > MAX_UDP_BACKLOG:
            self.dropped += 1
            return
        targets = record.fanout_targets
        if targets is None or record.fanout_for != uid:
            targets = record.fanout(uid)
        sendto = self._sendto
        for target in targets:
            sendto(data, target)
        self.relayed += 1

    def _media_auth(self, data: bytes, addr: tuple) -> None:
        """media-auth types (16-18): the gate decides; sealed audio is relayed unopened."""
        now = self.time()
        result = self.state.media_gate.datagram(data, addr, now)
        if result.heard is not None:
            record = self.routes.get(result.heard[0])
            if record is None:
                self.dropped += 1
                return
            if (now >= record.last_audio_at + self.silence
                    or now >= record.granted_at + self.max_talk):
                self.dropped += 1
                self.hub.expire(now)
                return
            record.last_audio_at = now
            if self._backlog() > MAX_UDP_BACKLOG:
                self.dropped += 1
                return
            self.relayed += 1
        elif not result.sends:
            self.dropped += 1
            return
        sendto = self._sendto
        for payload, target in result.sends:
            sendto(payload, target)
        for target in result.targets:
            sendto(data, target)

    def _recvbegin(self, data: bytes, addr: tuple) -> None:
        try:
            packet = parse_packet(data)
        except PacketError:
            self.dropped += 1
            return
        if not isinstance(packet, RecvBeginPacket) or not self.state.register_media(
            packet.id, packet.uid, addr
        ):
            self.dropped += 1
            return
        if self.transport is not None:
            self.transport.sendto(RecvBeginPacket(packet.id, packet.uid).serialize(), addr)
