"""Client failures as data (app/client/failures.py): the English line the CLI prints is
unchanged, and the same failure is there as a kind and its values for another language
(real sockets, the real client engine and the real server)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest
from client_fixtures import connect_error
from server_fixtures import FAST, sample_directory
from waiting import free_port

from app.client import (
    ConnectionLost,
    InterphoneClient,
    LoginRefused,
    NotConnected,
    NotJoined,
    QueueLeft,
    RequestTimeout,
    ServerError,
    ServerUnreachable,
)
from app.client.connection import TlsExpected
from app.client.errors import RemoteProtocolError, failure_of
from app.client.failures import Failure, FailureKind, OsReason, english
from app.client.trust import (
    TrustError,
    TrustPolicy,
    check_pin,
    client_context,
    describe_tls_failure,
    tls_failure,
)
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context

SERVER = "127.0.0.1:9400"


async def test_a_closed_port_is_unreachable_refused_in_english_and_as_data() -> None:
    port = free_port()
    error = await connect_error(port)
    assert isinstance(error, ServerUnreachable)
    assert str(error) == f"cannot reach 127.0.0.1:{port}: Connection refused"  # the CLI's
    assert failure_of(error) == Failure(FailureKind.CANNOT_REACH, f"127.0.0.1:{port}",
                                        "Connection refused", os_reason=OsReason.REFUSED)


async def test_tls_to_a_plain_server_is_named_as_data(tmp_path: Path) -> None:
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open")) as server:
        error = await connect_error(
            server.port, ssl=client_context(TrustPolicy(trust_on_first_use=True)))
    failure = failure_of(error)
    assert failure.kind is FailureKind.TLS_PLAIN_TEXT and failure.kind.tls
    assert str(error) == english(failure) == (
        f"TLS to 127.0.0.1:{server.port}: the server does not speak TLS on this port "
        "(it answers in plain text)")


async def test_plain_to_a_tls_server_may_require_tls_as_data(tmp_path: Path) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open", media_encryption="optional"), tls=context) as server:
        error = await connect_error(server.port)
    assert isinstance(error, TlsExpected)
    assert failure_of(error).kind is FailureKind.MAYBE_TLS_REQUIRED
    assert not failure_of(error).kind.tls  # the plain connection failed, not a handshake
    assert str(error) == "connection closed before any answer (the server may require TLS)"


async def test_a_wrong_pin_names_the_presented_fingerprint(tmp_path: Path) -> None:
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    async with InterphoneServer(sample_directory(), settings=FAST.with_overrides(
            auth="open"), tls=context) as server:
        error = await connect_error(
            server.port, ssl=client_context(TrustPolicy(pin="AB" * 32)))
    failure = failure_of(error)
    assert failure == Failure(FailureKind.TLS_FINGERPRINT_MISMATCH,
                              f"127.0.0.1:{server.port}", fingerprint)
    assert str(error) == (f"TLS to 127.0.0.1:{server.port}: fingerprint mismatch: "
                          f"the server presented {fingerprint}")


def verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_code, error.verify_message = code, message
    return error


def ssl_error(cls: type[ssl.SSLError], reason: str) -> ssl.SSLError:
    error = cls(1, reason)
    error.reason = reason
    return error


@pytest.mark.parametrize(("exc", "kind", "line"), [
    (verification_error(20, "unable to get local issuer certificate"),
     FailureKind.TLS_UNKNOWN_ISSUER, "unknown issuer (unable to get local issuer "
     "certificate); use --ca-file or --tls-fingerprint"),
    (verification_error(62, "Hostname mismatch"), FailureKind.TLS_NAME_MISMATCH,
     "name mismatch (Hostname mismatch)"),
    (verification_error(10, "certificate has expired"), FailureKind.TLS_EXPIRED,
     "certificate expired"),
    (verification_error(9, "certificate is not yet valid"), FailureKind.TLS_NOT_YET_VALID,
     "certificate not yet valid (check the clock)"),
    (verification_error(50, ""), FailureKind.TLS_CERTIFICATE_REFUSED,
     "certificate refused (50)"),
    (ssl_error(ssl.SSLError, "WRONG_VERSION_NUMBER"), FailureKind.TLS_NOT_TLS,
     "the server does not speak TLS on this port"),
    (ssl_error(ssl.SSLEOFError, "UNEXPECTED_EOF_WHILE_READING"),
     FailureKind.TLS_CLOSED_DURING_HANDSHAKE, "the server closed the connection during "
     "the handshake (it may not speak TLS on this port: try without TLS)"),
    (ssl_error(ssl.SSLError, "UNSUPPORTED_PROTOCOL"), FailureKind.TLS_NO_COMMON_VERSION,
     "no common TLS version (UNSUPPORTED_PROTOCOL)"),
    (ssl_error(ssl.SSLError, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
     FailureKind.TLS_HANDSHAKE_FAILED, "handshake failed (SSLV3_ALERT_HANDSHAKE_FAILURE)"),
    (TimeoutError(), FailureKind.TLS_TIMED_OUT, "the handshake timed out"),
    (TrustError("the server sent no certificate"), FailureKind.TLS_NO_CERTIFICATE,
     "the server sent no certificate"),
    (TrustError("fingerprint mismatch"), FailureKind.TLS_FINGERPRINT_MISMATCH,
     "fingerprint mismatch"),
    (TrustError("chain too long"), FailureKind.TLS_OTHER, "chain too long"),
])
def test_each_tls_failure_has_its_kind_and_its_unchanged_line(
        exc: BaseException, kind: FailureKind, line: str) -> None:
    failure = tls_failure(exc, SERVER)
    assert failure.kind is kind and kind.tls and failure.server == SERVER
    assert describe_tls_failure(exc, SERVER) == english(failure) == f"TLS to {SERVER}: {line}"


def test_a_refused_socket_is_not_a_tls_problem() -> None:
    failure = tls_failure(ConnectionRefusedError(111, "Connection refused"), SERVER)
    assert failure.kind is FailureKind.CANNOT_CONNECT and not failure.kind.tls
    assert failure.os_reason is OsReason.REFUSED
    assert english(failure) == f"cannot connect to {SERVER}: Connection refused"


def test_the_pin_check_keeps_the_presented_fingerprint_apart(tmp_path: Path) -> None:
    class Presenting:
        def getpeercert(self, binary_form: bool = False) -> bytes:
            return b"certificate"

    with pytest.raises(TrustError) as caught:
        check_pin(Presenting(), "AB" * 32)  # type: ignore[arg-type]
    assert caught.value.presented and caught.value.presented in str(caught.value)


@pytest.mark.parametrize(("exc", "expected"), [
    (RequestTimeout.because(Failure(FailureKind.REQUEST_TIMEOUT, request="JoinRequest",
                                    seconds=5.0)),
     Failure(FailureKind.REQUEST_TIMEOUT, request="JoinRequest", seconds=5.0)),
    (ServerError(403, "not a member", request="JoinRequest"),
     Failure(FailureKind.SERVER_ERROR, detail="not a member", request="JoinRequest",
             errcode=403)),
    (QueueLeft("displaced"), Failure(FailureKind.LEFT_THE_LINE, detail="displaced")),
    (NotConnected("not connected (state kicked)"),
     Failure(FailureKind.NOT_CONNECTED, detail="not connected (state kicked)")),
    (NotJoined("join an interphone first"),
     Failure(FailureKind.NOT_JOINED, detail="join an interphone first")),
    (ConnectionLost("kicked: login_elsewhere"),
     Failure(FailureKind.CONNECTION_LOST, detail="kicked: login_elsewhere")),
    (RemoteProtocolError("JoinRequest: unreadable answer"),
     Failure(FailureKind.PROTOCOL_ERROR, detail="JoinRequest: unreadable answer")),
    (ConnectionRefusedError(111, "Connection refused"),
     Failure(FailureKind.OS_ERROR, detail="Connection refused", os_reason=OsReason.REFUSED)),
    (ValueError("odd"), Failure(FailureKind.OTHER, detail="odd")),
])
def test_every_error_has_a_failure(exc: BaseException, expected: Failure) -> None:
    assert failure_of(exc) == expected


def test_the_english_of_a_built_error_is_its_message() -> None:
    error = RequestTimeout.because(Failure(FailureKind.REQUEST_TIMEOUT, request="Login",
                                           seconds=2.5))
    assert str(error) == "Login: no answer within 2.5 s"
    assert english(failure_of(ServerError(500, "store down", request="login"))) == str(
        ServerError(500, "store down", request="login"))
    assert english(failure_of(QueueLeft("timeout"))) == str(QueueLeft("timeout"))


def test_a_login_refusal_keeps_the_servers_words_only_when_they_say_more() -> None:
    assert LoginRefused(401, "login refused").reason == ""
    assert LoginRefused(401, "").reason == ""
    assert LoginRefused(401, "account disabled").reason == "account disabled"


async def test_a_node_of_the_list_with_a_tls_problem_is_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A client given several nodes moved past one whose TLS failed (a certificate for
    another name, a plain port) with an INFO line: its operator never heard of it, the
    user saw nothing wrong. A node that does not answer stays INFO (the list is for
    that)."""
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    settings = FAST.with_overrides(auth="open")
    async with InterphoneServer(sample_directory(), settings=settings) as plain, \
            InterphoneServer(sample_directory(), tls=context, settings=settings.with_overrides(
                media_encryption="optional")) as good:
        down = free_port()
        client = InterphoneClient(
            "127.0.0.1", down, "alice", "x", reconnect=False,
            ssl=client_context(TrustPolicy(pin=fingerprint)),
            fallbacks=[("127.0.0.1", plain.port), ("127.0.0.1", good.port)])
        try:
            with caplog.at_level(logging.INFO, logger="app.client.client"):
                await asyncio.wait_for(client.connect(), 10)
            assert client.port == good.port
        finally:
            await client.close()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records
             if "trying the next server" in r.getMessage()]
    assert [level for level, _ in lines] == [logging.INFO, logging.WARNING], lines
    assert f"127.0.0.1:{down}" in lines[0][1]
    assert f"127.0.0.1:{plain.port}" in lines[1][1] and "does not speak TLS" in lines[1][1]
