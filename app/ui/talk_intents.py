"""The talk intents of one window, merged whatever their source, and the latch.

Held sources (the talk key, the mouse on the talk button, the global key) press and
release: ``pressed`` / ``released`` come in pairs, the first press of any source and the
last release of all. A screen reader's "press" action on the talk button cannot hold (it
clicks): it **latches** instead (:meth:`TalkIntents.toggle`). The first press asks for
the floor and talks until a second press, or until the turn ends without it (the talk
limit, pre-emption, a refusal, the connection lost, the interphone left, the window
hidden, signing out): a latch is one more source held, so a latched talk ends by the
same release as a held one; a press of any source stops it too (a click, Space). With
the setting "press to start and stop" (toggle mode) every source latches: a press
starts, the next press stops, a release does nothing.

What a screen reader says of it (:class:`~app.ui.announcer.Announcer`): "Talking. Press
again to stop." when the latched turn gets the floor, "Stopped talking." when it ends
(by the second press, or after it talked); the talk button's accessible name and
description say whether it is latched (:meth:`~app.ui.talk_button.TalkButton.set_latched`).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from app.ui.announcer import Announcer
from app.ui.talk_button import TalkButton
from app.ui.view_types import TalkState

logger = logging.getLogger(__name__)

LATCH = "latch"
"""The source a latch holds."""
TURN_STATES = frozenset({TalkState.REQUESTING, TalkState.QUEUED, TalkState.TALKING})
"""The states of a turn running (asking, waiting in line, talking)."""


class TalkIntents(QObject):
    """Merges the talk sources of a window into ``pressed`` / ``released``; latches."""

    pressed = Signal()
    released = Signal()

    def __init__(self, parent: QObject, announcer: Announcer, button: TalkButton) -> None:
        super().__init__(parent)
        self._announcer = announcer
        self._button = button
        self._holders: set[str] = set()
        self._latched = False
        self._talked = False  # the latched turn got the floor
        self._running = False  # a turn runs, as the last talk state said
        self._toggle_mode = False  # every source latches (set_toggle_mode)

    @property
    def latched(self) -> bool:
        return self._latched

    @property
    def toggle_mode(self) -> bool:
        return self._toggle_mode

    def set_toggle_mode(self, toggle: bool) -> None:
        """Every source latches (a press starts talking, the next one stops it), or only a
        screen reader's press does; a change ends a latched talk."""
        if toggle != self._toggle_mode:
            self.unlatch()
            self._toggle_mode = toggle
            self._button.set_toggle_mode(toggle)

    @property
    def held(self) -> bool:
        """Some source holds the talk (a latch included)."""
        return bool(self._holders)

    def hold(self, source: str, down: bool) -> None:
        """``source`` went down or up (in toggle mode: a press toggles the latch). A press
        of any source while a talk is latched stops it, whatever the mode (a click on the
        button showing "Stop talking", Space): it is not held, so its release does
        nothing."""
        if self._toggle_mode or (down and self._latched and source not in self._holders):
            if down:
                self.toggle()
            return
        self._set(source, down)

    def toggle(self) -> None:
        """Start talking until the next press, or stop a latched talk."""
        if self._latched:
            self.unlatch(by_user=True)
            return
        self._latched, self._talked = True, False
        self._button.set_latched(True)
        logger.info("talk latched")
        self._set(LATCH, True)
        if self._latched and not self._running:  # not started (offline, nothing joined)
            self.unlatch()

    def unlatch(self, by_user: bool = False) -> None:
        """End a latched talk (``by_user``: the second press, said even before the floor)."""
        if not self._latched:
            return
        self._latched = False
        self._button.set_latched(False)
        logger.info("talk unlatched%s", " by the user" if by_user else "")
        self._set(LATCH, False)
        if by_user or self._talked:
            self._announcer.latch_stopped()

    def turn_changed(self, state: TalkState, running: bool) -> None:
        """The talk state shown, and whether a turn runs: a latched turn that got the
        floor says so; one that ended (or never began) lets go of the latch."""
        self._running = running
        if not self._latched:
            return
        if state is TalkState.TALKING and not self._talked:
            self._talked = True
            self._announcer.latched_talking()
        if not running:
            self.unlatch()

    def _set(self, source: str, down: bool) -> None:
        was_held = bool(self._holders)
        if down:
            self._holders.add(source)
        else:
            self._holders.discard(source)
        if not was_held and self._holders:
            self.pressed.emit()
        elif was_held and not self._holders:
            self.released.emit()
