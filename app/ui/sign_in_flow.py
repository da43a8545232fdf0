"""Signing in: the dialog's request becomes a connected client, or a problem shown in it."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, replace

from app.client import (
    ClientError,
    InterphoneClient,
    LoginRefused,
    ServerUnreachable,
)
from app.client.address import parse_server_list
from app.client.asked_features import asked_features
from app.client.connection import tls_failure_probed
from app.client.errors import failure_of
from app.client.failures import Failure, FailureKind
from app.client.tasks import TaskSet
from app.client.trust import (
    TofuVerdict,
    TrustPolicy,
    client_context,
    describe_tls_failure,
    peer_fingerprint,
    server_key,
    tofu_message,
    tofu_verdict,
)
from app.ui.settings import Settings
from app.ui.sign_in import SignInDialog
from app.ui.view_types import CertificateDetails, SignInProblem

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a signed-in client was made from (to sign in again after "signed in elsewhere")."""

    host: str
    port: int
    uid: str
    token: str
    tls_pin: str | None = None
    """TLS with exactly this certificate (the one the user accepted); None: plain TCP."""
    fallbacks: tuple[tuple[str, int], ...] = ()
    """The other servers of the list the user gave (nodes of one deployment), tried in
    order when ``host`` cannot be reached or goes away."""

    @classmethod
    def from_servers(cls, servers: str, uid: str, token: str,
                     tls_pin: str | None = None) -> Credentials:
        """From the address field's text, one server or a list (``a:9400, b:9400``);
        raises ValueError when it is malformed."""
        (host, port), *others = parse_server_list(servers)
        return cls(host, port, uid, token, tls_pin, tuple(others))

    def client(self, connect_timeout: float = 5.0) -> InterphoneClient:
        context = client_context(TrustPolicy(pin=self.tls_pin)) if self.tls_pin else None
        return InterphoneClient(self.host, self.port, self.uid, self.token, reconnect=True,
                                connect_timeout=connect_timeout, ssl=context,
                                fallbacks=self.fallbacks,
                                features=asked_features(tls=context is not None,
                                                        presence=True))


def remembered_credentials(settings: Settings, token: str) -> Credentials | None:
    """"Remember me" at start: the credentials to sign in with, without the dialog, as
    it last signed in; over TLS pinned to the certificate the user accepted for the
    first server. None when the dialog must ask: the address is malformed, or TLS is on
    and no certificate of that server was accepted (the dialog shows its fingerprint)."""
    try:
        credentials = Credentials.from_servers(settings.server_address, settings.uid, token)
    except ValueError:
        return None
    if not settings.tls:
        return credentials
    pin = settings.known_fingerprints().get(server_key(credentials.host, credentials.port))
    if not pin:
        logger.info("TLS to %s, whose certificate was never accepted: asking",
                    settings.server_address)
        return None
    return replace(credentials, tls_pin=pin)


def format_servers(servers: list[tuple[str, int]]) -> str:
    """``host:port`` (``[v6]:port``) of each server, joined by ``, `` (read back by
    :func:`~app.client.address.parse_server_list`)."""
    return ", ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                     for host, port in servers)


async def probe_fingerprint(host: str, port: int, timeout: float) -> str:
    """The server's certificate fingerprint, read by a TLS handshake that sends nothing
    (no credentials go to a server before its certificate is trusted)."""
    context = client_context(TrustPolicy(trust_on_first_use=True))
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        return peer_fingerprint(writer.get_extra_info("ssl_object"))
    finally:
        writer.close()


def sign_in_problem(error: ClientError | OSError) -> tuple[SignInProblem, str | Failure]:
    """What the dialog says about a failed connect (and the details it words)."""
    failure = failure_of(error)
    if failure.kind is FailureKind.STORE_UNAVAILABLE:  # not the credentials: try again
        return SignInProblem.OTHER, failure
    if isinstance(error, LoginRefused):
        return SignInProblem.REFUSED, error.reason  # the server's words
    if isinstance(error, ServerUnreachable):
        return (SignInProblem.TLS if failure.kind.tls else SignInProblem.UNREACHABLE, failure)
    return SignInProblem.OTHER, failure


