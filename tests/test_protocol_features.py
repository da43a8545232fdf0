"""Login ``features`` negotiation at the codec level (docs/protocol-extensions.md)."""

from __future__ import annotations

import pytest

from app.protocol import Login, LoginResult, Message, decode_message, encode_message
from app.protocol.features import (
    format_features,
    grant_features,
    is_feature_name,
    parse_features,
)


def test_a_login_without_features_is_byte_identical_to_the_base_contract() -> None:
    assert encode_message(Message.request("1", Login("sung", "secret"))) == (
        b"<message type=\"request\" seq=\"1\" module=\"MID_SESSION\">"
        b"<login uid=\"sung\" token=\"secret\" version=\"1\"/></message>")
    assert encode_message(Message.response("1", LoginResult("sung", 9400, 15, 60))) == (
        b"<message type=\"response\" seq=\"1\" module=\"MID_SESSION\">"
        b"<login uid=\"sung\" udp_port=\"9400\" keepalive=\"15\" max_talk=\"60\"/></message>")


def test_features_round_trip_on_login_and_its_response() -> None:
    login = Message.request("1", Login("sung", "pw", features=("queue", "feedback")))
    wire = encode_message(login)
    assert b"features=\"queue feedback\"" in wire
    assert decode_message(wire) == login
    result = Message.response("1", LoginResult("sung", 9400, 15, 60, features=("queue",)))
    assert decode_message(encode_message(result)) == result


@pytest.mark.parametrize(("attribute", "names"), [
    ("", ()),
    ("   ", ()),
    ("queue", ("queue",)),
    (" queue\tfeedback\nqueue ", ("queue", "feedback")),
    ("Queue q_x -x x-1", ("x-1",)),
    ("a" * 33 + " b", ("b",)),
])
def test_parsing_keeps_names_in_order_once_and_ignores_what_is_not_a_name(attribute, names):
    assert parse_features(attribute) == names
    wire = (f"<message type='request' seq='1' module='MID_SESSION'>"
            f"<login uid='u' token='t' features='{attribute}'/></message>").encode()
    assert decode_message(wire).body.features == names


def test_formatting_refuses_a_bad_name_and_leaves_out_an_empty_set() -> None:
    assert format_features(()) is None
    assert format_features(("a", "b", "a")) == "a b"
    for bad in ("", "A", "a b", "-a", "a" * 33):
        assert not is_feature_name(bad)
        with pytest.raises(ValueError):
            format_features((bad,))


def test_a_server_grants_only_what_it_offers_sorted() -> None:
    offered = frozenset({"queue", "presence"})
    assert grant_features(("queue", "nope", "presence", "queue"), offered) == (
        "presence", "queue")
    assert grant_features((), offered) == ()
    assert grant_features(("queue",), frozenset()) == ()
