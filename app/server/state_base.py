"""What the rule families of :class:`~app.server.state.ServerState` share: the tables and
settings (set up by ``ServerState.__init__``) and, for the type checker only, the methods
one family calls in another.

The families are mixins over :class:`StateBase`: connections
(:mod:`app.server.connection_rules`), sessions (:mod:`app.server.session_rules`),
memberships (:mod:`app.server.membership_rules`), floor hand-over
(:mod:`app.server.floor_grants`), notifications (:mod:`app.server.notifications`),
media admission (:mod:`app.server.media_admission`), login admission
(:mod:`app.server.admission_rules`), media-auth (:mod:`app.server.media_auth_rules`)
and ``speak``/``emergency`` (:mod:`app.server.floor_rules`), with a release while the store is
away (:mod:`app.server.lone_release`). The declarations below exist only
for the type checker (``TYPE_CHECKING``): at run time nothing here can shadow a rule,
whatever the order of the state's bases.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.protocol.ids import InterphoneId
from app.protocol.media_keys import InterphoneKeys
from app.server.addr_limits import ConnectionLimits, RefusalLog
from app.server.coalesce import Coalescer
from app.server.directory import Directory
from app.server.feedback import FeedbackBoard
from app.server.floor import EmergencyRecord
from app.server.media_gate import MediaEncryption, SealedMediaGate
from app.server.node_auth import NodeAuth
from app.server.peers import Peer
from app.server.records import Interphone, Session
from app.server.settings import ServerSettings
from app.server.store import SharedLog

if TYPE_CHECKING:
    from app.protocol.media_crypto import MediaKey
    from app.protocol.messages import InterphoneInfo, MediaKeyNotice, Message
    from app.server.floor import FloorOutcome
    from app.server.outbox import Outbox
    from app.server.presence import PresenceRules


class StateBase:
    """The state's tables and settings (see :class:`~app.server.state.ServerState`)."""

    directory: Directory
    settings: ServerSettings
    udp_port: int
    media_encryption: MediaEncryption
    features: frozenset[str]
    address_limits: ConnectionLimits
    refusals: RefusalLog
    media_keys: InterphoneKeys
    media_gate: SealedMediaGate
    check_tokens_off_loop: bool
    peers: dict[int, Peer]
    syncs_per_turn: int | None
    syncs_left: int
    deferred_sids: dict[int, None]
    _peer_timers: list[tuple[float, int]]
    sessions: dict[int, Session]
    by_uid: dict[str, int]
    interphones: dict[InterphoneId, Interphone]
    routes: dict[str, Interphone]
    watchers: dict[InterphoneId, dict[int, None]]
    chats_of: dict[str, dict[InterphoneId, None]]
    _floor_timers: list[tuple[float, int, str]]
    _queue_timers: list[tuple[float, str]]
    _grants: int
    on_release: Callable[[Interphone, str], None] | None
    on_grant: Callable[[Interphone, str], None] | None
    presence: PresenceRules
    coalescer: Coalescer[InterphoneId]
    uncoalesced: int
    now: float | None
    node_auth: NodeAuth | None
    shared: SharedLog | None
    revocations: dict[str, int]
    emergency_log: dict[InterphoneId, deque[EmergencyRecord]]
    released_here: dict[InterphoneId, str]
    withdrawn_here: dict[InterphoneId, set[str]]
    feedback: FeedbackBoard

    if TYPE_CHECKING:
        # ---- ServerState (state.py) ---------------------------------------------------------

        def session(self, sid: int) -> Session: ...
        def member_record(self, sid: int, session: Session,
                          interphone: InterphoneId) -> Interphone: ...
        def new_emergency_id(self) -> str: ...
        def info(self, interphone: InterphoneId, receiver: str, *,
                 with_members: bool) -> InterphoneInfo: ...
        def _may_see(self, uid: str, interphone: InterphoneId) -> bool: ...
        def _require_visible(self, session: Session, interphone: InterphoneId) -> None: ...
        @staticmethod
        def _require_self(session: Session, member: str | None) -> None: ...
        def _answer(self, peer: Peer, request: Message, now: float, outbox: Outbox, *,
                    verified: bool = False) -> None: ...

        # ---- the rule families -------------------------------------------------------------

        def _close_peer(self, sid: int, outbox: Outbox, *, abort: bool = False) -> None: ...
        def _arm_peer(self, peer: Peer, deadline: float) -> None: ...
        def logout(self, sid: int) -> Outbox: ...
        def _leave(self, session: Session, record: Interphone, outbox: Outbox,
                   why: str, *, tell_leaver: bool = False) -> None: ...
        def remove(self, sid: int, interphone: InterphoneId, why: str) -> Outbox: ...
        def withdraw_waiting(self, leaving: list[tuple[int, InterphoneId]],
                             outbox: Outbox) -> None: ...
        def stop_watching(self, sid: int, interphone: InterphoneId) -> None: ...
        def _unwatch(self, sid: int, interphone: InterphoneId) -> None: ...
        def _notify_members(self, interphone: InterphoneId, outbox: Outbox) -> None: ...
        def _notify(self, interphone: InterphoneId, outbox: Outbox, *,
                    coalescing: bool | None = None, removed: int | None = None) -> None: ...

        # ---- admission_rules, media_auth_rules, floor_rules -------------------------------

        def _count_session(self, sid: int, peer_ip: str, now: float) -> None: ...
        def _uncount(self, peer: Peer) -> None: ...
        def media_login(self, session: Session) -> str: ...
        def media_session_ended(self, session: Session) -> None: ...
        def media_membership_changed(self, record: Interphone, outbox: Outbox,
                                     skip: int | None = None) -> MediaKey | None: ...
        def media_key_for(self, session: Session,
                          interphone: InterphoneId) -> MediaKeyNotice | None: ...
        def media_left(self, record: Interphone, uid: str) -> None: ...
        def media_released(self, record: Interphone) -> None: ...
        def media_grant(self, record: Interphone) -> int: ...
        def _grant(self, record: Interphone, uid: str, now: float) -> None: ...
        def _receive_frames(self, peer: Peer, frames: list[bytes], now: float,
                            outbox: Outbox) -> None: ...
        def _floor_changed(self, record: Interphone, outcome: FloorOutcome, outbox: Outbox, *,
                           notify: bool = False, why: str = "",
                           removed: int | None = None) -> int: ...
        def _record_emergency(self, record: Interphone, outcome: FloorOutcome,
                              outbox: Outbox) -> None: ...
        def session_lost_alone(self, sid: int) -> Outbox: ...
        def told_alone(self, record: Interphone, outcome: FloorOutcome) -> bool: ...
        def shown_holder(self, record: Interphone, outcome: FloorOutcome) -> str: ...
        def told_in_line(self, record: Interphone, notices: list[tuple[int, Message]], *,
                         after: bool = False) -> list[tuple[int, Message]]: ...
