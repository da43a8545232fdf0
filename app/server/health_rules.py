"""Extension ``health`` (docs/protocol-extensions.md): a session granted it is told when
its node's shared store becomes unreachable and when it is reachable again, so an idle
client shows the server degraded without a request being refused first.

The store's driver (:class:`~app.server.redis_store.RedisStore`) says when reachability
changes (:meth:`HealthRules.store_reachability`); a node without a shared store never does,
and its sessions are never told anything. A mixin over
:class:`~app.server.state_base.StateBase`.
"""

from __future__ import annotations

import logging

from app.protocol.features import HEALTH
from app.protocol.health import HealthNotice, StoreState
from app.protocol.messages import Message
from app.server.outbox import Outbox
from app.server.records import Session
from app.server.state_base import StateBase

log = logging.getLogger(__name__)


class HealthRules(StateBase):
    """The store's reachability as this node's sessions granted ``health`` are told it."""

    store_unreachable_since: float | None = None
    """When this node's store became unreachable (None: reachable, or no shared store)."""

    def store_reachability(self, reachable: bool, now: float) -> Outbox:
        """The node's store became reachable or not at ``now``: a ``<health>`` notice to
        every session of this node granted ``health``, in login order. Nothing when the
        state is the one already told (a repeated report of the same outage)."""
        self.now = now
        outbox = Outbox()
        since = self.store_unreachable_since
        if reachable is (since is None):
            return outbox
        self.store_unreachable_since = None if reachable else now
        notice = Message.notification(HealthNotice(StoreState.OK if reachable
                                                   else StoreState.UNREACHABLE))
        told = 0
        for sid, session in self.sessions.items():
            if sid in self.peers and HEALTH in session.features:
                outbox.send(sid, notice)
                told += 1
        if reachable and since is not None:
            log.info("store reachable again after %.1f s: told %d session(s) granted health",
                     now - since, told)
        else:
            log.info("store unreachable: told %d session(s) granted health", told)
        return outbox

    def health_after_login(self, session: Session, outbox: Outbox) -> None:
        """Right after a login response: a session granted ``health`` is told a store that
        is not reachable now (a repeated login, or one the log handed back just before the
        store went away); when it is reachable nothing is sent."""
        if self.store_unreachable_since is not None and HEALTH in session.features:
            outbox.send(session.sid, Message.notification(HealthNotice(StoreState.UNREACHABLE)))
