"""Nodes heard of before this node read their entry: authenticated audio came from a node
this one does not know yet (it started meanwhile), so its entry in ``nodes`` is read at
once, and what it forwarded meanwhile is judged again (:mod:`app.server.node_auth`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, cast

from app.server.records import Address
from app.server.redis_support import STORE_FAULTS, describe_node

if TYPE_CHECKING:
    from app.server.redis_store import RedisStore

log = logging.getLogger("app.server.redis_store")  # (the store's lines, as operators know them)


class NodeLookUps:
    """The look-ups of ``store``'s node under way (:attr:`tasks`: ended at its stop)."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.tasks: set[asyncio.Task[None]] = set()

    def look_up(self, node: int) -> None:
        """:attr:`NodeAuth.look_up` (any thread): authenticated audio came from ``node``,
        which this node does not know; read its entry in ``nodes`` on the loop."""
        loop = self.store._loop
        if loop is None or self.store._stopping:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to judge
            loop.call_soon_threadsafe(self._start, node)

    def _start(self, node: int) -> None:
        task = asyncio.create_task(self._look_up_node(node))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _look_up_node(self, node: int) -> None:
        """Learn ``node`` from its entry in ``nodes`` if it has one and its heartbeat key
        (a live node: one that died, even not yet swept, stays refused), then judge again
        what it forwarded meanwhile (held by :class:`NodeAuth`)."""
        store = self.store
        replica, redis = store.replica, store._writer_redis
        assert replica is not None and redis is not None
        auth = replica.state.node_auth
        assert auth is not None
        info: str | None = None
        try:
            pipe = redis.pipeline(transaction=False)
            pipe.hget(store.key("nodes"), str(node))
            pipe.exists(store.key(f"alive:{node}"))
            entry, beating = await pipe.execute()
            info = entry if beating else None
        except STORE_FAULTS as exc:
            log.debug("look-up of node %d failed: %s", node, exc)
        finally:
            if info is not None and node not in auth.alive:
                store._learn_node(node, info)
                log.info("node %d (%s) forwarded audio before this node knew it: learned "
                         "from the node list", node, describe_node(info))
            redeliver = store.redeliver
            for data, source in auth.take_held(node):
                if redeliver is not None and not store._stopping:
                    redeliver(data, cast(Address, source))
