"""The presenter's audio side: received audio to the audio port (and the replay store),
per-interphone volumes and mutes, the level meters, cues, the reception figures and the
quality reports of extension feedback, and switching audio engines.

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time

from app.audio.mixer import stream_key
from app.audio.talker_stream import TalkerQuality
from app.client.feedback import QualityReporter
from app.protocol import InterphoneId
from app.protocol.messages import FeedbackNotice
from app.ui.audio_link import AudioPort, Tone
from app.ui.interphone_mix import format_mix
from app.ui.presenter_core import PresenterCore
from app.ui.view_ticker import ViewTicker
from app.ui.view_types import Reception

AUDIO_TICK_MS = 100
"""While a stream runs, the view's audio tick reads the levels 10 times a second (a meter
needs no more) and shows the reception line once a second, on the view ticker's one
timer with the panel's clocks; it waits while the window is off screen."""
AUDIO_WORK_TICK_MS = 300
"""While a stream runs, the audio's work tick, which goes on while the window is off
screen (on the same wake-ups as the view's tick while it is on screen): the quality
reports when due and the received audio every ``AUDIO_POLL_S``."""
AUDIO_POLL_S = 0.5
"""The received audio reaches ``on_audio`` (the replay store, the counts: bookkeeping, the
engine already plays it) every other work tick (0.6 s): a poll's first packets run on
cold caches, so one batch of 30 costs the GUI thread less than six batches of 5."""
QUALITY_POLL_S = 0.3
"""Report what we hear to the talker (extension feedback) when due: at each work tick (a
report goes once a second, one on a loss alert within 0.3 s)."""
RECEPTION_S = 1.0  # the reception line once a second
SPEAKER_TICK_MS = 1000
"""No stream runs but someone else holds the floor: the reception line stays live, and
the quality reports go on at this period."""
_EARLY_S = 0.05  # a tick this much before a due time is on time (coarse timer)
QUIET_AUDIO_S = 2.0
"""The speaker still holds the floor but none of their packets came for this long (a talker
sends one every frame, silence too): the reception line says "no audio for N s" instead of
the loss and jitter of the last packets that came, which would stand still meanwhile (our
link or the talker's died: the server takes the floor back after its silence_timeout, a
dead signaling is noticed by its ping)."""


