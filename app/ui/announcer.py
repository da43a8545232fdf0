"""Status changes a screen reader says as they happen: someone starts speaking, the floor
busy or free, waiting in line, the connection lost or back, a call ringing, an emergency,
and the window's passing messages.

Each is an accessibility announcement (``QAccessibleAnnouncementEvent``: AT-SPI's
``Announcement``, UIA's notification, NSAccessibility's announcement) from the window:
the user need not move the focus to hear it. Urgent ones (a call, an emergency, offline)
interrupt what is being read; the others wait their turn.

What is not said, because a screen reader speaking through the speakers talks into the
microphone or over the conversation:

- the floor granted: the permit tone says it, at the moment the user starts talking; only
  where no tone is heard (tones turned off, no audio, the speaker muted or at 0) is one
  short word said instead (:meth:`Announcer.floor_granted`);
- someone speaking in another joined interphone, turn after turn: said once for a
  conversation there (:meth:`Announcer.activity`, the desktop notifications' rule);
- the status bar's own lines that are not the window's messages (a menu item's tip).

A talk latched by a press (a screen reader's "press" action, or the setting "press to
start and stop": :mod:`app.ui.talk_intents`) is the exception: no hand holds a key that
says the user is on air, so its start is said with how to end it ("Talking. Press again
to stop.", after the permit tone), and its end ("Stopped talking.").
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
        # someone speaking in another joined interphone: when it was last noticed
        # (monotonic), so that a conversation there is said once, not once per turn
        self._activity: dict[str, float] = {}

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

    def talk_state(self, state: TalkState, holder: str = "", detail: str = "", *,
                   retry: bool = False) -> None:
        """The talk button's state for the talk target: said when it changes (not the
        floor granted: see :meth:`floor_granted`)."""
        before = self._talk
        self._talk = (state, holder, detail)
        if self._talk == before:
            return
        if state is TalkState.BUSY and (holder, before[0]) != (before[1], TalkState.BUSY):
            self.say(self.tr("%1 is speaking").replace("%1", holder) if holder
                     else self.tr("Busy: someone else is speaking"))
        elif state is TalkState.QUEUED:
            position = int(detail) if detail.isdigit() else 0
            self.say(queue_text(position))
        elif state is TalkState.DENIED and retry and detail:  # (the detail says it all)
            self.say(detail)
        elif state is TalkState.DENIED:
            self.say(self.tr("Denied: %1").replace("%1", detail) if detail
                     else self.tr("Denied"))
        elif state is TalkState.IDLE and before[0] is TalkState.BUSY:
            self.say(self.tr("Nobody is speaking: you may talk"))

    def floor_granted(self) -> None:
        """The floor is ours and no permit tone is heard: one short word (the user is
        about to speak; a sentence would be spoken into the microphone). Said each time,
        even within ``REPEAT_S`` of the last."""
        self._last = ("", 0.0)
        self.say(self.tr("Talk"))

    def latched_talking(self) -> None:
        """A latched talk got the floor (in place of :meth:`floor_granted`'s word)."""
        self._last = ("", 0.0)
        self.say(self.tr("Talking. Press again to stop."))

    def latch_stopped(self) -> None:
        """A latched talk ended: the second press, the talk limit, the floor lost..."""
        self._last = ("", 0.0)
        self.say(self.tr("Stopped talking."))

    def activity(self, interphone_id: str, text: str, quiet_s: float,
                 now: float | None = None) -> None:
        """Someone speaks in a joined interphone other than the talk target (``text`` says
        who and where): said once for a conversation there, again only after ``quiet_s``
        without anyone speaking in it (each turn was said, and a busy interphone one
        listens to on the side talked over the one talked in)."""
        now = time.monotonic() if now is None else now
        last = self._activity.get(interphone_id)
        self._activity[interphone_id] = now
        if last is None or now - last >= quiet_s:
            self.say(text)

    def link(self, state: LinkState, text: str) -> None:
        """The connection as the status bar says it (``text``): said when it changes
        (not the first "Connecting…" nor the first "Connected": the window opening says
        those)."""
        before, self._link = self._link, state
        if state is before or (before in (None, LinkState.CONNECTING)
                               and state in (LinkState.CONNECTING, LinkState.CONNECTED)):
            return
        self.say(text, urgent=state is LinkState.OFFLINE)
