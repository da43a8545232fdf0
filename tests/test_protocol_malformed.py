"""Malformed input: always a ProtocolError with the right errcode, never anything else.

When the envelope was readable the error carries the request's ``seq`` and
``module`` so a server can answer in the request's own envelope. The fuzz
tests take their example counts from tests/fuzzing.py (``pytest --slow``: 100,000).
"""

from __future__ import annotations

import re

import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from app.protocol import (
    AudioPacket,
    ErrorReply,
    FrameDecoder,
    FrameTooLarge,
    MalformedFrame,
    Message,
    PacketError,
    ProtocolError,
    RecvBeginPacket,
    decode_message,
    encode_frame,
    encode_message,
    parse_packet,
)
from app.protocol.limits import MAX_FRAME, MAX_MEMBERS, MAX_SYNC_IDS, MAX_TEXT_ATTR
from app.protocol.udp import peek_route


def doc(child: str, kind: str = "request", seq: str | None = "1", module="MID_INTERPHONE") -> bytes:
    seq_attr = f" seq='{seq}'" if seq is not None else ""
    return f"<message type='{kind}'{seq_attr} module='{module}'>{child}</message>".encode()


def members(n: int) -> str:
    return "".join(f"<member id='u{i}'/>" for i in range(n))


def info(extra: str = "", attrs: str = "member_count='1'", kind: str = "sync") -> str:
    return (f"<interphone type='{kind}' id='discuss_12' attach_type='discuss' attach_id='12' "
            f"{attrs} speaker=''>{extra}</interphone>")


def sync_ids(n: int) -> str:
    return "<interphones type='sync'>" + "".join(
        f"<interphone id='group_{i}'/>" for i in range(n)) + "</interphones>"


LONG = "x" * (MAX_TEXT_ATTR + 1)
ENV = ("1", "MID_INTERPHONE")  # the envelope a readable request carries
SESS = ("1", "MID_SESSION")
NONE = (None, None)

