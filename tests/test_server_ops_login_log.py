"""A refused login in the server's log: the operator helping a user sees it, once."""

from __future__ import annotations

import logging

import pytest
from server_fixtures import RawClient, running_server

from app.protocol.messages import Login


async def test_a_wrong_token_is_logged_once_with_the_uid_and_address(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for n in range(3):
            reply = await client.request(Login("carol", f"wrong{n}"))
            assert reply.body.errcode == 401
        await client.close()
    lines = [r.getMessage() for r in caplog.records if "login refused" in r.getMessage()]
    assert len(lines) == 1, lines  # the next failures are counted, not each logged
    assert "uid=carol peer=127.0.0.1" in lines[0]
    assert "wrong0" not in " ".join(r.getMessage() for r in caplog.records)  # no token


async def test_a_login_refused_for_want_of_encrypted_voice_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    """A base-contract client on a server that requires media-auth got 426 and the
    operator saw nothing."""
    caplog.set_level(logging.INFO)
    async with running_server(media_encryption="required") as server:
        client = await RawClient.connect(server.port)
        reply = await client.request(Login("carol", "pw-carol"))
        assert reply.body.errcode == 426
        await client.close()
    lines = [r.getMessage() for r in caplog.records if "media-auth" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert "127.0.0.1" in lines[0] and "'carol'" in lines[0]
    assert 'media_encryption = "optional"' in lines[0]
