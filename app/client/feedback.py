"""The listener's side of the ``feedback`` extension: report the speaker's quality.

:class:`QualityReporter` is ticked about once a second (by an asyncio task,
:meth:`QualityReporter.run`, or by a GUI timer); each tick, if audio of the
current speaker flowed since the last tick, it sends one ``<quality>`` report
with what the listener measured (docs/protocol-extensions.md, "Extension:
feedback"). The figures come from a callable returning, per talker uid, an
object with the fields of ``app.audio.talker_stream.TalkerQuality`` it reads
(this package does not import ``app.audio``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from app.client.client import InterphoneClient

logger = logging.getLogger(__name__)

REPORT_INTERVAL = 1.0
"""Seconds between two reports of one listener while audio flows."""


class MeasuredQuality(Protocol):
    """What a report is made of (``TalkerQuality`` has these fields)."""

    @property
    def slots(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def recent_loss_pct(self) -> float: ...
    @property
    def jitter_ms(self) -> float: ...
    @property
    def late(self) -> int: ...
    @property
    def concealed(self) -> int: ...
    @property
    def fec_recovered(self) -> int: ...


QualitySource = Callable[[], Mapping[str, MeasuredQuality]]


class QualityReporter:
    """Sends the current speaker's quality, once per tick while its audio flows."""

    def __init__(self, client: InterphoneClient, source: QualitySource) -> None:
        self.client = client
        self.source = source
        self.reports_sent = 0
        self._last_slots: dict[str, int] = {}

    def tick(self) -> bool:
        """Report now if the current speaker's stream moved since the last tick."""
        speaker = self.client.model.speaker
        qualities = self.source()
        quality = qualities.get(speaker) if speaker else None
        if quality is None:
            return False
        moved = quality.slots != self._last_slots.get(speaker)
        self._last_slots = {speaker: quality.slots}
        if not moved or quality.slots == 0:
            return False
        sent = self.client.report_quality(
            speaker, quality.recent_loss_pct, jitter_ms=quality.jitter_ms,
            late=quality.late, concealed=quality.concealed,
            recovered=quality.fec_recovered, packets=quality.packets)
        if sent:
            self.reports_sent += 1
        return sent

    async def run(self, interval: float = REPORT_INTERVAL) -> None:
        """Tick every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.tick()
            except Exception:  # a report is never worth the listener's life
                logger.exception("quality report failed")
