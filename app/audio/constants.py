"""Audio constants shared by the whole application."""

from __future__ import annotations

SAMPLE_RATE: int = 48000
CHANNELS: int = 1
ALLOWED_FRAME_MS: tuple[int, ...] = (10, 20, 40, 60)
DEFAULT_FRAME_MS: int = 20
DEFAULT_BITRATE: int = 24000
# The encoder's audio band at most: "wideband", speech up to 8 kHz (Opus's SILK mode at
# these rates), what the in-band FEC already forces under loss. At 24 kbit/s it scores
# higher PESQ-WB than letting Opus code up to 20 kHz (hybrid mode), which spends bits on
# a band PESQ-WB does not hear and telephony-grade voice does without, and it decodes in
# about two thirds of the time (docs/audio-quality.md, "The coded band").
DEFAULT_MAX_BANDWIDTH: str = "wideband"
# Largest Opus packet the encoder is allowed to produce (RFC 6716, one frame).
MAX_OPUS_PACKET: int = 1275


def frame_samples(frame_ms: int) -> int:
    """Number of samples in one frame of ``frame_ms`` at SAMPLE_RATE.

    Raises ValueError for a duration not in ALLOWED_FRAME_MS.
    """
    if frame_ms not in ALLOWED_FRAME_MS:
        raise ValueError(f"frame duration {frame_ms!r} ms not in {ALLOWED_FRAME_MS}")
    return SAMPLE_RATE * frame_ms // 1000
