"""Signing in: the dialog's request becomes a connected client, or a problem shown in it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from app.client import (
    ClientError,
    InterphoneClient,
    LoginRefused,
    RequestTimeout,
    ServerUnreachable,
)
from app.client.client import FEEDBACK
from app.client.tasks import TaskSet
from app.protocol.features import FLOOR_FEATURES
from app.protocol.presence import PRESENCE
from app.ui.settings import Settings
from app.ui.sign_in import SignInDialog
from app.ui.view_types import SignInProblem

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a signed-in client was made from (to sign in again after "signed in elsewhere")."""

    host: str
    port: int
    uid: str
    token: str

    def client(self, connect_timeout: float = 5.0) -> InterphoneClient:
        return InterphoneClient(self.host, self.port, self.uid, self.token, reconnect=True,
                                connect_timeout=connect_timeout,
                                features=(PRESENCE, FEEDBACK, *sorted(FLOOR_FEATURES)))


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

    async def run(self) -> InterphoneClient | None:
        self._result = asyncio.get_running_loop().create_future()
        settings = self.settings
        self.dialog.set_values(settings.server_address, settings.uid,
                               settings.token if settings.remember else "", settings.remember)
        if not settings.tokens.secure:
            self.dialog.set_storage_note(str(settings.tokens.fallback_file))
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
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.dialog.set_busy(True, address)
        credentials = Credentials(host, port, uid, token)
        client = credentials.client(self.connect_timeout)
        problem: tuple[SignInProblem, str] | None = None
        try:
            await client.connect()
        except LoginRefused as exc:
            problem = (SignInProblem.REFUSED, exc.errmsg)
        except ServerUnreachable as exc:
            problem = (SignInProblem.UNREACHABLE, str(exc))
        except (RequestTimeout, ClientError, OSError) as exc:
            problem = (SignInProblem.OTHER, str(exc))
        except BaseException:
            await client.close()
            raise
        finally:
            self.dialog.set_busy(False)
        if problem is not None:
            logger.info("sign-in to %s as %s failed: %s", address, uid, problem)
            await client.close()
            self.dialog.set_problem(*problem)
            return
        self.credentials = credentials
        self._remember(address, uid, token, remember)
        if self._result is not None and not self._result.done():
            self._result.set_result(client)
        else:
            await client.close()

    def _remember(self, address: str, uid: str, token: str, remember: bool) -> None:
        settings = self.settings
        settings.server_address = address
        settings.uid = uid
        settings.remember = remember
        settings.token = token if remember else ""  # in the keyring (or the 0600 file)
        settings.sync()
