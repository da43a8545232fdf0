"""Messages of the ``presence`` extension (docs/protocol-extensions.md, "Extension: presence").

Contacts' online status (module ``MID_SESSION``, element ``<presence>``) and the
ringing of one-to-one calls (module ``MID_INTERPHONE``, element ``<call>``). Only
a session granted ``presence`` at login sends or receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.protocol.ids import InterphoneId

PRESENCE = "presence"
"""The feature name asked for at login."""


class CallAction(StrEnum):
    """What a ``<call type=...>`` request asks."""

    RING = "ring"  # caller: ring the other party of a chat we are in
    DECLINE = "decline"  # callee: refuse a ringing call
    CANCEL = "cancel"  # caller: stop ringing


class RingState(StrEnum):
    """The ``state`` of a ring response."""

    RINGING = "ringing"  # the callee is online and not in the chat: it rings
    ANSWERED = "answered"  # the callee is in the chat already
    OFFLINE = "offline"  # the callee has no session: nothing rings


class CallNoticeType(StrEnum):
    """The ``type`` of a ``<call>`` notification."""

    RINGING = "ringing"  # to the callee: ``from`` rings you (``timeout`` seconds)
    ENDED = "ended"  # to the callee: the ring stopped without an answer (``reason``)
    ANSWERED = "answered"  # to the caller: the callee joined the chat
    DECLINED = "declined"  # to the caller: the callee declined
    NO_ANSWER = "no_answer"  # to the caller: nobody answered within the timeout
    OFFLINE = "offline"  # to the caller: the callee's session ended while ringing


@dataclass(frozen=True, slots=True)
class PresenceSyncRequest:
    """``<presence type='sync'/>``: the status of every contact of my roster."""


@dataclass(frozen=True, slots=True)
class ContactPresence:
    uid: str
    online: bool


@dataclass(frozen=True, slots=True)
class PresenceSyncResult:
    """``<presence type='sync'><contact id= status=/>...</presence>``, roster order."""

    contacts: tuple[ContactPresence, ...] = ()


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Notification ``<presence uid= status=/>``: a contact came online or went offline."""

    uid: str
    online: bool


@dataclass(frozen=True, slots=True)
class CallRequest:
    """``<call type='ring|decline|cancel' id='chat_a:b'/>``."""

    action: CallAction
    id: InterphoneId


@dataclass(frozen=True, slots=True)
class CallResult:
    """The response: the request echoed; a ring answer carries ``state`` and, when
    ringing, ``timeout`` (seconds)."""

    action: CallAction
    id: InterphoneId
    state: RingState | None = None
    timeout: int = 0


@dataclass(frozen=True, slots=True)
class CallNotice:
    """Notification ``<call type= id= [from=] [timeout=] [reason=]/>``.

    ``peer`` is the caller (``from``) in a ``ringing`` notice, else empty;
    ``reason`` (``ended`` only) is ``cancelled`` or ``no_answer``.
    """

    type: CallNoticeType
    id: InterphoneId
    peer: str = ""
    timeout: int = 0
    reason: str = ""


PRESENCE_BODIES = (PresenceSyncRequest, PresenceSyncResult, PresenceChanged)
CALL_BODIES = (CallRequest, CallResult, CallNotice)
