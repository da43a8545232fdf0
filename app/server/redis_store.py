"""The Redis store: the shared log of several server nodes, and their heartbeats.

The I/O half of :class:`~app.server.replica.Replica` (redis-py's asyncio API). Keys,
under a prefix (default ``interphone:``):

- ``log`` - a Redis Stream, the one order of every change (sessions, memberships,
  floors, media registrations, node deaths). Each node appends its events (one writer
  task, in order, pipelined: :mod:`app.server.log_writer`) and reads the whole stream
  from its start (one reader task, ``XREAD BLOCK``), applying every entry to its replica
  as it comes.
- ``node-seq`` - ``INCR``-ed once per node start: the node's number (session ids are
  ``number << 32 + n``).
- ``restored`` - a mark set when a node put back what a Redis that lost its data under
  running nodes lost (``node-seq``, ``media-secret``, a snapshot:
  :data:`~app.server.store_upkeep.RESEED`); every node that finds it changed since its
  start says the data was lost.
- ``media-secret`` - the cluster secret (base64, ``SET NX`` by the first node that
  connects, read by every node): media-auth voice keys derive from it
  (:mod:`app.server.cluster_keys`), so every node hands its members the same key, and
  so does the key that authenticates the audio the nodes forward to each other
  (:mod:`app.server.node_auth`; with the operator's ``cluster_key`` mixed in if set).
- ``nodes`` - a hash, node number -> ``{"name", "media": [host, port], "at": log id,
  "sent": n, "dir": fingerprint}`` (its relay, how far it has read the log, the counter
  of the audio it forwarded to other nodes last, and its directory's fingerprint: a node
  serving another directory for long is warned of). Every node reads it at start and at
  every heartbeat: what another node forwarded up to the counter read there (at start) or
  read at the heartbeat before (then) is refused as a replay, and a node that forwards
  audio before this node knows it (its entry was not there yet at this node's start) is
  looked up in it at once (:mod:`app.server.node_auth`).
- ``snapshot`` - the replicated state after log entry ``at``
  (:meth:`~app.server.replica.Replica.snapshot`), written every ``snapshot_every``
  entries by the node with the lowest number, which also trims ``log`` below both the
  snapshot and every node's position (:mod:`app.server.store_upkeep`). A starting node
  says it is at ``0-0`` (so nothing is trimmed under it), restores the snapshot, and
  reads the log after it.
- ``feedback:<number>`` - not a key: the pub/sub channel on which the other nodes publish
  their listeners' quality reports about a floor holder on node ``number`` (extension
  ``feedback``, :mod:`app.server.feedback_link`).
- ``alive:<number>`` - a heartbeat key set every ``beat`` seconds with a TTL of
  ``ttl`` seconds. Every node sweeps ``nodes`` every ``beat``: a node without its key at
  two sweeps in a row is removed from the hash (``HDEL``, so exactly one sweeper wins)
  and its ``down`` event appended, in one Lua script
  (:data:`~app.server.store_upkeep.GIVE_UP`): every node then ends that node's sessions
  (members leave, floors free). A death is noticed within about ``ttl + 2 * beat``.

While Redis cannot be reached a node keeps its sessions (pings are answered) but refuses
every request that goes through the log, logins and reads (sync, members, presence)
included, with errcode 500 and errmsg "store unavailable: ..." (a read answered from its
replica could miss what other nodes that still reach Redis acknowledged). A request whose
append failed after it was sent (Redis may have run it) waits until Redis answers and the
log is read up to its end: answered as applied if its entry is there, refused if not, and
refused at the latest :attr:`RedisStore.answer_limit` (3 s) after it was made (undone
if it turns up later: :mod:`app.server.append_doubt`). A Redis that hangs (paused, a slow
disk, packets dropped) counts as unreachable once a heartbeat's round or an append waited
``slow`` (1 s) for it, though its commands wait up to ``socket_timeout`` (5 s) for their
answer (:mod:`app.server.store_stall`): clients hear "store unavailable" within their
request timeout (5 s), not silence. Each change of reachability is told to the sessions
granted extension health (:meth:`~app.server.health_rules.HealthRules.store_reachability`),
so that an idle client shows the outage too. A floor's release (``speak off``, or its
holder's connection lost) is not refused: the node lets go on its own, tells its sessions
and stops relaying the talker at once (:mod:`app.server.lone_release`); Redis holds no
lease that would end a floor by itself. What the node must tell the others (logouts,
media registrations, revocations, such releases) waits and is appended, in order, when
Redis is back. A node cut off for so long that the others gave it up reads
its own death when Redis is back: it closes its clients and sets
:attr:`RedisStore.given_up` (``interphone-server`` exits with code 1, to start again as
a new node: the others never hear its number again). So does a node one of whose tasks
(writer, reader, heartbeat, feedback) ended on an error no retry covers
(:attr:`RedisStore.failed`): it no longer follows the shared state.

A node that stops leaves ``nodes``, appends its ``down`` (``left``) and deletes its
heartbeat key in one transaction (:meth:`RedisStore.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.protocol.media_crypto import SECRET_BYTES, decode_b64, encode_b64, new_secret
from app.server.directory_agreement import DIRECTORY_GRACE, DirectoryAgreement
from app.server.feedback_link import FeedbackLink
from app.server.keep_alive import STALL_LIMIT, KeepAlive
from app.server.log_writer import LogWriter
from app.server.node_auth import forward_key
from app.server.node_look_up import NodeLookUps
from app.server.records import Address
from app.server.redis_support import (
    RETRY,
    STORE_FAULTS,
    describe_node,
    log_entry,
    redacted_url,
    redis_result,
    stream_id,
)
from app.server.replica import Replica
from app.server.store_outage import StoreOutage
from app.server.store_stall import ANSWER_LIMIT, SLOW, watched
from app.server.store_upkeep import StoreUpkeep, trimmed_past

if TYPE_CHECKING:
    from app.server.tcp import SignalingServer

log = logging.getLogger(__name__)


READ_BATCH = 500
"""Log entries read at once."""
READ_BLOCK = 1.0
"""Seconds the reader's ``XREAD`` waits for new entries (its socket timeout is longer)."""
SNAPSHOT_EVERY = 10_000
"""Log entries between two snapshots (written by the node with the lowest number, which
then trims the log below the position of the node furthest behind)."""
YIELD_EVERY = 20
"""Log entries applied between two returns to the event loop (heartbeats, clients)."""
SOCKET_TIMEOUT = 5.0
"""Seconds a command waits for Redis' answer before its connection counts as failed."""


