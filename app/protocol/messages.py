"""Typed messages of PROTOCOL.md section 3, one frozen dataclass per element form.

A :class:`Message` is the envelope; its ``body`` is one of the classes below.
The same body classes serve both directions: a client encodes a
:class:`JoinRequest` and a server decodes it, and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.protocol.errors import ErrCode
from app.protocol.health import HealthNotice
from app.protocol.ids import AttachType, InterphoneId
from app.protocol.presence import (
    PRESENCE_BODIES,
    CallNotice,
    CallRequest,
    CallResult,
    PresenceChanged,
    PresenceSyncRequest,
    PresenceSyncResult,
)


class MessageKind(StrEnum):
    REQUEST = "request"
    RESPONSE = "response"
    NOTIFICATION = "notification"


class Module(StrEnum):
    SESSION = "MID_SESSION"
    INTERPHONE = "MID_INTERPHONE"


# ---- MID_SESSION -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    """The login request; ``features`` names the extensions asked for (empty: none)."""

    uid: str
    token: str
    version: str = "1"
    features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One child of the login response: ``kind`` is ``group``, ``discuss`` or ``contact``."""

    kind: str
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The login response; ``features`` names the extensions granted (empty: none, and
    the attribute is left out)."""

    uid: str
    udp_port: int
    keepalive: int
    max_talk: int
    roster: tuple[RosterEntry, ...] = ()
    features: tuple[str, ...] = ()
    media_secret: str = ""
    """Extension ``media-auth``: the session's media secret, base64 ('' leaves it out)."""
    priority: int | None = None
    """Extension ``priority``: the user's level (None: the attribute is left out)."""
    dispatcher: bool = False
    """Extension ``priority``: the user may cancel anyone's emergency."""
    name: str = ""
    """Extension ``roster``: the user's own display name ('' leaves the attribute out)."""


