"""The media-auth extension: authenticated recvbegin and encrypted voice (pure, no sockets).

Spec: docs/protocol-extensions.md, "Extension: media-auth". Three UDP packet
types beside the base contract's 1 and 2, all with the base framing (u32
big-endian integers, ``str`` = u32 length + UTF-8, crc32 of every byte after
itself first):

- ``AUTH_RECVBEGIN`` (16), ``AUTH_RECVBEGIN_ACK`` (17): crc32, type, id: str,
  uid: str, counter: u32, mac: 16 raw bytes. ``mac`` = first 16 bytes of
  HMAC-SHA256(media secret, ``MAC_CONTEXT`` + the packet's bytes from type
  through counter). The session's media secret comes in the login response.
- ``SEALED_AUDIO`` (18): crc32, type, id: str, uid: str, epoch: u32, grant: u32,
  seq: u32, sealed: bytes. ``sealed`` = AES-256-GCM(key of ``epoch`` for
  ``id``, nonce = epoch ‖ grant ‖ seq, AAD = the packet's bytes from type
  through seq) of one Opus frame, tag appended (16 bytes).

Who uses what:
- server: :func:`media_packet_type` (cheap length/type check), :class:`AuthRecvBegin`
  with :class:`RecvBeginVerifier` per session, :func:`peek_sealed_route` for the
  relay decision;
- client: :class:`RecvBeginSigner`, :func:`seal_audio` (or :class:`AudioSealer`, per
  utterance) to talk.

Who holds which key, its epochs, grant numbers and replay state (server and client):
:mod:`app.protocol.media_keys`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.protocol.errors import PacketError
from app.protocol.ids import is_valid_name
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME

FEATURE = "media-auth"
"""The name in the login request's and response's ``features``."""
CIPHER = "aes-256-gcm"
MAC_CONTEXT = b"interphone media-auth v1\x00"
SECRET_BYTES = 32
KEY_BYTES = 32
MAC_BYTES = 16
TAG_BYTES = 16
U32_MAX = 0xFFFFFFFF

_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">II")
_TRIPLE = struct.Struct(">III")


class MediaPacketType(IntEnum):
    AUTH_RECVBEGIN = 16
    AUTH_RECVBEGIN_ACK = 17
    SEALED_AUDIO = 18


class MediaAuthError(PacketError):
    """Well-formed, but forged, modified, replayed or under an unknown key: drop it.

    Errors: :class:`PacketError` (and this subclass) is a datagram from the peer to
    drop silently; a plain :class:`ValueError` from ``serialize``, ``sign`` or
    :func:`seal_audio` is the caller's own mistake (a value out of range, a frame
    or packet over its limit).
    """


# ---- encodings carried over TLS ----------------------------------------------------------------


def new_secret() -> bytes:
    """A session's media secret (server side, once per login)."""
    return os.urandom(SECRET_BYTES)


def encode_b64(raw: bytes) -> str:
    """The attribute form of secrets and keys: standard base64 with padding."""
    return base64.b64encode(raw).decode("ascii")


