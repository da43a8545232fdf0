"""The change events :class:`~app.client.model.ClientModel` emits, one frozen dataclass each.

A subscriber (``model.subscribe(callback)``) receives every event, in the order
the changes happened, on the asyncio loop's thread, after the model already
reflects the change. Interphone ids are :class:`~app.protocol.InterphoneId`
(``str(id)`` gives the wire form, e.g. ``group_58``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.protocol import InterphoneId, RosterEntry


class ConnectionState(StrEnum):
    """Where the signaling session stands."""

    DISCONNECTED = "disconnected"  # never connected yet
    CONNECTING = "connecting"  # first connect + login in progress
    CONNECTED = "connected"  # logged in, model in sync
    RECONNECTING = "reconnecting"  # the connection dropped; retrying with backoff
    KICKED = "kicked"  # the server ended the session (e.g. login elsewhere); final
    REFUSED = "refused"  # the login was refused; final
    CLOSED = "closed"  # close() was called; final

    @property
    def final(self) -> bool:
        return self in (ConnectionState.KICKED, ConnectionState.REFUSED, ConnectionState.CLOSED)


class FloorState(StrEnum):
    """The floor of the joined interphone, from this client's point of view."""

    IDLE = "idle"  # nobody speaks
    REQUESTING = "requesting"  # speak on sent, no answer yet
    TALKING = "talking"  # granted: audio is being sent
    BUSY = "busy"  # someone else speaks
    DENIED = "denied"  # the last request was refused for another reason than 409
    QUEUED = "queued"  # waiting in the server's line (extension floor-queue)


class FloorOutcome(StrEnum):
    """What became of our own floor request or grant: why a :class:`FloorChanged` came.

    ``NONE`` when the change is not about a request of ours (someone else began or
    stopped speaking, or a new talk target brought its own state)."""

    NONE = ""
    REQUESTED = "requested"  # speak on sent
    GRANTED = "granted"  # the floor is ours: the answer, or from the line the granted notice
    QUEUED = "queued"  # the answer put us in line (extension floor-queue)
    MOVED = "moved"  # our place in line changed
    REFUSED_BUSY = "refused_busy"  # 409: someone else holds the floor (or the line is full)
    REFUSED = "refused"  # refused for another reason (403, 404, ...): the state is DENIED
    CANCELLED = "cancelled"  # we gave a request or a wait in line up before any grant
    RELEASED = "released"  # we gave our grant back (talk_stop)
    REVOKED = "revoked"  # the server took our grant away
    LEFT_QUEUE = "left_queue"  # the server ended our wait in line (``cause``: why)
    ENDED = "ended"  # the interphone is no longer our talk target (left, removed, another one)
    DISCONNECTED = "disconnected"  # the session ended or dropped (disconnected, kicked, closed)


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    state: ConnectionState
    detail: str = ""  # reason (kick reason, refusal message, last error while reconnecting)
    attempt: int = 0  # reconnect attempts failed so far in this outage (each one is an event)


@dataclass(frozen=True, slots=True)
class MediaPathChanged:
    """Whether the server answers our media registrations (UDP): ``reachable`` False
    means signaling works but no audio goes either way (UDP blocked on the way)."""

    reachable: bool


@dataclass(frozen=True, slots=True)
class StoreChanged:
    """Whether the server reaches its shared store: ``available`` False means connected but
    degraded (what goes through the store is refused for now; the client probes)."""

    available: bool


@dataclass(frozen=True, slots=True)
class RosterChanged:
    roster: tuple[RosterEntry, ...]


@dataclass(frozen=True, slots=True)
class InterphoneUpdated:
    """A live interphone appeared or its count/speaker changed (see ``model.interphones``)."""

    id: InterphoneId


@dataclass(frozen=True, slots=True)
class InterphoneEnded:
    """The interphone has no members any more (it left ``model.interphones``)."""

    id: InterphoneId


@dataclass(frozen=True, slots=True)
class JoinedChanged:
    """The talk target changed: the client joined ``id`` (or made it the target), or left
    its last interphone (``id`` None). See :class:`JoinedSetChanged` for the whole set."""

    id: InterphoneId | None


@dataclass(frozen=True, slots=True)
class JoinedSetChanged:
    """The set of joined interphones changed (``ids`` in join order; the talk target,
    ``model.talk_target``, is one of them or None when ``ids`` is empty)."""

    ids: tuple[InterphoneId, ...]


@dataclass(frozen=True, slots=True)
class RemovedFromInterphone:
    """The server took us out of a joined interphone without our asking (a directory
    reload removed us from the group or discussion): a change notification's member list
    no longer names us. The model already treats it as left (:class:`JoinedSetChanged`,
    and :class:`JoinedChanged` when it was the talk target, ``talk_target``); this says
    why, for the user."""

    id: InterphoneId
    talk_target: bool


