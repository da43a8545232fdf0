"""The user's own talks in the instant replay: "what did I just say, did it go out cut?".

:class:`OwnTalks` takes every Opus frame the client sends (``on_sent_audio``: the frames
that went on the wire, with their seq) into a :class:`~app.client.replay.ReplayStore` as
a transmission of ours, and ends it when the floor is no longer ours (released, revoked,
lost with the link). A refused request sends nothing, so it leaves no entry. On the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.client.client import InterphoneClient
from app.client.events import FloorChanged, FloorState, ModelEvent
from app.client.replay import ReplayStore
from app.protocol.ids import InterphoneId

logger = logging.getLogger(__name__)


class OwnTalks:
    """Feeds ``client``'s own talks into ``store`` until :meth:`close`.

    ``on_stored(number)``: a frame was stored in transmission ``number`` (a new one, or
    one going on); ``on_ended()``: the talk under way ended (its entry is complete)."""

    def __init__(self, client: InterphoneClient, store: ReplayStore, *,
                 on_stored: Callable[[int], None] | None = None,
                 on_ended: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._store = store
        self._on_stored = on_stored
        self._on_ended = on_ended
        self._clock = clock
        client.on_sent_audio = self._sent
        # (subscribed after the client itself, which delivers the frames sent before the
        # floor change it tells)
        self._unsubscribe = client.model.subscribe(self._on_event)

    def _sent(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        number = self._store.add_own_frame(str(interphone), uid, seq, payload, self._clock())
        if number and self._on_stored is not None:
            self._on_stored(number)

    def _on_event(self, event: ModelEvent) -> None:
        if isinstance(event, FloorChanged) and event.state is not FloorState.TALKING \
                and self._store.end_own() and self._on_ended is not None:
            self._on_ended()

    def close(self) -> None:
        """Stop keeping the client's talks (a talk under way ends here)."""
        self._unsubscribe()
        if self._client.on_sent_audio == self._sent:
            self._client.on_sent_audio = None
        self._store.end_own()
