"""The server's health as the connection shows it, a side of
:class:`~app.client.model.ClientModel`: whether our audio gets through (UDP), and whether
the server reaches its shared store (a cluster node whose Redis is down refuses what goes
through it: :mod:`app.client.store_outage`).

A mixin over the model's state (the attributes declared below).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from app.client.events import MediaPathChanged, ModelEvent, StoreChanged


class HealthModel:
    """Connected, and how well: audio both ways, the server's store reachable."""

    _media_reachable: bool
    _store_available: bool
    _emit: Callable[[ModelEvent], None]
    _batch: Callable[[], AbstractContextManager[None]]

    @property
    def media_reachable(self) -> bool:
        """False while the server answers none of our media registrations (UDP blocked
        on the way): connected, but no audio either way."""
        return self._media_reachable

    def set_media_reachable(self, reachable: bool) -> None:
        with self._batch():
            if reachable is not self._media_reachable:
                self._media_reachable = reachable
                self._emit(MediaPathChanged(reachable))

    @property
    def store_available(self) -> bool:
        """False while the server refuses our requests because it cannot reach its store
        (degraded: connected, but joins, talks and reads are refused until it is back)."""
        return self._store_available

    def set_store_available(self, available: bool) -> None:
        with self._batch():
            if available is not self._store_available:
                self._store_available = available
                self._emit(StoreChanged(available))
