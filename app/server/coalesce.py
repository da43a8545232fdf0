"""Notification coalescing: member changes of an interphone told at most once per window.

A join storm (hundreds of clients joining one interphone within a second) would tell
every member of every join: O(members^2) notifications. :class:`Coalescer` lets the
first member change of a quiet interphone be told at once and holds the later ones
until ``window`` seconds after the last notification; then one notification with the
latest state goes out. A floor change is always told at once (its notification
carries the latest members too, so it also settles what was held).

Only sessions granted the ``coalesce`` login feature are held back: the base contract
(PROTOCOL.md 5) tells every change, and a session that asked for no extension sees it.

Sans-IO: times are passed in; :meth:`next_deadline` / :meth:`take_due` follow the
state's timer.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from typing import Generic, TypeVar

from app.protocol.limits import MAX_MEMBERS

COALESCE = "coalesce"
"""The login feature (docs/protocol-extensions.md) of a session that accepts coalesced
member changes; a session without it is told every change (PROTOCOL.md 5)."""

NOTIFY_WINDOW = 0.05
"""Seconds within which the member changes of one interphone make one notification."""

WINDOW_PER_MEMBER = 0.001
"""A large interphone's window grows with its members (one notification costs each of
them a member list as long as the interphone): ``max(window, members * this)``, so 500
members are told at most twice a second while they change."""


def window_for(members: int, window: float = NOTIFY_WINDOW) -> float:
    """The coalescing window of an interphone of ``members`` members."""
    return max(window, members * WINDOW_PER_MEMBER) if window > 0 else window

_PRUNE_ABOVE = 4096

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    """When each interphone was last told, and which have member changes held back."""

    def __init__(self, window: float = NOTIFY_WINDOW) -> None:
        self.window = window
        self.told_at: dict[K, float] = {}
        self.held: dict[K, None] = {}
        self._timers: list[tuple[float, int, K]] = []
        self._order = itertools.count()

    def hold(self, key: K, now: float | None, members: int = 0) -> bool:
        """A member change of ``key`` (of ``members`` members now) at ``now``: True if its
        notification is held back (it goes out from :meth:`take_due`), False if it must be
        told now."""
        if now is None or self.window <= 0:
            return False
        window = window_for(members, self.window)
        last = self.told_at.get(key)
        if last is None or now >= last + window:
            return False
        if key not in self.held:
            self.held[key] = None
            heapq.heappush(self._timers, (last + window, next(self._order), key))
        return True

    def told(self, key: K, now: float | None) -> None:
        """``key``'s latest state was just told to everyone concerned."""
        self.held.pop(key, None)
        if now is not None:
            self.told_at[key] = now
            if len(self.told_at) > _PRUNE_ABOVE:
                self.told_at = {k: t for k, t in self.told_at.items()
                                if now < t + window_for(MAX_MEMBERS, self.window)}

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def take_due(self, now: float) -> list[K]:
        """The interphones whose held member changes are due at ``now``, in order."""
        due = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, key = heapq.heappop(timers)
            if key in self.held:
                # told now (to the coalesced sessions): its next window starts here
                del self.held[key]
                self.told_at[key] = now
                due.append(key)
        return due
