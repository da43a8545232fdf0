"""A member of G58 speaking media-auth to a real server over TLS (the server, floor and
cluster tests): its signaling connection, its UDP socket and its sealing and opening."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from server_fixtures import G58, RawClient, UdpPeer

from app.client.media_auth import ClientMediaAuth, HeardAudio, RecvBeginAcked
from app.client.trust import TrustPolicy, client_context
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import JoinRequest, Login, MediaKeyNotice


@dataclass
class MediaMember:
    uid: str
    signaling: RawClient
    udp: UdpPeer
    media: ClientMediaAuth

    @classmethod
    async def signed_in(cls, port: int, fingerprint: str, uid: str,
                        features: tuple[str, ...] = ("media-auth",)) -> MediaMember:
        """``uid`` logged in at ``port`` over TLS (the certificate pinned), granted every
        feature of ``features``, with a UDP socket to the same port."""
        client = await RawClient.connect(port, tls=client_context(TrustPolicy(pin=fingerprint)))
        reply = await client.request(Login(uid, f"pw-{uid}", features=features))
        assert reply.ok and set(features) <= set(reply.body.features)
        secret = decode_b64(reply.body.media_secret, SECRET_BYTES)
        udp = await UdpPeer.open(port)
        return cls(uid, client, udp, ClientMediaAuth(uid, secret, ("127.0.0.1", port)))

    async def heard(self) -> HeardAudio | RecvBeginAcked | None:
        """The next datagram, opened (None: it does not open)."""
        data, source = await asyncio.wait_for(self.udp.received.get(), 3)
        return self.media.datagram(data, source, 0.0)

    async def register(self) -> None:
        self.udp.send(self.media.recvbegin(str(G58)))
        assert await self.heard() == RecvBeginAcked(str(G58))

    def install(self, notice: MediaKeyNotice) -> None:
        self.media.install_key(str(notice.id), notice.epoch, notice.key, 0.0)

    async def join(self) -> MediaKeyNotice:
        """Joined G58, its voice key installed."""
        reply = await self.signaling.request(JoinRequest(G58))
        assert reply.ok and reply.body.media_key is not None
        self.install(reply.body.media_key)
        return reply.body.media_key

    async def until(self, kind: type) -> Any:
        """The next notification body of ``kind``; voice keys on the way are installed."""
        while True:
            body = (await self.signaling.next_notification(timeout=3.0)).body
            if isinstance(body, MediaKeyNotice):
                self.install(body)
            if isinstance(body, kind):
                return body

    async def close(self) -> None:
        self.udp.close()
        await self.signaling.close()
