"""The client's side of a server whose store is out of reach (asyncio).

:class:`StoreWatch` reads every answer the session hands over (:meth:`StoreWatch.seen`):
a refusal :func:`~app.client.store_outage.is_store_unavailable` marks the server degraded
(``model.store_available`` False, a :class:`~app.client.events.StoreChanged`), and one
probe task asks a cheap read on the capped backoff of
:class:`~app.client.store_outage.StoreOutage` until a request is answered through the
store again; then the model says so and what was left to do once the store is back
(:meth:`StoreWatch.when_back`) is done, once. Nothing is probed while the server is
healthy, and an outage ends with the connection (a new login says the store works). A
server that granted extension ``health`` tells the outage and its end itself (a
``<health>`` notice): the model follows it at once, even while the client sends nothing,
and the probe stops, as the server will say when the store is back (an answer to a request
sent before the notice, which may come after it, does not end that outage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.client.errors import ClientError
from app.client.events import ConnectionChanged, ConnectionState, ModelEvent
from app.client.model import ClientModel
from app.client.session import (
    NotificationReceived,
    RequestRefused,
    ResponseReceived,
    SessionEvent,
)
from app.client.store_outage import StoreOutage, answered_through_store, is_store_unavailable
from app.client.tasks import TaskSet
from app.protocol.health import HealthNotice

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]


class StoreWatch:
    """Degraded or not, the probe while degraded, and what waits for the store."""

    def __init__(self, model: ClientModel, tasks: TaskSet, probe: Probe,
                 backoff: tuple[float, float]) -> None:
        self._model = model
        self._tasks = tasks
        self._probe = probe
        self.outage = StoreOutage(*backoff)
        self._probing: asyncio.Task[None] | None = None
        self._waiting: dict[str, Callable[[], object]] = {}
        model.subscribe(self._on_model_event)

    @property
    def probes(self) -> int:
        """Probes sent in the current (or last) outage."""
        return self.outage.probes

    def seen(self, event: SessionEvent) -> None:
        """Every request's outcome, in wire order."""
        if isinstance(event, RequestRefused) and is_store_unavailable(event.error.errcode,
                                                                      event.error.errmsg):
            if self.outage.refused(asyncio.get_running_loop().time()):
                logger.warning("the server cannot reach its store: %s", event.error.errmsg)
                self._model.set_store_available(False)
                self._probing = self._tasks.spawn(self._probe_until_back(), "store-probe")
        elif (isinstance(event, ResponseReceived) and answered_through_store(event.request)
              and self.outage.answered()):
            self._back()
        elif isinstance(event, NotificationReceived) and isinstance(event.body, HealthNotice):
            self._told(event.body)

    def _told(self, notice: HealthNotice) -> None:
        """Extension health: the server says its store is unreachable or back."""
        if not notice.degraded:
            if self.outage.reset():
                self._back()
            return
        started = self.outage.told_unreachable()
        self._stop_probing()  # (a refusal's probe: the server now says when it is back)
        if started:
            logger.warning("the server says it cannot reach its store")
            self._model.set_store_available(False)

    def _back(self) -> None:
        logger.info("the server reaches its store again")
        self._stop_probing()
        self._model.set_store_available(True)
        waiting, self._waiting = self._waiting, {}
        for action in waiting.values():
            action()

    def when_back(self, key: str, action: Callable[[], object]) -> bool:
        """Call ``action`` once the server answers through its store again (it replaces an
        action of the same ``key``); dropped if the connection ends first. False (nothing
        kept) when the server is not degraded."""
        if not self.outage.degraded:
            return False
        self._waiting[key] = action
        return True

    def forget(self, key: str) -> None:
        self._waiting.pop(key, None)

    def _on_model_event(self, event: ModelEvent) -> None:
        if isinstance(event, ConnectionChanged) and event.state is not ConnectionState.CONNECTED:
            self._stop_probing()
            self.outage.reset()
            self._waiting.clear()

    def _stop_probing(self) -> None:
        task, self._probing = self._probing, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _probe_until_back(self) -> None:
        loop = asyncio.get_running_loop()
        while (due := self.outage.probe_due()) is not None:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not self.outage.degraded:
                return
            self.outage.probe_sent(loop.time())
            try:
                await self._probe()
            except ClientError as exc:  # refused again (seen above), or the link is going
                logger.debug("store probe: %s", exc)
