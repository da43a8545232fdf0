"""The window's notices: an incoming or missed call, someone speaking in another joined
interphone, an emergency raised while the window is out of sight. Each is said in the
status bar and, where the user may not be looking, through the desktop's notification
daemon, else the tray icon (a click on it shows the window on that interphone)."""

from __future__ import annotations

import math
import sys
import time

from PySide6.QtCore import QCoreApplication, QTimer, SignalInstance
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMainWindow, QSystemTrayIcon

from app.ui.announcer import Announcer
from app.ui.assets import icon
from app.ui.call_banner import IncomingCallBanner
from app.ui.desktop_notifications import DesktopNotifications

ACTIVITY_QUIET_S = 30.0
"""Someone speaking in another joined interphone is said once for a conversation there:
again only after this long without anyone speaking in it."""
UNTIL_SEEN_TRAY_MS = 10_000
"""A notice that stays until the window is seen (the app offline for good: signed in
elsewhere) lasts this long as the tray icon's own message, where no notification daemon
says it: that message stays on top of everything until clicked otherwise. The daemon's
stays (the desktop keeps it with its others); both go when they no longer apply."""


class WindowNotices(QMainWindow):
    """The notices of :class:`~app.ui.main_window.MainWindow` (its base: the state below
    is the window's)."""

    banner: IncomingCallBanner
    announcer: Announcer
    tray: QSystemTrayIcon | None
    tray_message_opens: str | None
    notifications: DesktopNotifications | None
    notification_opens: dict[str, str | None]
    activity_noticed: SignalInstance
    _call_notice: str
    _activity_said: dict[str, float]
    _activity_line: str  # the status bar's last "X is speaking in Y"
    _tray_balloon: tuple[str, float]  # the tray's own message on screen: key, until (monotonic)

    def show_tray_state(self) -> None:
        raise NotImplementedError

    def show_message(self, text: str, timeout_ms: int = 5000) -> None:
        raise NotImplementedError

    def notify_incoming_call(self, interphone_id: str, caller: str) -> None:
        self.banner.show_call(interphone_id, caller)
        self.show_tray_state()  # (its message goes after 8 s; the call rings on)
        calling = QCoreApplication.translate("MainWindow", "%1 is calling you") \
            .replace("%1", caller)
        self.tray_message(QCoreApplication.translate("MainWindow", "Incoming call"), calling,
                          "call", 8000, key=f"call {interphone_id}", urgent=True)
        self._call_notice = calling
        self.announcer.say(calling, urgent=True)
        self.statusBar().showMessage(self._call_notice, 8000)
        if not self.isActiveWindow():
            QApplication.alert(self, 0)

    def notify_activity(self, interphone_id: str, name: str, speaker: str, *,
                        muted: bool = False) -> None:
        """Someone speaks in a joined interphone other than the talk target: said in the
        status bar, and by the tray when the window is hidden or minimized (a click on
        that message shows the window on that interphone). One message for a conversation
        there: none while the last activity in that interphone, with the window out of
        sight, is less than ``ACTIVITY_QUIET_S`` old, and none for an interphone the user
        ``muted``. A screen reader says it by the same rule, whether the window is seen or
        not, unless that interphone is muted (no cue sounds for it either)."""
        text = QCoreApplication.translate("MainWindow", "%1 is speaking in %2") \
            .replace("%1", speaker).replace("%2", name)
        if not muted:
            self.announcer.activity(interphone_id, text, ACTIVITY_QUIET_S)
        # the status bar says it unless it says something else (a call's outcome, a
        # removal...): on a busy day those were replaced within a second (the row shows
        # who speaks there anyway)
        shown = self.statusBar().currentMessage()
        if not shown or shown == self._activity_line:
            self._activity_line = text
            self.statusBar().showMessage(text, 4000)
        self.activity_noticed.emit(interphone_id, name, speaker)
        if self.isVisible() and not self.isMinimized():
            self._activity_said.pop(interphone_id, None)  # seen: the next hidden one is news
            return
        if muted:  # silenced by the user: no desktop notification popping up for it
            return
        now = time.monotonic()
        last = self._activity_said.get(interphone_id)
        self._activity_said[interphone_id] = now
        if last is None or now - last >= ACTIVITY_QUIET_S:
            self.tray_message(QCoreApplication.translate("MainWindow", "Interphone"), text,
                              "tray-idle", 4000, opens=interphone_id,
                              key=f"activity {interphone_id}")

    def notify_missed_call(self, interphone_id: str, text: str) -> None:
        """A call rang unanswered and ended (``text`` says from whom): said in the status
        bar, and by the tray when the window is hidden, minimized or not the active one,
        until clicked (the user was away: the call's own message is long gone); the
        click shows the window on that one-to-one interphone."""
        self.show_message(text, 8000)
        # a window behind another program's counts as away too: the status line went
        # 8 s later, unseen, and nothing said the call had come
        if not self.isVisible() or self.isMinimized() or not self.isActiveWindow():
            self.tray_message(QCoreApplication.translate("MainWindow", "Missed call"), text,
                              "call", 0, opens=interphone_id, key=f"missed {interphone_id}")

    def notify_emergency(self, interphone_id: str, text: str) -> None:
        """Someone else raised an emergency where the banner looks (``text`` says where
        and who): said by the tray when the window is hidden or minimized, where the alert
        sounded with nothing to see; a click shows the window on that interphone."""
        if not self.isVisible() or self.isMinimized():
            self.tray_message(QCoreApplication.translate("MainWindow", "Emergency"), text,
                              "app", 10000, opens=interphone_id,
                              key=f"emergency {interphone_id}", urgent=True)

    def tray_message(self, title: str, text: str, icon_name: str, timeout_ms: int, *,
                     key: str, opens: str | None = "", urgent: bool = False,
                     tray_timeout_ms: int | None = None) -> None:
        """A message through the desktop's notification daemon, else from the tray icon
        (when there is one; ``tray_timeout_ms`` instead of ``timeout_ms`` there when
        given); a click on it shows the window, on the interphone ``opens`` when given
        (``None``: the click does nothing). The daemon's message with the same ``key`` is
        replaced; the tray shows one message at a time."""
        notifications = self.notifications
        if notifications is not None and notifications.notify(
                key, title, text, icon(icon_name), timeout_ms, urgent=urgent,
                clickable=opens is not None):
            self.notification_opens[key] = opens
            return
        if self.tray is not None and self.tray.isVisible():
            timeout = timeout_ms if tray_timeout_ms is None else tray_timeout_ms
            self.tray_message_opens = opens
            self.tray.showMessage(title, text, icon(icon_name), timeout)
            self._tray_balloon = (key, time.monotonic() + timeout / 1000 if timeout > 0
                                  else math.inf)

    def withdraw_notice(self, key: str, *, at_once: bool = False) -> None:
        """The message with ``key`` is no longer true: off the screen, the daemon's or the
        tray icon's own. The tray's goes after the current event (``at_once``: now, the
        tray icon is about to go): a click on it may be what shows the window."""
        if self.notifications is not None:
            self.notifications.withdraw(key)
        shown, until = self._tray_balloon
        if shown != key or time.monotonic() >= until:
            return
        self.tray_balloon_gone()
        if at_once:
            self._hide_tray_balloon()
        else:
            QTimer.singleShot(0, self, self._hide_tray_balloon)

    def tray_balloon_gone(self) -> None:
        """The tray icon's own message went (clicked, or taken away)."""
        self._tray_balloon = ("", 0.0)
        self.tray_message_opens = None

    def _hide_tray_balloon(self) -> None:
        tray = self.tray
        if self._tray_balloon[0] or tray is None or not tray.isVisible():
            return  # another message shows since
        if sys.platform != "darwin":  # (macOS: messages go to its notification centre)
            tray.showMessage("", "", QIcon(), 0)  # an empty message takes the shown one away

    def window_seen(self) -> None:
        """The window is on screen (shown, not minimized): what was said until it is seen
        goes."""
        self.withdraw_notice("link")

    def clear_incoming_call(self, interphone_id: str = "") -> None:
        if not interphone_id or self.banner.interphone_id == interphone_id:
            self.withdraw_notice(f"call {self.banner.interphone_id}")
            self.banner.hide()
            self._forget_call_notice()
            self.show_tray_state()

    def _forget_call_notice(self) -> None:
        """The call was answered, dismissed or ended: the status bar stops saying it rings."""
        if self._call_notice and self.statusBar().currentMessage() == self._call_notice:
            self.statusBar().clearMessage()
        self._call_notice = ""
