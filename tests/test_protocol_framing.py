"""TCP framing (PROTOCOL.md 1.1): 4-byte big-endian length, at most 65536."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.protocol import ErrCode, FrameDecoder, FrameTooLarge, ProtocolError, encode_frame
from app.protocol.limits import MAX_FRAME

payloads = st.lists(st.binary(max_size=300), max_size=12)


def test_header_is_big_endian_length():
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"
    assert encode_frame(bytes(258))[:4] == struct.pack(">I", 258) == b"\x00\x00\x01\x02"


@given(payloads)
def test_byte_by_byte(frames):
    stream = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
    assert out == frames
    assert decoder.buffered == 0


@given(payloads, st.data())
def test_random_splits(frames, data):
    stream = b"".join(encode_frame(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    decoder = FrameDecoder()
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    assert out == frames
    assert decoder.buffered == 0


@given(payloads, st.binary(min_size=1, max_size=3) | st.binary(min_size=5, max_size=40))
def test_incomplete_tail_is_held(frames, tail_payload):
    partial = encode_frame(tail_payload)[:-1]
    decoder = FrameDecoder()
    assert decoder.feed(b"".join(encode_frame(f) for f in frames) + partial) == frames
    assert decoder.buffered == len(partial)
    assert decoder.feed(encode_frame(tail_payload)[-1:]) == [tail_payload]
    assert decoder.buffered == 0


def test_feed_accepts_bytearray_and_memoryview():
    decoder = FrameDecoder()
    assert decoder.feed(bytearray(encode_frame(b"x"))) == [b"x"]
    assert decoder.feed(memoryview(encode_frame(b"yz"))) == [b"yz"]
    assert all(type(f) is bytes for f in decoder.feed(encode_frame(b"q")))


def test_exactly_the_limit_is_accepted():
    payload = b"a" * MAX_FRAME
    assert MAX_FRAME == 65536
    wire = encode_frame(payload)
    assert wire[:4] == b"\x00\x01\x00\x00"
    decoder = FrameDecoder()
    assert decoder.feed(wire[:1000]) == []
    assert decoder.feed(wire[1000:]) == [payload]


@pytest.mark.parametrize("length", [MAX_FRAME + 1, 1 << 20, 0xFFFFFFFF])
def test_oversize_length_fails_and_stays_failed(length):
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(b"ok")) == [b"ok"]
    header = struct.pack(">I", length)
    assert decoder.feed(header[:3]) == []  # not known yet
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(header[3:])
    assert isinstance(info.value, ProtocolError)
    assert info.value.errcode == ErrCode.TOO_LARGE == 413
    assert info.value.length == length
    assert info.value.limit == MAX_FRAME
    for more in (b"", encode_frame(b"later"), b"\x00"):
        with pytest.raises(FrameTooLarge):
            decoder.feed(more)


def test_oversize_detected_from_the_header_alone():
    # No need to wait for the announced bytes: the header suffices.
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(struct.pack(">I", MAX_FRAME + 1))


def test_encode_frame_refuses_oversize_as_local_misuse():
    encode_frame(bytes(MAX_FRAME))
    with pytest.raises(ValueError) as info:
        encode_frame(bytes(MAX_FRAME + 1))
    # The caller's mistake, not the peer's: not a ProtocolError (which a server answers).
    assert not isinstance(info.value, ProtocolError)


def test_custom_limit():
    decoder = FrameDecoder(limit=4)
    assert decoder.feed(encode_frame(b"four")) == [b"four"]
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_frame(b"five!", limit=5))
    with pytest.raises(ValueError):
        encode_frame(b"five!", limit=4)


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_any_bytes_only_frame_too_large_escapes(chunks):
    decoder = FrameDecoder(limit=1000)
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert len(frame) <= 1000
    except FrameTooLarge:
        pass
