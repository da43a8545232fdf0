"""ClientModel: what the client knows, kept true from responses and notifications.

The model is pure: no sockets, no asyncio, no Qt. :class:`~app.client.InterphoneClient`
drives it through the ``apply_*``/``floor_*``/``set_*`` methods; a UI only reads
the properties and subscribes to the change events of :mod:`app.client.events`::

    unsubscribe = client.model.subscribe(on_event)   # on_event(event) -> None

Events of one change are delivered together, after the whole change is applied,
so a subscriber always reads a consistent model (:mod:`app.client.batched_events`).
A subscriber that raises is logged and does not stop the others. Calls and contacts'
presence are kept by :class:`~app.client.calls_model.CallsModel`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType

from app.client.batched_events import BatchedEvents, Subscriber
from app.client.calls_model import CallsModel
from app.client.events import (
    CallState,
    ConnectionChanged,
    ConnectionState,
    EmergencyChanged,
    FloorChanged,
    FloorOutcome,
    FloorState,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    JoinedSetChanged,
    JoinedSpeakerChanged,
    MembersChanged,
    RemovedFromInterphone,
    SpeakerChanged,
)
from app.client.model_health import HealthModel
from app.client.model_roster import RosterModel
from app.client.session import sane_keepalive
from app.protocol import (
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinResult,
    LoginResult,
    MembersResult,
    QuitResult,
    RosterEntry,
    SyncResult,
)
from app.protocol.features import COALESCE, ROSTER
from app.protocol.ids import AttachType, as_interphone_id
from app.protocol.messages import Body, EmergencyAction, EmergencyState, RosterNotice
from app.protocol.presence import (
    PRESENCE,
    CallNotice,
    CallResult,
    PresenceChanged,
    PresenceSyncResult,
)

__all__ = ["MAX_UNSOLICITED_INTERPHONES", "ClientModel", "Subscriber"]

logger = logging.getLogger(__name__)

_SESSION_ENDS = frozenset({"disconnected", "kicked", "closed"})
"""``floor_released`` reasons that mean the session ended or dropped."""

MAX_UNSOLICITED_INTERPHONES = 256
"""Interphones outside the roster (e.g. chats others open) the model tracks at most: a hostile
server flooding notifications for ever-new ids cannot grow the client without limit."""


class ClientModel(RosterModel, HealthModel):
    """The roster, the live interphones, the joined ones, the talk target and its floor,
    the connection state.

    A client may be in several interphones at once (``joined_ids``, a radio's scan
    list); one of them is the talk target (``talk_target``, also ``joined``): the
    floor, ``members`` and ``speaker`` are about that one.
    """

    def __init__(self, uid: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._uid = uid
        self._clock = clock
        self._events = BatchedEvents()
        self._batch = self._events.batch
        self._emit = self._events.emit
        self._calls = CallsModel(uid, self._emit)
        self._connection = ConnectionState.DISCONNECTED
        self._connection_detail = ""
        self._connection_attempt = 0
        self._media_reachable = True
        self._store_available = True
        self._roster: tuple[RosterEntry, ...] = ()
        self._name = ""  # our own display name (extension roster)
        self._roster_told = False  # extension roster: the server's notices keep the roster
        self._keepalive = 15
        self._max_talk = 60
        self._interphones: dict[InterphoneId, InterphoneInfo] = {}
        self._roster_ids: frozenset[InterphoneId] = frozenset()
        self._contact_ids: frozenset[str] = frozenset()
        self._unsolicited: set[InterphoneId] = set()
        self._cap_logged = False
        self._joined: InterphoneId | None = None  # the talk target
        self._joined_set: dict[InterphoneId, None] = {}  # every joined interphone, join order
        self._joining: dict[InterphoneId, bool] = {}  # joins in flight -> make it the target
        self._members: tuple[str, ...] = ()
        self._speaker = ""
        self._speaker_since: float | None = None
        self._floor = FloorState.IDLE
        self._floor_holder = ""
        self._coalesced = False  # extension coalesce: an equal count may hide changes
        self._position = 0  # QUEUED: the place in line

    # ---- observing ---------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every change; returns a function that unsubscribes."""
        return self._events.subscribe(callback)

    # ---- reading -----------------------------------------------------------------------

    @property
    def uid(self) -> str:
        return self._uid

    @property
    def connection(self) -> ConnectionState:
        return self._connection

    @property
    def connection_detail(self) -> str:
        """Why the state is what it is: kick reason, refusal, last connection error."""
        return self._connection_detail

    @property
    def keepalive(self) -> int:
        """Seconds between pings (and UDP recvbegin refreshes), from the login response."""
        return self._keepalive

    @property
    def max_talk(self) -> int:
        """Seconds a floor grant lasts at most, from the login response."""
        return self._max_talk

    @property
    def interphones(self) -> Mapping[InterphoneId, InterphoneInfo]:
        """The live interphones (member_count > 0) this session sees, read-only."""
        return MappingProxyType(self._interphones)

    def interphone(self, interphone: InterphoneId | str) -> InterphoneInfo | None:
        return self._interphones.get(as_interphone_id(interphone))

    @property
    def joined(self) -> InterphoneId | None:
        """The talk target (kept name of the single-interphone API), or None."""
        return self._joined

    @property
    def talk_target(self) -> InterphoneId | None:
        """The joined interphone floor requests go to, or None when in none."""
        return self._joined

    @property
    def joined_ids(self) -> tuple[InterphoneId, ...]:
        """Every interphone this client is in, in join order (the talk target among them)."""
        return tuple(self._joined_set)

    def is_joined(self, interphone: InterphoneId | str) -> bool:
        return as_interphone_id(interphone) in self._joined_set

    def speaker_of(self, interphone: InterphoneId | str) -> str:
        """Who speaks in one live interphone ('' for nobody or not live)."""
        info = self._interphones.get(as_interphone_id(interphone))
        return info.speaker if info is not None else ""

    @property
    def members(self) -> tuple[str, ...]:
        """Members of the joined interphone (empty when not joined)."""
        return self._members

    @property
    def speaker(self) -> str:
        """Who speaks in the joined interphone ('' for nobody; our own uid while TALKING)."""
        return self._speaker

    @property
    def speaker_since(self) -> float | None:
        """Model-clock time the current speaker started; None when nobody speaks, or when
        the speech went on before the interphone became the talk target (see
        :class:`SpeakerChanged`)."""
        return self._speaker_since

    @property
    def presence(self) -> Mapping[str, bool]:
        """Contacts' status, uid -> online (extension ``presence``; empty without it)."""
        return self._calls.presence

    def is_online(self, uid: str) -> bool | None:
        """True/False for a contact whose status is known, None otherwise."""
        return self._calls.is_online(uid)

    def outgoing_call(self, interphone: InterphoneId | str) -> CallState | None:
        """Where our call in that chat stands (extension ``presence``), None if none."""
        return self._calls.outgoing_call(as_interphone_id(interphone))

    @property
    def incoming_calls(self) -> Mapping[InterphoneId, str]:
        """Chats ringing us now -> the caller (extension ``presence``)."""
        return self._calls.incoming

    @property
    def floor(self) -> FloorState:
        return self._floor

    @property
    def floor_holder(self) -> str:
        return self._floor_holder

    @property
    def queue_position(self) -> int:
        """Our place in line while ``floor`` is QUEUED (1 = next), else 0."""
        return self._position if self._floor is FloorState.QUEUED else 0

    # ---- driven by the client ----------------------------------------------------------

    def set_connection(self, state: ConnectionState, detail: str = "",
                       attempt: int = 0) -> None:
        """``attempt``: reconnect attempts failed so far (while reconnecting), so that each
        failed attempt is an event even when it failed as the one before did."""
        with self._batch():
            if (state, detail, attempt) == (self._connection, self._connection_detail,
                                            self._connection_attempt):
                return
            self._connection = state
            self._connection_detail = detail
            self._connection_attempt = attempt
            if state is not ConnectionState.CONNECTED:  # degraded says how a link works
                self._store_available = True
            self._emit(ConnectionChanged(state, detail, attempt))
            if state not in (ConnectionState.CONNECTED, ConnectionState.CONNECTING):
                self._calls.end_all(state is ConnectionState.RECONNECTING)  # (its rings ended)

    def apply_login(self, result: LoginResult) -> None:
        with self._batch():
            self._calls.presence_granted = PRESENCE in result.features
            self._coalesced = COALESCE in result.features  # (intermediate states skipped)
            self._roster_told = ROSTER in result.features
            self._keepalive = sane_keepalive(result.keepalive)
            self._max_talk = result.max_talk
            self._set_roster(result.roster, result.name)

    def apply_body(self, body: Body) -> InterphoneId | None:
        """A successful response or a notification, applied in the order it was read.

        Returns the joined interphone when its member list is now stale (the
        server sent a count without the list) and should be asked for again.
        Bodies that carry no model state (ping, speak) are ignored.
        """
        match body:
            case LoginResult():
                self.apply_login(body)
            case SyncResult(interphones):
                self.apply_sync(interphones)
            case JoinResult(info):
                self.apply_joined(info)
            case QuitResult(info):
                self.apply_left(info)
            case MembersResult(info) | InterphoneChanged(info):
                return info.id if self.apply_info(info) else None
            case PresenceSyncResult() | PresenceChanged() | CallResult() | CallNotice():
                with self._batch():
                    self._calls.apply(body, joined=self._joined_set,
                                      contacts=self._contact_ids)
            case EmergencyState():
                self.apply_emergency(body)
            case RosterNotice():
                self.apply_roster(body)
        return None

    def apply_sync(self, infos: Iterable[InterphoneInfo]) -> None:
        """A sync response: it replaces the set of live interphones (the joined ones stay).
        Its counts come without members: a joined interphone keeps the list its
        notifications keep while the count agrees (:meth:`unlisted_joined` says which
        have none then, to ask for)."""
        with self._batch():
            seen: set[InterphoneId] = set()
            for info in infos:
                seen.add(info.id)
                known = self._interphones.get(info.id)
                if (info.members is None and info.id in self._joined_set and known is not None
                        and known.members is not None
                        and known.member_count == info.member_count):
                    info = replace(info, members=known.members)
                self._apply(info)
            for gone in [i for i in self._interphones
                         if i not in seen and i not in self._joined_set]:
                del self._interphones[gone]
                self._unsolicited.discard(gone)
                self._emit(InterphoneEnded(gone))

    def unlisted_joined(self) -> tuple[InterphoneId, ...]:
        """The joined interphones other than the talk target whose member list is not
        known (e.g. a sync gave another count): to ask for with a members request."""
        return tuple(i for i, info in self._interphones.items()
                     if i in self._joined_set and i != self._joined
                     and info.members is None and info.member_count > 0)

    def apply_info(self, info: InterphoneInfo) -> bool:
        """A notification, members or quit response about one interphone.

        Returns True when the joined interphone's member list is now stale (the
        server sent a count without the list) and should be refreshed.
        """
        with self._batch():
            return self._apply(info)

    def expect_join(self, interphone: InterphoneId | None, *, target: bool = True) -> None:
        """Our own join of ``interphone`` is in flight (its notifications are not a call);
        ``target``: the join response makes it the talk target. None: forget every
        pending join."""
        if interphone is None:
            self._joining.clear()
        else:
            self._joining[interphone] = target

    def join_abandoned(self, interphone: InterphoneId) -> None:
        """Our join of ``interphone`` failed or was cancelled."""
        self._joining.pop(interphone, None)

    def apply_joined(self, info: InterphoneInfo) -> None:
        """The join response: we are now in ``info.id`` too; it becomes the talk target
        unless the join asked otherwise and there is a target already."""
        with self._batch():
            make_target = self._joining.pop(info.id, True)
            added = info.id not in self._joined_set
            self._joined_set[info.id] = None
            if self._joined is None or (make_target and self._joined != info.id):
                self._retarget(info.id, "retarget", adopt=False)  # _apply brings the state
            self._apply(info, joined_now=True)
            if added:
                self._emit(JoinedSetChanged(self.joined_ids))
            self._calls.end_incoming(info.id, "answered")

    def set_talk_target(self, interphone: InterphoneId | None) -> None:
        """Make a joined interphone (or None) the talk target; our floor, if any, ends."""
        with self._batch():
            if interphone is not None and interphone not in self._joined_set:
                raise ValueError(f"{interphone} is not joined")
            if interphone != self._joined:
                self._retarget(interphone, "retarget")

    def apply_left(self, info: InterphoneInfo | None = None) -> None:
        """A quit response (we left ``info.id``), or with no argument: we are in no
        interphone any more (lost on reconnect, kicked)."""
        with self._batch():
            if info is None:
                self._joining.clear()
                for interphone in reversed(self.joined_ids):
                    self._drop_joined(interphone, "left")
                return
            self._joining.pop(info.id, None)
            self._drop_joined(info.id, "left")
            self._apply(info)

    def apply_left_one(self, interphone: InterphoneId) -> None:
        """We are no longer in ``interphone`` (quit refused with 404, rejoin refused, or
        left here while the server cannot reach its store)."""
        with self._batch():
            self._joining.pop(interphone, None)
            self._drop_joined(interphone, "left")
            known = self._interphones.get(interphone)
            if known is not None and known.members is not None and self._uid in known.members:
                # no answer brings the list without us: the one we knew listed us still
                self._apply(replace(known, members=None, member_count=known.member_count - 1))

    def apply_removed(self, interphone: InterphoneId) -> None:
        """The server took us out of a joined ``interphone`` (a 403 on its members told
        what a count-only notice could not): as a leave, with :class:`RemovedFromInterphone`."""
        with self._batch():
            if interphone in self._joined_set:
                self._removed(interphone)

    def floor_requesting(self) -> None:
        with self._batch():
            self._set_floor(FloorState.REQUESTING, "", outcome=FloorOutcome.REQUESTED)

    def floor_granted(self) -> None:
        with self._batch():
            self._set_floor(FloorState.TALKING, self._uid, outcome=FloorOutcome.GRANTED)
            if self._joined is not None:
                self._set_speaker(self._uid)

    def floor_refused(self, *, holder: str = "", busy: bool, reason: str = "",
                      errcode: int = 0) -> None:
        """The speak-on request failed: 409 (``busy``, ``holder`` speaks) or another error
        (``errcode``: the server's code, 0 when none came)."""
        state, outcome = ((FloorState.BUSY, FloorOutcome.REFUSED_BUSY) if busy
                          else (FloorState.DENIED, FloorOutcome.REFUSED))
        with self._batch():
            self._set_floor(state, holder or self._speaker if busy else "", reason,
                            outcome=outcome, errcode=errcode)

    def floor_released(self, reason: str = "released", *, cause: str = "", by: str = "",
                       cut_at: float | None = None) -> None:
        """Our grant ended (talk_stop, revocation, disconnection) or a request was abandoned
        (``cause``/``by``: what a ``revoked`` notice said; ``cut_at``: :class:`FloorChanged`'s).
        The ``outcome`` follows from ``reason`` and what ended (:meth:`_release_outcome`)."""
        with self._batch():
            outcome = self._release_outcome(reason)
            if self._speaker == self._uid:
                self._set_speaker("")
            self._set_floor(*self._idle_floor(), reason, cause=cause, by=by, outcome=outcome,
                            cut_at=cut_at)

    def floor_queued(self, position: int) -> None:
        """Our request waits in line at ``position`` (extension floor-queue)."""
        with self._batch():
            outcome = (FloorOutcome.MOVED if self._floor is FloorState.QUEUED
                       else FloorOutcome.QUEUED)
            self._set_floor(FloorState.QUEUED, "", position=position, outcome=outcome)

    def ending_floor(self, reason: str, cut_at: float | None = None) -> None:
        """A grant or request of ours ends for ``reason`` (left, disconnected, kicked,
        closed; ``cut_at``: see :class:`FloorChanged`): released if any, else nothing."""
        if self._floor in (FloorState.TALKING, FloorState.REQUESTING, FloorState.QUEUED):
            self.floor_released(reason, cut_at=cut_at)

    def apply_emergency(self, body: EmergencyState) -> None:
        """A raise or cancel (response or notification): the interphone's ``emergency``."""
        with self._batch():
            raised = body.action is EmergencyAction.RAISE
            raised_by = body.by if raised else ""
            emergency_id = body.emergency_id if raised else ""
            info = self._interphones.get(body.id)
            if info is not None and (info.emergency, info.emergency_id) != (raised_by,
                                                                           emergency_id):
                self._interphones[body.id] = replace(info, emergency=raised_by,
                                                     emergency_id=emergency_id)
                self._emit(InterphoneUpdated(body.id))
            self._emit(EmergencyChanged(body.id, raised_by, body.cancelled_by,
                                        body.emergency_id))

    # ---- internals ---------------------------------------------------------------------

    def _over_cap(self, interphone: InterphoneId) -> bool:
        """A new interphone outside the roster beyond the cap: ignored (logged once)."""
        if (interphone in self._roster_ids or interphone in self._joined_set
                or interphone in self._joining):
            return False
        if len(self._unsolicited) < MAX_UNSOLICITED_INTERPHONES:
            self._unsolicited.add(interphone)
            return False
        if not self._cap_logged:
            self._cap_logged = True
            logger.warning("tracking %d interphones outside the roster already: ignoring "
                           "notifications about more", MAX_UNSOLICITED_INTERPHONES)
        return True

    def _apply(self, info: InterphoneInfo, *, joined_now: bool = False) -> bool:
        """``joined_now``: ``info`` is our join's answer (a speech in it began before)."""
        previous = self._interphones.get(info.id)
        if previous is None and info.member_count > 0 and self._over_cap(info.id):
            return False
        if info.id in self._joined_set and self._leaves_us_out(info):
            self._removed(info.id)
            if info.id.kind is not AttachType.CHAT:
                return False  # a group we may no longer see: it left the roster too
        self._calls.ring_from_members(
            info, previous, ours=info.id in self._joined_set or info.id in self._joining)
        if info.member_count <= 0:
            if previous is not None:
                del self._interphones[info.id]
                self._unsolicited.discard(info.id)
                self._emit(InterphoneEnded(info.id))
        else:
            stored = info
            if info.members is None and previous is not None and previous.members is not None \
                    and previous.member_count == info.member_count and not self._coalesced:
                # A count-only view of an unchanged membership: keep the list we know.
                stored = replace(info, members=previous.members)
            if stored != previous:
                self._interphones[info.id] = stored
                self._emit(InterphoneUpdated(info.id))
        if info.id in self._joined_set and info.id != self._joined and info.speaker != (
                previous.speaker if previous is not None else ""):
            self._emit(JoinedSpeakerChanged(info.id, info.speaker))
        if info.id != self._joined:
            # Another joined interphone: its list is refreshed too when a count came alone.
            known = self._interphones.get(info.id)
            return info.id in self._joined_set and info.members is None and info.member_count > 0 \
                and (known is None or known.members is None)
        if info.members is not None and info.members != self._members:
            self._members = info.members
            self._emit(MembersChanged(info.id, info.members))
        self._set_speaker(info.speaker, started_now=not joined_now)
        if self._floor is FloorState.TALKING and info.speaker != self._uid:
            self._set_floor(*self._idle_floor(), "revoked", outcome=FloorOutcome.REVOKED)
        elif self._floor in (FloorState.IDLE, FloorState.BUSY) or (
            self._floor is FloorState.DENIED and previous is not None
            and previous.speaker != info.speaker
        ):
            self._set_floor(*self._idle_floor())
        return info.members is None and info.member_count != len(self._members)

    def _removed(self, interphone: InterphoneId) -> None:
        talk_target = interphone == self._joined
        self._joining.pop(interphone, None)
        self._drop_joined(interphone, "removed")  # (as a leave: the target moves on)
        self._emit(RemovedFromInterphone(interphone, talk_target))
        self._removed_from_roster(interphone)

    def _leaves_us_out(self, info: InterphoneInfo) -> bool:
        """``info`` of a joined interphone says we are no longer in it: its member list
        does not name us, or (once connected: every joined one was joined again) it
        ended. The server removed us (a directory reload; docs/protocol-extensions.md)."""
        if info.members is not None and info.member_count > 0:
            return self._uid not in info.members
        return info.member_count <= 0 and self._connection is ConnectionState.CONNECTED

    def _idle_floor(self) -> tuple[FloorState, str]:
        if self._speaker and self._speaker != self._uid:
            return FloorState.BUSY, self._speaker
        return FloorState.IDLE, ""

    def _release_outcome(self, reason: str) -> FloorOutcome:
        """What ``floor_released(reason)`` makes of our request or grant."""
        if reason == "revoked":
            return FloorOutcome.REVOKED
        if reason == "left_queue":
            return FloorOutcome.LEFT_QUEUE
        if reason in _SESSION_ENDS:
            return FloorOutcome.DISCONNECTED
        if reason in ("released", "cancelled"):
            return (FloorOutcome.RELEASED if self._floor is FloorState.TALKING
                    else FloorOutcome.CANCELLED)
        return FloorOutcome.ENDED  # left, removed

    def _set_floor(self, state: FloorState, holder: str, reason: str = "", *,
                   position: int = 0, cause: str = "", by: str = "",
                   outcome: FloorOutcome = FloorOutcome.NONE, errcode: int = 0,
                   cut_at: float | None = None) -> None:
        if (state, holder, position) == (self._floor, self._floor_holder, self._position):
            return
        self._floor, self._floor_holder, self._position = state, holder, position
        self._emit(FloorChanged(state, holder, reason, position, cause, by, outcome, errcode,
                                cut_at))

    def _set_speaker(self, uid: str, *, started_now: bool = True) -> None:
        """``started_now`` False: the speech was going on before (the interphone just
        became the talk target), so when it began is unknown."""
        if uid == self._speaker or self._joined is None:
            return
        self._speaker = uid
        self._speaker_since = self._clock() if uid and started_now else None
        self._emit(SpeakerChanged(self._joined, uid, self._speaker_since))

    def _retarget(self, interphone: InterphoneId | None, reason: str, *,
                  adopt: bool = True) -> None:
        """Switch the talk target: floor, members and speaker follow the new one."""
        old = self._joined
        if self._floor in (FloorState.TALKING, FloorState.REQUESTING, FloorState.QUEUED):
            self._set_floor(FloorState.IDLE, "", reason, outcome=FloorOutcome.ENDED)
        if self._speaker:
            self._set_speaker("")
        had_members = bool(self._members)
        self._joined = interphone
        self._members = ()
        self._speaker = ""
        self._speaker_since = None
        if had_members and old is not None:
            self._emit(MembersChanged(old, ()))
        self._emit(JoinedChanged(interphone))
        info = self._interphones.get(interphone) if interphone is not None else None
        if adopt and interphone is not None and info is not None:
            if info.members is not None:
                self._members = info.members
                self._emit(MembersChanged(interphone, info.members))
            self._set_speaker(info.speaker, started_now=False)
        self._set_floor(*self._idle_floor(), reason if interphone is None else "")

    def _drop_joined(self, interphone: InterphoneId, reason: str) -> None:
        if interphone not in self._joined_set:
            return
        del self._joined_set[interphone]
        self._emit(JoinedSetChanged(self.joined_ids))
        self._calls.left(interphone)
        if interphone == self._joined:
            remaining = self.joined_ids
            self._retarget(remaining[-1] if remaining else None, reason)