# (id, document, errcode, (seq, module) the error must carry)
CASES = [
    # not XML at all, or not our document
    ("empty", b"", 400, NONE),
    ("whitespace", b"  \n", 400, NONE),
    ("truncated", doc("<speak type='on' id='group_1'/>")[:-5], 400, NONE),
    ("truncated-in-attr", doc("<speak type='on' id='group_1'/>")[:40], 400, NONE),
    ("unclosed-child", doc("<speak type='on' id='group_1'>"), 400, NONE),
    ("not-xml", b"hello", 400, NONE),
    ("json", b'{"type": "request"}', 400, NONE),
    ("wrong-root", b"<msg type='request' seq='1' module='MID_SESSION'><ping/></msg>", 400, NONE),
    ("namespaced-root", b"<message xmlns='urn:x' type='request' seq='1' module='MID_SESSION'>"
     b"<ping/></message>", 400, NONE),
    ("two-roots", doc("<ping/>", module="MID_SESSION") * 2, 400, NONE),
    ("seed-unbalanced-sync", b"<message type='request' seq='5' module='MID_INTERPHONE'>"
     b"<interphones type='sync'/><interphone id='group_58' /><interphones /></message>", 400,
     ("5", "MID_INTERPHONE")),
    ("seed-attr-no-space", doc("<interphone type='sync' id='discuss_12' attach_type='discuss' "
                               "attach_id='12' member_count='3 'speaker='sung'/>", "response"),
     400, NONE),
    ("not-utf8", doc("<login uid='a' token='\xe9'/>", module="MID_SESSION").replace(
        b"\xc3\xa9", b"\xe9"), 400, NONE),
    ("latin1-declared", b"<?xml version='1.0' encoding='ISO-8859-1'?>"
     + doc("<login uid='a' token='\xe9'/>", module="MID_SESSION").replace(b"\xc3\xa9", b"\xe9"),
     400, NONE),
    ("utf16", doc("<ping/>", module="MID_SESSION").decode().encode("utf-16"), 400, NONE),
    ("nul-byte", doc("<ping/>\x00", module="MID_SESSION"), 400, NONE),
    ("undefined-entity", doc("<login uid='a' token='&x;'/>", module="MID_SESSION"), 400, NONE),
    ("too-big", doc("<ping/>" + " " * MAX_FRAME, module="MID_SESSION"), 413, NONE),
    # the envelope
    ("two-children", doc("<ping/><ping/>", module="MID_SESSION"), 400, SESS),
    ("no-children", doc("", module="MID_SESSION"), 400, SESS),
    ("only-text", doc("ping", module="MID_SESSION"), 400, SESS),
    ("text-and-child", doc("x<ping/>", module="MID_SESSION"), 400, SESS),
    ("tail-text", doc("<ping/>x", module="MID_SESSION"), 400, SESS),
    ("cdata", doc("<![CDATA[x]]><ping/>", module="MID_SESSION"), 400, SESS),
    ("text-in-child", doc("<ping>hi</ping>", module="MID_SESSION"), 400, SESS),
    ("text-in-member", doc("<interphone type='add' id='group_1'><member id='a'>x</member>"
                           "</interphone>"), 400, ENV),
    ("unknown-module", doc("<ping/>", module="MID_CHAT"), 400, ("1", "MID_CHAT")),
    ("unknown-module-error-reply", doc("<x errcode='400'/>", "response", module="MID_X"),
     400, ("1", "MID_X")),
    ("missing-module", b"<message type='request' seq='1'><ping/></message>", 400, ("1", None)),
    ("lowercase-module", doc("<ping/>", module="mid_session"), 400, ("1", "mid_session")),
    ("bad-message-type", doc("<ping/>", "command", module="MID_SESSION"), 400, SESS),
    ("missing-message-type", b"<message seq='1' module='MID_SESSION'><ping/></message>",
     400, SESS),
    ("missing-seq", doc("<ping/>", seq=None, module="MID_SESSION"), 400, (None, "MID_SESSION")),
    ("empty-seq", doc("<ping/>", seq="", module="MID_SESSION"), 400, (None, "MID_SESSION")),
    ("blank-seq", doc("<ping/>", seq="  ", module="MID_SESSION"), 400, (None, "MID_SESSION")),
    ("response-missing-seq", doc("<speak/>", "response", seq=None), 400, (None, "MID_INTERPHONE")),
    ("long-seq", doc("<ping/>", seq="s" * 65, module="MID_SESSION"), 400, (None, "MID_SESSION")),
    ("huge-seq", doc("<ping/>", seq="s" * 5000, module="MID_SESSION"), 400,
     (None, "MID_SESSION")),
    ("unknown-element", doc("<dance/>"), 400, ENV),
    ("session-element-in-interphone", doc("<ping/>"), 400, ENV),
    ("interphone-element-in-session", doc("<speak type='on' id='group_1'/>",
                                          module="MID_SESSION"), 400, SESS),
    ("notification-of-a-request", doc("<speak type='on' id='group_1'/>", "notification",
                                      seq=None), 400, (None, "MID_INTERPHONE")),
    ("request-of-a-notification", doc("<kicked reason='x'/>", module="MID_SESSION"), 400, SESS),
    ("error-frame-as-request", doc("<error errcode='400'/>", seq=None, module="MID_SESSION"),
     400, (None, "MID_SESSION")),
    # bad type attributes
    ("interphone-bad-type", doc("<interphone type='dance' id='group_1'/>"), 400, ENV),
    ("interphone-no-type", doc("<interphone id='group_1'/>"), 400, ENV),
    ("interphone-response-bad-type", doc(info(kind="dance"), "response"), 400, ENV),
    ("interphones-bad-type", doc("<interphones type='async'/>"), 400, ENV),
    ("interphones-no-type", doc("<interphones/>"), 400, ENV),
    ("speak-bad-type", doc("<speak type='maybe' id='group_1'/>"), 400, ENV),
    ("speak-no-type", doc("<speak id='group_1'/>"), 400, ENV),
    ("speak-upper-type", doc("<speak type='ON' id='group_1'/>"), 400, ENV),
    ("speak-response-bad-type", doc("<speak type='up'/>", "response"), 400, ENV),
    # ids
    ("speak-no-id", doc("<speak type='on'/>"), 400, ENV),
    ("speak-bad-id", doc("<speak type='on' id='team_1'/>"), 400, ENV),
    ("speak-chat-with-itself", doc("<speak type='on' id='chat_a:a'/>"), 400, ENV),
    ("sync-bad-id", doc("<interphones type='sync'><interphone id='group_a:b'/></interphones>"),
     400, ENV),
    ("sync-unknown-child", doc("<interphones type='sync'><group id='1'/></interphones>"),
     400, ENV),
    ("join-bad-member", doc("<interphone type='add' id='group_1'><member id='a:b'/>"
                            "</interphone>"), 400, ENV),
    ("join-two-members", doc("<interphone type='add' id='group_1'><member id='a'/>"
                             "<member id='b'/></interphone>"), 400, ENV),
    ("members-request-with-member", doc("<interphone type='sync' id='group_1'>"
                                        "<member id='a'/></interphone>"), 400, ENV),
    ("join-unknown-child", doc("<interphone type='add' id='group_1'><user id='a'/>"
                               "</interphone>"), 400, ENV),
    ("login-bad-uid", doc("<login uid='a b' token='t'/>", module="MID_SESSION"), 400, SESS),
    ("login-no-uid", doc("<login token='t'/>", module="MID_SESSION"), 400, SESS),
    # numbers
    ("count-not-numeric", doc(info(attrs="member_count='three'"), "response"), 400, ENV),
    ("count-negative", doc(info(attrs="member_count='-1'"), "response"), 400, ENV),
    ("count-plus", doc(info(attrs="member_count='+1'"), "response"), 400, ENV),
    ("count-float", doc(info(attrs="member_count='1.0'"), "response"), 400, ENV),
    ("count-hex", doc(info(attrs="member_count='0x1'"), "response"), 400, ENV),
    ("count-superscript", doc(info(attrs="member_count='²'"), "response"), 400, ENV),
    ("count-arabic-digit", doc(info(attrs="member_count='٣'"), "response"), 400, ENV),
    ("count-fullwidth", doc(info(attrs="member_count='３'"), "response"), 400, ENV),
    ("count-over-u32", doc(info(attrs="member_count='4294967296'"), "response"), 400, ENV),
    ("count-inner-space", doc(info(attrs="member_count='1 2'"), "response"), 400, ENV),
    ("udp-port-zero", doc("<login uid='a' udp_port='0'/>", "response", module="MID_SESSION"),
     400, SESS),
    ("udp-port-big", doc("<login uid='a' udp_port='70000'/>", "response", module="MID_SESSION"),
     400, SESS),
    ("udp-port-missing", doc("<login uid='a'/>", "response", module="MID_SESSION"), 400, SESS),
    ("keepalive-word", doc("<login uid='a' udp_port='1' keepalive='soon'/>", "response",
                           module="MID_SESSION"), 400, SESS),
    ("errcode-word", doc("<speak errcode='busy'/>", "response"), 400, ENV),
    ("errcode-superscript", doc("<speak errcode='4²'/>", "response"), 400, ENV),
    ("errcode-negative", doc("<speak errcode='-409'/>", "response"), 400, ENV),
    ("errcode-long", doc("<speak errcode='40900'/>", "response"), 400, ENV),
    # response contents
    ("attach-type-mismatch", doc(info().replace("attach_type='discuss'", "attach_type='group'"),
                                 "response"), 400, ENV),
    ("bad-speaker", doc(info().replace("speaker=''", "speaker='a:b'"), "response"), 400, ENV),
    ("bad-member-in-response", doc(info("<member id=''/>"), "response"), 400, ENV),
    ("unknown-roster-kind", doc("<login uid='a' udp_port='1'><team id='1'/></login>", "response",
                                module="MID_SESSION"), 400, SESS),
    ("roster-bad-id", doc("<login uid='a' udp_port='1'><group id='a:b'/></login>", "response",
                          module="MID_SESSION"), 400, SESS),
    # sizes
    ("over-long-id", doc(f"<speak type='on' id='{LONG}'/>"), 413, ENV),
    ("over-long-type", doc(f"<speak type='{LONG}' id='group_1'/>"), 413, ENV),
    ("over-long-message-type", doc("<ping/>", LONG, module="MID_SESSION"), 413, SESS),
    ("over-long-module", doc("<ping/>", module=LONG), 413, ("1", None)),
    ("over-long-member", doc(f"<interphone type='add' id='group_1'><member id='{LONG}'/>"
                             "</interphone>"), 413, ENV),
    ("too-many-sync-ids", doc(sync_ids(MAX_SYNC_IDS + 1)), 413, ENV),
    ("too-many-members", doc(info(members(MAX_MEMBERS + 1)), "response"), 413, ENV),
    ("too-many-members-notification", doc(info(members(MAX_MEMBERS + 1)).replace(
        "type='sync' ", ""), "notification", seq=None), 413, (None, "MID_INTERPHONE")),
]


