"""What a state operation asks the I/O layer to do: send, close, abort, log."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.errors import ErrCode
from app.protocol.messages import Body, Message


class Refused(Exception):
    """A request the rules refuse; it is answered with ``errcode``/``errmsg``."""

    def __init__(self, errcode: ErrCode | int, errmsg: str, *, holder: str = "",
                 reason: str = "") -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.holder = holder  # 409: who holds the floor
        self.reason = reason  # 409 of floor-queue: queue_full


class RefusedAndClosed(Refused):
    """A refusal after which the connection is closed (e.g. a per-address limit)."""


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """A token the I/O layer must check off the event loop (:class:`~app.server.login_guard.
    LoginGuard`), then report with :meth:`~app.server.state.ServerState.login_checked`."""

    session_id: int
    uid: str
    token: str
    address: str


@dataclass(slots=True)
class Outbox:
    """Messages to deliver in order, sessions to close or abort after them, and log lines.

    ``closes`` flush what is queued for the session first; ``aborts`` drop it
    (a peer that broke the framing or stopped reading). The same
    :class:`Message` object may be addressed to many sessions: the I/O layer
    encodes it once and reuses the bytes.
    """

    messages: list[tuple[int, Message]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    aborts: list[int] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    login_checks: list[LoginCheck] = field(default_factory=list)

    def send(self, session_id: int, message: Message) -> None:
        self.messages.append((session_id, message))

    def close(self, session_id: int) -> None:
        self.closes.append(session_id)

    def abort(self, session_id: int) -> None:
        self.aborts.append(session_id)

    def log(self, line: str) -> None:
        self.log_lines.append(line)

    def extend(self, other: Outbox) -> None:
        """Append everything ``other`` holds, after what this one holds."""
        self.messages += other.messages
        self.closes += other.closes
        self.aborts += other.aborts
        self.log_lines += other.log_lines
        self.login_checks += other.login_checks

    def __bool__(self) -> bool:
        return bool(self.messages or self.closes or self.aborts or self.log_lines
                    or self.login_checks)


@dataclass(slots=True)
class Result:
    """The answer to a request plus everything the request set off."""

    reply: Body
    outbox: Outbox = field(default_factory=Outbox)