def decode_b64(text: str, length: int) -> bytes:
    """Decode a secret or key attribute; ValueError unless exactly ``length`` bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(raw) != length:
        raise ValueError(f"expected {length} bytes, got {len(raw)}")
    return raw


# ---- byte helpers ------------------------------------------------------------------------------


def _pack_str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _U32.pack(len(raw)) + raw


def _finish(body: bytes) -> bytes:
    data = _U32.pack(zlib.crc32(body)) + body
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"packet of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    return data


def _check_u32(name: str, value: int) -> None:
    if not 0 <= value <= U32_MAX:
        raise ValueError(f"{name} {value} is not an unsigned 32-bit integer")


class _Reader:
    __slots__ = ("_data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self._data = data
        self.pos = pos

    def u32(self) -> int:
        if self.pos + 4 > len(self._data):
            raise PacketError("truncated integer")
        (value,) = _U32.unpack_from(self._data, self.pos)
        self.pos += 4
        return value

    def raw(self, length: int) -> bytes:
        end = self.pos + length
        if end > len(self._data):
            raise PacketError("truncated field")
        value = bytes(self._data[self.pos : end])
        self.pos = end
        return value

    def blob(self, limit: int) -> bytes:
        length = self.u32()
        if length > limit:
            raise PacketError(f"field of {length} bytes exceeds {limit}")
        return self.raw(length)

    def name(self) -> str:
        try:
            value = self.blob(MAX_DATAGRAM).decode("utf-8")
        except UnicodeDecodeError:
            raise PacketError("field is not UTF-8") from None
        if not is_valid_name(value):
            raise PacketError(f"bad name {value[:70]!r}")
        return value

    def text(self) -> str:
        try:
            return self.blob(MAX_DATAGRAM).decode("utf-8")
        except UnicodeDecodeError:
            raise PacketError("field is not UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self._data):
            raise PacketError(f"{len(self._data) - self.pos} trailing bytes")


def media_packet_type(data: bytes) -> MediaPacketType | None:
    """The media-auth type of a datagram from its length and type field only (no crc, no parse).

    None for anything else, base types 1 and 2 included. This is the whole cost a
    server pays for a datagram from an address that holds no registration before
    deciding whether to look further.
    """
    if not 8 <= len(data) <= MAX_DATAGRAM:
        return None
    kind = _U32.unpack_from(data, 4)[0]
    if kind in _MEDIA_TYPES:
        return MediaPacketType(kind)
    return None


_MEDIA_TYPES = frozenset(int(t) for t in MediaPacketType)


def _parse_head(data: bytes) -> tuple[int, _Reader]:
    if len(data) > MAX_DATAGRAM:
        raise PacketError(f"datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    if len(data) < _HEAD.size:
        raise PacketError("datagram shorter than its header")
    crc, kind = _HEAD.unpack_from(data, 0)
    if crc != zlib.crc32(memoryview(data)[4:]):
        raise PacketError("crc32 mismatch")  # media-auth senders always fill the crc
    return kind, _Reader(data, _HEAD.size)


# ---- authenticated recvbegin -------------------------------------------------------------------


def _mac(secret: bytes, signed: bytes) -> bytes:
    return hmac.new(secret, MAC_CONTEXT + signed, hashlib.sha256).digest()[:MAC_BYTES]


@dataclass(frozen=True, slots=True)
class AuthRecvBegin:
    """recvbegin (16) or its ack (17), signed with the session's media secret."""

    id: str
    uid: str
    counter: int
    mac: bytes
    ack: bool = False

    @property
    def type(self) -> MediaPacketType:
        return MediaPacketType.AUTH_RECVBEGIN_ACK if self.ack else MediaPacketType.AUTH_RECVBEGIN

    def signed_bytes(self) -> bytes:
        """The bytes the mac covers: type, id, uid, counter as on the wire."""
        _check_u32("counter", self.counter)
        return (_U32.pack(self.type) + _pack_str(self.id) + _pack_str(self.uid)
                + _U32.pack(self.counter))

    @classmethod
    def sign(cls, secret: bytes, id: str, uid: str, counter: int, *,
             ack: bool = False) -> AuthRecvBegin:
        unsigned = cls(id, uid, counter, b"", ack)
        return cls(id, uid, counter, _mac(secret, unsigned.signed_bytes()), ack)

    def verify(self, secret: bytes) -> bool:
        """Constant-time check of the mac under ``secret``."""
        return hmac.compare_digest(self.mac, _mac(secret, self.signed_bytes()))

    def serialize(self) -> bytes:
        if len(self.mac) != MAC_BYTES:
            raise ValueError(f"mac must be {MAC_BYTES} bytes")
        return _finish(self.signed_bytes() + self.mac)


