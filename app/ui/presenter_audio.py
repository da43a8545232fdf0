"""The presenter's audio side: received audio to the audio port (and the replay store),
per-interphone volumes and mutes, the level meters, cues, the reception figures and the
quality reports of extension feedback, and switching audio engines.

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from app.audio.mixer import stream_key
from app.audio.talker_stream import TalkerQuality
from app.client.feedback import QualityReporter
from app.protocol import InterphoneId
from app.protocol.messages import FeedbackNotice
from app.ui.audio_link import AudioPort, Tone
from app.ui.interphone_mix import format_mix
from app.ui.presenter_core import PresenterCore
from app.ui.view_types import Reception

LEVEL_POLL_MS = 100  # 10 Hz: a meter needs no more (each poll repaints while audio plays)
QUALITY_POLL_MS = 250  # report what we hear to the talker (extension feedback) when due
RECEPTION_EVERY = 4  # ... and show it every 4th poll (once a second)


class PresenterAudio(PresenterCore):
    """What is heard, how loud, and how well."""

    _levels: QTimer
    _loss: QTimer
    _reporter: QualityReporter
    _fec_recovered: dict[str, int]
    _quality_polls: int
    _replay_shown: int

    def _on_audio(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        """Audio of any joined interphone, on the loop (in batches: ``_play_audio`` plays)."""
        self.received[uid] += 1
        if self.audio is not None and self.client.audio_sink != self._play_audio:
            self.audio.receive(uid, seq, payload, str(interphone))
        number = self.replay.add_frame(str(interphone), uid, seq, payload, time.monotonic())
        if number and number != self._replay_shown:
            self._replay_shown = number
            self._show_replay()

    def _play_audio(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        """In the client's media receive thread: each interphone mixed with its own volume."""
        audio = self.audio
        if audio is not None:
            audio.receive_from_thread(uid, seq, payload, str(interphone))

    def set_interphone_volume(self, interphone_id: str, percent: int) -> None:
        self.interphone_volume[interphone_id] = percent
        self._apply_interphone_gain(interphone_id)

    def set_interphone_muted(self, interphone_id: str, muted: bool) -> None:
        if muted:
            self.interphone_muted.add(interphone_id)
        else:
            self.interphone_muted.discard(interphone_id)
        self._apply_interphone_gain(interphone_id)

    def _apply_interphone_gain(self, interphone_id: str) -> None:
        self.settings.interphone_mix = format_mix(self.interphone_volume, self.interphone_muted)
        if self.audio is not None:
            muted = interphone_id in self.interphone_muted
            percent = self.interphone_volume.get(interphone_id, 100)
            self.audio.set_interphone_volume(interphone_id, 0.0 if muted else percent / 100)

    def _on_volume(self, percent: int) -> None:
        self.settings.volume = percent
        if self.audio is not None:
            self.audio.set_volume(percent / 100)

    def _on_mute(self, muted: bool) -> None:
        self.settings.muted = muted
        if self.audio is not None:
            self.audio.set_muted(muted)

    def set_level_polling(self, on: bool) -> None:
        """Poll the level meters only while an audio stream runs (idle: no 20 Hz timer)."""
        if on and self.audio is not None:
            self._levels.start()
        else:
            self._levels.stop()
            self.window.audio_bar.set_levels(0.0, 0.0)

    def _poll_levels(self) -> None:
        if self.audio is not None:
            self.window.audio_bar.set_levels(*self.audio.levels())

    def _receive_quality(self) -> dict[str, TalkerQuality]:
        return dict(self.audio.receive_quality()) if self.audio is not None else {}

    def _follow_quality(self) -> None:
        """Report what we hear of the speaker when due (the talker's FEC follows the
        reports, docs/protocol-extensions.md "feedback"); show it each second."""
        self._reporter.tick(time.monotonic())
        self._quality_polls += 1
        if self._quality_polls % RECEPTION_EVERY:
            return
        speaker, target = self.model.speaker, self.model.talk_target
        quality = self._receive_quality().get(stream_key(speaker, str(target))) \
            if speaker and speaker != self.model.uid and target is not None else None
        if quality is None:
            self.window.panel.set_reception(None)
            return
        before = self._fec_recovered.get(speaker, quality.fec_recovered)
        self._fec_recovered = {speaker: quality.fec_recovered}
        self.window.panel.set_reception(Reception(
            speaker, quality.recent_loss_pct, quality.jitter_ms,
            fec_on=quality.fec_packets > 0,
            fec_repairing=quality.fec_recovered > before))

    def _on_feedback(self, notice: FeedbackNotice) -> None:
        """What our listeners lose (we hold the floor): the encoder's FEC policy follows."""
        if self.audio is not None:
            self.audio.report_loss(notice.worst_pct, notice.p90_pct)

    def _tone(self, tone: Tone) -> None:
        if self.audio is not None and self.settings.tones:
            self.audio.play_tone(tone)

    def set_audio(self, audio: AudioPort | None) -> None:
        """Use another audio engine (settings changed); None while it restarts."""
        self._stop_transmitting()
        self.audio = audio
        if audio is not None:
            audio.set_volume(self.settings.volume / 100)
            audio.set_muted(self.settings.muted)
            for interphone_id in set(self.interphone_volume) | self.interphone_muted:
                self._apply_interphone_gain(interphone_id)
            if self.turn.transmitting:  # still our turn: go on with the new device
                self._transmitting = True
                audio.start_transmit()
            self._levels.start()
            self._loss.start()
        else:
            self._levels.stop()
            self._loss.stop()
