"""Floor hand-over in :class:`~app.server.state.ServerState`: granting the floor (grant
numbers, the relay's ``on_grant``), revoking it, and the timers of grants (``max_talk``,
silence) and of requests waiting in line.

A mixin over :class:`~app.server.state_base.StateBase`; the ``speak`` and ``emergency``
requests themselves are in :mod:`app.server.floor_rules`.
"""

from __future__ import annotations

import heapq

from app.server.floor import EndReason
from app.server.outbox import Outbox
from app.server.records import Interphone
from app.server.state_base import StateBase


class FloorGrants(StateBase):
    """Grants, revocations and the floor's timers."""

    @property
    def grants_total(self) -> int:
        """Floor grants since the start (for the metrics)."""
        return self._grants

    def _grant(self, record: Interphone, uid: str, now: float) -> None:
        self._grants += 1
        record.holder = uid
        record.granted_at = record.last_audio_at = now
        record.grant_no = self._grants
        if self.on_grant is not None:
            self.on_grant(record, uid)
        heapq.heappush(self._floor_timers,
                       (record.floor_deadline(self.settings), self._grants, str(record.id)))

    def revoke(self, record: Interphone, reason: str, outbox: Outbox) -> None:
        """Take the floor back from its holder (``max_talk`` or ``silence``) and tell; the
        head of the line, if any, is granted in the same step."""
        self.revocations[reason] = self.revocations.get(reason, 0) + 1
        end = {"max_talk": EndReason.TIME_LIMIT, "silence": EndReason.SILENCE}.get(
            reason, EndReason.SERVER)
        self._floor_changed(record, record.floor.revoke(end, self.now or 0.0), outbox)

    def _expire_grants(self, now: float, outbox: Outbox) -> None:
        """Revoke every grant past ``max_talk`` or ``silence_timeout`` (with a shared log:
        ask the log to)."""
        timers = self._floor_timers
        while timers and timers[0][0] <= now:
            _, grant_no, key = heapq.heappop(timers)
            record = self.routes.get(key)
            if record is None or record.grant_no != grant_no or not record.holder:
                continue
            deadline = record.floor_deadline(self.settings)
            if deadline > now:
                heapq.heappush(timers, (deadline, grant_no, key))
                continue
            too_long = now >= record.granted_at + self.settings.max_talk
            reason = "max_talk" if too_long else "silence"
            if self.shared is not None:
                # revoked when the log says so; asked again later if the grant still stands
                self.shared.floor_expired(record, reason)
                heapq.heappush(timers, (now + self.settings.silence_timeout, grant_no, key))
                continue
            self.revoke(record, reason, outbox)

    def _expire_queued(self, now: float, outbox: Outbox) -> None:
        """Requests waiting in line whose wait ran out (extension floor-queue)."""
        queued = self._queue_timers
        while queued and queued[0][0] <= now:
            _, key = heapq.heappop(queued)
            record = self.routes.get(key)
            if record is not None and self.shared is not None:
                if self.shared.queue_expired(record, now):  # expired when the log says so
                    heapq.heappush(queued, (now + 0.5, key))
            elif record is not None:
                self._floor_changed(record, record.floor.handle_timer(now), outbox)
