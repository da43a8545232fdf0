"""The wire forms of the floor extensions, exactly as docs/protocol-extensions.md writes
them, and the directory keys that configure them."""

from __future__ import annotations

import pytest

from app.protocol import InterphoneId, LoginResult, decode_message, encode_message
from app.protocol.errors import ProtocolError
from app.protocol.features import KNOWN_FEATURES
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    EmergencyState,
    ErrorReply,
    FloorNotice,
    FloorNoticeType,
    InterphoneChanged,
    InterphoneInfo,
    Message,
    SpeakRequest,
    SpeakResult,
)
from app.server import Directory, DirectoryError
from app.server.floor import FloorPolicy

D12 = InterphoneId.discuss("12")
G58 = InterphoneId.group("58")
IT = "module='MID_INTERPHONE'"


def xml(text: str) -> bytes:
    return text.replace("'", '"').encode()


@pytest.mark.parametrize(("message", "wire"), [
    (Message.request("7", SpeakRequest(True, D12, queue=True)),
     f"<message type='request' seq='7' {IT}><speak type='on' id='discuss_12' queue='1'/>"
     "</message>"),
    (Message.response("7", SpeakResult(True, D12, queued=True, position=2)),
     f"<message type='response' seq='7' {IT}><speak type='on' id='discuss_12' queued='1' "
     "position='2'/></message>"),
    (Message.response("7", ErrorReply("speak", 409, "lixx is speaking", "on", "discuss_12",
                                      holder="lixx", reason="queue_full")),
     f"<message type='response' seq='7' {IT}><speak type='on' id='discuss_12' errcode='409' "
     "errmsg='lixx is speaking' holder='lixx' reason='queue_full'/></message>"),
    (Message.notification(FloorNotice(G58, FloorNoticeType.QUEUED, position=1)),
     f"<message type='notification' {IT}><floor id='group_58' type='queued' position='1'/>"
     "</message>"),
    (Message.notification(FloorNotice(G58, FloorNoticeType.REVOKED, reason="preempted",
                                      by="disp1")),
     f"<message type='notification' {IT}><floor id='group_58' type='revoked' "
     "reason='preempted' by='disp1'/></message>"),
    (Message.request("9", EmergencyRequest(EmergencyAction.RAISE, G58)),
     f"<message type='request' seq='9' {IT}><emergency type='raise' id='group_58'/></message>"),
    (Message.request("9", SpeakRequest(True, G58, emergency=True)),
     f"<message type='request' seq='9' {IT}><speak type='on' id='group_58' emergency='1'/>"
     "</message>"),
    (Message.response("12", EmergencyState(EmergencyAction.CANCEL, G58, "alice", "disp1")),
     f"<message type='response' seq='12' {IT}><emergency type='cancel' id='group_58' "
     "by='alice' cancelled_by='disp1'/></message>"),
    (Message.notification(EmergencyState(EmergencyAction.RAISE, G58, "alice")),
     f"<message type='notification' {IT}><emergency type='raise' id='group_58' by='alice'/>"
     "</message>"),
    (Message.notification(EmergencyState(EmergencyAction.RAISE, G58, "alice",
                                         emergency_id="1764670000123")),
     f"<message type='notification' {IT}><emergency type='raise' id='group_58' by='alice' "
     "emergency_id='1764670000123'/></message>"),
    (Message.response("12", EmergencyState(EmergencyAction.CANCEL, G58, "alice", "disp1",
                                           "1764670000123-0")),
     f"<message type='response' seq='12' {IT}><emergency type='cancel' id='group_58' "
     "by='alice' cancelled_by='disp1' emergency_id='1764670000123-0'/></message>"),
    (Message.notification(InterphoneChanged(InterphoneInfo(
        G58, "58", 3, "alice", emergency="alice", emergency_id="1764670000123"))),
     f"<message type='notification' {IT}><interphone id='group_58' attach_type='group' "
     "attach_id='58' member_count='3' speaker='alice' emergency='alice' "
     "emergency_id='1764670000123'/></message>"),
    (Message.response("1", LoginResult("disp1", 9400, 15, 60, features=("priority",),
                                       priority=9, dispatcher=True)),
     "<message type='response' seq='1' module='MID_SESSION'><login uid='disp1' "
     "udp_port='9400' keepalive='15' max_talk='60' features='priority' priority='9' "
     "dispatcher='1'/></message>"),
])
def test_documented_forms_encode_exactly_and_decode_back(message: Message, wire: str) -> None:
    assert encode_message(message) == xml(wire)
    assert decode_message(xml(wire)) == message


