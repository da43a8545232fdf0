"""Property round trips: every body type through XML, both UDP packets through bytes."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

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
    MembersRequest,
    MembersResult,
    Message,
    Ping,
    QuitRequest,
    QuitResult,
    RecvBeginPacket,
    RosterEntry,
    SpeakRequest,
    SpeakResult,
    SyncRequest,
    SyncResult,
    decode_message,
    encode_frame,
    encode_message,
    parse_packet,
)
from app.protocol.framing import FrameDecoder
from app.protocol.limits import MAX_DATAGRAM, MAX_OPUS_FRAME

# ---- strategies ----------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9._@-]{1,64}", fullmatch=True)


@st.composite
def interphone_ids(draw) -> InterphoneId:
    kind = draw(st.sampled_from(["group", "discuss", "chat"]))
    if kind == "group":
        return InterphoneId.group(draw(names))
    if kind == "discuss":
        return InterphoneId.discuss(draw(names))
    a = draw(names)
    b = draw(names.filter(lambda n: n != a))
    return InterphoneId.chat(a, b)


# Opaque seq: printable, no surrounding whitespace (a receiver strips it), inner spaces ok.
seqs = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs"), codec="utf-8"), min_size=1, max_size=64
).filter(lambda s: s == s.strip() and s.strip())
# Free text: anything at all, quotes and <&> included.
free_text = st.text(max_size=80) | st.sampled_from(["", "'", '"', "<&>", "a'b\"c<d>&e;", "&amp;"])
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
                   max_size=80)
u32 = st.integers(0, 0xFFFFFFFF)

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """What free text becomes on the wire: XML-incompatible characters turn into U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


@st.composite
def infos(draw, *, with_members: bool = True) -> InterphoneInfo:
    interphone = draw(interphone_ids())
    if interphone.peer is not None:
        receiver = draw(st.sampled_from(interphone.parties))
    else:
        receiver = draw(names)
    members = draw(st.none() | st.lists(names, min_size=1, max_size=12).map(tuple)) \
        if with_members else None
    count = draw(st.integers(0, 600) | u32) if members is None else len(members)
    return InterphoneInfo(
        id=interphone,
        attach_id=interphone.attach_id_for(receiver),
        member_count=count,
        speaker=draw(st.just("") | names),
        members=members,
    )


roster_entries = st.builds(
    RosterEntry, st.sampled_from(["group", "discuss", "contact"]), names, free_text
)
error_replies = st.builds(
    ErrorReply,
    tag=st.sampled_from(["login", "ping", "interphones", "interphone", "speak", "error"]),
    errcode=st.integers(0, 9999),
    errmsg=free_text,
    type=st.none() | st.sampled_from(["on", "off", "sync", "add", "quit"]),
    id=st.none() | interphone_ids().map(str),
)

requests = st.one_of(
    st.builds(Login, names, xml_text, st.from_regex(r"[0-9]{1,3}", fullmatch=True)),
    st.just(Ping()),
    st.builds(SyncRequest, st.lists(interphone_ids(), max_size=20).map(tuple)),
    st.builds(MembersRequest, interphone_ids()),
    st.builds(JoinRequest, interphone_ids(), st.none() | names),
    st.builds(QuitRequest, interphone_ids(), st.none() | names),
    st.builds(SpeakRequest, st.booleans(), interphone_ids()),
)
responses = st.one_of(
    st.builds(LoginResult, names, st.integers(1, 65535), u32, u32,
              st.lists(roster_entries, max_size=10).map(tuple)),
    st.just(Ping()),
    st.builds(SyncResult, st.lists(infos(with_members=False), max_size=10).map(tuple)),
    st.builds(MembersResult, infos()),
    st.builds(JoinResult, infos()),
    st.builds(QuitResult, infos(with_members=False)),
    st.builds(SpeakResult, st.none() | st.booleans(), st.none() | interphone_ids()),
    error_replies,
)
notifications = st.one_of(
    st.builds(Kicked, st.sampled_from(["login_elsewhere", "server_shutdown", "x"])),
    st.builds(InterphoneChanged, infos()),
)
messages = st.one_of(
    st.builds(Message.request, seqs, requests),
    st.builds(Message.response, seqs, responses),
    st.builds(Message.notification, notifications),
    st.builds(Message.frame_error, free_text, st.sampled_from([400, 413, 429, 500])),
)


def sanitized(message: Message) -> Message:
    """The message as a receiver will see it (free text made XML-safe)."""
    body = message.body
    if isinstance(body, ErrorReply):
        body = ErrorReply(body.tag, body.errcode, xml_safe(body.errmsg), body.type, body.id)
    elif isinstance(body, LoginResult):
        roster = tuple(RosterEntry(e.kind, e.id, xml_safe(e.name)) for e in body.roster)
        body = LoginResult(body.uid, body.udp_port, body.keepalive, body.max_talk, roster)
    return Message(message.kind, body, message.seq, message.module)


