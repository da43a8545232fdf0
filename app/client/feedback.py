"""The listener's side of the ``feedback`` extension: report the speaker's quality.

:class:`QualityReporter` is ticked often (every ``POLL_INTERVAL``, by an
asyncio task, :meth:`QualityReporter.run`, or by a GUI timer, time passed
in). While audio of the current speaker flows it sends one ``<quality>``
report every ``REPORT_INTERVAL``, and one at once when the loss it measures
first goes over ``LOSS_ALERT_PCT`` since its last report (so the talker's FEC
reacts within a poll, not a whole interval). See docs/protocol-extensions.md,
"Extension: feedback". The figures come from a callable returning, per talker uid, an
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
POLL_INTERVAL = 0.25
"""Seconds between two looks at the figures (a report goes out early on new loss)."""
LOSS_ALERT_PCT = 0.5
"""Loss over this, when the last report said less, is reported without waiting."""


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

    def __init__(self, client: InterphoneClient, source: QualitySource, *,
                 interval: float = REPORT_INTERVAL) -> None:
        self.client = client
        self.source = source
        self.interval = interval
        self.reports_sent = 0
        self._speaker = ""
        self._last_slots = 0  # the speaker's slot count at the last report
        self._last_at = -float("inf")
        self._last_loss = 0.0

    def tick(self, now: float) -> bool:
        """Report if due: the current speaker's stream moved since the last report, and
        ``interval`` passed or loss appeared. Returns True if a report went out."""
        speaker = self.client.model.speaker
        quality = self.source().get(speaker) if speaker else None
        if quality is None or quality.slots == 0:
            return False
        if speaker != self._speaker:
            self._speaker, self._last_slots = speaker, 0
            self._last_at, self._last_loss = -float("inf"), 0.0
        loss = quality.recent_loss_pct
        alert = loss > LOSS_ALERT_PCT >= self._last_loss
        if quality.slots == self._last_slots or (now - self._last_at < self.interval
                                                 and not alert):
            return False
        sent = self.client.report_quality(
            speaker, loss, jitter_ms=quality.jitter_ms,
            late=quality.late, concealed=quality.concealed,
            recovered=quality.fec_recovered, packets=quality.packets)
        if sent:
            self.reports_sent += 1
            self._last_slots, self._last_at, self._last_loss = quality.slots, now, loss
        return sent

    async def run(self, poll: float = POLL_INTERVAL) -> None:
        """Tick every ``poll`` seconds (the loop's clock) until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(poll)
            try:
                self.tick(loop.time())
            except Exception:  # a report is never worth the listener's life
                logger.exception("quality report failed")
