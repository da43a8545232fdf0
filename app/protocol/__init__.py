"""The wire protocol of Interphone, sans-IO: bytes in, typed messages out, and back.

- :mod:`app.protocol.ids`: interphone id and uid grammar.
- :mod:`app.protocol.messages`: typed message classes.
- :mod:`app.protocol.xmlcodec`: the XML mapping (the only module that imports lxml).
- :mod:`app.protocol.framing`: TCP length-prefix framing.
- :mod:`app.protocol.udp`: the media packet codec.

Nothing here touches sockets, asyncio, clocks or Qt.
"""

from app.protocol.errors import ErrCode, FrameTooLarge, PacketError, ProtocolError
from app.protocol.framing import FrameDecoder, encode_frame
from app.protocol.ids import AttachType, InterphoneId, validate_uid
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
    "decode_message",
    "encode_frame",
    "encode_message",
    "parse_packet",
    "validate_uid",
]
