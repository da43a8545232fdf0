"""The presenter's instant replay: the list of the selected interphone's last
transmissions, and playing one again (``Ctrl+R``: the last one).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

import time

from app.ui.floor_widgets import ReplayItem
from app.ui.presenter_core import PresenterCore
from app.ui.replay_player import ReplayPlayer


class PresenterReplay(PresenterCore):
    """Stored transmissions listed and played."""

    _player: ReplayPlayer

    def replay_items(self, interphone_id: str) -> list[ReplayItem]:
        now, wall = time.monotonic(), time.time()
        return [ReplayItem(t.number, self.window.display_name(t.speaker),
                           time.strftime("%H:%M:%S", time.localtime(wall - (now - t.started_at))),
                           t.duration, t.heard, t.receiving)
                for t in self.replay.transmissions(interphone_id, now)]

    def _show_replay(self) -> None:
        self.window.panel.replay.set_items(self.replay_items(self._selected)
                                           if self._selected else [])

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
