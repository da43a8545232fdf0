"""Per-packet cost of the media-auth extension (no sockets: the crypto and the checks alone).

    python bench/media_crypto.py [--packets N]

What a talker pays to seal one 20 ms Opus frame, a listener to open it, and the
server to decide on it (header peek + checks, no decryption), against the base
contract's serialize / parse / peek_route of the same frame; and what the server
pays for one authenticated recvbegin (parse + HMAC), and to reject a forged one.

Output keys (µs per packet, medians of 5 runs): ``seal_us``, ``open_us``,
``plain_serialize_us``, ``plain_parse_us``, ``relay_check_us``, ``plain_peek_us``,
``recvbegin_verify_us``, ``forged_recvbegin_us``, ``garbage_type_check_us``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine

from app.protocol.media_crypto import (
    AuthRecvBegin,
    RecvBeginVerifier,
    SealedAudio,
    media_packet_type,
    new_secret,
    parse_media_packet,
    peek_sealed_route,
    seal_audio,
)
from app.protocol.media_keys import InterphoneKeys, ListenerKeys
from app.protocol.udp import AudioPacket, parse_packet, peek_route

ID, UID = "group_58", "alice"
FRAME = os.urandom(60)  # 24 kbit/s, 20 ms


def per_call_us(action: Callable[[int], object], count: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for n in range(count):
            action(n)
        runs.append((time.perf_counter() - started) / count * 1e6)
    return round(statistics.median(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20_000)
    count = parser.parse_args().packets

    server = InterphoneKeys()
    key = server.rotate(ID)
    grant = server.new_grant(ID)
    sealed = [seal_audio(key, ID, UID, grant, n, FRAME) for n in range(count)]
    plain = AudioPacket(ID, UID, 0, FRAME).serialize()
    listener = ListenerKeys()

    def open_one(n: int) -> object:
        if n == 0:  # a fresh key state per run: each seq is opened once
            listener.forget(ID)
            listener.install(ID, key, 0.0)
        packet = parse_media_packet(sealed[n])
        assert isinstance(packet, SealedAudio)
        return listener.open(packet, 0.0)

    def relay_check(n: int) -> bool:
        route = peek_sealed_route(sealed[n])
        return route is not None and server.relay_allows(ID, route[2], route[3])

    secret = new_secret()
    recvbegins = [AuthRecvBegin.sign(secret, ID, UID, n + 1).serialize() for n in range(count)]
    forged = AuthRecvBegin.sign(new_secret(), ID, UID, 1).serialize()
    verifier = RecvBeginVerifier(secret, UID)

    def verify_one(n: int) -> bool:
        nonlocal verifier
        if n == 0:
            verifier = RecvBeginVerifier(secret, UID)
        packet = parse_media_packet(recvbegins[n])
        return isinstance(packet, AuthRecvBegin) and verifier.accept(packet)

    def reject_forged(_: int) -> bool:
        packet = parse_media_packet(forged)
        return isinstance(packet, AuthRecvBegin) and verifier.accept(packet)

    garbage = os.urandom(200)
    emit({
        "bench": "media_crypto",
        "packets": count,
        "seal_us": per_call_us(lambda n: seal_audio(key, ID, UID, grant, n, FRAME), count),
        "open_us": per_call_us(open_one, count),
        "plain_serialize_us": per_call_us(
            lambda n: AudioPacket(ID, UID, n, FRAME).serialize(), count),
        "plain_parse_us": per_call_us(lambda n: parse_packet(plain), count),
        "relay_check_us": per_call_us(relay_check, count),
        "plain_peek_us": per_call_us(lambda n: peek_route(plain), count),
        "recvbegin_verify_us": per_call_us(verify_one, count),
        "forged_recvbegin_us": per_call_us(reject_forged, count),
        "garbage_type_check_us": per_call_us(lambda n: media_packet_type(garbage), count),
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
