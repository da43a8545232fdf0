"""Change events delivered in batches: every event of one change, after the whole change.

:class:`~app.client.model.ClientModel` opens a :meth:`BatchedEvents.batch` around
each change and :meth:`~BatchedEvents.emit` s its events inside it; subscribers
hear of them when the outermost batch closes, so they always read a consistent
model. A subscriber that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.client.events import ModelEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[ModelEvent], None]


class BatchedEvents:
    """The subscribers of a model and the events of the change being applied."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._pending: list[ModelEvent] = []
        self._depth = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every change; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One change: the events emitted inside go out when the outermost batch ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._pending:
                events, self._pending = self._pending, []
                for event in events:
                    for callback in list(self._subscribers):
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("model subscriber %r failed on %r", callback, event)

    def emit(self, event: ModelEvent) -> None:
        self._pending.append(event)
