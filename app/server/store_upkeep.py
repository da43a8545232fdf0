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
import time
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


RESEED = """
local highest = tonumber(ARGV[1])
for _, number in ipairs(redis.call('HKEYS', KEYS[3])) do
    highest = math.max(highest, tonumber(number) or 0)
end
if (tonumber(redis.call('GET', KEYS[1]) or '0') or 0) >= highest then
    return 0
end
redis.call('SET', KEYS[1], highest)
redis.call('SET', KEYS[2], ARGV[2], 'NX')
redis.call('SET', KEYS[4], ARGV[3])
return 1
"""
"""After Redis lost its data (KEYS: ``node-seq``, ``media-secret``, ``nodes``, ``restored``;
ARGV: the highest node number the caller knows, its cluster secret, a mark of this
repair): ``node-seq`` raised to the highest number known (so the next node takes a new
one), the secret put back if none was set since, ``restored`` set to the mark (every node
then tells it from the one it read at its start); 0 if another node did it first."""

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

    async def repair_lost(self, redis: Redis, this_node: int, highest: int,
                          secret: str) -> tuple[str | None, bool]:
        """When Redis lost its data under the running nodes (restarted without persistence,
        flushed: ``node-seq`` is then below ``this_node``), put back what nodes started from
        then on need (:data:`RESEED`, by the first node that notices): ``node-seq`` above
        ``highest``, every node number known, and the cluster ``secret`` (base64); the
        caller then writes a snapshot of the state. Without them a node restarted
        afterwards took a number in use (and read the ``down`` of the node that had it as
        its own: given up, exit 1), made a new secret (no audio between it and the others)
        and started from an empty state. Returns the store's ``restored`` mark (a new one
        at each such repair: every node tells it from the one it read at its start) and
        whether this node did the repair."""
        seq, restored = await redis.mget(self.key("node-seq"), self.key("restored"))
        if int(seq or 0) >= this_node:
            return restored, False
        mark = f"{this_node}:{time.time_ns()}"
        put_back = await redis_result(redis.eval(
            RESEED, 4, self.key("node-seq"), self.key("media-secret"), self.key("nodes"),
            self.key("restored"), highest, secret, mark))
        return await redis.get(self.key("restored")), bool(put_back)
