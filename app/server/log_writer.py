"""The writer of a node's events to the shared log in Redis, and the deadlines of its requests.

Part of :class:`~app.server.redis_store.RedisStore`, which starts its two tasks. The
writer appends what the :class:`~app.server.replica.Replica` hands it, in order, one
pipeline at a time, on its own client: one attempt per append (redis-py's retries would
send an append whose answer was lost a second time), on a connection taken before
sending (a failure to connect is an append not sent). An append that fails before
anything was sent refuses its requests at once; one that fails after sending leaves them
in doubt: once Redis answers again, the log's end is read and they are settled when the
store's reader has applied the log up to there (:mod:`app.server.append_doubt`). A
request not known to be in the log the answer limit after it was made is refused
(:meth:`LogWriter.deadlines`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from app.server.redis_support import RETRY, STORE_FAULTS, connection_of, log_entry, stream_id
from app.server.replica import Event, Replica
from app.server.store_stall import SLOW, watched

if TYPE_CHECKING:
    from app.server.tcp import SignalingServer

log = logging.getLogger(__name__)


class LogWriter:
    """Appends ``replica``'s events to ``stream`` with ``redis`` (a client that tries each
    command once) and delivers what follows from them through ``hub``.

    ``answer_limit``: seconds within which a request whose append went wrong is answered;
    ``read_to``: the log id up to which the store's reader has applied the log;
    ``set_available``: the store's, told when Redis cannot be reached; ``stopping``:
    whether the store is stopping; ``slow``: seconds an append may wait before the store
    counts as unreachable (it goes on waiting for its answer)."""

    def __init__(self, redis: Redis, stream: str, replica: Replica, hub: SignalingServer, *,
                 answer_limit: float, read_to: Callable[[], str],
                 set_available: Callable[[bool, BaseException | None], None],
                 stopping: Callable[[], bool], slow: float = SLOW) -> None:
        self.redis = redis
        self.stream = stream
        self.replica = replica
        self.hub = hub
        self.answer_limit = answer_limit
        self._read_to = read_to
        self._set_available = set_available
        self._stopping = stopping
        self.slow = slow
        self._wake = asyncio.Event()
        self._watch = asyncio.Event()  # a request was handed to the log: its deadline
        self._check: tuple[tuple[int, int], set[int]] | None = None
        """(the log's end read once Redis answered again, the refs then in doubt): they
        are settled when the reader has applied the log up to there."""
        self.retry: list[Event] = []
        """Events whose append failed, appended again when the store answers (or at the
        stop, before this node's ``down``), in their order and ahead of newer ones: a node
        applies an event only if its ``eid`` is above the highest of its node applied
        (:mod:`app.server.event_ids`), so one that had reached Redis after all is applied
        once."""
        self.sending: list[Event] = []
        """The events of the append under way, until Redis answered it (or it failed: then
        in :attr:`retry`). A node that stops meanwhile appends them again, first (they may
        not have reached Redis; a copy of one that did is skipped by every node)."""

    def wake(self) -> None:
        """Events wait in the replica: append them."""
        self._wake.set()

    def handed(self) -> None:
        """:attr:`Replica.wake`: an event to append (the writer), maybe a request's
        deadline to keep (:meth:`deadlines`)."""
        self._wake.set()
        self._watch.set()

    async def run(self) -> None:
        """Appends what the replica hands it, in order, one pipeline at a time. An append
        that fails before anything was sent refuses its requests at once; one that fails
        after sending leaves them in doubt: once Redis answers again, the log's end is read
        and the reader settles them when it has applied the log up to there."""
        replica, hub, redis = self.replica, self.hub, self.redis
        loop = asyncio.get_running_loop()
        stream = self.stream
        while not self._stopping():
            if not self.retry and not self._unchecked():
                await self._wake.wait()
            self._wake.clear()
            if self._unchecked():
                try:
                    last = await redis.xrevrange(stream, count=1)
                except STORE_FAULTS as exc:
                    self._set_available(False, exc)
                    log.debug("reading the log's end failed: %s", exc)
                else:
                    end = stream_id(str(last[0][0])) if last else (0, 0)
                    self._check = (end, replica.doubt.unsure())
                    self.settle_if_read(loop.time())
            events = self.retry + replica.take_outgoing()
            self.retry = []
            if not events:
                if self._unchecked():
                    await asyncio.sleep(RETRY)
                continue
            pipe = redis.pipeline(transaction=False)
            for event in events:
                pipe.xadd(stream, log_entry(event))
            sent = False
            self.sending = events
            try:
                pipe.connection = await connection_of(redis)
                sent = True  # from here on Redis may run them whatever becomes of the reply
                await watched(loop, pipe.execute(), self.slow, "an append", self._stalled)
            except STORE_FAULTS as exc:
                self.sending = []
                self._set_available(False, exc)
                log.debug("append failed (%s): %s", "sent, outcome unknown" if sent
                          else "not sent", exc)
                outbox, self.retry = replica.doubt.append_failed(events, loop.time(),
                                                                 sent=sent)
                if sent:
                    self._check = None  # the log's end is read again, after this failure
                hub.deliver(outbox)
                hub.reschedule()
                await asyncio.sleep(RETRY)
            else:
                self.sending = []
                replica.doubt.appended(events)

    def _stalled(self, why: BaseException) -> None:
        self._set_available(False, why)

    def _unchecked(self) -> bool:
        """Whether requests are in doubt and the log's end was not read since."""
        return self._check is None and bool(self.replica.doubt.unsure())

    def settle_if_read(self, now: float) -> None:
        """Once the reader has applied the log up to the end read after appends failed,
        the requests then in doubt are settled: applied (answered) or refused."""
        check = self._check
        if check is None:
            return
        if stream_id(self._read_to()) < check[0]:
            return
        self._check = None
        self.hub.deliver(self.replica.doubt.settle(check[1], now))
        self.hub.reschedule()

    async def deadlines(self) -> None:
        """A request not known to be in the log :attr:`answer_limit` seconds after it was
        made is refused (:meth:`~app.server.append_doubt.AppendDoubt.expire`)."""
        replica, hub = self.replica, self.hub
        loop = asyncio.get_running_loop()
        while not self._stopping():
            deadline = replica.doubt.next_deadline(self.answer_limit)
            if deadline is None:
                await self._watch.wait()
                self._watch.clear()
                continue
            if deadline > loop.time():  # (later requests have later deadlines)
                await asyncio.sleep(deadline - loop.time())
                continue
            hub.deliver(replica.doubt.expire(loop.time(), self.answer_limit))
            hub.reschedule()
