"""A client and a port that disagree about TLS: the one-line error says so (real sockets,
the real client engine and the real server)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from client_fixtures import connect_error
from server_fixtures import FAST, sample_directory

from app.client import ClientError, ServerUnreachable
from app.client.connection import TlsExpected, answers_plain_text, looks_like_tls
from app.client.trust import (
    CLOSED_DURING_HANDSHAKE,
    NOT_TLS,
    TrustError,
    TrustPolicy,
    client_context,
    closed_silently,
)
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

TLS_ALERT = bytes.fromhex("15030300020246")  # alert record: fatal, protocol_version


async def plain_login(port: int) -> ClientError:
    return await connect_error(port)


async def tls_login(port: int) -> ClientError:
    return await connect_error(port, ssl=client_context(TrustPolicy(trust_on_first_use=True)))


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


async def test_tls_client_on_a_plain_server_port_is_told_it_does_not_speak_tls() -> None:
    async with InterphoneServer(sample_directory(),
                                settings=FAST.with_overrides(auth="open")) as server:
        error = await tls_login(server.port)
    assert isinstance(error, ServerUnreachable)
    assert str(error) == f"TLS to 127.0.0.1:{server.port}: {NOT_TLS}"


async def test_a_port_that_closes_everything_silently_is_only_suspected() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        error = await tls_login(port)
        assert not await answers_plain_text("127.0.0.1", port)
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(error, ServerUnreachable)
    assert CLOSED_DURING_HANDSHAKE in str(error)


@pytest.mark.parametrize(("data", "tls"), [
    (TLS_ALERT, True),
    (bytes.fromhex("160303007a"), True),  # a handshake record (ServerHello)
    (b"\x00\x00\x00\x40<message", False),  # a base frame header
    (b"\x15", False),
    (b"", False),
])
def test_tls_records_are_told_from_base_frames(data: bytes, tls: bool) -> None:
    assert looks_like_tls(data) is tls


@pytest.mark.parametrize(("error", "silent"), [
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), True),
    (ConnectionResetError("Connection lost"), True),
    (TrustError("fingerprint mismatch"), False),  # an SSLError without a reason
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), False),
])
def test_only_a_silent_close_is_worth_a_plain_text_probe(error: OSError, silent: bool) -> None:
    assert closed_silently(error) is silent
