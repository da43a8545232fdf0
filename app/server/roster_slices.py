"""A directory reload's roster notices (extension ``roster``), told a slice at a time.

A reload that changes every user's contacts tells every session its whole roster again
(a thousand contacts: ~55 KB each; 465 sessions: ~24 MB). Told all at once, the event
loop was held for seconds: no other client was answered meanwhile, and on a node of
several its heartbeat did not run. The state does what the reload ends at once (removals,
kicks: those notifications go first, docs/protocol-extensions.md); the notices follow
:data:`ROSTER_SLICE` sessions at a time, or fewer when telling them took
:data:`SLICE_SECONDS` already, the loop serving others between two slices.

Each notice is the roster of the directory served when it is sent: a new reload first
tells what is left of the previous one's (of the directory it served), then starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.server.directory import Directory
from app.server.outbox import Outbox
from app.server.state import ServerState

ROSTER_SLICE = 32
"""Sessions told their roster per turn of the event loop, at most (~1 ms each for a roster
of a thousand contacts: its XML spliced from each entry's, and written)."""
SLICE_SECONDS = 0.010
"""A slice ends once telling its sessions took this long (at least one is told): the
sessions' rosters and the machine's speed vary, the time others wait should not."""


class RosterSlices:
    """The roster notices of the last reload still to be told, and the task telling them."""

    def __init__(self, state: ServerState, deliver: Callable[[Outbox], None]) -> None:
        self._state = state
        self._deliver = deliver
        self._sids: list[int] = []
        self._previous: Directory | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Sessions still to be told (0: none)."""
        return len(self._sids)

    def start(self, sids: list[int], previous: Directory) -> None:
        """Tell ``sids`` (in order) their roster if it changed from ``previous``'s, a slice
        per turn of the loop. What a previous call left is told first, at once."""
        self.finish()
        self._sids, self._previous = list(sids), previous
        if self._sids:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def finish(self) -> None:
        """Tell what is left now (a new reload is about to change the directory)."""
        self.cancel()
        self._tell(len(self._sids))

    def cancel(self) -> None:
        """Tell nothing more (the server stops)."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _run(self) -> None:
        while self._sids:
            await asyncio.sleep(0)  # the loop serves others (and runs its timers) between
            self._tell(ROSTER_SLICE, time.perf_counter() + SLICE_SECONDS)
        self._task = None

    def _tell(self, count: int, until: float | None = None) -> None:
        """Tell the next ``count`` sessions; with ``until`` (a :func:`time.perf_counter`
        value), only until then, the first one whatever the time."""
        previous = self._previous
        if previous is None:
            self._sids = self._sids[count:]
            return
        told = 0
        while self._sids and told < count:
            sid = self._sids.pop(0)
            told += 1
            if sid in self._state.peers:
                outbox = Outbox()
                self._state.tell_roster(sid, previous, outbox)
                self._deliver(outbox)  # each written before the next is made
            if until is not None and time.perf_counter() >= until:
                break
