"""Where the server's state lives: the store interface under :class:`ServerState`'s rules.

Two stores:

- **in memory** (the default, the embedded server): ``ServerState.shared is None`` and
  the state's own dicts are the only copy; every change applies at once.
- **a shared log** (several nodes, :mod:`app.server.replica` on
  :mod:`app.server.redis_store`): every change of sessions, memberships, floors and
  media registrations is appended to one ordered log that every node reads, and
  applied, by the same rules, in the log's order on every node
  (:meth:`ServerState.apply_shared`). Each node's dicts are then a replica of one
  state: any node answers reads (sync, members) from its own, and the first
  ``speak on`` in the log wins the floor on every node at once.

:class:`SharedLog` is what the state calls on the second kind; it never blocks: it
records what must be appended and answers later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.protocol.ids import InterphoneId
    from app.protocol.messages import Message
    from app.server.feedback_carrier import CarriedReport
    from app.server.peers import Peer
    from app.server.records import Address, Interphone


class SharedLog(Protocol):
    """The state's side of a shared log (the store of several nodes)."""

    available: bool
    """False while the log cannot be reached."""

    def defer(self, peer: Peer, request: Message, now: float) -> bool:
        """True if ``request`` goes through the log (a change, or anything behind one of the
        same connection still in flight): it is answered when the log hands it back.
        May raise :class:`~app.server.outbox.Refused` (e.g. the store is unreachable). False
        for a ``speak off`` while the log cannot be reached: the state releases on its own
        (:meth:`~app.server.lone_release.LoneRelease.release_alone`)."""

    def released_alone(self, sid: int, interphone: InterphoneId) -> None:
        """``sid`` released the floor of ``interphone`` (or left its line) while the log
        could not be reached, answered by this node alone: appended when it is back."""

    def session_gone(self, sid: int) -> None:
        """Connection ``sid`` closed: its session ends when the log says so."""

    def media_registered(self, record: Interphone, uid: str, sid: int, key: str,
                         address: Address) -> None:
        """``uid`` asked (recvbegin naming ``key``) to receive ``record``'s audio at
        ``address`` on this node: register it, and acknowledge it, when the log says so."""

    def sealed_registered(self, record: Interphone, uid: str, sid: int) -> None:
        """media-auth: ``uid`` registered at this node's relay (its gate acknowledged it):
        the other nodes send ``record``'s sealed audio for it there."""

    def floor_expired(self, record: Interphone, reason: str) -> None:
        """This node's clock says ``record``'s grant ran out (``max_talk`` or ``silence``)."""

    def queue_expired(self, record: Interphone, now: float) -> bool:
        """Queued requests of ``record`` may be past their ``queue_timeout`` on this node's
        clock: they expire when the log says so (each node judges its own sessions'). True
        while some wait for the log (ask again later)."""

    def ring_expired(self, chat: InterphoneId, caller: str, callee: str) -> bool:
        """A call rang past its timeout on this node's clock: True if this node judges it
        (its end goes through the log); False: another node does."""

    def new_emergency_id(self) -> str:
        """The id of an emergency raised by the entry being applied: the same on every
        node, and never given before (extension ``emergency``)."""

    def carry_report(self, holder_sid: int, report: CarriedReport) -> None:
        """Extension ``feedback``: ``report``, checked here, is for the floor holder whose
        session ``holder_sid`` is on another node: carried to that node
        (:mod:`app.server.feedback_carrier`), which keeps it as its own clients' reports."""
