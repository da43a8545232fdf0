"""TLS on the server's signaling port: in process and through ``interphone-server``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import sys
from pathlib import Path

import pytest
from server_fixtures import (
    FAST,
    TEST_TOML,
    RawClient,
    logged_fingerprint,
    loopback_alias_works,
    sample_directory,
    start_server_process,
    stop_server_process,
)
from waiting import wait_until

from app.client.trust import TrustPolicy, after_handshake, client_context
from app.protocol.messages import Login
from app.server import InterphoneServer
from app.server import app as server_app
from app.server.tcp import PLAIN_TEXT_ON_TLS
from app.server.tls import TlsOptions, load_server_context

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL_TOML = TEST_TOML.replace("[server]\n", "[server]\nmedia_encryption = 'optional'\n", 1)


def pinned(fingerprint: str) -> ssl.SSLContext:
    return client_context(TrustPolicy(pin=fingerprint))


async def test_login_over_tls_and_a_plain_client_costs_the_others_nothing(
        tmp_path: Path) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open", media_encryption="optional"), tls=context) as server:
        alice = await RawClient.connect(server.port, tls=pinned(fingerprint))
        ssl_object = alice.writer.get_extra_info("ssl_object")
        assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert after_handshake(ssl_object, TrustPolicy(pin=fingerprint)) == fingerprint
        await alice.login("alice")
        plain = await RawClient.connect(server.port)
        plain.send_xml("<message type='request' seq='1' module='MID_SESSION'>"
                       "<login uid='bob' token='x' version='1'/></message>")
        assert await plain.closed_by_server(timeout=5)
        assert plain.drain() == []  # nothing readable came back
        assert server.hub is not None and len(server.hub.connections) == 1
        reply = await alice.request_xml(
            "<message type='request' seq='p1' module='MID_SESSION'><ping/></message>", "p1")
        assert reply.body.__class__.__name__ == "Ping"
        await plain.close()
        await alice.close()


async def test_a_plain_text_client_on_the_tls_port_is_logged_rate_limited(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The client was told "the server may require TLS", the server's log said nothing:
    now a warning names the address, once per address per refusal_log_interval, then
    how many more came (a flood cannot fill the log)."""
    caplog.set_level(logging.INFO)
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))

    def plain_lines() -> list[tuple[int, str]]:
        return [(r.levelno, r.getMessage()) for r in caplog.records
                if PLAIN_TEXT_ON_TLS in r.getMessage()]

    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open", media_encryption="optional", refusal_log_interval=0.6),
            tls=context) as server:
        alice = await RawClient.connect(server.port, tls=pinned(fingerprint))
        await alice.login("alice")
        assert plain_lines() == []  # a TLS client is not one
        for _ in range(25):
            plain = await RawClient.connect(server.port)
            plain.send_xml("<message type='request' seq='1' module='MID_SESSION'>"
                           "<login uid='bob' token='x' version='1'/></message>")
            assert await plain.closed_by_server(timeout=5)
            assert plain.drain() == []
            await plain.close()
        assert plain_lines() == [(logging.WARNING, f"refused 127.0.0.1: {PLAIN_TEXT_ON_TLS}")]
        for _ in range(100):  # the count of the others, once the interval is over
            if len(plain_lines()) == 2:
                break
            await asyncio.sleep(0.05)
        assert re.fullmatch(r"refused 127\.0\.0\.1 24 more times in \d+ s: "
                            + re.escape(PLAIN_TEXT_ON_TLS), plain_lines()[1][1])
        reply = await alice.request_xml(
            "<message type='request' seq='p1' module='MID_SESSION'><ping/></message>", "p1")
        assert reply.body.__class__.__name__ == "Ping"
        await alice.close()


async def test_plain_server_stays_plain() -> None:
    async with InterphoneServer(sample_directory(),
                                settings=FAST.with_overrides(auth="open")) as server:
        assert server.tls is None
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            client = await asyncio.wait_for(
                RawClient.connect(server.port, tls=pinned("00" * 32)), 5)
            await client.close()


async def alice_signs_in_over_tls(*args: str) -> str:
    """``interphone-server *args`` started, alice signed in over TLS pinning the
    fingerprint it logged, then stopped: that fingerprint."""
    process, port, lines = await start_server_process(*args)
    try:
        fingerprint = logged_fingerprint(lines)
        client = await RawClient.connect(port, tls=pinned(fingerprint))
        await client.login("alice")
        await client.close()
    finally:
        await stop_server_process(process)
    return fingerprint


