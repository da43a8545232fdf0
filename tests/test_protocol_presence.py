"""The presence extension's messages on the wire: exact XML, round trips, bad input."""

from __future__ import annotations

import pytest

from app.protocol import ErrCode, InterphoneId, Message, ProtocolError, decode_message
from app.protocol import encode_message as encode
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    CallResult,
    ContactPresence,
    PresenceChanged,
    PresenceSyncRequest,
    PresenceSyncResult,
    RingState,
)

CHAT = InterphoneId.chat("sung", "lxx")

EXAMPLES = [
    (Message.request("6", PresenceSyncRequest()),
     b'<message type="request" seq="6" module="MID_SESSION"><presence type="sync"/></message>'),
    (Message.response("6", PresenceSyncResult((ContactPresence("lxx", True),
                                               ContactPresence("wux", False)))),
     b'<message type="response" seq="6" module="MID_SESSION"><presence type="sync">'
     b'<contact id="lxx" status="online"/><contact id="wux" status="offline"/></presence>'
     b'</message>'),
    (Message.notification(PresenceChanged("lxx", False)),
     b'<message type="notification" module="MID_SESSION">'
     b'<presence uid="lxx" status="offline"/></message>'),
    (Message.request("7", CallRequest(CallAction.RING, CHAT)),
     b'<message type="request" seq="7" module="MID_INTERPHONE">'
     b'<call type="ring" id="chat_lxx:sung"/></message>'),
    (Message.response("7", CallResult(CallAction.RING, CHAT, RingState.RINGING, 30)),
     b'<message type="response" seq="7" module="MID_INTERPHONE">'
     b'<call type="ring" id="chat_lxx:sung" state="ringing" timeout="30"/></message>'),
    (Message.response("8", CallResult(CallAction.DECLINE, CHAT)),
     b'<message type="response" seq="8" module="MID_INTERPHONE">'
     b'<call type="decline" id="chat_lxx:sung"/></message>'),
    (Message.notification(CallNotice(CallNoticeType.RINGING, CHAT, "sung", 30)),
     b'<message type="notification" module="MID_INTERPHONE">'
     b'<call type="ringing" id="chat_lxx:sung" from="sung" timeout="30"/></message>'),
    (Message.notification(CallNotice(CallNoticeType.ENDED, CHAT, reason="no_answer")),
     b'<message type="notification" module="MID_INTERPHONE">'
     b'<call type="ended" id="chat_lxx:sung" reason="no_answer"/></message>'),
]


@pytest.mark.parametrize(("message", "xml"), EXAMPLES)
def test_exact_xml_and_round_trip(message: Message, xml: bytes) -> None:
    assert encode(message) == xml
    assert decode_message(xml) == message


@pytest.mark.parametrize("xml", [
    b"<message type='notification' module='MID_SESSION'><presence uid='a' status='away'/>"
    b"</message>",
    b"<message type='request' seq='1' module='MID_INTERPHONE'><call type='dial' id='chat_a:b'/>"
    b"</message>",
    b"<message type='notification' module='MID_INTERPHONE'><call type='ringing' id='chat_a:b' "
    b"from='no:colon'/></message>",
    b"<message type='request' seq='1' module='MID_SESSION'><presence type='all'/></message>",
])
def test_malformed_extension_messages_are_400(xml: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(xml)
    assert info.value.errcode == ErrCode.BAD_REQUEST