@dataclass(frozen=True, slots=True)
class JoinedSpeakerChanged:
    """Who speaks in a joined interphone other than the talk target (whose speaker is
    :class:`SpeakerChanged`); ``uid`` empty means nobody. A UI uses it for activity
    outside the talk target (``model.speaker_of(id)`` reads it any time)."""

    id: InterphoneId
    uid: str


@dataclass(frozen=True, slots=True)
class MembersChanged:
    """The member list of the joined interphone changed."""

    id: InterphoneId
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpeakerChanged:
    """Who speaks in the joined interphone; ``uid`` empty means nobody.

    ``since`` is the model clock's time (``time.monotonic`` by default) at which
    this speaker started, as seen by the client; None when nobody speaks, or when the
    speech was already going on when this interphone became the talk target (the
    server does not say when a speech began).
    """

    id: InterphoneId
    uid: str
    since: float | None


@dataclass(frozen=True, slots=True)
class FloorChanged:
    """This client's floor state changed.

    ``holder`` is the uid holding the floor (ours when TALKING, the other
    speaker when BUSY, else empty); ``reason`` says why a grant ended
    (``"released"``, ``"revoked"``, ``"disconnected"``, ``"left"``, ``"cancelled"``
    ...) or why a request failed (the server's errmsg); ``outcome`` says which of
    these it is, whatever the words.
    """

    state: FloorState
    holder: str = ""
    reason: str = ""
    position: int = 0
    """QUEUED: the place in line (1 = next)."""
    cause: str = ""
    """A revocation the server explained (floor extensions): ``time_limit``, ``silence``,
    ``preempted``, ``shutdown`` or ``server``; '' when it did not say."""
    by: str = ""
    """``preempted``: who took the floor."""
    outcome: FloorOutcome = FloorOutcome.NONE
    """What became of our request or grant (granted, refused, cancelled, revoked ...)."""
    errcode: int = 0
    """A refused request (``refused``, ``refused_busy``): the server's errcode (403 not
    allowed, 429 too many requests, 500 the server's fault ...); 0 otherwise."""
    cut_at: float | None = None
    """A grant of ours cut by a lost connection (``disconnected``): the ``time.monotonic()``
    the link was last known to carry it (the grant, or the last answered check while
    talking, :data:`~app.client.client_floor.TALKING_CHECK_S`). The server took the floor
    back after its ``silence_timeout`` of silence, so what was said after that moment
    was most likely heard by nobody; None otherwise."""


@dataclass(frozen=True, slots=True)
class EmergencyChanged:
    """An emergency was raised or cancelled on ``id`` (extension ``emergency``);
    ``raised_by`` is '' once it is cancelled, ``cancelled_by`` who cancelled it;
    ``emergency_id`` names the emergency raised or cancelled ('' from a server that does
    not give ids)."""

    id: InterphoneId
    raised_by: str
    cancelled_by: str = ""
    emergency_id: str = ""


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """Someone joined a one-to-one chat with us that we are not in: ring."""

    id: InterphoneId
    from_uid: str


class CallState(StrEnum):
    """Where an outgoing call stands (extension ``presence``)."""

    RINGING = "ringing"  # the other party's client rings
    ANSWERED = "answered"  # the other party joined the chat
    DECLINED = "declined"  # the other party declined
    NO_ANSWER = "no_answer"  # nobody answered within the ring timeout (30 s)
    OFFLINE = "offline"  # the other party is not signed in (or went away while ringing)
    CANCELLED = "cancelled"  # we left the chat or cancelled while it rang


@dataclass(frozen=True, slots=True)
class ContactPresenceChanged:
    """A contact came online or went offline (extension ``presence``)."""

    uid: str
    online: bool


@dataclass(frozen=True, slots=True)
class OutgoingCallChanged:
    """Our call to ``to_uid`` (the chat ``id``) changed state (extension ``presence``)."""

    id: InterphoneId
    to_uid: str
    state: CallState


@dataclass(frozen=True, slots=True)
class IncomingCallEnded:
    """A call that rang us stopped: ``reason`` is ``answered`` (we joined), ``declined``
    (we declined), ``cancelled`` (the caller gave up or went away), ``no_answer``, or
    ``interrupted`` (our connection dropped: the server ended the ring with our session;
    the caller may ring us again once we are back)."""

    id: InterphoneId
    from_uid: str
    reason: str


ModelEvent = (
    ConnectionChanged
    | MediaPathChanged
    | StoreChanged
    | RosterChanged
    | InterphoneUpdated
    | InterphoneEnded
    | JoinedChanged
    | JoinedSetChanged
    | RemovedFromInterphone
    | JoinedSpeakerChanged
    | MembersChanged
    | SpeakerChanged
    | FloorChanged
    | EmergencyChanged
    | IncomingCall
    | IncomingCallEnded
    | OutgoingCallChanged
    | ContactPresenceChanged
)
