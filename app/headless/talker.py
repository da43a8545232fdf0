"""Paced transmission of PCM as Opus frames through a granted floor.

Frames go out on a fixed schedule, ``start + n * frame``, never by sleeping a
frame after each send, so the stream does not drift however long it runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np

from app.audio.codec import OpusEncoder
from app.audio.constants import DEFAULT_BITRATE, DEFAULT_FRAME_MS, frame_samples
from app.audio.fec_policy import FecPolicy
from app.client.client import InterphoneClient
from app.client.events import FloorState

logger = logging.getLogger(__name__)


def split_frames(pcm: np.ndarray, frame_ms: int) -> list[np.ndarray]:
    """Cut mono float32 PCM into whole frames, zero-padding the last one."""
    size = frame_samples(frame_ms)
    samples = np.asarray(pcm, dtype=np.float32).reshape(-1)
    padded = np.zeros(-(-len(samples) // size) * size, dtype=np.float32)
    padded[: len(samples)] = samples
    return [padded[i : i + size] for i in range(0, len(padded), size)]


@dataclass(slots=True)
class Progress:
    """Frames a transmission has sent so far (readable when it was cancelled midway)."""

    sent: int = 0


async def transmit_pcm(client: InterphoneClient, pcm: np.ndarray, *,
                       frame_ms: int = DEFAULT_FRAME_MS, bitrate: int = DEFAULT_BITRATE,
                       encoder: OpusEncoder | None = None,
                       fec_policy: FecPolicy | None = None,
                       progress: Progress | None = None) -> int:
    """Send ``pcm`` in real time while the floor is ours; returns the frames sent.

    With ``fec_policy`` (fed elsewhere with the listeners' loss reports) the
    encoder's FEC follows it, checked every frame. ``progress`` counts the frames as
    they go (what was sent when the task is cancelled, e.g. by Ctrl-C).

    The caller takes the floor first (``talk_start``) and releases it after.
    Stops early, returning fewer frames, when the grant ends (revoked by the
    server, connection lost, ``talk_stop`` from elsewhere).
    """
    own_encoder = encoder is None
    codec = encoder if encoder is not None else OpusEncoder(frame_ms, bitrate, fec=True)
    period = frame_ms / 1000.0
    loop = asyncio.get_running_loop()
    sent = 0
    try:
        start = loop.time()
        for n, frame in enumerate(split_frames(pcm, frame_ms)):
            delay = start + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if client.model.floor is not FloorState.TALKING:
                logger.info("floor lost after %d frames", sent)
                break
            if fec_policy is not None:
                fec_policy.apply(codec, loop.time())
            if client.send_audio(codec.encode(frame)):
                sent += 1
                if progress is not None:
                    progress.sent = sent
    finally:
        if own_encoder:
            codec.close()
    return sent