class SignInFlow:
    """Shows ``dialog`` until a login succeeds (the client) or the user cancels (None)."""

    def __init__(self, dialog: SignInDialog, settings: Settings,
                 connect_timeout: float = 5.0) -> None:
        self.dialog = dialog
        self.settings = settings
        self.connect_timeout = connect_timeout
        self.tasks = TaskSet()
        self._result: asyncio.Future[InterphoneClient | None] | None = None
        self._attempt: asyncio.Task[None] | None = None
        self.credentials: Credentials | None = None  # of the successful sign-in
        self._offered: tuple[str, str] | None = None  # (server, fingerprint) shown to accept

    async def run(self, failed: ClientError | OSError | None = None) -> InterphoneClient | None:
        """``failed``: why signing in without the dialog failed ("remember me" at start, or
        Reconnect), said in it as after a failed attempt in it (Enter tries again)."""
        self._result = asyncio.get_running_loop().create_future()
        settings = self.settings
        self.dialog.set_values(settings.server_address, settings.uid,
                               settings.token if settings.remember else "", settings.remember)
        self.dialog.set_tls(settings.tls)
        if failed is not None:
            self.dialog.set_problem(*sign_in_problem(failed))
        if not settings.writable:  # (the token file beside it cannot be written either)
            self.dialog.set_storage_note(settings.store.fileName(), lasting=False)
        elif not settings.tokens.secure:
            self.dialog.set_storage_note(str(settings.tokens.fallback_file),
                                         lasting=settings.tokens.file_writable)
        self.dialog.sign_in_requested.connect(self._on_request)
        self.dialog.rejected.connect(self._on_cancel)
        self.dialog.show()
        try:
            return await self._result
        finally:
            self.dialog.sign_in_requested.disconnect(self._on_request)
            self.dialog.rejected.disconnect(self._on_cancel)
            await self.tasks.close()
            self.dialog.hide()

    def _on_request(self, host: str, port: int, uid: str, token: str, remember: bool) -> None:
        if self._attempt is None or self._attempt.done():
            self._attempt = self.tasks.spawn(self._try(host, port, uid, token, remember),
                                             "sign-in")

    def _on_cancel(self) -> None:
        if self._attempt is not None:
            self._attempt.cancel()
        if self._result is not None and not self._result.done():
            self._result.set_result(None)

    async def _try(self, host: str, port: int, uid: str, token: str, remember: bool) -> None:
        address = format_servers([(host, port)])
        self.dialog.set_busy(True, address)
        pin: str | None = None
        self.settings.tls = self.dialog.tls.isChecked()
        if self.dialog.tls.isChecked():
            pin = await self._trusted_fingerprint(host, port, address)
            if pin is None:
                self.dialog.set_busy(False)
                return
        servers = self.dialog.servers
        others = tuple(servers[1:]) if servers[:1] == [(host, port)] else ()
        credentials = Credentials(host, port, uid, token, pin, others)
        client = credentials.client(self.connect_timeout)
        problem: tuple[SignInProblem, str | Failure] | None = None
        error: BaseException | None = None
        try:
            await client.connect()
        except (ClientError, OSError) as exc:
            error, problem = exc, sign_in_problem(exc)
        except BaseException:
            await client.close()
            raise
        finally:
            self.dialog.set_busy(False)
        if problem is not None:
            logger.info("sign-in to %s as %s failed: %s", address, uid, error)
            await client.close()
            self.dialog.set_problem(*problem)
            return
        self.credentials = credentials
        self._remember(format_servers([(host, port), *others]), uid, token, remember)
        if self._result is not None and not self._result.done():
            self._result.set_result(client)
        else:
            await client.close()

    async def _trusted_fingerprint(self, host: str, port: int, address: str) -> str | None:
        """Trust on first use: the fingerprint to pin, or None after showing why not (a
        new or changed certificate must be accepted explicitly, for that fingerprint)."""
        server = server_key(host, port)
        try:
            fingerprint = await probe_fingerprint(host, port, self.connect_timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            logger.info("%s", describe_tls_failure(exc, address))
            failure = replace(await tls_failure_probed(exc, host, port), server=address)
            self.dialog.set_busy(False)  # first: the focus cannot go to a disabled field
            self.dialog.set_problem(
                SignInProblem.TLS if failure.kind.tls else SignInProblem.UNREACHABLE, failure)
            return None
        self.dialog.set_encryption(fingerprint)
        known = self.settings.known_fingerprints()
        verdict = tofu_verdict(known, server, fingerprint)
        if verdict is TofuVerdict.KNOWN:
            return fingerprint
        if self._offered == (server, fingerprint) and self.dialog.trust_certificate.isChecked():
            self.settings.remember_fingerprint(server, fingerprint)
            logger.info("certificate %s of %s accepted by the user", fingerprint, server)
            return fingerprint
        self._offered = (server, fingerprint)
        problem = (SignInProblem.CERT_NEW if verdict is TofuVerdict.NEW
                   else SignInProblem.CERT_CHANGED)
        remembered = known.get(server)
        logger.info("%s", tofu_message(verdict, server, fingerprint, remembered))
        self.dialog.set_busy(False)
        self.dialog.set_problem(problem, CertificateDetails(server, fingerprint, remembered))
        return None

    def _remember(self, address: str, uid: str, token: str, remember: bool) -> None:
        settings = self.settings
        settings.server_address = address
        settings.uid = uid
        settings.remember = remember
        settings.token = token if remember else ""  # in the keyring (or the 0600 file)
        settings.sync()
