"""Server addresses typed by people (CLI ``--server``, the sign-in dialog)."""

from __future__ import annotations

import pytest

from app.client.address import parse_server_address, parse_server_list
from app.protocol.limits import DEFAULT_PORT


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9400", ("127.0.0.1", 9400)),
    ("  example.org:1  ", ("example.org", 1)),
    ("example.org", ("example.org", DEFAULT_PORT)),
    ("[::1]:9500", ("::1", 9500)),
    ("[::1]", ("::1", DEFAULT_PORT)),
])
def test_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_server_address(text) == expected


@pytest.mark.parametrize("text", ["", ":9400", "host:", "host:0", "host:65536", "host:port",
                                  "a b:1", "[::1]x", "[::1", "[::1]:"])
def test_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_server_address(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("", ("127.0.0.1", DEFAULT_PORT)),
    (":9500", ("127.0.0.1", 9500)),
    ("h", ("h", DEFAULT_PORT)),
])
def test_an_empty_host_takes_the_default_host_when_there_is_one(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_server_address(text, default_host="127.0.0.1") == expected


def test_a_list_keeps_its_order_and_drops_repeats() -> None:
    assert parse_server_list("b:2, a:1,b:2,[::1]") == [("b", 2), ("a", 1), ("::1", DEFAULT_PORT)]
    with pytest.raises(ValueError):
        parse_server_list("a:1,,b:2")
