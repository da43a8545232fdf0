"""Plays a stored transmission again through the audio engine, one frame per 20 ms."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from app.ui.audio_link import AudioPort

REPLAY_SPEAKER = "replay"
"""The pseudo-speaker whose stream plays a replayed transmission (its own jitter buffer,
mixed with live audio)."""
FRAME_MS = 20


class ReplayPlayer(QObject):
    """Feeds Opus frames to :meth:`AudioPort.receive` at the pace they were spoken;
    ``b""`` (a lost packet) is skipped, so the seq gap makes the decoder conceal it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._audio: AudioPort | None = None
        self._frames: list[bytes] = []
        self._seq = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._next)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def play(self, frames: tuple[bytes, ...], audio: AudioPort) -> None:
        self.stop()
        if not frames:
            return
        self._audio = audio
        self._frames = list(reversed(frames))
        self._timer.start()

    def stop(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            if self._audio is not None:
                self._audio.end_utterance(REPLAY_SPEAKER)
        self._frames = []
        self._audio = None

    def _next(self) -> None:
        if not self._frames or self._audio is None:
            self.stop()
            return
        frame = self._frames.pop()
        self._seq += 1
        if frame:
            self._audio.receive(REPLAY_SPEAKER, self._seq, frame)
