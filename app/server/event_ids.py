"""Each event a node appends to the shared log applied once, though appended twice.

An append whose reply was lost (the connection to Redis failed after it was sent) may
have reached the log; what is not a client's request (logouts, media registrations,
revocations, expiries, undos, reload kicks, a node's ``down`` at its stop) is appended
again (:attr:`~app.server.log_writer.LogWriter.retry`), so the log may hold it twice.
Every event a node appends carries ``by`` (its number: a restarted node has a new one)
and ``eid`` (its counter, in the order of the events' first append: the writer appends
what it appends again in order, ahead of newer events), and a node applies an event only
if its ``eid`` is above the highest of ``by`` it applied. The snapshot carries those, so
a node started from it skips a copy after it. Entries without them (the sweep's
``down``, which its Lua script appends at most once; entries written before) are
applied as they come.
"""

from __future__ import annotations

import itertools
from typing import Any

Event = dict[str, Any]


class EventIds:
    """This node's ``eid`` counter, and the highest ``eid`` applied of every node."""

    def __init__(self, node: int) -> None:
        self.node = node
        self._next = itertools.count(1)
        self.applied: dict[int, int] = {}
        """node -> the highest ``eid`` of its events applied here."""

    def stamp(self, event: Event) -> Event:
        """``event`` marked as this node's next (``by``, ``eid``)."""
        event["by"], event["eid"] = self.node, next(self._next)
        return event

    def repeated(self, event: Event) -> bool:
        """Whether ``event``, about to be applied, was applied already (its ``eid`` not
        above the highest of its node); if not, its ``eid`` is that highest now. One
        without ``eid``: False."""
        by, eid = event.get("by"), event.get("eid")
        if by is None or eid is None:
            return False
        node, number = int(by), int(eid)
        if number <= self.applied.get(node, 0):
            return True
        self.applied[node] = number
        return False

    def snapshot(self) -> dict[str, int]:
        return {str(node): eid for node, eid in self.applied.items()}

    def restore(self, snapshot: dict[str, int]) -> None:
        """Start from a snapshot's (:meth:`snapshot`; an older snapshot has none)."""
        self.applied = {int(node): int(eid) for node, eid in snapshot.items()}
