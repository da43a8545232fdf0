"""The per-packet audiopacket paths of app/protocol/udp.py: :class:`AudioPacker` packs what
:meth:`AudioPacket.serialize` packs, :class:`AudioReader` accepts exactly the audiopackets
:func:`parse_packet` accepts, with the same fields."""

from __future__ import annotations

import struct

import pytest
from hot_path_cases import FRAMES, ID, LONG_ID, NAMES, REFUSED_FRAMES, malformed, recrc

from app.protocol import AudioPacket, PacketError, RecvBeginPacket, parse_packet
from app.protocol.udp import AudioPacker, AudioReader


def _reference(data: bytes) -> tuple[str, str, int, bytes] | None:
    try:
        packet = parse_packet(data)
    except PacketError:
        return None
    if not isinstance(packet, AudioPacket):
        return None
    return packet.id, packet.uid, packet.seq, packet.frame


@pytest.mark.parametrize("interphone_id, uid", NAMES)
def test_the_packer_packs_byte_for_byte_what_serialize_packs(interphone_id: str,
                                                             uid: str) -> None:
    packer = AudioPacker(interphone_id, uid)
    for seq, frame in FRAMES:
        assert packer.pack(seq, frame) == AudioPacket(interphone_id, uid, seq,
                                                      frame).serialize()


def test_the_packer_refuses_what_serialize_refuses() -> None:
    packer = AudioPacker(ID, "bob")
    for seq, frame in REFUSED_FRAMES:
        with pytest.raises(ValueError):
            AudioPacket(ID, "bob", seq, frame).serialize()
        with pytest.raises(ValueError):
            packer.pack(seq, frame)
    with pytest.raises(ValueError):  # over the datagram limit (a long id)
        AudioPacker(LONG_ID, "bob").pack(0, bytes(1275))


def _variants() -> list[bytes]:
    good = AudioPacket(ID, "bob", 7, b"\xf8\xff\xfe").serialize()
    body = good[4:]
    return [
        good,
        AudioPacket(ID, "bob", 8, b"\xf8").serialize(crc=False),  # crc 0: not computed
        AudioPacket(ID, "bob", 9, b"").serialize(),
        RecvBeginPacket(ID, "bob").serialize(),
        good[:-1] + b"\x00",  # bad crc
        *malformed(good),
        good[:8],
        b"\x00" * 7,
        recrc(body[:-7] + struct.pack(">I", 1276) + body[-3:]),  # frame length too long
        AudioPacket(ID, "bob", 1, bytes(1275)).serialize() + bytes(100),  # over the limit
    ]


def test_the_reader_accepts_exactly_what_parse_packet_accepts() -> None:
    variants = _variants()
    assert sum(_reference(data) is not None for data in variants) == 3
    for data in variants:
        assert AudioReader().read(data) == _reference(data), data


def test_a_remembered_sender_is_still_checked_packet_by_packet() -> None:
    reader = AudioReader()
    first = AudioPacket(ID, "bob", 0, b"one").serialize()
    assert reader.read(first) == (ID, "bob", 0, b"one")
    assert reader.read(first[:-1] + b"\x00") is None  # modified: crc mismatch
    assert reader.read(recrc(first[4:] + b"\x00")) is None  # trailing byte
    for n in range(100):  # many senders: the remembered routes stay bounded
        data = AudioPacket(ID, f"user{n}", n, b"x").serialize()
        assert reader.read(data) == (ID, f"user{n}", n, b"x")
    assert reader.read(AudioPacket(ID, "bob", 2, b"two").serialize()) == (ID, "bob", 2, b"two")