@dataclass(frozen=True, slots=True)
class SealedAudio:
    """An encrypted audiopacket (18). ``sealed`` is the AES-GCM ciphertext with its tag."""

    id: str
    uid: str
    epoch: int
    grant: int
    seq: int
    sealed: bytes

    def header_bytes(self) -> bytes:
        """The associated data: type, id, uid, epoch, grant, seq as on the wire."""
        for name in ("epoch", "grant", "seq"):
            _check_u32(name, getattr(self, name))
        return (_U32.pack(MediaPacketType.SEALED_AUDIO) + _pack_str(self.id)
                + _pack_str(self.uid) + _TRIPLE.pack(self.epoch, self.grant, self.seq))

    @property
    def nonce(self) -> bytes:
        return nonce_for(self.epoch, self.grant, self.seq)

    def serialize(self) -> bytes:
        if not TAG_BYTES <= len(self.sealed) <= MAX_OPUS_FRAME + TAG_BYTES:
            raise ValueError(f"sealed frame of {len(self.sealed)} bytes is out of range")
        return _finish(self.header_bytes() + _U32.pack(len(self.sealed)) + self.sealed)


MediaPacket = AuthRecvBegin | SealedAudio


def parse_media_packet(data: bytes) -> MediaPacket:
    """Decode a media-auth datagram or raise :class:`PacketError` (drop it silently).

    Parsing proves nothing: verify an :class:`AuthRecvBegin` with the session's
    secret, open a :class:`SealedAudio` with :class:`ListenerKeys`.
    """
    kind, reader = _parse_head(data)
    packet: MediaPacket
    if kind in (MediaPacketType.AUTH_RECVBEGIN, MediaPacketType.AUTH_RECVBEGIN_ACK):
        packet = AuthRecvBegin(id=reader.text(), uid=reader.name(), counter=reader.u32(),
                               mac=reader.raw(MAC_BYTES),
                               ack=kind == MediaPacketType.AUTH_RECVBEGIN_ACK)
    elif kind == MediaPacketType.SEALED_AUDIO:
        id_, uid = reader.text(), reader.name()
        epoch, grant, seq = reader.u32(), reader.u32(), reader.u32()
        sealed = reader.blob(MAX_OPUS_FRAME + TAG_BYTES)
        if len(sealed) < TAG_BYTES:
            raise PacketError("sealed frame shorter than its tag")
        packet = SealedAudio(id_, uid, epoch, grant, seq, sealed)
    else:
        raise PacketError(f"not a media-auth packet type: {kind}")
    reader.end()
    return packet


def peek_sealed_route(data: bytes) -> tuple[str, str, int, int] | None:
    """``(id, uid, epoch, grant)`` of a sealed audio datagram without copying its audio.

    For the relay's hot path: no crc check, no decryption (the server forwards
    byte-for-byte; listeners check everything). None if unreadable.
    """
    try:
        if _U32.unpack_from(data, 4)[0] != MediaPacketType.SEALED_AUDIO:
            return None
        reader = _Reader(data, _HEAD.size)
        id_, uid = reader.text(), reader.text()
        epoch, grant = reader.u32(), reader.u32()
        return id_, uid, epoch, grant
    except (PacketError, struct.error):
        return None


class RecvBeginSigner:
    """Client side: signs recvbegins with a session counter and checks the server's acks."""

    def __init__(self, secret: bytes, uid: str, *, remembered: int = 32) -> None:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"a media secret is {SECRET_BYTES} bytes")
        self._secret = secret
        self._uid = uid
        self._counter = 0
        self._pending: deque[tuple[int, str]] = deque(maxlen=remembered)

    def make(self, interphone_id: str) -> bytes:
        """The next signed recvbegin for ``interphone_id`` (counter +1 every time)."""
        if self._counter >= U32_MAX:
            raise OverflowError("recvbegin counter exhausted: log in again")
        self._counter += 1
        self._pending.append((self._counter, interphone_id))
        return AuthRecvBegin.sign(self._secret, interphone_id, self._uid, self._counter).serialize()

    def accept_ack(self, packet: AuthRecvBegin) -> bool:
        """True for a genuine ack of a recvbegin we sent (not a reflection, not a forgery)."""
        if not packet.ack or packet.uid != self._uid or not packet.verify(self._secret):
            return False
        return (packet.counter, packet.id) in self._pending


