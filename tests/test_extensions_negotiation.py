"""Login ``features`` are separated by XML whitespace only (docs/protocol-extensions.md
1.1): other Unicode spaces are part of a token, which is then no feature name. Real
server, real sockets."""

from __future__ import annotations

import pytest
from server_fixtures import RawClient, running_server

from app.protocol import LoginResult


async def _login_features(port: int, features: str) -> tuple[str, ...]:
    client = await RawClient.connect(port)
    reply = await client.request_xml(
        "<message type='request' seq='1' module='MID_SESSION'>"
        f"<login uid='alice' token='pw-alice' version='1' features='{features}'/></message>",
        "1")
    await client.close()
    assert reply.ok and isinstance(reply.body, LoginResult), reply
    return reply.body.features


async def test_tab_cr_lf_and_space_separate_names() -> None:
    async with running_server() as server:
        assert await _login_features(server.port, "&#9;presence&#10;&#13;floor-queue  ") == (
            "floor-queue", "presence")


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2003", "\u0085"])
async def test_other_unicode_spaces_do_not_separate_names(space: str) -> None:
    async with running_server() as server:
        assert await _login_features(server.port, f"presence{space}floor-queue") == ()
        assert await _login_features(server.port, f"roster presence{space}floor-queue") == (
            "roster",)
