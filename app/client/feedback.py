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
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from app.client.client import InterphoneClient
from app.protocol.ids import InterphoneId

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
StreamKey = Callable[[str, str], str]
"""``key(speaker, interphone_id_text)``: the source's key of that speaker's stream."""


def uid_key(speaker: str, interphone: str) -> str:
    """For a source keyed by the talker's uid alone (``MixClock``)."""
    return speaker


@dataclass(slots=True)
class _Sent:
    speaker: str = ""
    slots: int = 0  # the speaker's slot count at the last report
    at: float = -math.inf
    loss: float = 0.0


class QualityReporter:
    """Sends each joined interphone's current speaker's quality while its audio flows."""

    def __init__(self, client: InterphoneClient, source: QualitySource, *,
                 interval: float = REPORT_INTERVAL, key: StreamKey = uid_key) -> None:
        self.client = client
        self.source = source
        self.interval = interval
        self.key = key
        self.reports_sent = 0
        self._sent: dict[InterphoneId, _Sent] = {}

    def tick(self, now: float) -> int:
        """Report where due: for each joined interphone, its speaker's stream moved since
        the last report, and ``interval`` passed or loss appeared. Returns reports sent."""
        model = self.client.model
        joined = model.joined_ids
        qualities = self.source() if joined else {}
        for gone in [i for i in self._sent if i not in joined]:
            del self._sent[gone]
        sent = 0
        for interphone in joined:
            speaker = model.speaker_of(interphone)
            quality = qualities.get(self.key(speaker, str(interphone))) if speaker else None
            if quality is None or quality.slots == 0 or speaker == model.uid:
                continue
            last = self._sent.get(interphone)
            if last is None or last.speaker != speaker:
                last = self._sent[interphone] = _Sent(speaker)
            loss = quality.recent_loss_pct
            alert = loss > LOSS_ALERT_PCT >= last.loss
            if quality.slots == last.slots or (now - last.at < self.interval and not alert):
                continue
            if self.client.report_quality(
                    speaker, loss, jitter_ms=quality.jitter_ms, late=quality.late,
                    concealed=quality.concealed, recovered=quality.fec_recovered,
                    packets=quality.packets, interphone=interphone):
                sent += 1
                last.slots, last.at, last.loss = quality.slots, now, loss
        self.reports_sent += sent
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
