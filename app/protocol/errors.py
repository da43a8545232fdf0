"""Error codes of PROTOCOL.md section 4 and the typed errors the codecs raise."""

from __future__ import annotations

from enum import IntEnum


class ErrCode(IntEnum):
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404
    FLOOR_BUSY = 409
    TOO_LARGE = 413
    TOO_MANY_REQUESTS = 429
    SERVER_FAULT = 500


class ProtocolError(ValueError):
    """The peer sent something the contract does not allow.

    ``errcode`` is what a server answers with; ``seq``/``module``/``tag`` are
    filled when the frame was parsed far enough to know them, so the error can
    be answered in the request's own envelope. ``kind`` is the envelope's ``type``
    as read (a server ignores what a client sent as a response or notification).
    """

    def __init__(
        self,
        message: str,
        errcode: ErrCode = ErrCode.BAD_REQUEST,
        *,
        seq: str | None = None,
        module: str | None = None,
        tag: str | None = None,
        type: str | None = None,
        id: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.seq = seq
        self.module = module
        self.tag = tag
        self.type = type
        self.id = id
        self.kind = kind

    @property
    def errmsg(self) -> str:
        return str(self)


class MalformedFrame(ProtocolError):
    """The frame is not a well-formed UTF-8 XML document with a ``<message>`` root
    (PROTOCOL.md section 1.1): answered with an error, and the tenth in a session closes
    it. A well-formed ``<message>`` that does not decode is a plain :class:`ProtocolError`
    (400), which is answered and does not count."""


class FrameTooLarge(ProtocolError):
    """A frame header announced more than the contract allows: close the connection."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame length {length} exceeds the limit of {limit}", ErrCode.TOO_LARGE)
        self.length = length
        self.limit = limit


class PacketError(ValueError):
    """A UDP datagram that must be dropped silently (malformed, bad CRC, over a limit)."""
