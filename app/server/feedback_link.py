"""Extension ``feedback`` on several nodes: the Redis half of the report carrier.

Each node subscribes to its own channel, ``<prefix>feedback:<node number>`` (Redis
pub/sub: nothing is stored, and a message reaches only the node subscribed to it), and
publishes there what its :class:`~app.server.feedback_carrier.FeedbackCarrier` holds for
that node: one ``PUBLISH`` per destination node, carrying the latest report of each of
its listeners, at most every :data:`~app.server.feedback_carrier.FLUSH_SECONDS`. Why
not the shared log: a report is about one second old at most and matters to one node
only; in the log every report would be an entry that every node reads and applies, that
is kept until the next snapshot, and that delays the changes behind it.

What cannot be published (Redis unreachable) or arrives while a node is not subscribed
is lost, as is a report a client's lossy link dropped: the listener's next report, a
second later, replaces it. A node that stops or dies stops carrying its listeners'
reports; they age out of the holder's aggregate within its window (and leave it at once
when the node's sessions end through the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from app.server.feedback_carrier import FLUSH_SECONDS, decode
from app.server.redis_support import STORE_FAULTS
from app.server.replica import Replica

if TYPE_CHECKING:
    from app.server.tcp import SignalingServer

log = logging.getLogger(__name__)

RETRY = 0.2
"""Seconds between attempts to subscribe while Redis cannot be reached."""
LISTEN_TIMEOUT = 1.0


class FeedbackLink:
    """Publishes this node's carried reports and applies those published for it."""

    def __init__(self, client: Callable[[], Redis], channel: Callable[[int], str],
                 node: int, replica: Replica, hub: SignalingServer) -> None:
        self._client = client
        self._channel = channel
        self.node = node
        self.replica = replica
        self.hub = hub
        self._wake = asyncio.Event()
        self.published = 0  # messages published (one per destination node and flush)
        self.received = 0  # reports applied from other nodes' messages
        replica.feedback.wake = self._wake.set

    async def run(self) -> None:
        """Until cancelled (the store's :meth:`~app.server.redis_store.RedisStore.stop`)."""
        redis = self._client()
        try:
            await asyncio.gather(self._publish(redis), self._subscribe(redis))
        finally:
            with contextlib.suppress(*STORE_FAULTS):
                await redis.aclose()

    async def _publish(self, redis: Redis) -> None:
        carrier = self.replica.feedback
        while True:
            await self._wake.wait()
            self._wake.clear()
            messages = carrier.take()
            if not messages:
                continue
            try:
                pipe = redis.pipeline(transaction=False)
                for node, text in messages.items():
                    pipe.publish(self._channel(node), text)
                await pipe.execute()
                self.published += len(messages)
            except STORE_FAULTS as exc:
                log.debug("feedback reports for node(s) %s lost: %s",
                          ", ".join(map(str, messages)), exc)
            await asyncio.sleep(FLUSH_SECONDS)  # what comes meanwhile goes in one message

    async def _subscribe(self, redis: Redis) -> None:
        channel = self._channel(self.node)
        loop = asyncio.get_running_loop()
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(timeout=LISTEN_TIMEOUT)
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"], loop.time())
            except STORE_FAULTS as exc:
                log.debug("feedback channel %s: %s (subscribing again)", channel, exc)
            finally:
                with contextlib.suppress(*STORE_FAULTS):
                    await pubsub.aclose()
            await asyncio.sleep(RETRY)

    def _apply(self, data: str | bytes, now: float) -> None:
        state, hub = self.replica.state, self.hub
        for report in decode(data):
            hub.deliver(state.quality_carried(report, now))
            self.received += 1
        hub.reschedule()  # a change held back by the notices' gap: the state's timer