@pytest.mark.parametrize(("document", "errcode", "envelope"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_malformed_document(document, errcode, envelope):
    with pytest.raises(ProtocolError) as info_:
        decode_message(document)
    error = info_.value
    # a document that is not a well-formed <message> is what PROTOCOL.md 1.1 counts
    assert type(error) is (MalformedFrame if envelope == NONE else ProtocolError)
    assert error.errcode == errcode
    assert (error.seq, error.module) == envelope
    assert error.errmsg  # something a human can read


def test_a_missing_module_is_named_as_missing() -> None:
    """The error read "unknown module None" (Python's None in the answer a client sees)."""
    with pytest.raises(ProtocolError) as caught:
        decode_message(b"<message type='request' seq='1'><ping/></message>")
    assert caught.value.errmsg == "missing module attribute"


def test_limits_themselves_are_accepted():
    assert len(decode_message(doc(sync_ids(MAX_SYNC_IDS))).body.ids) == MAX_SYNC_IDS
    body = decode_message(doc(info(members(MAX_MEMBERS)), "response")).body
    assert len(body.info.members) == MAX_MEMBERS
    ok = decode_message(doc(f"<login uid='a' token='{'t' * MAX_TEXT_ATTR}'/>",
                            module="MID_SESSION"))
    assert len(ok.body.token) == MAX_TEXT_ATTR
    assert decode_message(doc("<ping/>", seq="s" * 64, module="MID_SESSION")).seq == "s" * 64


def test_sync_answer_may_list_more_than_were_asked():
    # The answer adds the user's active chats to the listed ids: more than MAX_SYNC_IDS fits.
    items = "".join(
        f"<interphone id='group_{i}' attach_type='group' attach_id='{i}' member_count='1' "
        f"speaker=''/>" for i in range(MAX_SYNC_IDS + 10))
    body = decode_message(doc(f"<interphones type='sync'>{items}</interphones>", "response")).body
    assert len(body.interphones) == MAX_SYNC_IDS + 10


def test_error_carries_the_child_it_was_about():
    with pytest.raises(ProtocolError) as info_:
        decode_message(doc("<speak type='on' id='team_9'/>", seq="42"))
    error = info_.value
    assert (error.seq, error.module, error.tag, error.type, error.id) == (
        "42", "MID_INTERPHONE", "speak", "on", "team_9")


def test_error_can_be_answered_in_the_requests_envelope():
    with pytest.raises(ProtocolError) as info_:
        decode_message(doc("<interphone type='quit' id='chat_x:x'/>", seq="9_1"))
    error = info_.value


    reply = Message.response(error.seq, ErrorReply(error.tag, int(error.errcode), error.errmsg,
                                                   error.type, error.id), error.module)
    decoded = decode_message(encode_message(reply))
    assert decoded.seq == "9_1" and decoded.module == "MID_INTERPHONE" and not decoded.ok
    assert decoded.body.errcode == 400 and decoded.body.id == "chat_x:x"


# ---- fuzz ----------------------------------------------------------------------------------

VALID_DOCS = [
    doc("<login uid='sung' token='secret' version='1'/>", module="MID_SESSION"),
    doc("<login uid='sung' udp_port='9400' keepalive='15' max_talk='60'><group id='58' "
        "name='Ops'/><contact id='lxx' name='Li'/></login>", "response", module="MID_SESSION"),
    doc("<kicked reason='login_elsewhere'/>", "notification", seq=None, module="MID_SESSION"),
    doc("<interphones type='sync'><interphone id='group_58'/><interphone id='discuss_12'/>"
        "</interphones>"),
    doc("<interphones type='sync'><interphone id='chat_lxx:sung' attach_type='chat' "
        "attach_id='sung' member_count='1' speaker=''/></interphones>", "response"),
    doc(info("<member id='sung'/><member id='lixx'/>", attrs="member_count='2'"), "response"),
    doc("<interphone type='add' id='discuss_12'><member id='sung'/></interphone>"),
    doc("<interphone id='discuss_12' attach_id='12' attach_type='discuss' member_count='4' "
        "speaker='lixx'/>", "notification", seq=None),
    doc("<speak type='on' id='discuss_12'/>"),
    doc("<speak type='on' id='discuss_12' errcode='409' errmsg='lixx is speaking'/>", "response"),
    doc("<speak errcode='' errmsg=''/>", "response"),
    doc("<error errcode='400' errmsg='x'/>", "response", seq=None, module="MID_SESSION"),
]

TOKENS = [b"'", b'"', b"<", b">", b"&", b"/", b"=", b" ", b"\x00", b"\xff", b"\xc3", b"9",
          b"\xc2\xb2", b"<!DOCTYPE m>", b"<!ENTITY a 'b'>", b"&a;", b"&#0;", b"&#x41;",
          b"<![CDATA[", b"]]>", b"<!--", b"-->", b"<?xml version='1.0'?>", b"xmlns:a='u'",
          b"a:b", b"_", b"chat_", b":", b"<member id='x'/>", b"</message>", b"<message>",
          b"type='on'", b"errcode='1'", b"seq=''"]


_VALUE = re.compile(rb"='([^']*)'")
values = st.one_of(
    st.sampled_from(["", " ", "0", "1", "4294967295", "4294967296", "²", "٣", "３", "-1", "1e3",
                     "on", "off", "sync", "add", "quit", "group_1", "chat_a:a", "chat_b:a",
                     "a:b", "response", "MID_SESSION", "x" * (MAX_TEXT_ATTR + 1)]),
    st.text(max_size=12).map(lambda t: t.replace("'", "&apos;")),
)


@st.composite
def mutated(draw, sources=VALID_DOCS) -> bytes:
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 4))):
        # Half of the edits keep the document well-formed and change a value.
        op = draw(st.sampled_from([5, 5, 5, 5, 5, 0, 1, 2, 3, 4]))
        pos = draw(st.integers(0, len(data)))
        spans = [m.span(1) for m in _VALUE.finditer(data)]
        if op == 5 and spans:  # replace an attribute value
            start, end = draw(st.sampled_from(spans))
            data[start:end] = draw(values).encode("utf-8", "surrogatepass")
        elif op == 0:  # delete a slice
            end = draw(st.integers(pos, min(len(data), pos + 12)))
            del data[pos:end]
        elif op == 1:  # insert a token
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == 2:  # insert random bytes
            data[pos:pos] = draw(st.binary(min_size=1, max_size=6))
        elif op == 3 and data:  # flip a byte
            i = min(pos, len(data) - 1)
            data[i] = draw(st.integers(0, 255))
        else:  # duplicate a slice
            end = draw(st.integers(pos, min(len(data), pos + 40)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def _decode_or_protocol_error(data: bytes) -> None:
    try:
        message = decode_message(data)
    except ProtocolError as exc:
        assert type(exc) in (ProtocolError, MalformedFrame)
        assert 400 <= exc.errcode <= 500
        return
    # Whatever decodes must encode again and decode to the same message.
    assert decode_message(encode_message(message)) == message


@fuzz
@given(st.binary(max_size=400))
def test_fuzz_decode_random_bytes(data):
    _decode_or_protocol_error(data)


@fuzz
@given(mutated())
def test_fuzz_decode_mutated_documents(data):
    _decode_or_protocol_error(data)


@fuzz
@given(st.lists(st.binary(max_size=40) | mutated().map(encode_frame), max_size=8),
       st.integers(1, 200))
def test_fuzz_frame_decoder(chunks, limit):
    decoder = FrameDecoder(limit=limit)
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert len(frame) <= limit
                _decode_or_protocol_error(frame)
    except FrameTooLarge as exc:
        assert exc.errcode == 413


_PACKETS = [
    AudioPacket("discuss_12", "sung", 3, b"\xfc" + bytes(range(60))).serialize(),
    AudioPacket("chat_lxx:sung", "lxx", 0, b"").serialize(crc=False),
    RecvBeginPacket("group_58", "wux").serialize(),
    RecvBeginPacket("group_58", "wux").serialize(crc=False),
]


@fuzz
@given(st.binary(max_size=1500) | mutated(_PACKETS))
def test_fuzz_parse_packet(data):
    try:
        packet = parse_packet(data)
    except PacketError:
        pass
    else:
        assert len(data) <= 1400
        assert packet.serialize(crc=data[:4] != b"\x00" * 4) == data
    route = peek_route(data)
    assert route is None or isinstance(route, tuple)
