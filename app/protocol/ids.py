"""Identifiers: uids, group and discussion ids, and interphone ids (PROTOCOL.md section 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.protocol.errors import ErrCode, ProtocolError

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class AttachType(StrEnum):
    GROUP = "group"
    DISCUSS = "discuss"
    CHAT = "chat"


def is_valid_name(text: str) -> bool:
    """True for a uid, group id or discussion id: 1..64 of ``A-Z a-z 0-9 . _ @ -``."""
    return _NAME.fullmatch(text) is not None


def validate_uid(text: str) -> str:
    if not is_valid_name(text):
        raise ProtocolError(f"bad uid {text!r}", ErrCode.BAD_REQUEST)
    return text


@dataclass(frozen=True, slots=True)
class InterphoneId:
    """``group_<gid>``, ``discuss_<did>`` or ``chat_<a>:<b>`` with ``a < b`` by byte value."""

    kind: AttachType
    key: str
    peer: str | None = None

    def __post_init__(self) -> None:
        if not is_valid_name(self.key):
            raise ProtocolError(f"bad id part {self.key!r}", ErrCode.BAD_REQUEST)
        if self.kind is AttachType.CHAT:
            if self.peer is None or not is_valid_name(self.peer):
                raise ProtocolError(f"bad chat party {self.peer!r}", ErrCode.BAD_REQUEST)
            if self.peer == self.key:
                raise ProtocolError("a chat needs two different users", ErrCode.BAD_REQUEST)
            if self.key.encode() > self.peer.encode():
                raise ProtocolError("chat parties out of canonical order", ErrCode.BAD_REQUEST)
        elif self.peer is not None:
            raise ProtocolError("only a chat has two parties", ErrCode.BAD_REQUEST)

    @classmethod
    def group(cls, gid: str) -> InterphoneId:
        return cls(AttachType.GROUP, gid)

    @classmethod
    def discuss(cls, did: str) -> InterphoneId:
        return cls(AttachType.DISCUSS, did)

    @classmethod
    def chat(cls, uid_a: str, uid_b: str) -> InterphoneId:
        first, second = sorted((uid_a, uid_b), key=str.encode)
        return cls(AttachType.CHAT, first, second)

    @classmethod
    def parse(cls, text: str) -> InterphoneId:
        """Parse any accepted spelling; a chat's parties may come in either order."""
        text = text.strip()
        prefix, sep, rest = text.partition("_")
        if not sep:
            raise ProtocolError(f"bad interphone id {text!r}", ErrCode.BAD_REQUEST)
        if prefix == "group":
            return cls.group(rest)
        if prefix == "discuss":
            return cls.discuss(rest)
        if prefix == "chat":
            a, colon, b = rest.partition(":")
            if not colon:
                raise ProtocolError(f"bad chat id {text!r}", ErrCode.BAD_REQUEST)
            return cls.chat(a, b)
        raise ProtocolError(f"bad interphone id {text!r}", ErrCode.BAD_REQUEST)

    @property
    def parties(self) -> tuple[str, str]:
        if self.peer is None:
            raise ValueError(f"{self} is not a chat")
        return (self.key, self.peer)

    def involves(self, uid: str) -> bool:
        return self.kind is AttachType.CHAT and uid in (self.key, self.peer)

    def attach_id_for(self, receiver: str) -> str:
        """The gid, the did, or for a chat the other party as seen by ``receiver``."""
        if self.kind is not AttachType.CHAT:
            return self.key
        return other_party(self, receiver)

    def __str__(self) -> str:
        if self.kind is AttachType.CHAT:
            return f"chat_{self.key}:{self.peer}"
        return f"{self.kind.value}_{self.key}"


def other_party(chat: InterphoneId, uid: str) -> str:
    """The party of ``chat`` that is not ``uid`` (PROTOCOL.md section 2's ``attach_id``).

    For a ``uid`` outside the chat (who cannot see it) the answer is the second
    party. Raises :class:`ValueError` if ``chat`` is not a chat.
    """
    first, second = chat.parties
    return first if uid == second else second


def as_interphone_id(value: InterphoneId | str) -> InterphoneId:
    """``value`` itself, or parsed from any accepted spelling (raises :class:`ProtocolError`)."""
    return value if isinstance(value, InterphoneId) else InterphoneId.parse(value)
