"""UDP media packets (PROTOCOL.md section 5), checked against hand-built bytes."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.protocol import AudioPacket, PacketError, RecvBeginPacket, parse_packet
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME
from app.protocol.udp import PacketType, audio_well_formed, crc_ok, peek_route


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def field(raw: bytes) -> bytes:
    return u32(len(raw)) + raw


def with_crc(body: bytes, crc: bool = True) -> bytes:
    return u32(zlib.crc32(body) if crc else 0) + body


def audio_body(id_: bytes, uid: bytes, seq: int, frame: bytes, kind: int = 1) -> bytes:
    return u32(kind) + field(id_) + field(uid) + u32(seq) + field(frame)


def recvbegin_body(id_: bytes, uid: bytes, kind: int = 2) -> bytes:
    return u32(kind) + field(id_) + field(uid)


AUDIO = AudioPacket("discuss_12", "sung", 7, b"\xfc\x01\x02opus")
AUDIO_WIRE = with_crc(audio_body(b"discuss_12", b"sung", 7, b"\xfc\x01\x02opus"))
RECV = RecvBeginPacket("chat_lxx:sung", "lxx")
RECV_WIRE = with_crc(recvbegin_body(b"chat_lxx:sung", b"lxx"))


def test_packet_types():
    assert (PacketType.INVALID, PacketType.AUDIO, PacketType.RECVBEGIN) == (0, 1, 2)


def test_audio_layout_is_big_endian():
    expected_body = (
        b"\x00\x00\x00\x01"
        + b"\x00\x00\x00\x0a" + b"discuss_12"
        + b"\x00\x00\x00\x04" + b"sung"
        + b"\x00\x00\x00\x07"
        + b"\x00\x00\x00\x07" + b"\xfc\x01\x02opus"
    )
    assert AUDIO.serialize() == struct.pack(">I", zlib.crc32(expected_body)) + expected_body
    assert AUDIO.serialize() == AUDIO_WIRE
    assert AUDIO.serialize(crc=False) == b"\x00\x00\x00\x00" + expected_body
    assert parse_packet(AUDIO_WIRE) == AUDIO


def test_audio_seq_is_big_endian_u32():
    wire = AudioPacket("group_1", "u", 0x01020304, b"").serialize(crc=False)
    assert wire[-8:] == b"\x01\x02\x03\x04\x00\x00\x00\x00"
    assert parse_packet(wire).seq == 0x01020304
    assert parse_packet(AudioPacket("group_1", "u", 0xFFFFFFFF, b"").serialize()).seq == 2**32 - 1


def test_recvbegin_layout_and_ack_is_the_same_packet():
    expected_body = (
        b"\x00\x00\x00\x02" + b"\x00\x00\x00\x0d" + b"chat_lxx:sung" + b"\x00\x00\x00\x03" + b"lxx"
    )
    assert RECV.serialize() == struct.pack(">I", zlib.crc32(expected_body)) + expected_body
    # The server's recvbegin_ack has the same value 2 and the same layout: echo it back.
    ack = RecvBeginPacket(RECV.id, RECV.uid).serialize()
    assert ack == RECV_WIRE
    assert parse_packet(ack) == RECV


def test_utf8_lengths_are_in_bytes():
    # The id is not validated at this layer; its length prefix counts UTF-8 bytes.
    wire = RecvBeginPacket("group_é", "u").serialize(crc=False)
    assert wire[8:12] == u32(len("group_é".encode()))
    assert parse_packet(wire).id == "group_é"


# ---- crc ------------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", [AUDIO_WIRE, RECV_WIRE], ids=["audio", "recvbegin"])
def test_every_flipped_bit_is_caught(wire):
    (crc,) = struct.unpack_from(">I", wire)
    assert crc != 0 and crc & (crc - 1) != 0  # no single flip can turn it into 0
    for position in range(len(wire)):
        for bit in range(8):
            damaged = bytearray(wire)
            damaged[position] ^= 1 << bit
            with pytest.raises(PacketError):
                parse_packet(bytes(damaged))


def test_crc_zero_means_not_computed():
    body = audio_body(b"group_1", b"u", 3, b"x")
    assert parse_packet(u32(0) + body) == AudioPacket("group_1", "u", 3, b"x")
    assert parse_packet(RECV.serialize(crc=False)) == RECV


def test_crc_covers_every_byte_after_itself():
    body = recvbegin_body(b"group_1", b"u")
    assert parse_packet(u32(zlib.crc32(body)) + body) == RecvBeginPacket("group_1", "u")
    with pytest.raises(PacketError):
        parse_packet(u32(zlib.crc32(body[1:])) + body)
    with pytest.raises(PacketError):
        parse_packet(u32(zlib.crc32(body) ^ 1) + body)


# ---- malformed ------------------------------------------------------------------------------


@pytest.mark.parametrize("crc", [True, False])
@pytest.mark.parametrize(
    "packet",
    [AUDIO, RECV, AudioPacket("group_1", "u", 0, b""), RecvBeginPacket("", "u")],
    ids=["audio", "recvbegin", "empty-frame", "empty-id"],
)
def test_every_truncation_is_rejected(packet, crc):
    wire = packet.serialize(crc=crc)
    assert parse_packet(wire) == packet
    for length in range(len(wire)):
        with pytest.raises(PacketError):
            parse_packet(wire[:length])


@pytest.mark.parametrize("crc", [True, False])
@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00\x00\x00", b"junk"])
def test_trailing_bytes_are_rejected(crc, extra):
    for body in (
        audio_body(b"group_1", b"u", 0, b"x"),
        recvbegin_body(b"group_1", b"u"),
    ):
        assert parse_packet(with_crc(body, crc))
        with pytest.raises(PacketError):
            parse_packet(with_crc(body + extra, crc))


@pytest.mark.parametrize("kind", [0, 3, 4, 0xFFFFFFFF, 0x01000000])
def test_unknown_type_is_rejected(kind):
    for body in (
        audio_body(b"group_1", b"u", 0, b"x", kind=kind),
        recvbegin_body(b"group_1", b"u", kind=kind),
    ):
        with pytest.raises(PacketError):
            parse_packet(with_crc(body))
        with pytest.raises(PacketError):
            parse_packet(with_crc(body, crc=False))


def test_datagram_limit():
    # A well-formed recvbegin of exactly 1400 bytes passes; one byte more is dropped.
    id_len = MAX_DATAGRAM - 16 - 1
    exact = with_crc(recvbegin_body(b"g" * id_len, b"u"))
    assert len(exact) == MAX_DATAGRAM
    assert parse_packet(exact).id == "g" * id_len
    over = with_crc(recvbegin_body(b"g" * (id_len + 1), b"u"))
    assert len(over) == MAX_DATAGRAM + 1
    with pytest.raises(PacketError):
        parse_packet(over)
    with pytest.raises(ValueError):
        RecvBeginPacket("g" * (id_len + 1), "u").serialize()
    with pytest.raises(PacketError):
        parse_packet(bytes(65507))


def test_opus_frame_limit():
    ok = with_crc(audio_body(b"group_1", b"u", 0, bytes(MAX_OPUS_FRAME)))
    assert len(parse_packet(ok).frame) == 1275 == MAX_OPUS_FRAME
    over = with_crc(audio_body(b"group_1", b"u", 0, bytes(MAX_OPUS_FRAME + 1)))
    assert len(over) <= MAX_DATAGRAM  # only the frame limit is broken
    with pytest.raises(PacketError):
        parse_packet(over)
    with pytest.raises(ValueError):
        AudioPacket("group_1", "u", 0, bytes(MAX_OPUS_FRAME + 1)).serialize()


@pytest.mark.parametrize(
    "body",
    [
        audio_body(b"group_1", b"", 0, b"x"),  # empty uid
        audio_body(b"group_1", b"a:b", 0, b"x"),  # ':' in uid
        audio_body(b"group_1", b"u" * 65, 0, b"x"),
        recvbegin_body(b"group_1", "ü".encode()),
        recvbegin_body(b"group_\xff", b"u"),  # id not UTF-8
        recvbegin_body(b"group_1", b"\xc3"),  # uid not UTF-8
        u32(2) + u32(0xFFFFFFFF) + b"x",  # absurd length
        u32(1) + field(b"group_1") + field(b"u") + u32(0) + u32(5) + b"ab",  # short frame
    ],
)
def test_bad_fields_are_rejected(body):
    with pytest.raises(PacketError):
        parse_packet(with_crc(body))


# ---- peek_route ------------------------------------------------------------------------------


def test_peek_route_on_good_packets():
    assert peek_route(AUDIO_WIRE) == (1, "discuss_12", "sung")
    assert peek_route(RECV_WIRE) == (2, "chat_lxx:sung", "lxx")
    assert peek_route(AudioPacket("group_1", "u", 5, bytes(1000)).serialize(crc=False)) == (
        1,
        "group_1",
        "u",
    )
    assert peek_route(memoryview(AUDIO_WIRE)) == (1, "discuss_12", "sung")


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"\x00" * 7,
        b"\x00" * 8,
        AUDIO_WIRE[:12],
        AUDIO_WIRE[:20],
        u32(0) + u32(1) + u32(1000) + b"short",
        u32(0) + u32(2) + field(b"\xff\xfe") + field(b"u"),
    ],
)
def test_peek_route_on_garbage_is_none(garbage):
    assert peek_route(garbage) is None


@given(st.binary(max_size=200))
def test_peek_route_never_raises(data):
    route = peek_route(data)
    if route is not None:
        kind, id_, uid = route
        assert isinstance(kind, int) and isinstance(id_, str) and isinstance(uid, str)


# ---- the relay's checks: audio_well_formed, crc_ok -----------------------------------------


@pytest.mark.parametrize(("wire", "ok"), [
    (AUDIO_WIRE, True),
    (with_crc(audio_body(b"discuss_12", b"sung", 0, b"")), True),
    (with_crc(audio_body(b"discuss_12", b"sung", 0, bytes(MAX_OPUS_FRAME))), True),
    (with_crc(audio_body(b"discuss_12", b"sung", 0, bytes(MAX_OPUS_FRAME + 1))), False),
    (AUDIO_WIRE + b"\x00", False),  # trailing byte
    (AUDIO_WIRE[:-1], False),  # frame shorter than its length says
    (with_crc(u32(1) + field(b"discuss_12") + field(b"sung") + u32(7)), False),  # no frame
    (with_crc(u32(1) + field(b"discuss_12") + field(b"sung") + u32(7) + b"\x00\x00"), False),
])
def test_audio_well_formed_checks_the_tail_after_the_route(wire: bytes, ok: bool) -> None:
    assert peek_route(wire) == (1, "discuss_12", "sung")
    assert audio_well_formed(wire, "discuss_12", "sung") is ok
    if ok:  # the full parser agrees
        assert parse_packet(wire).frame is not None


def test_audio_well_formed_counts_utf8_bytes_not_characters() -> None:
    wire = with_crc(audio_body("group_ü".encode(), b"u", 1, b"abc"))
    assert audio_well_formed(wire, "group_ü", "u")


def test_crc_ok_accepts_a_match_or_zero_and_nothing_else() -> None:
    assert crc_ok(AUDIO_WIRE) and crc_ok(with_crc(audio_body(b"g", b"u", 0, b"x"), crc=False))
    broken = bytearray(AUDIO_WIRE)
    broken[-1] ^= 1
    assert not crc_ok(bytes(broken))
