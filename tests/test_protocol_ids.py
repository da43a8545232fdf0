"""Interphone ids and uids (PROTOCOL.md section 2)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.protocol import AttachType, ErrCode, InterphoneId, ProtocolError, validate_uid
from app.protocol.ids import is_valid_name

names = st.from_regex(r"[A-Za-z0-9._@-]{1,64}", fullmatch=True)


@pytest.mark.parametrize(
    ("text", "kind", "key", "peer", "canonical"),
    [
        ("group_58", AttachType.GROUP, "58", None, "group_58"),
        ("discuss_12", AttachType.DISCUSS, "12", None, "discuss_12"),
        ("group_a.b_c@d-e", AttachType.GROUP, "a.b_c@d-e", None, "group_a.b_c@d-e"),
        ("group_group_1", AttachType.GROUP, "group_1", None, "group_group_1"),
        ("chat_lxx:sung", AttachType.CHAT, "lxx", "sung", "chat_lxx:sung"),
        ("chat_sung:lxx", AttachType.CHAT, "lxx", "sung", "chat_lxx:sung"),
        # byte order, not case-insensitive or locale order: 'B' (0x42) < 'a' (0x61)
        ("chat_a:B", AttachType.CHAT, "B", "a", "chat_B:a"),
        ("chat_B:a", AttachType.CHAT, "B", "a", "chat_B:a"),
        # '-' 0x2d < '.' 0x2e < '0' < '@' 0x40 < 'A' < '_' 0x5f < 'a'
        ("chat_a_:a@", AttachType.CHAT, "a@", "a_", "chat_a@:a_"),
        ("chat_x.:x-", AttachType.CHAT, "x-", "x.", "chat_x-:x."),
        ("chat_Z:9", AttachType.CHAT, "9", "Z", "chat_9:Z"),
        # a prefix sorts first
        ("chat_ab:a", AttachType.CHAT, "a", "ab", "chat_a:ab"),
        ("chat_" + "b" * 64 + ":" + "a" * 64, AttachType.CHAT, "a" * 64, "b" * 64,
         "chat_" + "a" * 64 + ":" + "b" * 64),
        ("group_" + "x" * 64, AttachType.GROUP, "x" * 64, None, "group_" + "x" * 64),
        (" discuss_12\t", AttachType.DISCUSS, "12", None, "discuss_12"),
    ],
)
def test_parse(text, kind, key, peer, canonical):
    interphone = InterphoneId.parse(text)
    assert interphone.kind is kind
    assert interphone.key == key
    assert interphone.peer == peer
    assert str(interphone) == canonical
    assert InterphoneId.parse(canonical) == interphone
    assert hash(InterphoneId.parse(canonical)) == hash(interphone)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "group",
        "group58",
        "group_",
        "discuss_",
        "chat_",
        "_58",
        "team_58",
        "Group_58",
        "GROUP_58",
        "group-58",
        "group_a:b",  # ':' in a gid
        "discuss_1:2",
        "group_" + "x" * 65,  # over 64 chars
        "chat_" + "a" * 65 + ":b",
        "chat_a:" + "b" * 65,
        "chat_a",  # one party
        "chat_a:",
        "chat_:b",
        "chat_:",
        "chat_a:a",  # with itself
        "chat_a:b:c",
        "chat_a::b",
        "group_é",  # non-ASCII
        "group_５８",  # fullwidth digits
        "chat_lxx:sùng",
        "group_58 59",
        "group_5\n8",
        "group_58\x00",
        "group_<58>",
        "group_5'8",
    ],
)
def test_bad_ids_raise_400(text):
    with pytest.raises(ProtocolError) as info:
        InterphoneId.parse(text)
    assert info.value.errcode == ErrCode.BAD_REQUEST == 400


@pytest.mark.parametrize(
    "build",
    [
        lambda: InterphoneId.group(""),
        lambda: InterphoneId.discuss("a:b"),
        lambda: InterphoneId.chat("a", "a"),
        lambda: InterphoneId.chat("a", ""),
        lambda: InterphoneId.chat("a:b", "c"),
        lambda: InterphoneId(AttachType.CHAT, "b", "a"),  # not canonical
        lambda: InterphoneId(AttachType.CHAT, "a"),  # no peer
        lambda: InterphoneId(AttachType.GROUP, "a", "b"),  # a group has no peer
        lambda: validate_uid(""),
        lambda: validate_uid("a:b"),
        lambda: validate_uid("x" * 65),
        lambda: validate_uid("ü"),
    ],
)
def test_constructors_validate(build):
    with pytest.raises(ProtocolError) as info:
        build()
    assert info.value.errcode == 400


def test_valid_uid():
    assert validate_uid("sung") == "sung"
    assert validate_uid("x" * 64) == "x" * 64
    assert validate_uid("a.b_c@d-E9") == "a.b_c@d-E9"


@pytest.mark.parametrize(
    ("interphone", "receiver", "attach_id"),
    [
        (InterphoneId.group("58"), "sung", "58"),
        (InterphoneId.discuss("12"), "lxx", "12"),
        (InterphoneId.chat("sung", "lxx"), "lxx", "sung"),
        (InterphoneId.chat("sung", "lxx"), "sung", "lxx"),
        (InterphoneId.chat("lxx", "sung"), "sung", "lxx"),
    ],
)
def test_attach_id_for(interphone, receiver, attach_id):
    assert interphone.attach_id_for(receiver) == attach_id


def test_parties_and_involves():
    chat = InterphoneId.parse("chat_sung:lxx")
    assert chat.parties == ("lxx", "sung")
    assert chat.involves("lxx") and chat.involves("sung")
    assert not chat.involves("wux")
    group = InterphoneId.group("58")
    assert not group.involves("58")
    with pytest.raises(ValueError):
        _ = group.parties


@given(names, names)
def test_chat_either_order_is_the_same_canonical_id(a, b):
    assume(a != b)
    one = InterphoneId.parse(f"chat_{a}:{b}")
    other = InterphoneId.parse(f"chat_{b}:{a}")
    assert one == other == InterphoneId.chat(b, a)
    assert one.key.encode() < one.peer.encode()
    assert {one.key, one.peer} == {a, b}
    assert str(one) == f"chat_{min(a, b, key=str.encode)}:{max(a, b, key=str.encode)}"
    assert one.attach_id_for(a) == b
    assert one.attach_id_for(b) == a


@given(names)
def test_group_and_discuss_round_trip(key):
    for text in (f"group_{key}", f"discuss_{key}"):
        assert str(InterphoneId.parse(text)) == text


@given(st.text(max_size=80))
def test_parse_raises_only_protocol_error(text):
    try:
        interphone = InterphoneId.parse(text)
    except ProtocolError as exc:
        assert exc.errcode == 400
    else:
        assert InterphoneId.parse(str(interphone)) == interphone
        assert is_valid_name(interphone.key)
