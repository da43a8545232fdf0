"""The exceptions the client raises, one class per failure a caller handles differently.

:class:`ServerError` and its subclasses carry the protocol ``errcode`` and
``errmsg`` of a failed response (PROTOCOL.md section 4). The others describe the
transport: :class:`ServerUnreachable` (no TCP connection), :class:`ConnectionLost`
(it dropped while a request was pending), :class:`RequestTimeout` (no answer in
time) and :class:`NotConnected` (a call while the client has no session).

Like h11, the sans-IO :class:`~app.client.session.ClientSession` tells the two
kinds of protocol trouble apart: :class:`RemoteProtocolError` (the server broke
the contract: an oversized or unreadable answer, a response of the wrong kind)
and :class:`LocalProtocolError` (the caller misused the session: a request
before login, a body that is not a request, a frame over the size limit). The
second is a programming error, a :class:`ValueError`, never a
:class:`ClientError` to recover from.

Every error's message is English (the CLI prints it); :func:`failure_of` gives the same
as data (:class:`~app.client.failures.Failure`) for an interface to word in its language.
"""

from __future__ import annotations

from typing import Self

from app.client.failures import Failure, FailureKind, english, os_reason_of, os_words
from app.client.store_outage import is_store_unavailable
from app.protocol import ErrCode, ErrorReply
from app.protocol.ids import is_valid_name


class ClientError(Exception):
    """Base class of every error :mod:`app.client` raises."""

    failure: Failure | None = None
    """The failure as data, when the raiser built the message from it (:meth:`because`);
    :func:`failure_of` gives one for any error."""

    @classmethod
    def because(cls, failure: Failure) -> Self:
        """The error whose message is :func:`~app.client.failures.english` of ``failure``."""
        error = cls(english(failure))
        error.failure = failure
        return error


class ServerError(ClientError):
    """The server answered a request with an ``errcode``."""

    def __init__(self, errcode: int, errmsg: str = "", *, request: str = "") -> None:
        self.errcode = int(errcode)
        self.errmsg = errmsg
        self.request = request
        text = f"{request}: " if request else ""
        super().__init__(f"{text}error {self.errcode}{': ' + errmsg if errmsg else ''}")


class LoginRefused(ServerError):
    """401: the server refused the uid/token (or a request came before login)."""

    @property
    def reason(self) -> str:
        """The server's words when they say more than that the login was refused (this
        server's are always "login refused"); "" otherwise."""
        text = self.errmsg.strip()
        return "" if text.lower() in ("", "login refused") else text


class NotAllowed(ServerError):
    """403: not a member of that group, or acting for another uid."""


class NotFound(ServerError):
    """404: no such membership (e.g. leaving an interphone one is not in)."""


class FloorBusy(ServerError):
    """409: someone else holds the floor; ``holder`` is their uid when the server named it."""

    def __init__(self, errcode: int, errmsg: str = "", *, request: str = "",
                 holder: str = "", reason: str = "") -> None:
        super().__init__(errcode, errmsg, request=request)
        self.holder = holder
        self.reason = reason  # "queue_full" (extension floor-queue) or ''


class StoreUnavailable(ServerError):
    """500 "store unavailable: ...": the server cannot reach its shared store for now
    (:mod:`app.client.store_outage`); a transient refusal, not a fault of the request."""


class QueueLeft(ClientError):
    """A wait in line ended without a grant (extension floor-queue); ``reason`` is what the
    server said: ``timeout`` or ``displaced``."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(f"left the line ({reason or 'no reason given'})")
        self.reason = reason


class ServerUnreachable(ClientError):
    """No TCP connection could be made (refused, unresolvable host, timeout)."""


class ConnectionLost(ClientError):
    """The signaling connection closed while the call was in progress."""


class RequestTimeout(ClientError):
    """The server did not answer a request within the timeout."""


class NotConnected(ClientError):
    """The call needs a live session and the client has none (connecting, kicked, closed)."""


class RemoteProtocolError(ClientError):
    """The server sent something the contract does not allow (PROTOCOL.md sections 1 and 3)."""


class LocalProtocolError(ValueError):
    """This program misused the session: a bug in the caller, not a fault of the server."""


class NotJoined(ClientError):
    """The call needs a joined interphone (talk, leave) and the client is in none."""


_BY_CODE: dict[int, type[ServerError]] = {
    ErrCode.UNAUTHORIZED: LoginRefused,
    ErrCode.FORBIDDEN: NotAllowed,
    ErrCode.NOT_FOUND: NotFound,
    ErrCode.FLOOR_BUSY: FloorBusy,
}


def holder_from_errmsg(errmsg: str) -> str:
    """The uid in a 409 ``errmsg`` such as ``'lixx is speaking'`` (first word), or ``''``."""
    word = errmsg.strip().split(" ", 1)[0] if errmsg.strip() else ""
    return word if is_valid_name(word) else ""


def error_from_reply(reply: ErrorReply, request: str = "") -> ServerError:
    """The typed exception for a failed response."""
    if is_store_unavailable(reply.errcode, reply.errmsg):
        return StoreUnavailable(reply.errcode, reply.errmsg, request=request)
    cls = _BY_CODE.get(reply.errcode, ServerError)
    if cls is FloorBusy:
        return FloorBusy(reply.errcode, reply.errmsg, request=request,
                         holder=reply.holder or holder_from_errmsg(reply.errmsg),
                         reason=reply.reason)
    return cls(reply.errcode, reply.errmsg, request=request)


def failure_of(exc: BaseException) -> Failure:
    """Why ``exc`` happened, as data (its message stays the English wording)."""
    if isinstance(exc, ClientError) and exc.failure is not None:
        return exc.failure
    kind = FailureKind
    if isinstance(exc, ServerError) and is_store_unavailable(exc.errcode, exc.errmsg):
        # (a login refused so too: a LoginRefused, the server's words a transient refusal)
        return Failure(kind.STORE_UNAVAILABLE, detail=exc.errmsg, request=exc.request,
                       errcode=exc.errcode)
    if isinstance(exc, ServerError):
        return Failure(kind.SERVER_ERROR, detail=exc.errmsg, request=exc.request,
                       errcode=exc.errcode)
    if isinstance(exc, QueueLeft):
        return Failure(kind.LEFT_THE_LINE, detail=exc.reason)
    for cls, simple in ((NotConnected, kind.NOT_CONNECTED), (NotJoined, kind.NOT_JOINED),
                        (ConnectionLost, kind.CONNECTION_LOST),
                        (RemoteProtocolError, kind.PROTOCOL_ERROR)):
        if isinstance(exc, cls):
            return Failure(simple, detail=str(exc))
    if isinstance(exc, OSError) and not isinstance(exc, ClientError):
        return Failure(kind.OS_ERROR, detail=os_words(exc), os_reason=os_reason_of(exc))
    return Failure(kind.OTHER, detail=str(exc) or type(exc).__name__)
