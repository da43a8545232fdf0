"""Status changes a screen reader says as they happen: someone starts speaking, the floor
is ours, busy or free, the connection lost or back, a call ringing, an emergency, and the
status bar's passing messages.

Each is an accessibility announcement (``QAccessibleAnnouncementEvent``: AT-SPI's
``Announcement``, UIA's notification, NSAccessibility's announcement) from the window:
the user need not move the focus to hear it. Urgent ones (a call, an emergency, offline)
interrupt what is being read; the others wait their turn.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QWidget

from app.ui.floor_text import queue_text
from app.ui.view_types import LinkState, TalkState

logger = logging.getLogger(__name__)

REPEAT_S = 2.0
"""The same text again within this long is not said again (a status-bar message that
repeats what was just announced, a state set twice)."""


class Announcer(QObject):
    """Says status changes of ``window`` to assistive technology; emits
    ``announced(text, urgent)`` for each."""

    announced = Signal(str, bool)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._last = ("", 0.0)
        self._talk: tuple[TalkState, str, str] = (TalkState.NOT_JOINED, "", "")
        self._link: LinkState | None = None

    def say(self, text: str, urgent: bool = False) -> None:
        now = time.monotonic()
        if not text or (text == self._last[0] and now - self._last[1] < REPEAT_S):
            return
        self._last = (text, now)
        event = QAccessibleAnnouncementEvent(self._window, text)
        event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if urgent
                            else QAccessible.AnnouncementPoliteness.Polite)
        QAccessible.updateAccessibility(event)
        self.announced.emit(text, urgent)

    def talk_state(self, state: TalkState, holder: str = "", detail: str = "") -> None:
        """The talk button's state for the talk target: said when it changes."""
        before = self._talk
        self._talk = (state, holder, detail)
        if self._talk == before:
            return
        if state is TalkState.TALKING and before[0] is not TalkState.TALKING:
            self.say(self.tr("You have the floor: talk now"))
        elif state is TalkState.BUSY and (holder, before[0]) != (before[1], TalkState.BUSY):
            self.say(self.tr("%1 is speaking").replace("%1", holder) if holder
                     else self.tr("Busy: someone else is speaking"))
        elif state is TalkState.QUEUED:
            position = int(detail) if detail.isdigit() else 0
            self.say(queue_text(position))
        elif state is TalkState.DENIED:
            self.say(self.tr("Denied: %1").replace("%1", detail) if detail
                     else self.tr("Denied"))
        elif state is TalkState.IDLE and before[0] is TalkState.BUSY:
            self.say(self.tr("Nobody is speaking: you may talk"))

    def link(self, state: LinkState, text: str) -> None:
        """The connection as the status bar says it (``text``): said when it changes
        (not the first "Connecting…" nor the first "Connected": the window opening says
        those)."""
        before, self._link = self._link, state
        if state is before or (before in (None, LinkState.CONNECTING)
                               and state in (LinkState.CONNECTING, LinkState.CONNECTED)):
            return
        self.say(text, urgent=state is LinkState.OFFLINE)
