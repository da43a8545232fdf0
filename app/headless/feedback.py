"""The ``feedback`` extension for headless clients (CLI, bots): both ends of it.

- Talker: :func:`follow_feedback` makes a :class:`~app.audio.fec_policy.FecPolicy`
  that the server's notices of what the listeners lose keep up to date; pass it
  to :func:`~app.headless.talker.transmit_pcm` (``fec_policy=``), which applies it
  to the encoder every frame.
- Listener: :func:`start_reporting` reports a :class:`~app.headless.mix_clock.MixClock`'s
  measurements of the current speaker about once a second.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.audio.constants import DEFAULT_BITRATE
from app.audio.fec_policy import FecPolicy, LossReport
from app.client.client import InterphoneClient
from app.client.feedback import POLL_INTERVAL, REPORT_INTERVAL, QualityReporter
from app.headless.mix_clock import MixClock
from app.protocol.messages import FeedbackNotice

logger = logging.getLogger(__name__)


def follow_feedback(client: InterphoneClient, bitrate: int = DEFAULT_BITRATE) -> FecPolicy:
    """A policy fed by ``client``'s feedback notices (replaces ``client.on_feedback``)."""
    policy = FecPolicy(bitrate)
    loop = asyncio.get_running_loop()

    def on_feedback(notice: FeedbackNotice) -> None:
        logger.debug("listeners of %s: worst %.1f %%, p90 %.1f %% (%d)", notice.id,
                     notice.worst_pct, notice.p90_pct, notice.listeners)
        policy.update(LossReport(notice.worst_pct, notice.p90_pct, loop.time()))

    client.on_feedback = on_feedback
    return policy


def start_reporting(client: InterphoneClient, clock: MixClock,
                    interval: float = REPORT_INTERVAL) -> asyncio.Task[Any]:
    """Report ``clock``'s current speaker's quality every ``interval`` s (at once when
    loss appears); cancel the task to stop."""
    reporter = QualityReporter(client, clock.current_quality, interval=interval)
    return asyncio.ensure_future(reporter.run(min(POLL_INTERVAL, interval)))
