"""The talker's and listener's per-frame media-auth paths: :class:`AudioSealer`
(app/protocol/media_crypto.py) packs what :func:`seal_audio` packs, and a listener's
reading of a sealed audio datagram (app/client/media_auth.py: sliced, not parsed into a
:class:`SealedAudio`) accepts and refuses exactly what :func:`parse_media_packet` +
:meth:`ListenerKeys.open` do."""

from __future__ import annotations

import struct

import pytest
from hot_path_cases import FRAMES, ID, LONG_ID, NAMES, REFUSED_FRAMES, malformed, recrc

from app.client.media_auth import ClientMediaAuth, HeardAudio
from app.protocol.errors import PacketError
from app.protocol.media_crypto import (
    KEY_BYTES,
    AudioSealer,
    MediaKey,
    SealedAudio,
    encode_b64,
    new_secret,
    parse_media_packet,
    seal_audio,
)
from app.protocol.media_keys import ListenerKeys

SERVER = ("192.0.2.10", 9400)
KEY = MediaKey(7, bytes(range(KEY_BYTES)))


def _listener() -> ClientMediaAuth:
    auth = ClientMediaAuth("alice", new_secret(), SERVER)
    auth.install_key(ID, KEY.epoch, encode_b64(KEY.key), 0.0)
    return auth


def _reference(data: bytes) -> HeardAudio | None:
    """What the general parser and ListenerKeys.open make of ``data`` (fresh replay state)."""
    keys = ListenerKeys()
    keys.install(ID, KEY, 0.0)
    try:
        packet = parse_media_packet(data)
        assert isinstance(packet, SealedAudio)
        if packet.uid == "alice":
            return None
        frame = keys.open(packet, 0.0)
    except PacketError:
        return None
    return HeardAudio(packet.id, packet.uid, packet.grant, packet.seq, frame)


@pytest.mark.parametrize("interphone_id, uid", NAMES)
def test_the_sealer_packs_byte_for_byte_what_seal_audio_packs(interphone_id: str,
                                                              uid: str) -> None:
    sealer = AudioSealer(KEY, interphone_id, uid, 4242)
    for seq, opus in FRAMES:
        assert sealer.seal(seq, opus) == seal_audio(KEY, interphone_id, uid, 4242, seq, opus)


def test_the_sealer_refuses_what_seal_audio_refuses() -> None:
    sealer = AudioSealer(KEY, ID, "bob", 1)
    for seq, opus in REFUSED_FRAMES:
        with pytest.raises(ValueError):
            seal_audio(KEY, ID, "bob", 1, seq, opus)
        with pytest.raises(ValueError):
            sealer.seal(seq, opus)
    with pytest.raises(ValueError):  # a packet over the datagram limit (a long id)
        AudioSealer(KEY, LONG_ID, "bob", 1).seal(0, bytes(1275))


def test_a_client_seals_with_the_current_grant_and_key() -> None:
    auth = _listener()
    assert auth.seal_if_granted(ID, 0, b"a") is None  # no grant yet
    auth.floor_granted(ID, 3)
    assert auth.seal_if_granted(ID, 0, b"a") == seal_audio(KEY, ID, "alice", 3, 0, b"a")
    auth.floor_granted(ID, 4)  # a new utterance
    assert auth.seal(ID, 1, b"b") == seal_audio(KEY, ID, "alice", 4, 1, b"b")
    newer = MediaKey(8, bytes([9]) * KEY_BYTES)  # the key rotated mid-utterance
    auth.install_key(ID, newer.epoch, encode_b64(newer.key), 1.0)
    assert auth.seal(ID, 2, b"c") == seal_audio(newer, ID, "alice", 4, 2, b"c")
    auth.floor_released(ID)
    assert auth.seal_if_granted(ID, 3, b"d") is None
    with pytest.raises(RuntimeError):
        auth.seal(ID, 3, b"d")


def _variants() -> list[bytes]:
    good = seal_audio(KEY, ID, "bob", 5, 0, b"\xf8\xff\xfe")
    body = good[4:]
    return [
        good,
        seal_audio(KEY, ID, "alice", 5, 1, b"own echo"),
        seal_audio(KEY, "group_9", "bob", 5, 2, b"no key for it"),
        seal_audio(MediaKey(7, bytes(KEY_BYTES)), ID, "bob", 5, 3, b"forged"),
        good[:-1],  # bad crc
        *malformed(good),
        good[:8],  # a type and nothing else
        recrc(body[:-23] + struct.pack(">I", 15) + body[-15:]),  # shorter than a tag
    ]


def test_reading_a_sealed_datagram_matches_the_general_parser() -> None:
    variants = _variants()
    assert sum(_reference(data) is not None for data in variants) == 1
    for data in variants:
        assert _listener().datagram(data, SERVER, 0.0) == _reference(data), data


def test_the_remembered_route_does_not_skip_checks_of_a_later_datagram() -> None:
    auth = _listener()
    first = seal_audio(KEY, ID, "bob", 5, 0, b"one")
    assert auth.datagram(first, SERVER, 0.0) == HeardAudio(ID, "bob", 5, 0, b"one")
    assert auth.datagram(first, SERVER, 0.0) is None  # a replay
    assert auth.datagram(first[:-1] + b"\x00", SERVER, 0.0) is None  # modified
    assert auth.datagram(seal_audio(KEY, ID, "bob", 5, 1, b"two"), ("192.0.2.11", 9400),
                         0.0) is None  # another source
    assert auth.datagram(seal_audio(KEY, ID, "bob", 5, 1, b"two"), (*SERVER, 0, 0),
                         0.0) == HeardAudio(ID, "bob", 5, 1, b"two")  # IPv6-style tuple
    for n in range(100):  # many senders: the remembered routes stay bounded
        uid = f"user{n}"
        assert auth.datagram(seal_audio(KEY, ID, uid, 5, 2 + n, b"x"), SERVER, 0.0) \
            == HeardAudio(ID, uid, 5, 2 + n, b"x")
    assert auth.datagram(seal_audio(KEY, ID, "bob", 5, 102, b"three"), SERVER, 0.0) \
        == HeardAudio(ID, "bob", 5, 102, b"three")
