"""What the audio engine reports: its transmit state and its health counters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class TransmitState(Enum):
    IDLE = "idle"
    ARMED = "armed"  # input running ahead of the grant: blocks kept, not yet sent
    ON = "on"
    RELEASING = "releasing"


@dataclass(frozen=True, slots=True)
class EngineCounters:
    """Health counters since ``start()``."""

    frames_sent: int
    frames_received: int
    capture_drops: int  # captured frames dropped because the loop lagged
    monitor_drops: int
    input_overruns: int  # device-reported input overflows
    output_underruns: int  # device-reported output underflows
    send_errors: int
