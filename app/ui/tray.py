"""The system tray: the app keeps running with its window closed.

:class:`TrayController` owns the tray icon (the main window switches it between
``tray-idle``, ``tray-talking``, ``tray-busy`` (receiving) and ``tray-offline``
with the talk state, with a badge while someone speaks in another joined interphone
and one while the speaker is muted; its tooltip says the same in words, kept current
by the window's events, not by a clock) and its menu: show/hide, the connection
status, Reconnect (when the window offers it), the talk target (a submenu of the joined
interphones, to change it: :mod:`app.ui.tray_targets`), the global talk key's status,
mute, quit. Closing the window hides it to the tray while the
``close_to_tray`` setting is on and a tray exists; the first time, a tray message
says so. While the window is hidden, the tray is looked for every ``TRAY_CHECK_MS``
(through the app's one :class:`~app.ui.tray_watch.TrayWatch`): gone (the panel quit, or
crashed and did not come back), the window shows again rather than stay out of reach. A
click on the icon shows or hides the window, a double click shows it; a click on a
message about a call or about someone speaking shows the window (on that interphone);
so does one on the desktop's notification (its daemon says the messages
where there is one, see :mod:`app.ui.desktop_notifications`). Menu texts are refreshed
when the menu opens (no timer; ``refresh_status`` brings the connection status up to
date first), and whenever what the tray shows changes (a call rings or ends, the link
changes, Reconnect is offered): a StatusNotifierItem host (XFCE's panel) sizes the menu
from the entries it knows as it opens it and takes the opening's changes after that, so an
entry that only appeared as the menu opened was cut off behind a scroll arrow, and one that
went left a blank.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.ui.assets import icon
from app.ui.main_window import MainWindow
from app.ui.menu_text import as_menu_text
from app.ui.settings import Settings
from app.ui.tray_targets import TalkTargetMenu
from app.ui.tray_watch import TrayWatch
from app.ui.view_types import LinkState

logger = logging.getLogger(__name__)

TRAY_CHECK_MS = 2000
"""While the window is hidden in the tray: how often the tray is looked for."""
TRAY_MISSES = 2
"""Checks in a row without a tray before the window shows (a panel that restarts is
back within a check)."""


class TrayController(QObject):
    """The tray icon and menu of one main window."""

    hint_shown = Signal()  # the "still running in the tray" message was shown

    def __init__(self, window: MainWindow, settings: Settings, *,
                 talk_target: Callable[[], str] = lambda: "",
                 key_status: Callable[[], str] = lambda: "",
                 refresh_status: Callable[[], None] = lambda: None,
                 available: bool | None = None, watch: TrayWatch | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        # None: asked of the desktop each time (a tray host may come up after the app, as
        # at login, or go away); a bool: fixed (tests)
        self._available = available
        self._talk_target = talk_target
        self._key_status = key_status
        self._refresh_status = refresh_status
        # the tray looked for while the window is hidden (the app's one watcher, shared
        # with the background start's retries)
        self._watch = watch if watch is not None else TrayWatch(
            self, probe=lambda: self.available)
        self._watching = False
        self._watch.changed.connect(self._on_tray_changed)
        self._gone = QTimer(self)  # no tray since a check: the window shows at its end
        self._gone.setSingleShot(True)
        self._gone.timeout.connect(self._tray_gone)
        self._opened_by_message = False  # a message's click showed the window just now
        self.icon = QSystemTrayIcon(icon("tray-offline"), window)
        self.menu = QMenu(window)
        self.show_action = self.menu.addAction("")
        self.show_action.triggered.connect(self.toggle_window)
        # a call ringing while the window is hidden: answered (or dismissed) from here, as
        # from the window's banner
        self.answer_action = self.menu.addAction(icon("join"), "")
        self.answer_action.triggered.connect(lambda: window.banner.answer.click())
        self.dismiss_action = self.menu.addAction("")
        self.dismiss_action.triggered.connect(lambda: window.banner.dismiss.click())
        self.menu.addSeparator()
        self.status_action = self.menu.addAction("")
        self.status_action.setEnabled(False)
        self.reconnect_action = self.menu.addAction(icon("join"), "")
        self.reconnect_action.triggered.connect(window.reconnect_requested)
        # the joined interphones, to change the talk target with the window hidden
        self.target_menu = TalkTargetMenu(window)
        self.target_menu.chosen.connect(window.talk_here_requested)
        self.target_action = self.target_menu.menuAction()
        self.menu.addAction(self.target_action)
        self.key_action = self.menu.addAction("")
        self.key_action.setEnabled(False)
        self.menu.addSeparator()
        self.mute_action = self.menu.addAction(icon("mute"), "")
        self.mute_action.setCheckable(True)
        self.mute_action.setChecked(window.audio_bar.mute.isChecked())
        self.mute_action.toggled.connect(self._on_mute_action)
        window.audio_bar.mute_toggled.connect(self._on_mute_bar)
        self.menu.addSeparator()
        # its own action: the window's carries the Ctrl+Q shortcut, which a tray menu shows
        # as a hint although the key does nothing there
        self.quit_action = self.menu.addAction("")
        self.quit_action.triggered.connect(window.quit_action.trigger)
        self.menu.aboutToShow.connect(self.refresh)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_message_clicked)
        window.tray = self.icon
        window.show_tray_state()  # the state the window had before there was a tray
        window.close_to_tray = self.hide_on_close
        # its language follows the window's (not an event filter on the window: that
        # would call Python for each of its events, 10 update requests a second while
        # the level meters move)
        window.retranslated.connect(self.retranslate)
        window.tray_state_changed.connect(self._follow_state)
        window.rows_changed.connect(self._follow_rows)
        self.target_menu.set_rows(window.interphones.joined_rows())
        self.retranslate()
        self.refresh()
        if available is not False:
            # also without a tray host yet: Qt docks the icon when one comes up (an icon
            # shown only if a tray existed at start never appeared in a panel started
            # after the app)
            self.icon.show()

    @property
    def available(self) -> bool:
        """A system tray shows the icon now."""
        if self._available is not None:
            return self._available
        return QSystemTrayIcon.isSystemTrayAvailable()

    # --- closing to the tray -------------------------------------------------------------------
    @property
    def hides_on_close(self) -> bool:
        return self.available and self.settings.close_to_tray

    def hide_on_close(self) -> bool:
        """Asked by the window's close: True = hide to the tray (and say so the first time)."""
        if not self.hides_on_close:
            return False
        if not self.settings.tray_hint_shown:
            self.settings.tray_hint_shown = True
            self.settings.sync()
            self.window.tray_message(  # (a click on it does not undo the close)
                self.tr("Interphone is still running"),
                self.tr("Closing the window keeps Interphone in the system tray, so you still "
                        "hear your interphones. Quit from the tray menu; change this in "
                        "Settings › Interface."),
                "app", 10000, key="hint", opens=None)
            self.hint_shown.emit()
        self.watch_hidden()
        return True

    def watch_hidden(self) -> None:
        """The window is (or is about to be) hidden in the tray: look for the tray until it
        shows again, and show it if the tray goes away."""
        self._watching = True
        self._watch.watch(self, TRAY_CHECK_MS)
        if self._watch.present is False:  # (already known: the watcher was running)
            self._on_tray_changed(False)
        else:
            self._gone.stop()

    def _stop_watching(self) -> None:
        self._watching = False
        self._gone.stop()
        self._watch.unwatch(self)

    def _grace_ms(self) -> int:
        """How long no tray is borne from the check that found none: until
        ``TRAY_MISSES`` checks in a row found none."""
        return (TRAY_MISSES - 1) * TRAY_CHECK_MS

    def _on_tray_changed(self, present: bool) -> None:
        if not self._watching:
            return
        if self.window.isVisible():
            self._stop_watching()  # shown again (the icon, a notification, a new start)
        elif present:
            self._gone.stop()
        elif not self._gone.isActive():
            missed_ms = int(self._watch.missing_for() * 1000)
            self._gone.start(max(0, self._grace_ms() - missed_ms))

    def _tray_gone(self) -> None:
        if not self._watching:
            return
        if self.window.isVisible():
            self._stop_watching()
        elif self._watch.present is False:
            logger.info("no system tray (gone, or none came up): showing the window")
            self.show_window()

    def toggle_window(self) -> None:
        window = self.window
        if window.isVisible() and not window.isMinimized():
            window.hide()
            self.watch_hidden()
        else:
            self.show_window()

    def show_window(self) -> None:
        self._stop_watching()
        window = self.window
        window.showNormal()
        window.raise_()
        window.activateWindow()

    # --- menu ------------------------------------------------------------------------------------
    def _follow_state(self) -> None:
        self.refresh(status=False)  # (bringing the status up to date would come back here)

    def _follow_rows(self) -> None:
        self.target_menu.set_rows(self.window.interphones.joined_rows())
        self.refresh(status=False)

    def refresh(self, *, status: bool = True) -> None:
        """Menu texts and entries from the window's current state (called when the menu
        opens, and when the tray's state changes: ``status`` False, the connection status
        as the window has it)."""
        window = self.window
        if status:
            self._refresh_status()
        shown = window.isVisible() and not window.isMinimized()  # as toggle_window decides
        self.show_action.setText(self.tr("Hide Interphone") if shown
                                 else self.tr("Show Interphone"))
        self.status_action.setText(as_menu_text(window.link_text()) or self.tr("Not connected"))
        caller = window.banner.caller
        self.answer_action.setText(self.tr("Answer %1").replace("%1", as_menu_text(caller)))
        self.answer_action.setVisible(bool(caller))
        self.dismiss_action.setText(self.tr("Dismiss the call"))
        self.dismiss_action.setVisible(bool(caller))
        self.reconnect_action.setVisible(not window.reconnect_button.isHidden())
        target = as_menu_text(self._talk_target())
        connected = window.link_state in (LinkState.CONNECTED, LinkState.DEGRADED)
        if not connected:
            # (e.g. signed in elsewhere: joining is not what is missing)
            text = (self.tr("Talk target: %1 (offline)").replace("%1", target) if target
                    else self.tr("Talk target: none (offline)"))
        elif target:
            text = self.tr("Talk target: %1").replace("%1", target)
        else:
            text = self.tr("Talk target: none (join an interphone)")
        self.target_action.setText(text)
        self.target_action.setEnabled(connected and not self.target_menu.isEmpty())
        key_status = self._key_status()
        self.key_action.setText(key_status)
        self.key_action.setVisible(bool(key_status))

    def _on_mute_action(self, muted: bool) -> None:
        bar = self.window.audio_bar
        if bar.mute.isChecked() != muted:
            bar.set_muted(muted)
            self.window.mute_toggled.emit(muted)

    def _on_mute_bar(self, muted: bool) -> None:
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(muted)
        self.mute_action.blockSignals(False)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            if self._opened_by_message:
                # the same click, told again as the icon's (XEmbed trays tell a click on
                # the icon while a message shows as both): toggling would hide the window
                # the message's click just showed
                self._opened_by_message = False
                return
            self.toggle_window()
        elif reason is QSystemTrayIcon.ActivationReason.DoubleClick:
            # its first click already came as a Trigger: toggling again hid the window
            # that click had just shown
            self.show_window()

    def _on_message_clicked(self) -> None:
        opens = self.window.tray_message_opens
        self.window.tray_balloon_gone()
        if opens is not None:
            self._opened_by_message = True
            QTimer.singleShot(0, self, self._forget_message_click)  # (after that click)
        self._open(opens)

    def _forget_message_click(self) -> None:
        self._opened_by_message = False

    def on_notification_clicked(self, key: str) -> None:
        """A click on a message the desktop's notification daemon showed."""
        self._open(self.window.notification_opens.get(key))

    def _open(self, opens: str | None) -> None:
        if opens is None:
            return
        self.show_window()
        if opens:
            self.window.interphones.select(opens)

    def retranslate(self) -> None:
        self.mute_action.setText(self.tr("&Mute"))
        self.reconnect_action.setText(self.tr("&Reconnect"))
        self.quit_action.setText(self.tr("&Quit"))
        self.refresh()

    def close(self) -> None:
        # the session ends (signed in again, out, or quit): its "offline" goes with it
        self.window.withdraw_notice("link", at_once=True)
        self._stop_watching()
        self._watch.changed.disconnect(self._on_tray_changed)
        self.window.tray_state_changed.disconnect(self._follow_state)
        self.window.rows_changed.disconnect(self._follow_rows)
        self.icon.hide()
        if self.window.tray is self.icon:
            self.window.tray = None
        self.window.close_to_tray = None
