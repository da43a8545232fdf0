"""The caller's own mistakes are ValueErrors, never errors a peer would be blamed for."""

from __future__ import annotations

import pytest

from app.protocol import (
    AudioPacket,
    ErrorReply,
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    Message,
    MessageKind,
    Module,
    PacketError,
    Ping,
    ProtocolError,
    RecvBeginPacket,
    SpeakRequest,
    SyncRequest,
    decode_message,
    encode_message,
)
from app.protocol.limits import MAX_OPUS_FRAME

G58 = InterphoneId.group("58")
INFO = InterphoneInfo.of(G58, "alice", ("alice",))


@pytest.mark.parametrize("packet", [
    AudioPacket("group_1", "u", -1, b"x"),
    AudioPacket("group_1", "u", 2**32, b"x"),
    AudioPacket("group_1", "u", 0, bytes(MAX_OPUS_FRAME + 1)),
    AudioPacket("g" * 1300, "u", 0, bytes(100)),
    RecvBeginPacket("g" * 1400, "u"),
])
def test_serializing_an_invalid_packet_is_a_value_error_not_a_packet_error(packet) -> None:
    with pytest.raises(ValueError) as info:
        packet.serialize()
    assert not isinstance(info.value, PacketError)


@pytest.mark.parametrize(("kind", "body"), [
    (MessageKind.REQUEST, LoginResult("alice", 9400, 15, 60)),
    (MessageKind.RESPONSE, Login("alice", "pw")),
    (MessageKind.NOTIFICATION, Login("alice", "pw")),
    (MessageKind.REQUEST, JoinResult(INFO)),
    (MessageKind.RESPONSE, JoinRequest(G58)),
    (MessageKind.REQUEST, InterphoneChanged(INFO)),
    (MessageKind.RESPONSE, Kicked()),
    (MessageKind.NOTIFICATION, SpeakRequest(True, G58)),
    (MessageKind.REQUEST, ErrorReply("speak", 409, "busy")),
    (MessageKind.NOTIFICATION, Ping()),
])
def test_the_encoder_refuses_a_body_in_the_wrong_kind_of_message(kind, body) -> None:
    with pytest.raises(ValueError) as info:
        encode_message(Message(kind, body, None if kind is MessageKind.NOTIFICATION else "1"))
    assert not isinstance(info.value, ProtocolError)


def test_the_encoder_refuses_a_body_in_the_wrong_module() -> None:
    with pytest.raises(ValueError):
        encode_message(Message(MessageKind.REQUEST, SyncRequest(()), "1",
                               Module.SESSION.value))
    with pytest.raises(ValueError):
        encode_message(Message(MessageKind.REQUEST, Login("a", "b"), "1",
                               Module.INTERPHONE.value))


def test_an_error_reply_keeps_its_requests_module() -> None:
    message = Message.response("1", ErrorReply("speak", 409, "busy", "on", "group_58"),
                               Module.INTERPHONE.value)
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize("message", [
    Message.request("1", Ping()),
    Message.response("1", Ping()),
    Message.request("2", Login("alice", "pw")),
    Message.notification(Kicked()),
])
def test_pairs_that_belong_together_still_encode(message) -> None:
    assert decode_message(encode_message(message)) == message
