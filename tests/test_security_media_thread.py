"""media-auth on the client's media receive thread (MediaEndpoint opened with its thread):
sealed audio is opened and replay-checked before the ``audio_sink``, only the server's
exact media address is heard, the authenticated acknowledgement reaches the loop."""

from __future__ import annotations

import asyncio
import socket
import threading

from waiting import wait_until

from app.client.media import MediaEndpoint
from app.protocol.media_crypto import (
    KEY_BYTES,
    AuthRecvBegin,
    MediaKey,
    RecvBeginVerifier,
    encode_b64,
    new_secret,
    parse_media_packet,
    seal_audio,
)

ID = "group_58"


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    return sock


async def test_sealed_audio_reaches_the_sink_opened_once_and_only_from_the_server():
    secret = new_secret()
    verifier = RecvBeginVerifier(secret, "alice")
    server, impostor = _udp(), _udp()
    key = MediaKey(1, bytes([7]) * KEY_BYTES)
    main = threading.current_thread()
    sink_calls: list[tuple[str, str, int, bytes, bool]] = []
    loop_calls: list[tuple[int, bytes]] = []
    endpoint = await MediaEndpoint.open(
        "127.0.0.1", server.getsockname()[1], "alice",
        lambda interphone, uid, seq, frame: loop_calls.append((seq, frame)),
        media_secret=secret)
    endpoint.audio_sink = lambda interphone, uid, seq, frame: sink_calls.append(
        (interphone, uid, seq, frame, threading.current_thread() is main))
    try:
        endpoint.install_key(ID, key.epoch, encode_b64(key.key))
        registering = asyncio.ensure_future(endpoint.register(ID, interval=30.0))
        data, client = await asyncio.get_running_loop().run_in_executor(
            None, server.recvfrom, 2048)
        recvbegin = parse_media_packet(data)
        assert isinstance(recvbegin, AuthRecvBegin) and verifier.accept(recvbegin)
        impostor.sendto(verifier.ack(recvbegin), client)  # a genuine ack, wrong port
        server.sendto(verifier.ack(recvbegin), client)
        assert await registering
        assert endpoint.stats.acks == 1

        first = seal_audio(key, ID, "bob", 5, 0, b"one")
        impostor.sendto(seal_audio(key, ID, "bob", 5, 1, b"spoofed"), client)
        server.sendto(first, client)
        server.sendto(first, client)  # replayed
        server.sendto(seal_audio(MediaKey(1, bytes([8]) * KEY_BYTES), ID, "bob", 5, 3,
                                 b"other key"), client)
        server.sendto(seal_audio(key, ID, "bob", 5, 2, b"two"), client)
        await wait_until(lambda: len(loop_calls) == 2, what="the two genuine frames")
        assert sink_calls == [(ID, "bob", 0, b"one", False), (ID, "bob", 2, b"two", False)]
        assert loop_calls == [(0, b"one"), (2, b"two")]
        assert endpoint.stats.rx_packets == 2
        assert endpoint.stats.rx_dropped == 4  # impostor ack and audio, replay, wrong key
    finally:
        await endpoint.aclose()
        server.close()
        impostor.close()