class RedisStore:
    """Connects a node to the shared log in Redis (``url``: ``redis://host:port/db``)."""

    def __init__(self, url: str, name: str = "", *, prefix: str = "interphone:",
                 beat: float = 1.0, ttl: float = 3.0,
                 snapshot_every: int = SNAPSHOT_EVERY, cluster_key: bytes = b"",
                 socket_timeout: float = SOCKET_TIMEOUT,
                 directory_grace: float = DIRECTORY_GRACE,
                 stall_limit: float = STALL_LIMIT, slow: float = SLOW,
                 limit: float = ANSWER_LIMIT) -> None:
        self.url = url
        self.slow = slow  # seconds Redis may leave a heartbeat or an append unanswered
        self.limit = limit  # seconds a request is answered within (socket timeout allowing)
        self.stall_limit = stall_limit
        self.keep_alive: KeepAlive | None = None  # the heartbeat while the loop is held
        self.socket_timeout = socket_timeout
        self.name = name
        self.prefix = prefix
        self.beat = beat
        self.ttl = ttl
        self.snapshot_every = snapshot_every
        self._snapshot_at = 0  # self.applied when this node last wrote a snapshot
        self.node = 0
        self.replica: Replica | None = None
        self.hub: SignalingServer | None = None
        self.feedback: FeedbackLink | None = None
        """Extension ``feedback``: the reports carried between nodes (channels
        ``feedback:<number>``, :mod:`app.server.feedback_link`)."""
        self._writer_redis: Redis | None = None
        self._reader_redis: Redis | None = None
        self._append_redis: Redis | None = None
        """The appends' own client: one attempt per append (:mod:`app.server.log_writer`)."""
        self.writer: LogWriter | None = None
        """Appends the replica's events, and refuses requests past their deadline (set by
        :meth:`attach`)."""
        self.upkeep = StoreUpkeep(self.key, swept=self._swept)
        """Nodes that stopped beating given up, the log snapshotted and trimmed."""
        self.nodes = 0
        """Nodes in ``nodes`` at this node's last heartbeat, itself included (the live ones:
        ``interphone_cluster_nodes``)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._last_id = "0"
        self._healthy_since: float | None = None
        self._stopping = False
        self._stopped = asyncio.Event()  # set when the first stop() is over
        self.applied = 0
        self._start_end: tuple[int, int] | None = None  # the log's last entry at this start
        self._loaded = False  # the snapshot (if any) restored, the log's end at start read
        self._replayed = 0  # entries up to it applied so far (their log lines not written)
        self._restored: str | None = None  # the store's ``restored`` at this node's start
        self.directories = DirectoryAgreement(directory_grace)  # one directory everywhere?
        self._outage = StoreOutage(redacted_url(url))
        self._snapshot_due = False  # a snapshot to write at once (the store lost its data)
        self.given_up = asyncio.Event()
        """Set when this node read its own death in the log: the other nodes gave it up
        (it could not reach Redis for longer than ``ttl``) and no longer hear its relay;
        ``interphone-server`` then stops with exit code 1, to start again as a new node."""
        self.failed = asyncio.Event()
        """Set when one of this node's tasks (writer, reader, heartbeat, feedback) ended on
        an error its retries do not cover: the node no longer follows the shared state, and
        ``interphone-server`` stops with exit code 1, to start again as a new node."""
        self.latency: float | None = None
        """Seconds of this node's last heartbeat round trip to Redis (None before the first
        or while Redis cannot be reached): ``interphone_store_latency_seconds{node}``."""
        self.send_datagram: Callable[[bytes, Address], None] | None = None
        """The relay's ``sendto`` (recvbegin acknowledgements), set by the server."""
        self.redeliver: Callable[[bytes, Address], None] | None = None
        """The relay's ``datagram_received``: forwarded audio held while its node was
        looked up is judged again through it (set by the server)."""
        self._readings: dict[int, int] = {}
        """Node -> the counter it had published at this node's last heartbeat's reading of
        ``nodes`` (those up to it are refused at the next: :meth:`NodeAuth.learn`)."""
        self.look_ups = NodeLookUps(self)  # nodes heard of before their entry was read
        self._loop: asyncio.AbstractEventLoop | None = None
        self.media_secret = b""
        """The cluster secret the voice keys of media-auth derive from (``media-secret``,
        set once by the first node that connects)."""
        self.cluster_key = cluster_key
        """The operator's key for audio forwarded between nodes (empty: the cluster
        secret alone; :func:`app.server.node_auth.forward_key`)."""
        self.forward_key = b""
        """The key of audio forwarded between nodes (:mod:`app.server.node_auth`)."""

    @property
    def safe_url(self) -> str:
        """``url`` for logs: a password in it shows as ``***``."""
        return redacted_url(self.url)

    def key(self, name: str) -> str:
        return self.prefix + name

    @property
    def caught_up(self) -> bool:
        """Whether this node's replica holds the whole shared state: the snapshot restored
        and the log applied up to where it ended when this node started."""
        return self._loaded and (self._start_end is None
                                 or stream_id(self._last_id) >= self._start_end)

    def not_ready(self) -> str:
        """Why this node does not serve as the others do (empty when it does): still
        connecting, given up by the others (it must start again as a new node), still
        catching up with the log, or the store unreachable (every change refused)."""
        if self.replica is None:
            return "connecting to the store"
        if self.given_up.is_set():
            return "given up by the other nodes: start it again"
        if self.failed.is_set():
            return "a task of its store link failed: start it again"
        if not self.caught_up:
            return "catching up with the shared log"
        if not self.replica.available:
            return "store unreachable: changes refused"
        return ""

    @property
    def answer_limit(self) -> float:
        """Seconds within which a request that went to the log is answered: ``limit``
        (below a client's request timeout: :mod:`app.server.store_stall`), or sooner the
        socket timeout (an append that hangs fails within it) plus one heartbeat (Redis
        answers again, the log is read up to its end)."""
        return min(self.limit, self.socket_timeout + self.beat)

    def _client(self, **options: Any) -> Redis:
        options.setdefault("socket_timeout", self.socket_timeout)
        return Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=2.0,
                              health_check_interval=0, **options)

    async def connect(self) -> int:
        """Take a node number (raises :class:`RedisError`/:class:`OSError` if unreachable)."""
        self._writer_redis = self._client()
        self._reader_redis = self._client(
            socket_timeout=max(self.socket_timeout, READ_BLOCK + 1.0))
        self._append_redis = self._client(retry=Retry(NoBackoff(), 0))
        self.node = int(await self._writer_redis.incr(self.key("node-seq")))
        self._restored = await self._writer_redis.get(self.key("restored"))
        secret = self.key("media-secret")  # media-auth: the cluster's (app.server.cluster_keys)
        await self._writer_redis.set(secret, encode_b64(new_secret()), nx=True)
        self.media_secret = decode_b64(str(await self._writer_redis.get(secret)), SECRET_BYTES)
        self.forward_key = forward_key(self.media_secret, self.cluster_key)
        self.name = self.name or f"node-{self.node}"
        return self.node

    def attach(self, replica: Replica, hub: SignalingServer) -> None:
        """Start the writer, reader and heartbeat tasks for ``replica`` behind ``hub``."""
        self.replica, self.hub = replica, hub
        replica.use_media_secret(self.media_secret)
        assert self._append_redis is not None
        self.writer = writer = LogWriter(self._append_redis, self.key("log"), replica, hub,
                                         answer_limit=self.answer_limit,
                                         read_to=lambda: self._last_id,
                                         set_available=self._set_available,
                                         slow=self.slow,
                                         stopping=lambda: self._stopping)
        replica.wake = writer.handed
        replica.given_up = self._given_up
        if replica.outgoing:  # requests of clients accepted while the node was starting
            writer.wake()
        self._loop = asyncio.get_running_loop()
        if replica.state.node_auth is not None:
            replica.state.node_auth.look_up = self.look_ups.look_up
        self.feedback = FeedbackLink(self._client, lambda node: self.key(f"feedback:{node}"),
                                     self.node, replica, hub)
        self.keep_alive = KeepAlive(self.url, self.key(f"alive:{self.node}"), self.name,
                                    beat=self.beat, ttl=self.ttl, stall_limit=self.stall_limit)
        self.keep_alive.start()
        self._tasks = [asyncio.create_task(coro, name=f"store {name}") for name, coro in
                       (("writer", writer.run()), ("reader", self._reader()),
                        ("heartbeat", self._heartbeat()), ("feedback", self.feedback.run()),
                        ("deadlines", writer.deadlines()))]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        log.error("the %s task ended (%s): this node no longer follows the shared state and "
                  "must start again as a new node", task.get_name(),
                  f"{type(exc).__name__}: {exc}" if exc else "returned",
                  exc_info=exc)
        self.failed.set()

    async def stop(self) -> None:
        """Tell the others this node is gone (its sessions end at once), then disconnect.

        What does not wait for an answer (logouts, revocations, a node this node gave up:
        removed from ``nodes`` already, so no other node would append its death) and the
        writer had not appended goes first, in order: its append under way when it was
        stopped (which may not have reached Redis: a copy of what did is skipped by every
        node, :mod:`app.server.event_ids`), what failed to append, what it had not taken
        yet. Then, in one transaction, this node leaves ``nodes``, its ``down`` is
        appended and its heartbeat key deleted: no other node reads this node in ``nodes``
        once its ``down`` is in the log (it would learn it again), nor finds it gone from
        ``nodes`` without its ``down`` (its sessions would stay).

        Once only: a later call (the server's stop after the store's, or a stop from
        another task meanwhile) waits until the first is over and does nothing more (a
        second ``down`` of this node, with a new ``eid``, in the log)."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True  # redis-py may turn a cancellation into a connection error
        try:
            await self._leave()
        finally:
            self._stopped.set()

    async def _leave(self) -> None:
        """:meth:`stop`'s work: the tasks ended, what was left and this node's ``down``
        appended, the clients closed."""
        keep_alive, self.keep_alive = self.keep_alive, None
        if keep_alive is not None:
            await asyncio.to_thread(keep_alive.stop)  # before the key is deleted
        tasks = self._tasks + list(self.look_ups.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        redis = self._writer_redis
        if redis is not None and self.replica is not None and self.writer is not None:
            writer = self.writer
            left = [event for event in writer.sending + writer.retry
                    + self.replica.take_outgoing() if "ref" not in event]
            writer.sending, writer.retry = [], []
            stream = self.key("log")
            try:
                pipe = redis.pipeline(transaction=True)
                for event in left:
                    pipe.xadd(stream, log_entry(event))
                pipe.hdel(self.key("nodes"), str(self.node))
                down = self.replica.ids.stamp({"t": "down", "node": self.node, "left": True})
                pipe.xadd(stream, log_entry(down))
                pipe.delete(self.key(f"alive:{self.node}"))
                await pipe.execute()
                log.info("node %d (%s) left the store %s: the other nodes end its sessions",
                         self.node, self.name, self.safe_url)
            except STORE_FAULTS as exc:
                log.warning("could not tell the other nodes that this one stops, the store %s "
                            "cannot be reached (%s): they end its sessions when they give it "
                            "up, about %g s after they reach the store again", self.safe_url,
                            exc, self.ttl + 2 * self.beat)
        for client in (self._writer_redis, self._reader_redis, self._append_redis):
            if client is not None:
                with contextlib.suppress(*STORE_FAULTS):
                    await client.aclose()

    def _given_up(self) -> None:
        if not self.given_up.is_set():
            log.error("the other nodes gave this node up (node %d, %s: the store %s could not "
                      "be reached for longer than the %g s of its heartbeat's TTL) and no "
                      "longer hear its relay: its clients were closed, and it must start again "
                      "as a new node", self.node, self.name, self.safe_url, self.ttl)
        self.given_up.set()

    # ---- tasks ---------------------------------------------------------------------------------

    def _set_available(self, available: bool, why: BaseException | None = None) -> None:
        """The store answers again, or not (``why``: the error; :class:`StoreOutage`); a
        change is told to the sessions granted extension health (the state's rule)."""
        replica = self.replica
        if replica is None:
            return
        was = replica.available
        if self._outage.set_available(replica, available, why):
            self._healthy_since = None
        if replica.available is not was and self.hub is not None:
            now = asyncio.get_running_loop().time()
            self.hub.deliver(replica.state.store_reachability(replica.available, now))
            self.hub.reschedule()

    async def _reader(self) -> None:
        replica, hub, redis, writer = self.replica, self.hub, self._reader_redis, self.writer
        assert replica is not None and hub is not None and redis is not None
        assert writer is not None
        loop = asyncio.get_running_loop()
        stream = self.key("log")
        await self._load_snapshot(redis)
        while not self._stopping:
            try:
                response = await redis.xread({stream: self._last_id}, count=READ_BATCH,
                                             block=int(READ_BLOCK * 1000))
            except STORE_FAULTS as exc:
                self._set_available(False, exc)
                log.debug("read failed: %s", exc)
                await asyncio.sleep(RETRY)
                continue
            for _, entries in response or ():
                for log_id, fields in entries:
                    self._last_id = log_id
                    self.applied += 1
                    try:
                        event = json.loads(fields["e"])
                        outbox = replica.apply(log_id, event, loop.time())
                    except Exception:
                        log.exception("cannot apply log entry %s %r", log_id, fields)
                        continue
                    if self._start_end is not None and stream_id(log_id) <= self._start_end:
                        outbox.log_lines.clear()  # the past: logged when it happened
                        self._replayed += 1
                    hub.deliver(outbox)
                    if self.applied % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # a long backlog must not starve the rest
            writer.settle_if_read(loop.time())
            if self._start_end is not None and (
                    not response or stream_id(self._last_id) >= self._start_end):
                self._start_end = None
                log.info("caught up with the shared log: %d entries from before this start "
                         "applied (their events are not logged again)", self._replayed)
            for data, address in replica.take_datagrams():
                if self.send_datagram is not None:
                    self.send_datagram(data, address)
            hub.reschedule()
            if replica.outgoing:
                writer.wake()
            due, self._snapshot_due = self._snapshot_due, False
            if due or self.applied - self._snapshot_at >= self.snapshot_every:
                self._snapshot_at = self.applied
                with contextlib.suppress(*STORE_FAULTS):
                    await self.upkeep.snapshot_and_trim(redis, replica, self.node,
                                                        self._last_id, anyway=due)

    def _me(self, at: str) -> str:
        """This node's entry in ``nodes``: its name, relay, position in the log and the
        counter of the audio it forwarded last (:mod:`app.server.node_auth`)."""
        assert self.replica is not None
        auth = self.replica.state.node_auth
        return json.dumps({"name": self.name, "media": list(self.replica.media_address[:2]),
                           "at": at, "sent": auth.sent if auth is not None else 0,
                           "dir": self.replica.state.directory.fingerprint()})

    async def _load_snapshot(self, redis: Redis) -> None:
        """Start from the latest snapshot, if any (first saying, at position 0, that the
        log must not be trimmed yet)."""
        replica = self.replica
        assert replica is not None
        while not self._stopping:
            try:
                await redis_result(redis.hset(self.key("nodes"), str(self.node), self._me("0-0")))
                text = await redis.get(self.key("snapshot"))
                if text and await trimmed_past(redis, self.key("log"), json.loads(text)["at"]):
                    continue  # a newer snapshot was written meanwhile: take that one
                last = await redis.xrevrange(self.key("log"), count=1)
                self._start_end = stream_id(str(last[0][0])) if last else None
                known = await redis_result(redis.hgetall(self.key("nodes")))
                break
            except STORE_FAULTS as exc:
                self._set_available(False, exc)
                await asyncio.sleep(RETRY)
        else:
            return
        for number, info in known.items():  # the live nodes: their forwarded audio is heard
            self._learn_node(int(number), info)
        if text:
            snapshot = json.loads(text)
            replica.restore(snapshot, asyncio.get_running_loop().time())
            self._last_id = str(snapshot["at"])
            log.info("started from the snapshot at %s", self._last_id)
        self._loaded = True

    def _learn_node(self, node: int, info: str, *, beat: bool = False) -> None:
        """``node``'s entry in ``nodes``: its relay, and the counter of the audio it had
        forwarded (what of it was sent before is refused here as a replay, if none of it
        was heard here yet). ``beat``: read at a heartbeat, so the counter read at the one
        before (a heartbeat period ago or more) is refused whatever was heard."""
        replica = self.replica
        assert replica is not None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            entry = json.loads(info)
            replica.learn_relay(node, tuple(entry["media"]), str(entry.get("name", "")))
            sent = int(entry.get("sent", 0))
            floor = 0
            if beat:
                floor = self._readings.get(node, 0)
                self._readings[node] = sent
            if replica.state.node_auth is not None:
                replica.state.node_auth.learn(node, sent, floor)

    def _learn_nodes(self, known: dict[str, str]) -> None:
        """The node list as read at a heartbeat (:meth:`_learn_node`)."""
        for node in [n for n in self._readings if str(n) not in known]:
            del self._readings[node]
        for number, info in known.items():
            node = int(number)
            if node != self.node:
                self._learn_node(node, info, beat=True)
        assert self.replica is not None
        self.directories.compare(known, self.node, self.replica.state.directory.fingerprint(),
                                  asyncio.get_running_loop().time())

    @property
    def other_directories(self) -> int:
        """Other nodes that have served another directory than this one for longer than
        the grace (``interphone_nodes_with_another_directory``)."""
        now = self._loop.time() if self._loop is not None else 0.0
        return self.directories.others(now)

    async def _heartbeat(self) -> None:
        assert self.replica is not None and self._writer_redis is not None
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if self.keep_alive is not None:
                self.keep_alive.touch()
            try:  # (a round Redis leaves unanswered makes it unreachable meanwhile)
                await watched(loop, self._beat(self._writer_redis), self.slow, "a heartbeat",
                              self._stalled)
            except STORE_FAULTS as exc:
                self._set_available(False, exc)
                self.latency = None
                log.debug("heartbeat failed: %s", exc)
            await asyncio.sleep(self.beat)

    async def _beat(self, redis: Redis) -> None:
        """One heartbeat: this node's key and entry in ``nodes`` set, the others read,
        those that stopped beating swept (after a ``ttl`` of health)."""
        loop = asyncio.get_running_loop()
        nodes = self.key("nodes")
        sent = loop.time()
        await redis.set(self.key(f"alive:{self.node}"), self.name, px=int(self.ttl * 1000))
        self.latency = loop.time() - sent
        await redis_result(redis.hset(nodes, str(self.node), self._me(self._last_id)))
        await self._check_not_lost(redis)
        known = await redis_result(redis.hgetall(nodes))
        self.nodes = len(known)
        self._learn_nodes(known)
        now = loop.time()
        if self._healthy_since is None:
            self._healthy_since = now
        self._set_available(True)
        if now - self._healthy_since >= self.ttl:
            await self.upkeep.sweep(redis, known, self.node)

    def _stalled(self, why: BaseException) -> None:
        self._set_available(False, why)
        self.latency = None

    async def _check_not_lost(self, redis: Redis) -> None:
        """When Redis lost its data under the running nodes, put back what nodes started
        from then on need (:meth:`~app.server.store_upkeep.StoreUpkeep.repair_lost`), and
        say it once, as an error, whichever node repaired it."""
        restored, put_back = await self.upkeep.repair_lost(
            redis, self.node, self._highest_known(), encode_b64(self.media_secret))
        if put_back and self.caught_up:  # (a part of the state would mislead)
            self._snapshot_due = True  # (at this node's reader's next turn)
        if restored != self._restored:
            self._restored = restored
            log.error("the store %s lost its data (restarted without appendonly, or flushed): "
                      "its node numbers, cluster secret and state were put back from the "
                      "running nodes, but what they had not all read yet is lost: restart "
                      "every node, one by one", self.safe_url)

    def _highest_known(self) -> int:
        """The highest node number this node knows of (itself, the live ones, those gone)."""
        numbers = {self.node}
        if self.replica is not None:
            numbers |= set(self.replica.relays) | self.replica.gone
            if self.replica.state.node_auth is not None:
                numbers.add(self.replica.state.node_auth.highest)
        return max(numbers)

    def _swept(self, node: int, info: str) -> None:
        """This node's sweep gave ``node`` up (``info``: its entry in ``nodes``)."""
        log.warning("node %s (%s) stopped beating: ending its sessions", node,
                    describe_node(info))