async def test_cli_self_signed_is_made_once_and_its_fingerprint_logged(tmp_path: Path) -> None:
    config = tmp_path / "dir.toml"
    config.write_text(OPTIONAL_TOML)
    first = await alice_signs_in_over_tls("--config", str(config),
                                          "--tls-self-signed", str(tmp_path / "tls"))
    assert (tmp_path / "tls" / "server.crt").is_file()
    process, _port, lines = await start_server_process("--config", str(config),
                                                "--tls-self-signed", str(tmp_path / "tls"))
    await stop_server_process(process)
    assert logged_fingerprint(lines) == first


async def test_toml_server_table_turns_tls_on_relative_to_the_file(tmp_path: Path) -> None:
    config = tmp_path / "dir.toml"
    config.write_text(OPTIONAL_TOML.replace("[server]\n", "[server]\ntls_self_signed = 'certs'\n",
                                            1))
    assert "tls_self_signed" in config.read_text()
    await alice_signs_in_over_tls("--config", str(config))
    assert (tmp_path / "certs" / "server.key").is_file()


async def test_cli_refuses_half_a_pair_with_exit_2(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.server", "--port", "0", "--tls-cert", str(tmp_path / "x.crt"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert "--tls-cert and --tls-key go together" in err.decode()


async def test_over_tls_media_auth_is_required_by_default(tmp_path: Path) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST, tls=context) as server:
        assert server.state.media_encryption.value == "required"
        client = await RawClient.connect(server.port, tls=pinned(fingerprint))
        reply = await client.request(Login("alice", "pw-alice"))
        assert not reply.ok and reply.body.errcode == 426
        assert reply.body.errmsg == "media-auth required"
        await client.close()


async def test_without_tls_media_auth_is_off_and_never_granted() -> None:
    async with InterphoneServer(sample_directory(), settings=FAST) as server:
        assert "media-auth" not in server.state.features
        client = await RawClient.connect(server.port)
        reply = await client.request(Login("alice", "pw-alice", features=("media-auth",)))
        assert reply.ok and "media-auth" not in reply.body.features
        await client.close()


async def test_a_tls_listener_closed_at_once_releases_its_socket(tmp_path: Path) -> None:
    """Closed before its accept loop ran a step (a server stopped right after it started
    listening, e.g. its metrics port was taken): the listening socket is closed all the same."""
    import socket

    from app.server.tls_port import TlsListener

    context, _fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    sock = socket.create_server(("127.0.0.1", 0))
    listener = TlsListener(asyncio.get_running_loop(), sock, asyncio.Protocol, context,
                           lambda address: None, backlog=8, handshake_timeout=1.0)
    listener.close()
    await listener.wait_closed()
    await asyncio.sleep(0)
    assert sock.fileno() == -1


def _stalled(host: str, port: int) -> socket.socket:
    """A connection to the TLS port from ``host`` that never starts its handshake."""
    sock = socket.create_connection(("127.0.0.1", port), source_address=(host, 0))
    sock.setblocking(False)
    return sock


def _still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:  # reset: refused at the accept
        return False


@pytest.mark.skipif(not loopback_alias_works(), reason="needs 127.0.0.2 on the loopback")
async def test_a_handshake_under_way_holds_its_slots_until_it_ends_or_times_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to the TLS port counts from its accept against its address's
    ``max_unauthenticated_per_address`` and, with the sessions, against ``max_sessions``;
    both slots are given back when it closes, or when its handshake times out."""
    monkeypatch.setattr(server_app, "HANDSHAKE_TIMEOUT", 1.5)
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    settings = FAST.with_overrides(max_unauthenticated_per_address=2, max_sessions=3,
                                   media_encryption="optional")
    async with InterphoneServer(sample_directory(), settings=settings, tls=context) as server:
        sockets: list[socket.socket] = []

        async def connect(host: str) -> socket.socket:
            sock = _stalled(host, server.port)
            sockets.append(sock)
            await asyncio.sleep(0.2)  # accepted, admitted or refused meanwhile
            return sock

        try:
            first, second = await connect("127.0.0.1"), await connect("127.0.0.1")
            assert not _still_open(await connect("127.0.0.1"))  # its address's two are taken
            other = await connect("127.0.0.2")
            assert not _still_open(await connect("127.0.0.3"))  # three open: max_sessions
            assert all(_still_open(sock) for sock in (first, second, other))
            first.close()
            await asyncio.sleep(0.2)
            again = await connect("127.0.0.1")  # the one that ended gave both slots back
            assert _still_open(again)
            await wait_until(lambda: not any(_still_open(sock) for sock in (second, other, again)),
                             timeout=5, what="the rest closed at their handshake timeout")
            client = await RawClient.connect(server.port, tls=pinned(fingerprint))
            assert (await client.login("alice", "pw-alice")).uid == "alice"
            await client.close()
        finally:
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.close()