class PresenterAudio(PresenterCore):
    """What is heard, how loud, and how well."""

    _ticker: ViewTicker
    _streaming: bool  # a device stream runs (what the runtime says; assumed with audio)
    _reporter: QualityReporter
    _fec_recovered: dict[str, int]
    _last_heard: tuple[str, int, float]  # stream key, its packets, when that count was seen
    _poll_due: float
    _quality_due: float
    _reception_due: float

    def _on_audio(self, interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
        """Audio of any joined interphone, on the loop (in batches: ``_play_audio`` plays)."""
        self.received[uid] += 1
        if self.audio is not None and self.client.audio_sink != self._play_audio:
            self.audio.receive(uid, seq, payload, str(interphone))
        stored = self.replay.add_frame(str(interphone), uid, seq, payload, time.monotonic())
        self._replay_stored(stored.number, stored.reopened)

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
        self._show_rows()  # the row shows that it is muted
        self._show_talk()  # the talk button too, for the talk target
        if interphone_id == self._selected:
            self._follow_listening()

    def _follow_listening(self) -> None:
        """What arrives for the interphone on screen counts as heard, unless it is muted
        here: nothing of it is played (its rows stay marked until played from the list)."""
        selected = self._selected
        self.replay.select(selected if selected and selected not in self.interphone_muted
                           else None)

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
        """A device stream runs or not (the runtime follows the engine): the audio tick
        runs at 10 Hz only while one does (idle: no timer at all)."""
        self._streaming = on
        if not on:  # no tick will decay the peak markers: no stale peak left behind
            self.window.audio_bar.reset_levels()
        self._follow_audio_tick()

    @property
    def audio_ticking(self) -> int:
        """The view's audio tick's period in ms (0: not ticking)."""
        return (AUDIO_TICK_MS if self.client.audio_polled
                else SPEAKER_TICK_MS if self._ticker.subscribed(self._audio_tick) else 0)

    def _follow_audio_tick(self) -> None:
        """While a stream runs: the view's tick at 10 Hz and the work's at 300 ms; once a
        second both while someone else holds the floor with no stream (the reception
        line, the quality reports); else nothing."""
        audio, model, ticker = self.audio, self.model, self._ticker
        fast = audio is not None and self._streaming
        slow = audio is not None and bool(model.speaker) and model.speaker != model.uid
        if fast or slow:
            ticker.subscribe(self._audio_tick, AUDIO_TICK_MS if fast else SPEAKER_TICK_MS)
            ticker.subscribe(self._audio_work_tick,
                             AUDIO_WORK_TICK_MS if fast else SPEAKER_TICK_MS, while_hidden=True)
        elif ticker.subscribed(self._audio_tick):
            ticker.unsubscribe(self._audio_tick)
            ticker.unsubscribe(self._audio_work_tick)
            self._show_reception()  # the last word: nobody to show
        if self.client.audio_polled != fast:
            self.client.audio_polled = fast  # off: what waits reaches on_audio now

    def _audio_tick(self, now: float) -> None:
        """The view's part: the level meters, the reception line once a second."""
        if self._streaming and self.audio is not None:
            self.window.audio_bar.set_levels(*self.audio.levels())
        if now >= self._reception_due - _EARLY_S:
            self._reception_due = now + RECEPTION_S
            self._show_reception()

    def _audio_work_tick(self, now: float) -> None:
        """The part that goes on off screen: the quality reports and the received audio."""
        if self.client.audio_polled and now >= self._poll_due - _EARLY_S:
            self._poll_due = now + AUDIO_POLL_S
            self.client.poll_audio()
        if now >= self._quality_due - _EARLY_S:
            self._quality_due = now + QUALITY_POLL_S
            self._reporter.tick(now)

    def _receive_quality(self) -> dict[str, TalkerQuality]:
        return dict(self.audio.receive_quality()) if self.audio is not None else {}

    def _show_reception(self) -> None:
        """What we hear of the talk target's speaker (loss, jitter, FEC; the talker's FEC
        follows our reports, docs/protocol-extensions.md "feedback"), under it while the
        talk target is shown, or nothing (another interphone shown: its own speaker, or
        nobody, is named there; offline: who speaks is not known then)."""
        speaker, target = self.model.speaker, self.model.talk_target
        quality = self._receive_quality().get(stream_key(speaker, str(target))) \
            if speaker and speaker != self.model.uid and target is not None \
            and str(target) == self._selected and self._online() else None
        if quality is None:
            self.window.panel.set_reception(None)
            return
        before = self._fec_recovered.get(speaker, quality.fec_recovered)
        self._fec_recovered = {speaker: quality.fec_recovered}
        now, key = time.monotonic(), stream_key(speaker, str(target))
        if self._last_heard[:2] != (key, quality.packets):
            self._last_heard = (key, quality.packets, now)
        quiet = now - self._last_heard[2]
        self.window.panel.set_reception(Reception(
            speaker, quality.recent_loss_pct, quality.jitter_ms,
            fec_on=quality.fec_packets > 0,
            fec_repairing=quality.fec_recovered > before,
            quiet_s=quiet if quiet >= QUIET_AUDIO_S else 0.0))

    def _on_feedback(self, notice: FeedbackNotice) -> None:
        """What our listeners lose (we hold the floor): the encoder's FEC policy follows."""
        if self.audio is not None:
            self.audio.report_loss(notice.worst_pct, notice.p90_pct)

    def _tone(self, tone: Tone) -> None:
        if self.audio is not None and self.settings.tones:
            self.audio.play_tone(tone)

    def _tones_heard(self) -> bool:
        """A cue played now is heard: tones on, an audio engine, the speaker not muted
        nor at 0 (the mute silences the cues too)."""
        return self.audio is not None and self.settings.tones and not self.settings.muted \
            and self.settings.volume > 0

    def set_audio(self, audio: AudioPort | None) -> None:
        """Use another audio engine (settings changed); None while it restarts."""
        self._stop_transmitting()
        self.audio = audio
        if self.client.audio_sink == self._play_audio:  # the engine's own sink, or ours
            self.client.set_audio_sink(self._play_audio, getattr(audio, "audio_sink", None))
        if audio is not None:
            audio.set_volume(self.settings.volume / 100)
            audio.set_muted(self.settings.muted)
            for interphone_id in set(self.interphone_volume) | self.interphone_muted:
                self._apply_interphone_gain(interphone_id)
            if self.turn.transmitting:  # still our turn: go on with the new device
                self._transmitting = True
                audio.start_transmit()
        self._streaming = audio is not None  # until the runtime says otherwise
        self._follow_audio_tick()
