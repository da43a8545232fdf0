"""The presenter's record of who speaks: the talk target's speaker (and the end of an
utterance), activity in the other joined interphones, when each speaker started and who
spoke last, and the talk deadline of our own grant.

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time

from app.client import FloorChanged, FloorState, JoinedSpeakerChanged, SpeakerChanged
from app.ui.audio_link import Tone
from app.ui.last_spoke import Turn
from app.ui.presenter_core import PresenterCore
from app.ui.window_notices import ACTIVITY_QUIET_S

REPLAY_SETTLE_MS = 1000
"""After a speaker change, the replay list is shown again this much later: the last
packets of the utterance reach the replay store after the (TCP) notice of its end (UDP
races it, and received audio is handed over in batches every 0.6 s while a stream runs:
``presenter_audio.AUDIO_POLL_S``)."""


class PresenterSpeakers(PresenterCore):
    """Speakers seen, last speakers and activity cues."""

    def _on_speaker(self, event: SpeakerChanged) -> None:
        key = str(event.id)
        self._end_replay_transmission(key, event.uid)
        previous = self._speaker_seen.get(key, ("", 0.0))[0]
        if previous and previous != event.uid:
            self._last_spoke[key] = self._speaker_turn(key)
            if self.audio is not None and previous != self.model.uid:
                self.audio.end_utterance(previous, key)
                if not event.uid:
                    self._tone(Tone.END_OF_TRANSMISSION)
        if event.uid:
            self._speaker_seen[key] = (event.uid, event.since)
        else:
            self._speaker_seen.pop(key, None)
        self._show_rows_of(key)
        self._show_selected()
        self._show_talk()
        self._show_title()

    def _speaker_turn(self, key: str) -> Turn:
        """The turn of the speaker seen in ``key``, whose end we learn now. It ended now,
        or while we are not connected (the re-sync after a reconnect says who stopped
        meanwhile) when the link was lost."""
        uid, since = self._speaker_seen.get(key, ("", None))
        lost = self._link_lost_at
        return Turn.ending(uid, since, lost if lost is not None and not self._online() else None)

    def _end_replay_transmission(self, key: str, speaker: str) -> None:
        """The speaker of ``key`` changed: the previous one's replay entry is complete (its
        play button enabled, its length final), shown now and again once its late packets
        are in."""
        self.replay.close(key, speaker)
        if key == self._selected:
            self._show_replay()
            self._replay_settle.start()  # (again: REPLAY_SETTLE_MS after the last change)

    def _seed_speakers(self) -> None:
        """The speakers of the interphones the model knows as this presenter starts: their
        changes are followed from now on, and who speaks now went on before (since when
        is known only for the talk target, whose start the model saw)."""
        model = self.model
        target = str(model.joined) if model.joined is not None else ""
        for interphone in model.interphones:
            key = str(interphone)
            self._speakers_known.add(key)
            speaker = model.speaker if key == target else model.speaker_of(key)
            if speaker:
                self._speaker_seen[key] = (speaker, model.speaker_since if key == target
                                           else None)

    def _note_speaker(self, key: str) -> None:
        """Remember when a speaker was first seen in an interphone we only watch: when
        they started if the interphone's changes were followed, else (the first news of it
        since the link came up) not known."""
        if self.model.joined is not None and str(self.model.joined) == key:
            return
        info = self.model.interphone(key)
        speaker = info.speaker if info is not None else ""
        previous = self._speaker_seen.get(key, ("", 0.0))[0]
        if previous and previous != speaker:
            self._last_spoke[key] = self._speaker_turn(key)
        if speaker and speaker != previous:
            followed = key in self._speakers_known
            self._speaker_seen[key] = (speaker, time.monotonic() if followed else None)
        elif not speaker:
            self._speaker_seen.pop(key, None)
        self._speakers_known.add(key)

    def _on_activity(self, event: JoinedSpeakerChanged) -> None:
        """Someone speaks (or stops) in a joined interphone other than the talk target:
        a distinct short cue, a highlighted row, and a tray note when the window is hidden."""
        key = str(event.id)
        self._end_replay_transmission(key, event.uid)
        previous = self._active.pop(key, "")
        if previous and self.audio is not None:
            self.audio.end_utterance(previous, key)
        if event.uid and event.uid != self.model.uid:
            self._active[key] = event.uid
            muted = key in self.interphone_muted
            if not muted and self._new_conversation(key):
                self._tone(Tone.ACTIVITY)
            self.window.notify_activity(key, self._names.get(key, key),
                                        self.window.display_name(event.uid), muted=muted)
        self._note_speaker(key)
        self._show_rows_of(key)
        if key == self._selected:
            self._show_selected()

    def _new_conversation(self, key: str) -> bool:
        """Someone begins in ``key`` (not muted): is it a new conversation there, the
        last one having begun ``ACTIVITY_QUIET_S`` or more ago? The activity cue sounds
        once for a conversation, as the screen reader and the tray say it: at each turn,
        five busy interphones beeped over the one talked in several times a minute."""
        now = time.monotonic()
        last = self._activity_cued.get(key)
        self._activity_cued[key] = now
        return last is None or now - last >= ACTIVITY_QUIET_S

    def _on_floor(self, event: FloorChanged) -> None:
        if event.state is FloorState.DENIED:  # what the talk button says of it
            self._refusal = (event.errcode, event.reason)
        if event.state is FloorState.TALKING:
            # the turn's clock starts with the speaking line's (the model saw us speak
            # first; this event may come a moment later): elapsed + left = the limit
            model = self.model
            since = model.speaker_since if model.speaker == model.uid else None
            self._deadline = (time.monotonic() if since is None else since) + model.max_talk
        else:
            self._deadline = None
        if event.cut_at is not None:
            self._cut_own_turn(event.cut_at)
        self._show_talk()

    def _cut_own_turn(self, cut_at: float) -> None:
        """Our talk was cut by a lost connection: its record (the "Last spoke" line) ends
        where the link was last known to carry it, not when the loss was noticed (some
        10 s later, the server having taken the floor back after 5 s of silence)."""
        key = str(self.model.joined) if self.model.joined is not None else ""
        turn = self._last_spoke.get(key)
        if turn is not None and turn.uid == self.model.uid:
            self._last_spoke[key] = Turn.ending(turn.uid, turn.started,
                                                min(cut_at, turn.ended), cut=True)
            if key == self._selected:
                self._show_selected()
