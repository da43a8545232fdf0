"""A node's requests whose place in the shared log is not known yet.

A request whose append went wrong after it was sent (the connection to the log failed
before its answer came back) may or may not be in the log: it stays unanswered, "in
doubt", until the driver has read the log up to its end as Redis gives it once it answers
again (:meth:`AppendDoubt.settle`): found there, it was answered as any other when applied;
not found, it is refused then. One not known to be in the log a limit after it was made
(the driver's, :meth:`AppendDoubt.expire`) is refused at once, and should
it turn up in the log afterwards its node appends what undoes it (:data:`UNDO`): a
``quit`` for a ``join``, a ``join`` for a ``quit``, a ``speak`` off for a granted or queued
``speak`` on, a ``logout`` for a ``login`` (with ``undo``: the node's number). Until that
undo is applied (or the log, read to its end, shows the request is not in it) the
session's further requests are refused too, so that nothing it asks lands between the
change and its undo. One refused as not in the log is undone too should the network still
deliver it to Redis later (:attr:`AppendDoubt.late`).

Sans-IO like the :class:`~app.server.replica.Replica` that owns it (its ``doubt``): the
replica hands it each request it sends to the log and each of its own it applies; the
driver (:mod:`app.server.redis_store`) tells it how appends went and when to settle or
expire them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.protocol.ids import InterphoneId
from app.server.outbox import Outbox

if TYPE_CHECKING:
    from app.server.replica import Event, Replica

LATE_KEPT = 1024
"""Requests refused as not in the log kept in case they turn up in it after all."""

UNDO = ("login", "join", "quit", "speak")
"""The requests a node undoes when one it refused in doubt turns up in the log after all
and changed something (a ``speak`` only when it asked for the floor). The others (a
release, an emergency, a call) stand: their notifications tell the client what they
changed."""


@dataclass(frozen=True, slots=True)
class TurnedUp:
    """A request of this node refused (in doubt, or as not in the log) that turned up in the
    log after all, as its entry is applied."""

    event: Event
    was: bool
    """What it asks for was so before its entry was applied (then it changed nothing)."""
    blocking: bool
    """Refused in doubt: its session's requests are refused until it is settled."""


