"""TCP framing (PROTOCOL.md 1.1): a 4-byte big-endian length, then that many bytes."""

from __future__ import annotations

import struct

from app.protocol.errors import FrameTooLarge
from app.protocol.limits import MAX_FRAME

_HEADER = struct.Struct(">I")


def encode_frame(payload: bytes, limit: int = MAX_FRAME) -> bytes:
    """Length-prefix ``payload``.

    A payload over ``limit`` is the caller's mistake, not the peer's: it raises
    a plain :class:`ValueError` (:class:`FrameTooLarge` means the peer sent one).
    """
    if len(payload) > limit:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the frame limit of {limit}")
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: feed any split of the byte stream, take whole frames out.

    After :class:`FrameTooLarge` the stream cannot be resynchronised; the
    decoder stays failed and the caller closes the connection.
    """

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._failed: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every frame they complete, in order."""
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        frames: list[bytes] = []
        offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer, offset)
            if length > self._limit:
                del buffer[:offset]
                self._failed = FrameTooLarge(length, self._limit)
                raise self._failed
            end = offset + _HEADER.size + length
            if end > len(buffer):
                break
            frames.append(bytes(buffer[offset + _HEADER.size : end]))
            offset = end
        if offset:
            del buffer[:offset]
        return frames
