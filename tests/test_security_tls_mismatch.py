"""A client and a port that disagree about TLS: the one-line error says so (real sockets,
the real client engine and the real server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from server_fixtures import FAST, sample_directory

from app.client import ClientError, InterphoneClient, ServerUnreachable
from app.client.connection import TlsExpected, looks_like_tls
from app.client.trust import TrustPolicy, client_context
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

TLS_ALERT = bytes.fromhex("15030300020246")  # alert record: fatal, protocol_version


async def plain_login(port: int) -> ClientError:
    client = InterphoneClient("127.0.0.1", port, "alice", "x", reconnect=False)
    try:
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(client.connect(), 10)
    finally:
        await client.close()
    return caught.value


async def tls_login(port: int) -> ClientError:
    client = InterphoneClient("127.0.0.1", port, "alice", "x", reconnect=False,
                              ssl=client_context(TrustPolicy(trust_on_first_use=True)))
    try:
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(client.connect(), 10)
    finally:
        await client.close()
    return caught.value


async def test_plain_client_on_a_tls_port_is_told_the_server_may_require_tls(
        tmp_path: Path) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open", media_encryption="optional"), tls=context) as server:
        error = await plain_login(server.port)
    assert isinstance(error, TlsExpected)
    assert "may require TLS" in str(error)


async def _answer(reply: bytes, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    await reader.read(10)
    writer.write(reply)
    await writer.drain()
    writer.close()


async def _serve(reply: bytes) -> asyncio.Server:
    return await asyncio.start_server(
        lambda r, w: _answer(reply, r, w), "127.0.0.1", 0)


async def test_a_tls_alert_in_answer_says_the_port_requires_tls() -> None:
    server = await _serve(TLS_ALERT)
    try:
        error = await plain_login(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(error, TlsExpected)
    assert "requires TLS" in str(error)


async def test_a_plain_server_that_answers_then_closes_gets_no_tls_hint() -> None:
    reply = b"<message type='response' seq='1' module='MID_SESSION'><error/></message>"
    server = await _serve(len(reply).to_bytes(4, "big") + reply)
    try:
        error = await plain_login(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
    assert not isinstance(error, TlsExpected)
    assert "TLS" not in str(error)


async def test_tls_client_on_a_plain_server_port_is_told_it_may_not_speak_tls() -> None:
    async with InterphoneServer(sample_directory(),
                                settings=FAST.with_overrides(auth="open")) as server:
        error = await tls_login(server.port)
    assert isinstance(error, ServerUnreachable)
    assert "not speak TLS" in str(error)


@pytest.mark.parametrize(("data", "tls"), [
    (TLS_ALERT, True),
    (bytes.fromhex("160303007a"), True),  # a handshake record (ServerHello)
    (b"\x00\x00\x00\x40<message", False),  # a base frame header
    (b"\x15", False),
    (b"", False),
])
def test_tls_records_are_told_from_base_frames(data: bytes, tls: bool) -> None:
    assert looks_like_tls(data) is tls