class AppendDoubt:
    """The requests of a replica not yet known to be in the log, those refused meanwhile,
    and the sessions held back until their refusals are settled."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.unconfirmed: dict[int, tuple[float, Event]] = {}
        """ref -> (when it was asked, event): requests not yet known to be in the log (the
        driver's append did not answer yet, or failed after sending them)."""
        self.doubtful: set[int] = set()
        """refs of requests whose append failed after they were sent: in the log or not,
        known once the driver has read the log to its end (:meth:`settle`)."""
        self.refused: dict[int, Event] = {}
        """ref -> event of requests refused while in doubt: if one turns up in the log, its
        change is undone (:data:`UNDO`)."""
        self.late: dict[int, Event] = {}
        """ref -> event of requests refused as not in the log when it was read to its end:
        should the network still deliver one to Redis, it is undone too (not waited for:
        their sessions are not blocked)."""
        self.blocked: dict[int, int] = {}
        """sid -> how many of its requests were refused in doubt and are not settled (not
        found in the log read to its end, or their undo applied): its further requests are
        refused (nothing lands between a late change and its undo)."""

    def asked(self, ref: int, event: Event, now: float) -> None:
        """The request ``ref`` goes to the log as ``event``: not known to be in it yet."""
        self.unconfirmed[ref] = (now, event)

    def append_failed(self, events: Iterable[Event], now: float, *,
                      sent: bool = False) -> tuple[Outbox, list[Event]]:
        """The log did not take ``events``. Not ``sent`` (the store could not be reached):
        requests are refused (their clients may retry). ``sent`` (the connection failed
        after they were written): requests stay unanswered, in doubt, until :meth:`settle`
        (or :meth:`expire`). The rest (logouts, media, revocations, node deaths) come back
        to be retried."""
        replica = self.replica
        outbox, retry = Outbox(), []
        for event in events:
            ref = event.get("ref")
            if ref is None or event.get("node") != replica.node:
                retry.append(event)
                continue
            if sent:
                if ref in replica.pending:
                    self.doubtful.add(ref)
                continue
            self.unconfirmed.pop(ref, None)
            if self.refused.pop(ref, None) is not None:  # refused meanwhile, and not sent
                self._unblock(int(event.get("sid", 0)))
            sid, request = replica.pending.pop(ref, (0, None))
            if request is not None:
                replica.refuse(sid, request, now, outbox)
        return outbox, retry

    def appended(self, events: Iterable[Event]) -> None:
        """The log took ``events``: their requests are answered when applied."""
        for event in events:
            ref = event.get("ref")
            if ref is not None and event.get("node") == self.replica.node:
                self.unconfirmed.pop(ref, None)
                self.doubtful.discard(ref)

    def unsure(self) -> set[int]:
        """The refs whose place in the log is unknown: in doubt, or refused in doubt."""
        return self.doubtful | set(self.refused)

    def settle(self, refs: Iterable[int], now: float) -> Outbox:
        """The log was read up to its end as read after the appends of ``refs`` failed:
        what was appended has been applied (and answered, or undone); those still in doubt
        were not appended: refused now."""
        replica, outbox = self.replica, Outbox()
        for ref in refs:
            self.doubtful.discard(ref)
            event = self.refused.pop(ref, None)
            if event is not None:
                self._unblock(int(event.get("sid", 0)))
                self._keep_late(ref, event)
            if ref in replica.pending:
                asked = self.unconfirmed.pop(ref, None)
                if asked is not None:
                    self._keep_late(ref, asked[1])
                sid, request = replica.pending.pop(ref)
                replica.refuse(sid, request, now, outbox, f"session={sid} request refused: "
                               "its change is not in the shared log")
        return outbox

    def _keep_late(self, ref: int, event: Event) -> None:
        """``event`` was refused and not found in the log: kept (the last
        :data:`LATE_KEPT`) in case the network still delivers it to Redis."""
        self.late[ref] = event
        while len(self.late) > LATE_KEPT:
            del self.late[next(iter(self.late))]

    def next_deadline(self, limit: float) -> float | None:
        """When the oldest request not yet known to be in the log reaches ``limit``."""
        if not self.unconfirmed:
            return None
        return next(iter(self.unconfirmed.values()))[0] + limit

    def expire(self, now: float, limit: float) -> Outbox:
        """Requests not known to be in the log ``limit`` seconds after they were asked are
        refused: one still waiting to be sent is taken back; one sent (in doubt, or its
        append not answered yet) is undone if it turns up in the log later."""
        replica, outbox = self.replica, Outbox()
        for ref, (asked, event) in list(self.unconfirmed.items()):
            if asked + limit > now:
                break  # (asked in order)
            del self.unconfirmed[ref]
            self.doubtful.discard(ref)
            sid, request = replica.pending.pop(ref, (0, None))
            if request is None:
                continue
            waiting = [i for i, e in enumerate(replica.outgoing) if e is event]
            undoable = not waiting and event.get("t") in UNDO
            if waiting:
                del replica.outgoing[waiting[0]]
            elif undoable:  # (a read, an emergency, a call: nothing to undo, nor to wait for)
                self.refused[ref] = event
                self.blocked[sid] = self.blocked.get(sid, 0) + 1
            replica.refuse(sid, request, now, outbox, f"session={sid} request refused: the "
                           f"shared log did not answer within {limit:g} s"
                           + (" (undone if it turns up in it)" if undoable else ""))
        return outbox

    def in_log(self, ref: int) -> TurnedUp | None:
        """The request ``ref`` is in the log, its entry about to be applied: no longer in
        doubt. If it was refused meanwhile, what :meth:`applied` needs to undo it."""
        self.unconfirmed.pop(ref, None)
        self.doubtful.discard(ref)
        blocking = ref in self.refused
        late = self.refused.pop(ref, None) or self.late.pop(ref, None)
        if late is None:
            return None
        return TurnedUp(late, self._holds(late), blocking)

    def applied(self, turned_up: TurnedUp | None, event: Event, sid: int,
                outbox: Outbox) -> None:
        """``event`` (of session ``sid``) was applied: a request refused that turned up
        in it (:meth:`in_log`) is undone if it changed something, and this node's undo lets
        its session go on."""
        if turned_up is not None and not self._undo(turned_up, outbox) and turned_up.blocking:
            self._unblock(int(turned_up.event.get("sid", 0)))  # nothing to undo: it goes on
        if event.get("undo") == self.replica.node:  # this node's undo: its session goes on
            self._unblock(sid)

    def _unblock(self, sid: int) -> None:
        left = self.blocked.pop(sid, 0) - 1
        if left > 0:
            self.blocked[sid] = left

    def _undo(self, turned_up: TurnedUp, outbox: Outbox) -> bool:
        """A request refused was applied after all: append what undoes it if it changed
        something (not if what it asks for was already so); True if so. Refused in doubt
        (``blocking``), its session's requests are refused until the undo is applied (it
        says so: ``undo``, this node's number)."""
        event = turned_up.event
        kind, sid = event.get("t"), int(event.get("sid", 0))
        if kind not in UNDO or turned_up.was or not self._holds(event):
            return False
        undo: Event
        if kind == "login":
            undo = {"t": "logout", "sid": sid}
        elif kind == "join":
            undo = {"t": "quit", "sid": sid, "id": event["id"], "member": event.get("member")}
        elif kind == "quit":
            undo = {"t": "join", "sid": sid, "id": event["id"], "member": event.get("member")}
        elif event.get("on"):
            undo = {"t": "speak", "sid": sid, "id": event["id"], "on": False}
        else:
            return False  # a release stands (the interphone's notification tells it)
        if turned_up.blocking:
            undo["undo"] = self.replica.node
        outbox.log(f"session={sid} {kind} refused earlier turned up in the shared log: "
                   f"undoing it ({undo['t']})")
        self.replica.emit(undo)
        return True

    def _holds(self, event: Event) -> bool:
        """Whether what ``event`` (a request) asks for is so now: its session logged in, a
        member, out of the interphone, holding or queued for the floor."""
        state, kind, sid = self.replica.state, event.get("t"), int(event.get("sid", 0))
        session = state.sessions.get(sid)
        if kind == "login":
            return session is not None
        if session is None or kind not in ("join", "quit", "speak"):
            return False
        record = state.interphones.get(InterphoneId.parse(str(event["id"])))
        member = record is not None and record.members.get(session.uid) == sid
        if kind == "join":
            return member
        if kind == "quit":
            return not member
        return (bool(event.get("on")) and member and record is not None
                and (record.holder == session.uid or session.uid in record.floor.queue))
