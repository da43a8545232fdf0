"""The wire protocol of Interphone, sans-IO: bytes in, typed messages out, and back.

- :mod:`app.protocol.ids`: interphone id and uid grammar.
- :mod:`app.protocol.messages`: typed message classes.
- :mod:`app.protocol.xmlcodec`: the XML mapping (the only package that imports lxml).
- :mod:`app.protocol.framing`: TCP length-prefix framing.
- :mod:`app.protocol.udp`: the media packet codec (the only place that knows its layout).
- :mod:`app.protocol.features`: login ``features`` negotiation and the known extensions.
- :mod:`app.protocol.replies`: the failed answers a server gives.
- :mod:`app.protocol.limits`: the default port, size limits and frame durations.

Nothing here touches sockets, asyncio, clocks or Qt.
"""

from app.protocol.errors import ErrCode, FrameTooLarge, MalformedFrame, PacketError, ProtocolError
from app.protocol.features import KNOWN_FEATURES
from app.protocol.framing import FrameDecoder, encode_frame
from app.protocol.ids import (
    AttachType,
    InterphoneId,
    as_interphone_id,
    other_party,
    validate_uid,
)
from app.protocol.limits import DEFAULT_PORT
from app.protocol.messages import (
    ErrorReply,
    InterphoneChanged,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Module,
    Ping,
    QuitRequest,
    QuitResult,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
)
from app.protocol.udp import AudioPacket, RecvBeginPacket, parse_packet
from app.protocol.xmlcodec import decode_message, encode_message

__all__ = [
    "DEFAULT_PORT",
    "KNOWN_FEATURES",
    "AttachType",
    "AudioPacket",
    "ErrCode",
    "ErrorReply",
    "FrameDecoder",
    "FrameTooLarge",
    "InterphoneChanged",
    "InterphoneId",
    "InterphoneInfo",
    "JoinRequest",
    "JoinResult",
    "Kicked",
    "Login",
    "LoginResult",
    "MalformedFrame",
    "MembersRequest",
    "MembersResult",
    "Message",
    "MessageKind",
    "Module",
    "PacketError",
    "Ping",
    "ProtocolError",
    "QuitRequest",
    "QuitResult",
    "RecvBeginPacket",
    "RosterEntry",
    "SpeakRequest",
    "SpeakResult",
    "SyncRequest",
    "SyncResult",
    "as_interphone_id",
    "decode_message",
    "encode_frame",
    "encode_message",
    "other_party",
    "parse_packet",
    "validate_uid",
]
