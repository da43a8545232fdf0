"""The media packets of PROTOCOL.md section 5: audiopacket and recvbegin (and its ack).

All integers are u32 big-endian; ``str`` and ``bytes`` are a u32 length then
the bytes. ``crc32`` covers every byte after itself; 0 means "not computed".

This module is the only place that knows the byte layout: the relay's hot path
uses :func:`peek_route`, :func:`audio_well_formed` and :func:`crc_ok` rather
than offsets of its own.

Errors: :class:`PacketError` is a datagram from the peer to drop silently;
a plain :class:`ValueError` from ``serialize`` is the caller's own mistake
(a seq out of range, a frame or packet over its limit).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from app.protocol.errors import PacketError
from app.protocol.ids import is_valid_name
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME

_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">II")  # crc32, type
_LENGTH = _U32.size  # the length prefix of a str or bytes field
_SEQ = _U32.size
_SEQ_LENGTH = struct.Struct(">II")  # an audiopacket's seq and its frame's length


class PacketType(IntEnum):
    INVALID = 0
    AUDIO = 1
    RECVBEGIN = 2  # the ack uses the same value and layout


@dataclass(frozen=True, slots=True)
class AudioPacket:
    id: str
    uid: str
    seq: int
    frame: bytes

    def serialize(self, *, crc: bool = True) -> bytes:
        return AudioPacker(self.id, self.uid).pack(self.seq, self.frame, crc=crc)


@dataclass(frozen=True, slots=True)
class RecvBeginPacket:
    """recvbegin from a client; the server's ack is the same packet sent back."""

    id: str
    uid: str

    def serialize(self, *, crc: bool = True) -> bytes:
        body = _U32.pack(PacketType.RECVBEGIN) + _pack_str(self.id) + _pack_str(self.uid)
        return _finish(body, crc)


Packet = AudioPacket | RecvBeginPacket

AudioFields = tuple[str, str, int, bytes]
"""``(id, uid, seq, frame)`` of an audiopacket."""

_MAX_ROUTES = 64  # (id, uid) fields a RouteCache keeps decoded and checked


class AudioPacker:
    """One sender's audiopackets to one interphone (what :meth:`AudioPacket.serialize`
    makes): id and uid are packed once."""

    __slots__ = ("_head", "id", "uid")

    def __init__(self, interphone_id: str, uid: str) -> None:
        self.id = interphone_id
        self.uid = uid
        self._head = _U32.pack(PacketType.AUDIO) + _pack_str(interphone_id) + _pack_str(uid)

    def pack(self, seq: int, frame: bytes, *, crc: bool = True) -> bytes:
        """The datagram of ``frame`` with ``seq``; ValueError for either out of range."""
        if not 0 <= seq <= 0xFFFFFFFF:
            raise ValueError(f"seq {seq} is not an unsigned 32-bit integer")
        if len(frame) > MAX_OPUS_FRAME:
            raise ValueError(f"audio frame of {len(frame)} bytes exceeds {MAX_OPUS_FRAME}")
        return _finish(self._head + _SEQ_LENGTH.pack(seq, len(frame)) + frame, crc)


def route_offsets(data: bytes) -> tuple[int, int]:
    """Where the uid field of a media datagram starts and where it ends (the id field
    starts at byte 8: audiopackets and sealed audio); ``struct.error`` when a length
    points past the end."""
    (id_length,) = _U32.unpack_from(data, 8)
    uid_at = 12 + id_length
    (uid_length,) = _U32.unpack_from(data, uid_at)
    return uid_at, uid_at + 4 + uid_length


class RouteCache:
    """The (id, uid) fields of media datagrams decoded and checked once per sender (the
    last ``_MAX_ROUTES`` of them are remembered): the receivers' per-packet reading."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[bytes, tuple[str, str]] = {}

    def route(self, data: bytes, uid_at: int, end: int) -> tuple[str, str] | None:
        """The (id, uid) text of the fields at ``route_offsets(data)``; None when they are
        not UTF-8 or the uid is not a name."""
        key = data[8:end]
        route = self._routes.get(key)
        if route is None:
            try:
                route = (data[12:uid_at].decode("utf-8"), data[uid_at + 4:end].decode("utf-8"))
            except UnicodeDecodeError:
                return None
            if not is_valid_name(route[1]):
                return None
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[key] = route
        return route


class AudioReader:
    """A receiver's per-packet reading of audiopackets: what :func:`parse_packet` accepts
    as an :class:`AudioPacket`, read by offsets, the (id, uid) fields decoded and checked
    once per sender."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes = RouteCache()

    def read(self, data: bytes) -> AudioFields | None:
        """The fields of a valid audiopacket; None for anything else (a recvbegin, a
        malformed datagram: :func:`parse_packet` tells which)."""
        size = len(data)
        if size > MAX_DATAGRAM or size < _HEAD.size:
            return None
        crc, kind = _HEAD.unpack_from(data, 0)
        if kind != PacketType.AUDIO or (crc and crc != zlib.crc32(memoryview(data)[4:])):
            return None
        try:
            uid_at, seq_at = route_offsets(data)
            seq, frame_length = _SEQ_LENGTH.unpack_from(data, seq_at)
        except struct.error:  # a length that points past the end
            return None
        if frame_length > MAX_OPUS_FRAME or seq_at + 8 + frame_length != size:
            return None
        route = self._routes.route(data, uid_at, seq_at)
        if route is None:
            return None
        return route[0], route[1], seq, data[seq_at + 8:]


