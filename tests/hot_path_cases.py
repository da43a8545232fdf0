"""Cases shared by the tests of the per-packet ("hot path") readers and writers: the
audiopacket's (tests/test_udp_hot_path.py) and media-auth's sealed audio
(tests/test_media_auth_hot_path.py). Both datagrams start alike (crc, type, id length, id,
uid length, uid), so the same corruptions must be refused by both, and the same names and
frames must be packed byte for byte as the general serializer packs them."""

from __future__ import annotations

import struct
import zlib

ID = "group_58"

NAMES = [(ID, "bob"), ("chat_a.b:c@d", "x" * 64), ("discuss_é", "b-o_b")]
"""(interphone id, uid) pairs of every shape: a group, a chat with its punctuation, a long
uid, a non-ASCII discussion id."""

FRAMES = [(0, b"\xf8\xff\xfe"), (1, b""), (2, bytes(1275)), (0xFFFFFFFF, b"last")]
"""(seq, opus frame) pairs a packer must pack: empty and largest frame, last seq."""

REFUSED_FRAMES = [(0, bytes(1276)), (-1, b"x"), (1 << 32, b"x")]
"""(seq, opus frame) pairs a packer must refuse: a frame too long, a seq out of range."""

LONG_ID = "group_" + "x" * 200
"""An id that makes a largest frame's datagram go over the datagram limit."""


def recrc(body: bytes) -> bytes:
    """``body`` behind its right crc32: a datagram broken elsewhere than in its crc."""
    return struct.pack(">I", zlib.crc32(body)) + body


def malformed(good: bytes) -> list[bytes]:
    """``good`` (a well-formed datagram from the uid "bob") broken in each way a reader must
    refuse, each with a right crc: truncated, a trailing byte, the id length past the end,
    a uid that is not a name, a uid that is not UTF-8, an id that is not UTF-8."""
    body = good[4:]
    uid_length_at = 8 + struct.unpack_from(">I", body, 4)[0]  # type, id length, id
    assert body[uid_length_at:uid_length_at + 4 + 3] == struct.pack(">I", 3) + b"bob"
    after_uid = body[uid_length_at + 4 + 3:]
    return [
        recrc(body[:-1]),  # truncated
        recrc(body + b"\x00"),  # trailing byte
        recrc(body[:4] + struct.pack(">I", 10_000) + body[8:]),  # id length past the end
        recrc(body[:uid_length_at] + struct.pack(">I", 9) + b"bad name!"
              + after_uid),  # a uid that is not a name
        recrc(body[:uid_length_at] + struct.pack(">I", 3) + b"\xff\xfe\xfd"
              + after_uid),  # a uid that is not UTF-8
        recrc(body[:8] + b"\xff" + body[9:]),  # an id that is not UTF-8
    ]