# ---- XML round trips -------------------------------------------------------------------------


@given(messages)
def test_message_round_trip(message):
    encoded = encode_message(message)
    decoded = decode_message(encoded)
    assert decoded == sanitized(message)
    assert encode_message(decoded) == encoded


@given(messages)
def test_message_round_trip_through_a_frame(message):
    decoder = FrameDecoder()
    [payload] = decoder.feed(encode_frame(encode_message(message)))
    assert decode_message(payload) == sanitized(message)
    assert decoder.buffered == 0


@given(st.lists(roster_entries, max_size=5), st.text(max_size=40))
def test_free_text_survives_exactly_when_xml_can_carry_it(roster, errmsg):
    message = Message.response("1", LoginResult("u", 9400, 15, 60, tuple(roster)))
    decoded = decode_message(encode_message(message)).body
    for sent, got in zip(roster, decoded.roster, strict=True):
        assert got.name == xml_safe(sent.name)
        if _NOT_XML.search(sent.name) is None:
            assert got.name == sent.name  # quotes, <&>, \t\r\n, astral chars: exact
    reply = decode_message(encode_message(Message.response("1", ErrorReply("speak", 409, errmsg))))
    assert reply.body.errmsg == xml_safe(errmsg)


@pytest.mark.parametrize("text", ["'", '"', "<&>", "a\r\nb\tc", " padded ", "\U0001f600", "]]>"])
def test_awkward_names_are_exact(text):
    message = Message.response("1", LoginResult("u", 1, 1, 1, (RosterEntry("group", "g", text),)))
    assert decode_message(encode_message(message)) == message


def _again(message: Message):
    return decode_message(encode_message(message)).body


def test_members_views_round_trip():
    d = InterphoneId.discuss("12")
    full = InterphoneInfo(d, "12", 2, "a", ("a", "b"))
    assert _again(Message.notification(InterphoneChanged(full))) == InterphoneChanged(full)
    count_only = InterphoneInfo(d, "12", 2, "a")
    assert _again(Message.notification(InterphoneChanged(count_only))) == InterphoneChanged(
        count_only
    )
    # The sync and quit answers are count-only by contract: members are not sent.
    assert _again(Message.response("1", SyncResult((full,)))) == SyncResult((count_only,))
    assert _again(Message.response("1", QuitResult(full))) == QuitResult(count_only)
    ended = InterphoneInfo(d, "12", 0)
    assert ended.members == ()


# ---- UDP round trips ----------------------------------------------------------------------


def _overhead(id_: str, uid: str) -> int:
    return 4 + 4 + 4 + len(id_.encode()) + 4 + len(uid.encode()) + 4 + 4


@given(st.data(), interphone_ids(), names, u32, st.booleans())
def test_audio_packet_round_trip(data, interphone, uid, seq, crc):
    id_ = str(interphone)
    room = min(MAX_OPUS_FRAME, MAX_DATAGRAM - _overhead(id_, uid))
    frame = data.draw(st.binary(max_size=room) | st.binary(min_size=room, max_size=room))
    packet = AudioPacket(id_, uid, seq, frame)
    wire = packet.serialize(crc=crc)
    assert len(wire) == _overhead(id_, uid) + len(frame)
    assert parse_packet(wire) == packet
    (crc_field,) = struct.unpack_from(">I", wire)
    assert crc_field == (zlib.crc32(wire[4:]) if crc else 0)


long_names = st.from_regex(r"[A-Za-z0-9._@-]{48,64}", fullmatch=True)


@given(st.data(), long_names, long_names, long_names)
def test_audio_packet_over_the_datagram_limit_is_refused(data, a, b, uid):
    # With long ids a full-size Opus frame does not fit in one datagram.
    assume(a != b)
    id_ = str(InterphoneId.chat(a, b))
    room = MAX_DATAGRAM - _overhead(id_, uid)
    assert room < MAX_OPUS_FRAME
    frame = data.draw(st.binary(min_size=room + 1, max_size=MAX_OPUS_FRAME))
    with pytest.raises(ValueError):
        AudioPacket(id_, uid, 0, frame).serialize()


@given(names, st.integers(MAX_OPUS_FRAME + 1, MAX_OPUS_FRAME + 200))
def test_audio_frame_over_the_opus_limit_is_refused(uid, size):
    with pytest.raises(ValueError):
        AudioPacket("group_1", uid, 0, bytes(size)).serialize()


@pytest.mark.parametrize("seq", [-1, 2**32, 2**40])
def test_audio_seq_out_of_u32_is_refused(seq):
    with pytest.raises(ValueError):
        AudioPacket("group_1", "u", seq, b"x").serialize()


@given(interphone_ids(), names, st.booleans())
def test_recvbegin_round_trip(interphone, uid, crc):
    packet = RecvBeginPacket(str(interphone), uid)
    wire = packet.serialize(crc=crc)
    assert parse_packet(wire) == packet
    assert len(wire) == 16 + len(str(interphone)) + len(uid)