def parse_packet(data: bytes) -> Packet:
    """Decode one datagram or raise :class:`PacketError` (the caller drops it silently)."""
    if len(data) > MAX_DATAGRAM:
        raise PacketError(f"datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    if len(data) < _HEAD.size:
        raise PacketError("datagram shorter than its header")
    kind = _U32.unpack_from(data, _U32.size)[0]
    if not crc_ok(data):
        raise PacketError("crc32 mismatch")
    reader = _Reader(data, _HEAD.size)
    if kind == PacketType.AUDIO:
        packet: Packet = AudioPacket(
            id=reader.text(), uid=reader.name(), seq=reader.u32(), frame=reader.blob(MAX_OPUS_FRAME)
        )
    elif kind == PacketType.RECVBEGIN:
        packet = RecvBeginPacket(id=reader.text(), uid=reader.name())
    else:
        raise PacketError(f"unknown packet type {kind}")
    reader.expect_end()
    return packet


def peek_route(data: bytes) -> tuple[int, str, str] | None:
    """``(type, id, uid)`` of a datagram without copying its audio; None if unreadable.

    The relay's hot path uses this to decide without building objects; it does
    not check the crc (the relay forwards byte-for-byte; receivers check it).
    """
    try:
        kind = _U32.unpack_from(data, _U32.size)[0]
        reader = _Reader(data, _HEAD.size)
        return kind, reader.text(), reader.text()
    except (PacketError, struct.error):
        return None


def audio_well_formed(data: bytes, key: str, uid: str) -> bool:
    """True if the rest of an audiopacket routed by :func:`peek_route` as (``key``, ``uid``)
    is exactly a seq and one audio frame of at most ``MAX_OPUS_FRAME`` bytes."""
    offset = _HEAD.size + _LENGTH + len(key.encode()) + _LENGTH + len(uid.encode()) + _SEQ
    if offset + _LENGTH > len(data):
        return False
    (length,) = _U32.unpack_from(data, offset)
    return length <= MAX_OPUS_FRAME and offset + _LENGTH + length == len(data)


def crc_ok(data: bytes) -> bool:
    """The datagram's crc32 is 0 ("not computed") or matches every byte after it."""
    (crc,) = _U32.unpack_from(data, 0)
    return not crc or crc == zlib.crc32(memoryview(data)[_U32.size:])


def _finish(body: bytes, crc: bool) -> bytes:
    data = _U32.pack(zlib.crc32(body) if crc else 0) + body
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"packet of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    return data


def _pack_str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _U32.pack(len(raw)) + raw



class _Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self._data = data
        self._pos = pos

    def u32(self) -> int:
        if self._pos + _U32.size > len(self._data):
            raise PacketError("truncated integer")
        (value,) = _U32.unpack_from(self._data, self._pos)
        self._pos += _U32.size
        return value

    def blob(self, limit: int) -> bytes:
        length = self.u32()
        if length > limit:
            raise PacketError(f"field of {length} bytes exceeds {limit}")
        end = self._pos + length
        if end > len(self._data):
            raise PacketError("truncated field")
        raw = bytes(self._data[self._pos : end])
        self._pos = end
        return raw

    def text(self) -> str:
        try:
            return self.blob(MAX_DATAGRAM).decode("utf-8")
        except UnicodeDecodeError:
            raise PacketError("field is not UTF-8") from None

    def name(self) -> str:
        value = self.text()
        if not is_valid_name(value):
            raise PacketError(f"bad uid {value!r}")
        return value

    def expect_end(self) -> None:
        if self._pos != len(self._data):
            raise PacketError(f"{len(self._data) - self._pos} trailing bytes")
