"""The per-packet audiopacket paths of app/protocol/udp.py: :class:`AudioPacker` packs what
:meth:`AudioPacket.serialize` packs, :class:`AudioReader` accepts exactly the audiopackets
:func:`parse_packet` accepts, with the same fields."""

from __future__ import annotations

import struct
import zlib

import pytest

from app.protocol import AudioPacket, PacketError, RecvBeginPacket, parse_packet
from app.protocol.udp import AudioPacker, AudioReader

ID = "group_58"


def _reference(data: bytes) -> tuple[str, str, int, bytes] | None:
    try:
        packet = parse_packet(data)
    except PacketError:
        return None
    if not isinstance(packet, AudioPacket):
        return None
    return packet.id, packet.uid, packet.seq, packet.frame


def _recrc(body: bytes) -> bytes:
    return struct.pack(">I", zlib.crc32(body)) + body


@pytest.mark.parametrize("interphone_id, uid", [(ID, "bob"), ("chat_a.b:c@d", "x" * 64),
                                                 ("discuss_é", "b-o_b")])
def test_the_packer_packs_byte_for_byte_what_serialize_packs(interphone_id: str,
                                                             uid: str) -> None:
    packer = AudioPacker(interphone_id, uid)
    for seq, frame in [(0, b"\xf8\xff\xfe"), (1, b""), (2, bytes(1275)),
                       (0xFFFFFFFF, b"last")]:
        assert packer.pack(seq, frame) == AudioPacket(interphone_id, uid, seq,
                                                      frame).serialize()


def test_the_packer_refuses_what_serialize_refuses() -> None:
    packer = AudioPacker(ID, "bob")
    for seq, frame in [(0, bytes(1276)), (-1, b"x"), (1 << 32, b"x")]:
        with pytest.raises(ValueError):
            AudioPacket(ID, "bob", seq, frame).serialize()
        with pytest.raises(ValueError):
            packer.pack(seq, frame)
    with pytest.raises(ValueError):  # over the datagram limit (a long id)
        AudioPacker("group_" + "x" * 200, "bob").pack(0, bytes(1275))


def _variants() -> list[bytes]:
    good = AudioPacket(ID, "bob", 7, b"\xf8\xff\xfe").serialize()
    body = good[4:]
    uid_length_at = 8 + len(ID)  # in body
    return [
        good,
        AudioPacket(ID, "bob", 8, b"\xf8").serialize(crc=False),  # crc 0: not computed
        AudioPacket(ID, "bob", 9, b"").serialize(),
        RecvBeginPacket(ID, "bob").serialize(),
        good[:-1] + b"\x00",  # bad crc
        _recrc(body[:-1]),  # truncated
        _recrc(body + b"\x00"),  # trailing byte
        good[:8],
        b"\x00" * 7,
        _recrc(body[:4] + struct.pack(">I", 10_000) + body[8:]),  # id length past the end
        _recrc(body[:uid_length_at] + struct.pack(">I", 9) + b"bad name!"
               + body[uid_length_at + 4 + 3:]),  # a uid that is not a name
        _recrc(body[:uid_length_at] + struct.pack(">I", 3) + b"\xff\xfe\xfd"
               + body[uid_length_at + 4 + 3:]),  # a uid that is not UTF-8
        _recrc(body[:8] + b"\xff" + body[9:]),  # an id that is not UTF-8
        _recrc(body[:-7] + struct.pack(">I", 1276) + body[-3:]),  # frame length too long
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
    assert reader.read(_recrc(first[4:] + b"\x00")) is None  # trailing byte
    for n in range(100):  # many senders: the remembered routes stay bounded
        data = AudioPacket(ID, f"user{n}", n, b"x").serialize()
        assert reader.read(data) == (ID, f"user{n}", n, b"x")
    assert reader.read(AudioPacket(ID, "bob", 2, b"two").serialize()) == (ID, "bob", 2, b"two")
