"""ClientModel: what the client knows, kept true from responses and notifications.

The model is pure: no sockets, no asyncio, no Qt. :class:`~app.client.InterphoneClient`
drives it through the ``apply_*``/``floor_*``/``set_*`` methods; a UI only reads
the properties and subscribes to the change events of :mod:`app.client.events`::

    unsubscribe = client.model.subscribe(on_event)   # on_event(event) -> None

Events of one change are delivered together, after the whole change is applied,
so a subscriber always reads a consistent model. A subscriber that raises is
logged and does not stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from app.client.events import (
    ConnectionChanged,
    ConnectionState,
    FloorChanged,
    FloorState,
    IncomingCall,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    MembersChanged,
    ModelEvent,
    RosterChanged,
    SpeakerChanged,
)
from app.protocol import (
    AttachType,
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
from app.protocol.ids import as_interphone_id, other_party
from app.protocol.messages import Body

logger = logging.getLogger(__name__)

MAX_UNSOLICITED_INTERPHONES = 256
"""Interphones outside the roster (e.g. chats others open) the model tracks at most: a hostile
server flooding notifications for ever-new ids cannot grow the client without limit."""

Subscriber = Callable[[ModelEvent], None]


class ClientModel:
    """The roster, the live interphones, the joined one, its floor, the connection state."""

    def __init__(self, uid: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._uid = uid
        self._clock = clock
        self._subscribers: list[Subscriber] = []
        self._pending: list[ModelEvent] = []
        self._depth = 0
        self._connection = ConnectionState.DISCONNECTED
        self._connection_detail = ""
        self._roster: tuple[RosterEntry, ...] = ()
        self._keepalive = 15
        self._max_talk = 60
        self._interphones: dict[InterphoneId, InterphoneInfo] = {}
        self._roster_ids: frozenset[InterphoneId] = frozenset()
        self._unsolicited: set[InterphoneId] = set()
        self._cap_logged = False
        self._joined: InterphoneId | None = None
        self._joining: InterphoneId | None = None
        self._members: tuple[str, ...] = ()
        self._speaker = ""
        self._speaker_since: float | None = None
        self._floor = FloorState.IDLE
        self._floor_holder = ""

    # ---- observing ---------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every change; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

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
    def roster(self) -> tuple[RosterEntry, ...]:
        """Groups, discussions and contacts from the login response, in server order."""
        return self._roster

    @property
    def groups(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "group")

    @property
    def discussions(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "discuss")

    @property
    def contacts(self) -> tuple[RosterEntry, ...]:
        return tuple(e for e in self._roster if e.kind == "contact")

    def roster_ids(self) -> tuple[InterphoneId, ...]:
        """The interphone ids of every roster group and discussion (what ``sync()`` lists)."""
        ids = []
        for entry in self._roster:
            if entry.kind == "group":
                ids.append(InterphoneId.group(entry.id))
            elif entry.kind == "discuss":
                ids.append(InterphoneId.discuss(entry.id))
        return tuple(ids)

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
        """The interphone this client is in, or None."""
        return self._joined

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
        """Model-clock time the current speaker started, None when nobody speaks."""
        return self._speaker_since

    @property
    def floor(self) -> FloorState:
        return self._floor

    @property
    def floor_holder(self) -> str:
        return self._floor_holder

    # ---- driven by the client ----------------------------------------------------------

    def set_connection(self, state: ConnectionState, detail: str = "") -> None:
        with self._batch():
            if (state, detail) == (self._connection, self._connection_detail):
                return
            self._connection = state
            self._connection_detail = detail
            self._emit(ConnectionChanged(state, detail))

    def apply_login(self, result: LoginResult) -> None:
        with self._batch():
            self._keepalive = max(1, result.keepalive)
            self._max_talk = result.max_talk
            if result.roster != self._roster:
                self._roster = result.roster
                self._roster_ids = frozenset(self.roster_ids())
                self._emit(RosterChanged(result.roster))

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
        return None

    def apply_sync(self, infos: Iterable[InterphoneInfo]) -> None:
        """A sync response: it replaces the set of live interphones (the joined one stays)."""
        with self._batch():
            seen: set[InterphoneId] = set()
            for info in infos:
                seen.add(info.id)
                self._apply(info)
            for gone in [i for i in self._interphones if i not in seen and i != self._joined]:
                del self._interphones[gone]
                self._unsolicited.discard(gone)
                self._emit(InterphoneEnded(gone))

    def apply_info(self, info: InterphoneInfo) -> bool:
        """A notification, members or quit response about one interphone.

        Returns True when the joined interphone's member list is now stale (the
        server sent a count without the list) and should be refreshed.
        """
        with self._batch():
            return self._apply(info)

    def expect_join(self, interphone: InterphoneId | None) -> None:
        """Our own join of ``interphone`` is in flight: its notifications are not a call."""
        self._joining = interphone

    def apply_joined(self, info: InterphoneInfo) -> None:
        """The join response: we are now in ``info.id`` (leaving any other one)."""
        with self._batch():
            self._joining = None
            if self._joined != info.id:
                if self._joined is not None:
                    self._leave_locally("left")
                self._joined = info.id
                self._emit(JoinedChanged(info.id))
            self._apply(info)
            if info.members is not None and self._members != info.members:
                self._members = info.members
                self._emit(MembersChanged(info.id, info.members))

    def apply_left(self, info: InterphoneInfo | None = None) -> None:
        """We are no longer in the joined interphone (quit response, or lost on reconnect)."""
        with self._batch():
            self._joining = None
            if self._joined is not None:
                self._leave_locally("left")
            if info is not None:
                self._apply(info)

    def floor_requesting(self) -> None:
        with self._batch():
            self._set_floor(FloorState.REQUESTING, "")

    def floor_granted(self) -> None:
        with self._batch():
            self._set_floor(FloorState.TALKING, self._uid)
            if self._joined is not None:
                self._set_speaker(self._uid)

    def floor_refused(self, *, holder: str = "", busy: bool, reason: str = "") -> None:
        """The speak-on request failed: 409 (``busy``, ``holder`` speaks) or another error."""
        with self._batch():
            if busy:
                self._set_floor(FloorState.BUSY, holder or self._speaker, reason)
            else:
                self._set_floor(FloorState.DENIED, "", reason)

    def floor_released(self, reason: str = "released") -> None:
        """Our grant ended (talk_stop, revocation, disconnection) or a request was abandoned."""
        with self._batch():
            if self._speaker == self._uid:
                self._set_speaker("")
            self._set_floor(*self._idle_floor(), reason)

    # ---- internals ---------------------------------------------------------------------

    @contextmanager
    def _batch(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._pending:
                events, self._pending = self._pending, []
                for event in events:
                    for callback in list(self._subscribers):
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("model subscriber %r failed on %r", callback, event)

    def _emit(self, event: ModelEvent) -> None:
        self._pending.append(event)

    def _over_cap(self, interphone: InterphoneId) -> bool:
        """A new interphone outside the roster beyond the cap: ignored (logged once)."""
        if (interphone in self._roster_ids or interphone == self._joined
                or interphone == self._joining):
            return False
        if len(self._unsolicited) < MAX_UNSOLICITED_INTERPHONES:
            self._unsolicited.add(interphone)
            return False
        if not self._cap_logged:
            self._cap_logged = True
            logger.warning("tracking %d interphones outside the roster already: ignoring "
                           "notifications about more", MAX_UNSOLICITED_INTERPHONES)
        return True

    def _apply(self, info: InterphoneInfo) -> bool:
        previous = self._interphones.get(info.id)
        if previous is None and info.member_count > 0 and self._over_cap(info.id):
            return False
        self._maybe_ring(info, previous)
        if info.member_count <= 0:
            if previous is not None:
                del self._interphones[info.id]
                self._unsolicited.discard(info.id)
                self._emit(InterphoneEnded(info.id))
        else:
            stored = info
            if info.members is None and previous is not None and previous.members is not None \
                    and previous.member_count == info.member_count:
                # A count-only view of an unchanged membership: keep the list we know.
                stored = InterphoneInfo(info.id, info.attach_id, info.member_count,
                                        info.speaker, previous.members)
            if stored != previous:
                self._interphones[info.id] = stored
                self._emit(InterphoneUpdated(info.id))
        if info.id != self._joined:
            return False
        if info.members is not None and info.members != self._members:
            self._members = info.members
            self._emit(MembersChanged(info.id, info.members))
        self._set_speaker(info.speaker)
        if self._floor is FloorState.TALKING and info.speaker != self._uid:
            self._set_floor(*self._idle_floor(), "revoked")
        elif self._floor in (FloorState.IDLE, FloorState.BUSY) or (
            self._floor is FloorState.DENIED and previous is not None
            and previous.speaker != info.speaker
        ):
            self._set_floor(*self._idle_floor())
        return info.members is None and info.member_count != len(self._members)

    def _idle_floor(self) -> tuple[FloorState, str]:
        if self._speaker and self._speaker != self._uid:
            return FloorState.BUSY, self._speaker
        return FloorState.IDLE, ""

    def _set_floor(self, state: FloorState, holder: str, reason: str = "") -> None:
        if (state, holder) == (self._floor, self._floor_holder):
            return
        self._floor = state
        self._floor_holder = holder
        self._emit(FloorChanged(state, holder, reason))

    def _set_speaker(self, uid: str) -> None:
        if uid == self._speaker or self._joined is None:
            return
        self._speaker = uid
        self._speaker_since = self._clock() if uid else None
        self._emit(SpeakerChanged(self._joined, uid, self._speaker_since or 0.0))

    def _leave_locally(self, reason: str) -> None:
        left = self._joined
        assert left is not None
        if self._floor is FloorState.TALKING:
            self._set_floor(FloorState.IDLE, "", reason)
        if self._speaker:
            self._set_speaker("")
        had_members = bool(self._members)
        self._joined = None
        self._members = ()
        self._speaker = ""
        self._speaker_since = None
        self._set_floor(FloorState.IDLE, "", reason)
        self._emit(JoinedChanged(None))
        if had_members:
            self._emit(MembersChanged(left, ()))

    def _maybe_ring(self, info: InterphoneInfo, previous: InterphoneInfo | None) -> None:
        chat = info.id
        if chat.kind is not AttachType.CHAT or not chat.involves(self._uid):
            return
        if chat in (self._joined, self._joining):
            return
        if info.members is not None and self._uid in info.members:
            return
        before = previous.member_count if previous is not None else 0
        if info.member_count > before:
            self._emit(IncomingCall(chat, other_party(chat, self._uid)))
