"""What a state operation asks the I/O layer to do: send, close, log."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.errors import ErrCode
from app.protocol.messages import Body, Message


class Refused(Exception):
    """A request the rules refuse; the I/O layer answers it with ``errcode``/``errmsg``."""

    def __init__(self, errcode: ErrCode, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(slots=True)
class Outbox:
    """Messages to deliver in order, sessions to close after them, and log lines.

    The same :class:`Message` object may be addressed to many sessions: the
    I/O layer encodes it once and reuses the bytes.
    """

    messages: list[tuple[int, Message]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def send(self, session_id: int, message: Message) -> None:
        self.messages.append((session_id, message))

    def close(self, session_id: int) -> None:
        self.closes.append(session_id)

    def log(self, event: str) -> None:
        self.events.append(event)

    def __bool__(self) -> bool:
        return bool(self.messages or self.closes or self.events)


@dataclass(slots=True)
class Result:
    """The answer to a request plus everything the request set off."""

    reply: Body
    outbox: Outbox = field(default_factory=Outbox)
