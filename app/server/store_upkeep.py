"""The upkeep of the Redis store's shared keys, done by the nodes themselves.

Part of :class:`~app.server.redis_store.RedisStore` (its heartbeat and reader call it):
nodes whose heartbeat stopped are given up (out of ``nodes``, their ``down`` in ``log``,
in one Lua script: :data:`GIVE_UP`), and ``log`` is kept short by the node with the
lowest number, which writes a snapshot of the replicated state every so many entries
and trims the log below both that snapshot and every node's position.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.server.redis_support import encoded_event, redis_result, stream_id
from app.server.replica import Replica

GIVE_UP = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
    redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
    return 1
end
return 0
"""
"""A node given up (KEYS: ``nodes``, ``log``; ARGV: its number, its ``down`` event): out
of ``nodes`` and its ``down`` appended at once, by the one sweeper whose ``HDEL`` removes
it (a script runs whole: no other command in between)."""


async def trimmed_past(redis: Redis, stream: str, at: str) -> bool:
    """Whether the log ``stream`` lost entries after ``at`` (trimmed by a leader that had not
    yet seen this node; Redis 7 reports the highest deleted id, older ones cannot)."""
    try:
        info = await redis.xinfo_stream(stream)
    except RedisError:  # no log yet
        return False
    deleted = info.get("max-deleted-entry-id")
    return bool(deleted) and stream_id(str(deleted)) > stream_id(str(at))


class StoreUpkeep:
    """One node's share of the upkeep (``key``: the store's key of a name, under its
    prefix; ``swept``: told of each node this node gave up, with its entry in ``nodes``)."""

    def __init__(self, key: Callable[[str], str], *,
                 swept: Callable[[int, str], None]) -> None:
        self.key = key
        self._swept = swept
        self._snapshot_id: tuple[int, int] | None = None  # the log entry it covers
        self._missing: dict[int, int] = {}  # node -> sweeps in a row without its heartbeat

    async def snapshot_and_trim(self, redis: Redis, replica: Replica, this_node: int,
                                at: str, *, anyway: bool = False) -> None:
        """If ``this_node`` has the lowest number (or ``anyway``: Redis lost its data and
        this node put it back): write a snapshot of ``replica``, which has applied the log
        up to ``at``, then trim."""
        known = await redis_result(redis.hgetall(self.key("nodes")))
        if not anyway and (not known or min(int(n) for n in known) != this_node):
            return
        snapshot = replica.snapshot(at, asyncio.get_running_loop().time())
        await redis.set(self.key("snapshot"), json.dumps(snapshot))
        self._snapshot_id = stream_id(at)
        await self._trim(redis, known)

    async def _trim(self, redis: Redis, known: dict[str, str]) -> None:
        """Drop the log entries that this node's last snapshot covers and every node in
        ``known`` (the ``nodes`` hash, with each one's position) has read."""
        if self._snapshot_id is None:
            return
        positions = [self._snapshot_id]
        for info in known.values():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                positions.append(stream_id(str(json.loads(info).get("at", "0-0"))))
        low = min(positions)
        if low > (0, 0):
            await redis.xtrim(self.key("log"), minid=f"{low[0]}-{low[1]}", approximate=False)

    async def sweep(self, redis: Redis, known: dict[str, str], this_node: int) -> None:
        """Give up every node whose heartbeat is gone at two sweeps in a row (so that this
        node's own pause, e.g. a busy host, cannot pass for another's death); exactly one
        sweeper (the one whose ``HDEL`` removes it) appends its end, in the same step
        (:data:`GIVE_UP`: a sweeper that died between the two would have left it out of
        ``nodes`` with its sessions in everyone's state for good). ``known``: the node list
        just read."""
        nodes = self.key("nodes")
        for node in [n for n in self._missing if str(n) not in known]:
            del self._missing[node]
        for number, info in list(known.items()):
            node = int(number)
            if node == this_node or await redis.exists(self.key(f"alive:{node}")):
                self._missing.pop(node, None)
                continue
            self._missing[node] = self._missing.get(node, 0) + 1
            if self._missing[node] < 2:
                continue
            del self._missing[node]
            down = encoded_event({"t": "down", "node": node})
            if await redis_result(redis.eval(GIVE_UP, 2, nodes, self.key("log"), number, down)):
                known.pop(number, None)
                self._swept(node, info)
        if known and min(int(n) for n in known) == this_node:
            await self._trim(redis, known)
