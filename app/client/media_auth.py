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

from dataclasses import dataclass

from app.protocol.errors import PacketError
from app.protocol.media_crypto import (
    KEY_BYTES,
    AuthRecvBegin,
    ListenerKeys,
    MediaKey,
    RecvBeginSigner,
    SealedAudio,
    decode_b64,
    media_packet_type,
    parse_media_packet,
    seal_audio,
)

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class HeardAudio:
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
        grant = self._grants.get(interphone_id)
        key = self._keys.sending_key(interphone_id)
        if grant is None or key is None:
            raise RuntimeError(f"no floor grant or key for {interphone_id}")
        return seal_audio(key, interphone_id, self.uid, grant, seq, opus)

    def datagram(self, data: bytes, source: Address, now: float
                 ) -> HeardAudio | RecvBeginAcked | None:
        """What an incoming datagram means, or None to drop it silently."""
        if source[:2] != self.server or media_packet_type(data) is None:
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
