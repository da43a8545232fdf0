"""The presenter's instant replay: the list of the selected interphone's last
transmissions, and playing one again (``Ctrl+R``: the last one).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time
from dataclasses import replace

from app.client.replay import TransmissionInfo
from app.ui.floor_widgets import ReplayItem
from app.ui.last_spoke import LastSpoke, clock_text, last_spoke
from app.ui.presenter_core import PresenterCore
from app.ui.replay_player import ReplayPlayer


class PresenterReplay(PresenterCore):
    """Stored transmissions listed and played."""

    _player: ReplayPlayer
    _replay_shown: int  # the transmission number last listed

    def replay_items(self, interphone_id: str) -> list[ReplayItem]:
        return [ReplayItem(t.number, self.window.display_name(t.speaker),
                           self._replay_started_text(t), t.duration, t.heard, t.receiving,
                           own=t.own)
                for t in self.replay.transmissions(interphone_id, time.monotonic())]

    def _replay_stored(self, number: int, reopened: bool = False) -> None:
        """A frame received or sent was stored in transmission ``number`` (0: not kept);
        ``reopened``: it opened again one cut by a lost link (receiving again)."""
        # only a new transmission (numbers only grow) is listed again: talkers in two joined
        # interphones at once alternate, and the list was made again at each of their packets
        if number > self._replay_shown or reopened:
            self._note_replay_start(number)
            self._replay_shown = max(number, self._replay_shown)
            self._show_replay()

    def _note_replay_start(self, number: int) -> None:
        """A packet of transmission ``number`` was stored: the first one's wall-clock time
        is its start, in the list and in "Last spoke" alike (the ones gone are forgotten)."""
        if number in self._replay_started:
            return
        self._replay_started[number] = time.time()
        kept = {t.number for t in self.replay.transmissions(None, time.monotonic())}
        for gone in [n for n in self._replay_started if n not in kept]:
            del self._replay_started[gone]

    def _replay_started_text(self, transmission: TransmissionInfo) -> str:
        wall = self._replay_started.get(transmission.number)
        if wall is None:  # (stored before its start was noted)
            wall = time.time() - (time.monotonic() - transmission.started_at)
        return clock_text(wall)

    def _last_spoken(self, interphone_id: str) -> LastSpoke | None:
        """The "Last spoke" line of ``interphone_id``: its last turn, as the replay list
        tells it when it holds the turn's transmission."""
        turn = self._last_spoke.get(interphone_id)
        spoke = last_spoke(turn, self.replay.transmissions(interphone_id, time.monotonic()),
                           float(self.model.max_talk), self._replay_started_text)
        if turn is not None and spoke is not None and spoke != turn.told:
            # (the line says the same once the list has dropped the transmission)
            self._last_spoke[interphone_id] = replace(turn, told=spoke)
        return spoke

    def _end_receiving(self) -> None:
        """The link is lost: nothing is received any more, so the transmissions under way
        are complete as they stand (listed, their play buttons enabled; a late packet of
        one still joins it, and one that goes on once the link is back opens it again)."""
        now = time.monotonic()
        cut = {t.interphone for t in self.replay.transmissions(None, now) if t.receiving}
        for interphone in cut:
            self.replay.close(interphone, cut=True)
        if cut:
            self._show_replay()

    def _show_replay(self) -> None:
        self.window.panel.replay.set_items(self.replay_items(self._selected)
                                           if self._selected else [])
        if self._selected and self.window.panel.interphone_id == self._selected:
            # the transmission's last packets (after the notice of its end) lengthen it
            self.window.panel.set_last_speaker(self._last_spoken(self._selected))

    def play_replay(self, number: int) -> None:
        """Play a stored transmission again (lost packets concealed)."""
        frames = self.replay.playback(number)
        self.replay.mark_heard(number)
        self._show_replay()
        if self.audio is not None:
            self._player.play(frames, self.audio)

    def replay_last(self) -> None:
        last = self.replay.last(self._selected or None, time.monotonic())
        if last is not None:
            self.play_replay(last.number)

    @property
    def replaying(self) -> bool:
        return self._player.active