@dataclass(frozen=True, slots=True)
class RosterNotice:
    """Extension ``roster``: a directory reload changed the session's roster or its own
    display name; ``roster`` replaces the login response's whole roster."""

    roster: tuple[RosterEntry, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ACCOUNT_REMOVED = "account_removed"
"""The ``kicked`` reason of a session whose user a directory reload removed
(docs/protocol-extensions.md, 1.5); the base contract's is ``login_elsewhere``."""


@dataclass(frozen=True, slots=True)
class Kicked:
    reason: str = "login_elsewhere"


# ---- MID_INTERPHONE ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterphoneInfo:
    """The state of one interphone as a receiver sees it.

    ``members`` is None when the element carried no ``<member>`` children
    (a count-only view), and a tuple when it listed them.
    """

    id: InterphoneId
    attach_id: str
    member_count: int
    speaker: str = ""
    members: tuple[str, ...] | None = None
    emergency: str = ""
    """Extension ``emergency``: who raised the emergency that is up ('' for none)."""
    emergency_id: str = ""
    """Extension ``emergency``: the id of the emergency that is up ('' for none, or from a
    server that does not give ids)."""

    def __post_init__(self) -> None:
        if self.member_count == 0 and self.members is None:
            # An ended interphone has no members: both views say the same.
            object.__setattr__(self, "members", ())

    @property
    def attach_type(self) -> AttachType:
        return self.id.kind

    @classmethod
    def of(
        cls,
        interphone: InterphoneId,
        receiver: str,
        members: tuple[str, ...] | list[str],
        speaker: str = "",
        *,
        with_members: bool = True,
    ) -> InterphoneInfo:
        return cls(
            id=interphone,
            attach_id=interphone.attach_id_for(receiver),
            member_count=len(members),
            speaker=speaker,
            members=tuple(members) if with_members else None,
        )


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """``<interphones type='sync'>``: which of these are live (replaces the subscription)."""

    ids: tuple[InterphoneId, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncResult:
    interphones: tuple[InterphoneInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class MembersRequest:
    """``<interphone type='sync' id=...>``: who is in, who is speaking."""

    id: InterphoneId


@dataclass(frozen=True, slots=True)
class MembersResult:
    info: InterphoneInfo


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """``<interphone type='add'>``; ``member`` is the optional ``<member>`` child."""

    id: InterphoneId
    member: str | None = None


@dataclass(frozen=True, slots=True)
class MediaKeyNotice:
    """``<media_key id= epoch= key=/>`` (extension ``media-auth``): the interphone's voice key
    (base64 of 32 bytes) under ``epoch``; a child of the join response or a notification."""

    id: InterphoneId
    epoch: int
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class JoinResult:
    info: InterphoneInfo
    media_key: MediaKeyNotice | None = None


@dataclass(frozen=True, slots=True)
class QuitRequest:
    id: InterphoneId
    member: str | None = None


@dataclass(frozen=True, slots=True)
class QuitResult:
    """Count-only: the quit response carries no ``<member>`` children."""

    info: InterphoneInfo


@dataclass(frozen=True, slots=True)
class InterphoneChanged:
    """The change notification (5); ``info.members`` is set for notifications to members."""

    info: InterphoneInfo


@dataclass(frozen=True, slots=True)
class SpeakRequest:
    """``queue`` (extension ``floor-queue``) and ``emergency`` (extension ``emergency``)
    are sent as ``'1'`` only when true.

    ``bad_flags``: ``(name, errmsg, errcode)`` of each of the two received with a value
    other than ``'0'``/``'1'`` (read as false): 400, or 413 when over-long. Only a
    session granted that name's extension is refused for it; for any other session the
    attribute is one it does not know, which the base contract ignores whatever its
    value and length. Never sent."""

    on: bool
    id: InterphoneId
    queue: bool = False
    emergency: bool = False
    bad_flags: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SpeakResult:
    """The speak response; the seed's bare ``<speak/>`` decodes with ``on``/``id`` None.

    ``queued`` and ``position``: extension ``floor-queue``, the request waits in line."""

    on: bool | None
    id: InterphoneId | None
    queued: bool = False
    position: int = 0
    grant: int = 0
    """Extension ``media-auth``: the number of the floor grant (0 leaves it out)."""


class FloorNoticeType(StrEnum):
    QUEUED = "queued"
    GRANTED = "granted"
    LEFT = "left"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class FloorNotice:
    """``<floor id= type= position= reason= by=/>``: extensions floor-queue, priority,
    emergency (notification only). ``position`` is 0 and ``reason``/``by`` empty when
    absent."""

    id: InterphoneId
    type: FloorNoticeType
    position: int = 0
    reason: str = ""
    by: str = ""
    grant: int = 0
    """Extension ``media-auth`` (``granted`` only): the number of the floor grant."""


class EmergencyAction(StrEnum):
    RAISE = "raise"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class EmergencyRequest:
    """``<emergency type='raise|cancel' id=/>`` (extension ``emergency``)."""

    action: EmergencyAction
    id: InterphoneId


@dataclass(frozen=True, slots=True)
class EmergencyState:
    """The response to :class:`EmergencyRequest`, and the notification of a raise or
    cancel: ``by`` raised it; ``cancelled_by`` (cancel only) cancelled it;
    ``emergency_id`` is its id ('' from a server that does not give ids)."""

    action: EmergencyAction
    id: InterphoneId
    by: str
    cancelled_by: str = ""
    emergency_id: str = ""


# ---- extension "feedback" (docs/protocol-extensions.md) -------------------------------


@dataclass(frozen=True, slots=True)
class QualityReport:
    """``<quality>`` request: what a listener measured of ``speaker``'s audio in ``id``.

    ``loss_pct`` is over the listener's last ~5 s of slots; ``jitter_ms`` the
    95th percentile inter-arrival deviation; the counts are since the listener
    started hearing this speaker (informative)."""

    id: InterphoneId
    speaker: str
    loss_pct: float
    jitter_ms: float = 0.0
    late: int = 0
    concealed: int = 0
    recovered: int = 0
    packets: int = 0


@dataclass(frozen=True, slots=True)
class QualityAck:
    """The success response to a :class:`QualityReport`."""

    id: InterphoneId


@dataclass(frozen=True, slots=True)
class FeedbackNotice:
    """``<feedback>`` notification to the floor holder: its listeners' loss, aggregated."""

    id: InterphoneId
    listeners: int
    worst_pct: float
    p90_pct: float
    jitter_ms: float = 0.0


# ---- failures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A failed response: the request's element echoed with ``errcode`` and ``errmsg``.

    ``tag`` is the element name (``speak``, ``interphone``, ``login``, ... or
    ``error`` for a frame that could not be parsed); ``type`` and ``id`` echo
    the request's attributes when it had them.
    """

    tag: str
    errcode: int
    errmsg: str = ""
    type: str | None = None
    id: str | None = None
    holder: str = ""
    """409: who holds the floor (PROTOCOL.md section 6); '' when absent."""
    reason: str = ""
    """409 of extension floor-queue: ``queue_full``; '' when absent."""

    @property
    def code(self) -> ErrCode | int:
        try:
            return ErrCode(self.errcode)
        except ValueError:
            return self.errcode


Body = (
    Login
    | LoginResult
    | Ping
    | Kicked
    | RosterNotice
    | SyncRequest
    | SyncResult
    | MembersRequest
    | MembersResult
    | JoinRequest
    | JoinResult
    | QuitRequest
    | QuitResult
    | InterphoneChanged
    | SpeakRequest
    | SpeakResult
    | MediaKeyNotice
    | FloorNotice
    | EmergencyRequest
    | EmergencyState
    | QualityReport
    | QualityAck
    | FeedbackNotice
    | ErrorReply
    | PresenceSyncRequest
    | PresenceSyncResult
    | PresenceChanged
    | CallRequest
    | CallResult
    | CallNotice
    | HealthNotice
)

_SESSION_BODIES = (Login, LoginResult, Ping, Kicked, RosterNotice, HealthNotice,
                   *PRESENCE_BODIES)
_SESSION_TAGS = ("login", "ping", "kicked", "roster", "error", "presence", "health")


def module_of(body: Body) -> Module:
    if isinstance(body, ErrorReply):
        # A failed login or ping answers in MID_SESSION, like its request.
        return Module.SESSION if body.tag in _SESSION_TAGS else Module.INTERPHONE
    return Module.SESSION if isinstance(body, _SESSION_BODIES) else Module.INTERPHONE


@dataclass(frozen=True, slots=True)
class Message:
    """The envelope ``<message type= seq= module=>`` around exactly one body."""

    kind: MessageKind
    body: Body
    seq: str | None = None
    module: str = field(default="")

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", module_of(self.body).value)

    @property
    def ok(self) -> bool:
        return not isinstance(self.body, ErrorReply)

    @classmethod
    def request(cls, seq: str, body: Body) -> Message:
        return cls(MessageKind.REQUEST, body, seq)

    @classmethod
    def response(cls, seq: str | None, body: Body, module: str = "") -> Message:
        return cls(MessageKind.RESPONSE, body, seq, module)

    @classmethod
    def notification(cls, body: Body) -> Message:
        return cls(MessageKind.NOTIFICATION, body, None)

    @classmethod
    def frame_error(cls, errmsg: str, errcode: int = ErrCode.BAD_REQUEST) -> Message:
        """The answer to a frame with no usable ``seq`` (PROTOCOL.md section 4)."""
        return cls(MessageKind.RESPONSE, ErrorReply("error", int(errcode), errmsg), None,
                   Module.SESSION.value)
