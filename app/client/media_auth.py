"""The client's side of the media-auth extension (pure: no socket, clock passed in).

docs/protocol-extensions.md, "Extension: media-auth". One :class:`ClientMediaAuth`
per signaling session that was granted ``media-auth``; the media endpoint feeds
it every datagram and sends what it returns::

    media = ClientMediaAuth(uid, secret=decode_b64(login.media_secret, SECRET_BYTES),
                            server=(server_ip, login.udp_port))
    media.install_key("group_58", epoch, key_b64, now)    # join response / key notice
    transport.sendto(media.recvbegin("group_58"), media.server)
    heard = media.datagram(data, source, now)             # HeardAudio | RecvBeginAcked | None
    media.floor_granted("group_58", grant)                # speak-on response's grant
    transport.sendto(media.seal("group_58", seq, opus), media.server)

A datagram that is not from the server's media address, or that fails any
check, gives None and is dropped: the caller never sees it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

from app.protocol.errors import PacketError
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME
from app.protocol.media_crypto import (
    KEY_BYTES,
    TAG_BYTES,
    AudioSealer,
    AuthRecvBegin,
    MediaKey,
    MediaPacketType,
    RecvBeginSigner,
    SealedAudio,
    decode_b64,
    media_packet_type,
    parse_media_packet,
)
from app.protocol.media_keys import ListenerKeys
from app.protocol.udp import RouteCache, route_offsets

Address = tuple[str, int]

_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">II")
_SEALED_TAIL = struct.Struct(">IIII")  # epoch, grant, seq, length of the sealed frame
_SEALED_AUDIO = int(MediaPacketType.SEALED_AUDIO)
_MAX_SEALED = MAX_OPUS_FRAME + TAG_BYTES


class HeardAudio(NamedTuple):
    """An authentic, fresh Opus frame: hand it to the jitter buffer as a base audiopacket."""

    id: str
    uid: str
    grant: int
    seq: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class RecvBeginAcked:
    id: str


class ClientMediaAuth:
    def __init__(self, uid: str, secret: bytes, server: Address, *,
                 key_grace: float = 2.0, max_interphones: int = 256) -> None:
        self.uid = uid
        self.server = server
        self._signer = RecvBeginSigner(secret, uid)
        self._keys = ListenerKeys(grace=key_grace, max_interphones=max_interphones)
        self._grants: dict[str, int] = {}
        self._sealer: AudioSealer | None = None  # the current utterance's, made at its 1st frame
        self._routes = RouteCache()  # id and uid fields decoded once per sender

    # ---- keys and grants from the signaling connection -----------------------------------

    def install_key(self, interphone_id: str, epoch: int, key_b64: str, now: float) -> None:
        """A ``<media_key>`` from the join response or a notification. ValueError if malformed."""
        self._keys.install(interphone_id, MediaKey(epoch, decode_b64(key_b64, KEY_BYTES)), now)

    def left(self, interphone_id: str) -> None:
        """We quit ``interphone_id``: forget its keys and any grant."""
        self._keys.forget(interphone_id)
        self._grants.pop(interphone_id, None)

    def floor_granted(self, interphone_id: str, grant: int) -> None:
        self._grants[interphone_id] = grant

    def floor_released(self, interphone_id: str) -> None:
        self._grants.pop(interphone_id, None)

    def can_talk(self, interphone_id: str) -> bool:
        return (interphone_id in self._grants
                and self._keys.sending_key(interphone_id) is not None)

    # ---- datagrams ------------------------------------------------------------------------

    def recvbegin(self, interphone_id: str) -> bytes:
        """A signed recvbegin to send to :attr:`server` (after join, each keepalive, retries)."""
        return self._signer.make(interphone_id)

    def seal(self, interphone_id: str, seq: int, opus: bytes) -> bytes:
        """One sealed audio datagram of the current grant. RuntimeError without grant or key."""
        data = self.seal_if_granted(interphone_id, seq, opus)
        if data is None:
            raise RuntimeError(f"no floor grant or key for {interphone_id}")
        return data

    def seal_if_granted(self, interphone_id: str, seq: int, opus: bytes) -> bytes | None:
        """:meth:`seal`, or None without a grant or key (:meth:`can_talk` is False): the
        talker's per-frame call. The header is packed once per utterance and key."""
        sealer = self._sealer
        grant = self._grants.get(interphone_id)
        key = self._keys.sending_key(interphone_id)
        if grant is None or key is None:
            return None
        if (sealer is None or sealer.key is not key or sealer.grant != grant
                or sealer.interphone_id != interphone_id):
            sealer = self._sealer = AudioSealer(key, interphone_id, self.uid, grant)
        return sealer.seal(seq, opus)

    def datagram(self, data: bytes, source: tuple[str | Any, ...], now: float
                 ) -> HeardAudio | RecvBeginAcked | None:
        """What an incoming datagram means, or None to drop it silently (``source`` as a
        socket reports it: an IPv6 address's flow and scope fields are not looked at)."""
        server = self.server
        if source[0] != server[0] or source[1] != server[1]:
            return None
        if len(data) >= 8 and _U32.unpack_from(data, 4)[0] == _SEALED_AUDIO:
            return self._sealed_audio(data, now)
        if media_packet_type(data) is None:
            return None
        try:
            packet = parse_media_packet(data)
            if isinstance(packet, SealedAudio):
                if packet.uid == self.uid:
                    return None  # never echoed by a correct server
                frame = self._keys.open(packet, now)
                return HeardAudio(packet.id, packet.uid, packet.grant, packet.seq, frame)
        except PacketError:
            return None
        if isinstance(packet, AuthRecvBegin) and self._signer.accept_ack(packet):
            return RecvBeginAcked(packet.id)
        return None

    def _sealed_audio(self, data: bytes, now: float) -> HeardAudio | None:
        """A sealed audio datagram (18) checked as :func:`parse_media_packet` does, its
        associated data and nonce sliced out of it (they are its bytes from the type
        through the seq), the (id, uid) pair decoded and checked once per sender."""
        size = len(data)
        if size > MAX_DATAGRAM or _U32.unpack_from(data, 0)[0] != zlib.crc32(
                memoryview(data)[4:]):
            return None
        try:
            uid_at, tail_at = route_offsets(data)
            epoch, grant, seq, sealed_length = _SEALED_TAIL.unpack_from(data, tail_at)
        except struct.error:  # a length that points past the end
            return None
        if (not TAG_BYTES <= sealed_length <= _MAX_SEALED
                or tail_at + 16 + sealed_length != size):
            return None
        route = self._routes.route(data, uid_at, tail_at)
        if route is None:
            return None
        interphone_id, uid = route
        if uid == self.uid:
            return None  # never echoed by a correct server
        try:
            frame = self._keys.open_parts(interphone_id, epoch, grant, seq,
                                          data[4:tail_at + 12], data[tail_at:tail_at + 12],
                                          data[tail_at + 16:], now)
        except PacketError:
            return None
        return HeardAudio(interphone_id, uid, grant, seq, frame)

