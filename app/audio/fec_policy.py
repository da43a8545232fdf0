"""How much in-band FEC a talker's encoder should make, from what its listeners lose.

One policy for the GUI, the CLI and the bots (pure, time passed in). Its
input is what the wire will carry from the listeners of the talker's
interphone (aggregated by the server): the **worst** and the **90th
percentile** loss, in percent, over the last few seconds, with the time the
report was received. Its output is an :class:`EncoderSetting`: the Opus
``packet_loss_perc`` (and bitrate) to use.

Why these numbers (measured, see docs/audio-quality.md):

- FEC at 24 kbit/s costs quality on a clean link (PESQ-WB 4.10 → 2.88 at 10,
  speech coded wideband, the encoder's default): the redundancy takes bits from
  the primary coding. At ``FEC_BITRATE`` (40 kbit/s) the extra bits give them
  back (3.98 at 1 % loss) and every loss rate from 1 % to 20 % scores 0.5-1.1
  above 10 @ 24 kbit/s.
- 5 @ 24 kbit/s and 20 @ 40 kbit/s score lower than 10 @ 40 kbit/s at every
  loss rate up to 20 %: the setting stays at 10 however high the loss. (Left to
  code up to 20 kHz, libopus 1.3 made no FEC at all at 5 @ 24 kbit/s.)
- So: nothing (0 @ the base bitrate) while no listener loses more than
  ``CLEAN_PCT`` (0.5 %: two packets in the 5 s a listener measures over),
  10 @ 40 kbit/s as soon as one does.

Reacts at once to a report with loss (the talker's FEC follows within one
report interval); goes back to 0 only after ``hold_seconds`` without a report
showing loss, so a loss burst does not switch FEC off and on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from app.audio.constants import DEFAULT_BITRATE

logger = logging.getLogger(__name__)

CLEAN_PCT = 0.5  # worst listener loss at or under this: no FEC
FEC_PERC = 10  # less or more scored lower at every loss rate (docs/audio-quality.md)
FEC_BITRATE = 40000
HOLD_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class LossReport:
    """The talker's listeners' loss over the last seconds, as the wire carries it."""

    worst_pct: float  # the listener that lost most
    p90_pct: float  # 90th percentile over the listeners
    at: float  # when it was received (the policy's clock, seconds)


@dataclass(frozen=True, slots=True)
class EncoderSetting:
    packet_loss_perc: int  # Opus OPUS_SET_PACKET_LOSS_PERC
    bitrate: int  # bit/s

    @property
    def fec_on(self) -> bool:
        return self.packet_loss_perc >= FEC_PERC


class TunableEncoder(Protocol):
    @property
    def expected_loss(self) -> int: ...
    def set_expected_loss(self, pct: int) -> None: ...
    def set_bitrate(self, bitrate: int) -> None: ...


def setting_for_loss(loss_pct: float, bitrate: int = DEFAULT_BITRATE,
                     fec_bitrate: int = FEC_BITRATE) -> EncoderSetting:
    """The encoder setting for a listener loss (percent) — the policy's table."""
    if not loss_pct > CLEAN_PCT:  # also NaN
        return EncoderSetting(0, bitrate)
    return EncoderSetting(FEC_PERC, max(bitrate, fec_bitrate))


class FecPolicy:
    """Follows listener loss reports; ``setting(now)`` is what the encoder should use.

    ``update(report)`` on every report; ``apply(encoder, now)`` (or
    ``setting(now)``) whenever convenient — at the start of each utterance
    and on each report is enough; ``next_deadline()`` says when the setting
    would change with no new report (the hold running out).
    """

    def __init__(self, bitrate: int = DEFAULT_BITRATE, *, fec_bitrate: int = FEC_BITRATE,
                 hold_seconds: float = HOLD_SECONDS) -> None:
        self.bitrate = bitrate
        self.fec_bitrate = fec_bitrate
        self.hold_seconds = hold_seconds
        self._loss_pct = 0.0  # the highest loss reported since FEC went on
        self._last_lossy: float | None = None  # when a report last showed loss

    @staticmethod
    def loss_of(report: LossReport) -> float:
        """The figure the policy serves: the worst listener (all must hear)."""
        return max(report.worst_pct, report.p90_pct)

    def update(self, report: LossReport) -> None:
        loss = self.loss_of(report)
        if loss > CLEAN_PCT:
            self._loss_pct = max(self._loss_pct, loss)
            self._last_lossy = report.at
        else:
            self._expire(report.at)

    def setting(self, now: float) -> EncoderSetting:
        self._expire(now)
        return setting_for_loss(self._loss_pct, self.bitrate, self.fec_bitrate)

    def _expire(self, now: float) -> None:
        if self._last_lossy is not None and now - self._last_lossy >= self.hold_seconds:
            self._loss_pct = 0.0
            self._last_lossy = None

    def next_deadline(self) -> float | None:
        """When the setting falls back to no FEC if no report shows loss again."""
        return None if self._last_lossy is None else self._last_lossy + self.hold_seconds

    def apply(self, encoder: TunableEncoder, now: float) -> EncoderSetting:
        """Set ``encoder`` to ``setting(now)`` (cheap when unchanged); returns it."""
        setting = self.setting(now)
        if encoder.expected_loss != setting.packet_loss_perc:
            logger.debug("FEC policy: packet_loss_perc %d, %d bit/s",
                         setting.packet_loss_perc, setting.bitrate)
            encoder.set_bitrate(setting.bitrate)
            encoder.set_expected_loss(setting.packet_loss_perc)
        return setting