class RecvBeginVerifier:
    """Server side, one per session: accepts a recvbegin once, in counter order."""

    def __init__(self, secret: bytes, uid: str) -> None:
        self._secret = secret
        self._uid = uid
        self._last = 0

    @property
    def secret(self) -> bytes:
        return self._secret

    def accept(self, packet: AuthRecvBegin) -> bool:
        """Genuine, for this session's uid, and newer than every recvbegin accepted before.

        A replayed or reordered older recvbegin is refused, so it can never move
        the registration back to an address the client has left.
        """
        if packet.ack or packet.uid != self._uid or packet.counter <= self._last:
            return False
        if not packet.verify(self._secret):
            return False
        self._last = packet.counter
        return True

    def ack(self, packet: AuthRecvBegin) -> bytes:
        """The ack (17) to send back to the address the recvbegin came from."""
        return AuthRecvBegin.sign(self._secret, packet.id, packet.uid, packet.counter,
                                  ack=True).serialize()


# ---- voice keys --------------------------------------------------------------------------------


def nonce_for(epoch: int, grant: int, seq: int) -> bytes:
    """The 96-bit AES-GCM nonce: epoch ‖ grant ‖ seq, each u32 big-endian."""
    return _TRIPLE.pack(epoch, grant, seq)


@dataclass(frozen=True, slots=True)
class MediaKey:
    """One epoch of an interphone's voice key."""

    epoch: int
    key: bytes = field(repr=False)
    _aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_u32("epoch", self.epoch)
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a media key is {KEY_BYTES} bytes")
        object.__setattr__(self, "_aead", AESGCM(self.key))

    @property
    def cipher(self) -> AESGCM:
        """This key's AES-GCM (a sender that seals many frames calls its ``encrypt``)."""
        return self._aead

    def seal(self, header: bytes, nonce: bytes, opus: bytes) -> bytes:
        return self._aead.encrypt(nonce, opus, header)

    def open(self, header: bytes, nonce: bytes, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, header)
        except InvalidTag:
            raise MediaAuthError("authentication failed") from None


def seal_audio(key: MediaKey, interphone_id: str, uid: str, grant: int, seq: int,
               opus: bytes) -> bytes:
    """The datagram of one Opus frame of the utterance ``grant`` (seq 0, 1, ...)."""
    if len(opus) > MAX_OPUS_FRAME:
        raise ValueError(f"audio frame of {len(opus)} bytes exceeds {MAX_OPUS_FRAME}")
    shell = SealedAudio(interphone_id, uid, key.epoch, grant, seq, b"")
    header = shell.header_bytes()
    sealed = key.seal(header, shell.nonce, opus)
    return _finish(header + _U32.pack(len(sealed)) + sealed)


class AudioSealer:
    """Seals the frames of one utterance (one key, interphone, uid and floor grant) into
    sealed audio datagrams (18), byte for byte :func:`seal_audio`'s: the header up to the
    seq is packed once, only the seq changes from frame to frame (the talker's per-frame
    path)."""

    __slots__ = ("_encrypt", "_head", "_nonce_head", "grant", "interphone_id", "key")

    def __init__(self, key: MediaKey, interphone_id: str, uid: str, grant: int) -> None:
        self.key = key
        self.interphone_id = interphone_id
        self.grant = grant
        header = SealedAudio(interphone_id, uid, key.epoch, grant, 0, b"").header_bytes()
        self._head = header[:-4]  # type, id, uid, epoch, grant
        self._nonce_head = header[-12:-4]  # epoch, grant
        self._encrypt = key.cipher.encrypt

    def seal(self, seq: int, opus: bytes) -> bytes:
        """The datagram of frame ``seq``; ValueError for a frame or seq out of range."""
        if len(opus) > MAX_OPUS_FRAME:
            raise ValueError(f"audio frame of {len(opus)} bytes exceeds {MAX_OPUS_FRAME}")
        _check_u32("seq", seq)
        seq_bytes = _U32.pack(seq)
        header = self._head + seq_bytes
        sealed = self._encrypt(self._nonce_head + seq_bytes, opus, header)
        return _finish(header + _U32.pack(len(sealed)) + sealed)