def test_an_emergency_id_without_an_emergency_is_not_kept() -> None:
    """``emergency_id`` names the emergency that is up: alone it means nothing."""
    wire = (f"<message type='notification' {IT}><interphone id='group_58' attach_type='group' "
            "attach_id='58' member_count='3' emergency_id='17'/></message>")
    info = decode_message(xml(wire)).body.info
    assert (info.emergency, info.emergency_id) == ("", "")
    assert b"emergency_id" not in encode_message(Message.notification(InterphoneChanged(
        InterphoneInfo(G58, "58", 3, emergency_id="17"))))
    bad = (f"<message type='notification' {IT}><emergency type='raise' id='group_58' "
           "by='alice' emergency_id='a b'/></message>")
    with pytest.raises(ProtocolError):  # an id is 1..64 of the characters of a uid
        decode_message(xml(bad))
    bad_alone = wire.replace("emergency_id='17'", "emergency_id='a b'")
    with pytest.raises(ProtocolError):  # malformed, with or without an emergency
        decode_message(xml(bad_alone))


def test_base_forms_are_unchanged() -> None:
    assert encode_message(Message.request("7", SpeakRequest(True, D12))) == xml(
        f"<message type='request' seq='7' {IT}><speak type='on' id='discuss_12'/></message>")
    assert encode_message(Message.response("1", LoginResult("u", 9400, 15, 60))) == xml(
        "<message type='response' seq='1' module='MID_SESSION'><login uid='u' udp_port='9400' "
        "keepalive='15' max_talk='60'/></message>")


@pytest.mark.parametrize("child", [
    "<emergency type='sound' id='group_58'/>",
    "<emergency type='raise'/>",
])
def test_bad_extension_values_are_400(child: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_message(xml(f"<message type='request' seq='3' {IT}>{child}</message>"))
    assert caught.value.errcode == 400 and caught.value.seq == "3"


@pytest.mark.parametrize(("flags", "expected"), [
    ("queue='2'", (False, False, (("queue", "queue='2' is not '0' or '1'", 400),))),
    ("emergency='yes'",
     (False, False, (("emergency", "emergency='yes' is not '0' or '1'", 400),))),
    ("queue='1' emergency='x'", (True, False, (("emergency",
                                                 "emergency='x' is not '0' or '1'", 400),))),
    ("queue='0' emergency='1'", (False, True, ())),
    # over-long: not raised while decoding (413 only for a session granted the extension)
    (f"queue='{'1' * 1025}'", (False, False, (("queue", "attribute 'queue' too long", 413),))),
    (f"emergency='{'0' * 1025}' queue='1'",
     (True, False, (("emergency", "attribute 'emergency' too long", 413),))),
])
def test_bad_speak_flags_decode_and_are_left_to_the_server(flags: str, expected: tuple) -> None:
    # Whether they are an error depends on the session: only one granted the flag's
    # extension is refused (400); for any other they are unknown attributes, ignored.
    body = decode_message(xml(f"<message type='request' seq='3' {IT}>"
                              f"<speak type='on' id='group_58' {flags}/></message>")).body
    assert isinstance(body, SpeakRequest)
    assert (body.queue, body.emergency, body.bad_flags) == expected


def test_the_three_floor_features_are_known() -> None:
    assert {"floor-queue", "priority", "emergency"} <= KNOWN_FEATURES


DIRECTORY = """\
[server]
queue_limit = 5
queue_timeout = 12
dispatcher_level = 7

[[users]]
uid = "disp1"
priority = 9

[[users]]
uid = "alice"

[[groups]]
id = "58"
members = ["*"]
preemptible = true
queue_limit = 0

[[discussions]]
id = "12"
members = ["*"]
queue_timeout = 3.5
"""


def test_directory_floor_keys() -> None:
    directory = Directory.from_toml_text(DIRECTORY)
    assert (directory.priority_of("disp1"), directory.priority_of("alice"),
            directory.priority_of("nobody")) == (9, 0, 0)
    settings = directory.settings
    assert directory.floor_policy(G58, settings) == FloorPolicy(
        queue_limit=0, queue_timeout=12, preemptible=True, dispatcher_level=7)
    assert directory.floor_policy(D12, settings) == FloorPolicy(
        queue_limit=5, queue_timeout=3.5, preemptible=False, dispatcher_level=7)
    chat = InterphoneId.chat("alice", "disp1")
    assert directory.floor_policy(chat, settings) == FloorPolicy(
        queue_limit=5, queue_timeout=12, preemptible=False, dispatcher_level=7)
    assert Directory.from_toml_text("").settings.queue_limit == 8


@pytest.mark.parametrize(("snippet", "problem"), [
    ("[[users]]\nuid = 'a'\npriority = 10\n", "priority of 'a' must be an integer 0..9"),
    ("[[users]]\nuid = 'a'\npriority = true\n", "priority of 'a'"),
    ("[server]\ndispatcher_level = 12\n", "dispatcher_level must be an integer 0..9"),
    ("[server]\nqueue_limit = -1\n", "queue_limit must be"),
    ("[[groups]]\nid = 'g'\npreemptible = 'yes'\n", "preemptible of group 'g'"),
    ("[[groups]]\nid = 'g'\nqueue_timeout = 0\n", "queue_timeout must be"),
])
def test_directory_refuses_bad_floor_keys(snippet: str, problem: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        Directory.from_toml_text(snippet)
    assert problem in caught.value.problem
