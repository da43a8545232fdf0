"""The main window: interphone list, selected interphone, audio strip, status bar, tray.

A view: it emits intent signals and offers setters; the presenter drives it.
Talk intents from the round button, the talk key and the global key are merged, and a
screen reader's press latches (:mod:`app.ui.talk_intents`), so ``talk_pressed`` /
``talk_released`` come in pairs whatever the source.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QHideEvent,
    QKeySequence,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.ui.about_box import show_about
from app.ui.announcer import Announcer
from app.ui.assets import icon
from app.ui.audio_bar import AudioBar
from app.ui.call_banner import IncomingCallBanner
from app.ui.contrast import text_style
from app.ui.desktop_notifications import DesktopNotifications
from app.ui.elided_note import ElidedNote, ElidedStatusBar
from app.ui.emergency_action import EmergencyAction
from app.ui.failure_text import fill
from app.ui.floor_widgets import EmergencyBanner
from app.ui.font_scaled import font_scaled
from app.ui.interphone_list import InterphoneList
from app.ui.interphone_panel import InterphonePanel
from app.ui.link_note import LINK_COLOURS, LinkNote
from app.ui.return_clicks import ReturnClicksButtons
from app.ui.talk_intents import TURN_STATES, TalkIntents
from app.ui.talk_key import TalkKey, talk_key_label
from app.ui.view_types import InterphoneRow, LinkState, TalkState
from app.ui.window_geometry import DEFAULT_SIZE, initial_geometry, least_size
from app.ui.window_notices import UNTIL_SEEN_TRAY_MS
from app.ui.window_tray import WindowTray

REPLAY_LAST_KEY = "Ctrl+R"
"""Plays the newest received transmission of the selected interphone again."""
PREFERENCES_FALLBACK_KEY = "Ctrl+,"
"""Settings where the platform names no Preferences key (X11 outside KDE, Windows): the
key GNOME's guidelines and most editors use."""
LIST_SHARE = 0.34
"""The interphone list's share of the window's width until the user drags the splitter
(at most ``LIST_MAX_PX``, more at a larger font, at least the list's minimum): at 640 px
the pane beside it keeps room for its members and replay."""
LIST_MAX_PX = 300


def preferences_keys() -> list[QKeySequence]:
    """The platform's Preferences key(s), or :data:`PREFERENCES_FALLBACK_KEY` where it has
    none (Qt's ``StandardKey.Preferences`` is empty there, so Settings had no key)."""
    keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
    return keys or [QKeySequence(PREFERENCES_FALLBACK_KEY)]


class MainWindow(WindowTray):
    """The app's window. Intent signals below; setters further down."""

    talk_pressed = Signal()
    talk_released = Signal()
    selection_changed = Signal(str)
    join_requested = Signal(str)
    leave_requested = Signal(str)
    volume_changed = Signal(int)
    mute_toggled = Signal(bool)
    settings_requested = Signal()
    sign_out_requested = Signal()
    quit_requested = Signal()
    call_dismissed = Signal(str)
    activity_noticed = Signal(str, str, str)
    """(interphone id, interphone name, speaker name): someone speaks in a joined
    interphone that is not the talk target (a tray may notify while hidden)."""
    reconnect_requested = Signal()
    replay_last_requested = Signal()
    emergency_requested = Signal()
    emergency_cancel_requested = Signal()
    """The emergency action while it cancels the emergency up in the talk target."""
    retranslated = Signal()
    """The window took a new language (what shows its texts elsewhere follows: the tray)."""
    talk_here_requested = Signal(str)
    """A joined interphone chosen as the talk target (the panel's Talk here, the tray)."""
    rows_changed = Signal()
    """The interphone list was shown anew (the tray's talk target submenu follows)."""
    tray_state_changed = Signal()
    """What the tray shows changed (its icon, its tooltip, Reconnect offered or not): the
    tray's menu follows at once, not only as it opens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowIcon(icon("app"))
        self.status_bar = ElidedStatusBar(self)  # (a long passing message is cut with "…")
        self.setStatusBar(self.status_bar)
        self._follows_screens = False  # its window's screen changes set the minimum again
        self._fit_minimum()
        self._me = ""
        self._names: dict[str, str] = {}
        self._key_text = "Space"
        self._title_name = ""
        self._title_speaker = ""
        self._call_notice = ""  # the status bar's "X is calling you" while it may show

        self.interphones = InterphoneList(self)
        # the banners over the panel are made before it: Tab follows the order of creation
        self.emergency = EmergencyBanner(self)
        self.banner = IncomingCallBanner(self)
        self.panel = InterphonePanel(self)
        self.panel.ticker.set_shown(False)  # until the window shows (started in the tray)
        self.audio_bar = AudioBar(self)
        self.replay_shortcut = QShortcut(QKeySequence(REPLAY_LAST_KEY), self)
        self.replay_shortcut.activated.connect(self.replay_last_requested)
        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.find_shortcut.activated.connect(self.interphones.focus_filter)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 0)
        right_layout.addWidget(self.emergency)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.panel, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.interphones)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.interphones.setMinimumWidth(220)
        self.splitter.setSizes([LIST_MAX_PX, 700])
        self._list_width_chosen = False  # the user dragged the splitter: theirs from then
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.splitter, 1)
        line = QFrame(central)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addWidget(self.audio_bar)
        # a screen too small for the window's least size (200 % on a 1366×768 laptop:
        # 683×384 logical pixels) scrolls it, where its parts were drawn over each other
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroller.setWidget(central)
        self.setCentralWidget(self.scroller)

        self.link_label = LinkNote(self)  # (both cut with "…" in a narrow window)
        self.audio_label = ElidedNote(self, colour="#607d8b")
        self.audio_problem = QLabel(self)
        self.audio_problem.setStyleSheet(text_style("#c62828", self))
        self.audio_problem.setWordWrap(False)
        self.audio_problem.hide()
        self.reconnect_button = QPushButton(icon("join"), "", self)
        self.reconnect_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.reconnect_button.clicked.connect(self.reconnect_requested)
        self.reconnect_button.hide()
        self.statusBar().addPermanentWidget(self.reconnect_button)
        self.statusBar().addPermanentWidget(self.link_label)
        self.statusBar().addPermanentWidget(self.audio_problem)
        self.statusBar().addPermanentWidget(self.audio_label)
        self.status_bar.gives_way = self.link_label  # (to a passing message)
        # a passing message gets the audio note's room (in a narrow window it was cut off),
        # and the other notes' (add_status_note)
        self._status_notes: list[QLabel] = []
        self.statusBar().messageChanged.connect(self._on_status_message)
        # status changes a screen reader says as they happen (the window's passing
        # messages too: show_message; not every line of the status bar, a menu's tips)
        self.announcer = Announcer(self)
        self.emergency.raised.connect(lambda text: self.announcer.say(text, urgent=True))
        self._link: tuple[LinkState, str] = (LinkState.OFFLINE, "")
        self._audio_note: tuple[bool, str] | None = None
        self._talk_state = TalkState.NOT_JOINED
        # who speaks in the joined interphones other than the talk target: (interphone
        # name, speaker name), for the tray
        self._activity: list[tuple[str, str]] = []

        self._build_menu()
        self.tray: QSystemTrayIcon | None = None  # set by app.ui.tray.TrayController
        # what it shows: (the tray, its icon's cacheKey, its tooltip)
        self._tray_shown: tuple[QSystemTrayIcon, int, str] | None = None
        # what a click on the tray's last message opens: the window (``""``), the window on
        # that interphone (its id), or nothing (``None``: a message about the tray itself)
        self.tray_message_opens: str | None = None
        self._tray_balloon: tuple[str, float] = ("", 0.0)  # the tray's message: key, until
        # the desktop's notification daemon, when there is one (set by the runtime): says
        # the tray's messages instead of the tray icon, each with what a click on it opens
        self.notifications: DesktopNotifications | None = None
        self.notification_opens: dict[str, str | None] = {}
        # someone speaking in another interphone: when its last message was said
        # (monotonic), so that a conversation there is one message, not one per turn
        self._activity_said: dict[str, float] = {}
        self._activity_line = ""
        # asked on close: True hides the window (to the tray) instead of quitting
        self.close_to_tray: Callable[[], bool] | None = None

        self.talk_intents = TalkIntents(self, self.announcer, self.panel.talk_button)
        self.talk_intents.pressed.connect(self.talk_pressed)
        self.talk_intents.released.connect(self.talk_released)
        self.talk_key = TalkKey(self)
        self.talk_key.pressed.connect(lambda: self.talk_intents.hold("key", True))
        self.talk_key.released.connect(lambda: self.talk_intents.hold("key", False))
        button = self.panel.talk_button
        button.talk_pressed.connect(lambda: self.talk_intents.hold("mouse", True))
        button.talk_released.connect(lambda: self.talk_intents.hold("mouse", False))
        button.talk_toggled.connect(self.talk_intents.toggle)
        self.interphones.selected.connect(self.selection_changed)
        self.interphones.join_requested.connect(self.join_requested)
        self.panel.join_requested.connect(self.join_requested)
        self.panel.leave_requested.connect(self.leave_requested)
        self.panel.mix.talk_here_requested.connect(self.talk_here_requested)
        self.banner.answered.connect(self._answer_call)
        self.banner.dismissed.connect(self._dismiss_call)
        self.audio_bar.volume_changed.connect(self.volume_changed)
        self.audio_bar.mute_toggled.connect(self.mute_toggled)
        self.mute_toggled.connect(self.show_tray_state)  # from the bar or the tray's menu
        # the list has the focus at start (no focus proxy on the window: Tab from the last
        # control wrapped to the proxy and never reached the filter box)
        self.interphones.tree.setFocus()
        self.return_clicks = ReturnClicksButtons(self)
        self.return_clicks.watch(self)
        self.retranslate()

    # --- setters -----------------------------------------------------------------------------
    def set_me(self, uid: str) -> None:
        self._me = uid
        self.panel.set_me(uid)
        self.interphones.set_me(uid)
        self._show_title()

    def set_names(self, names: dict[str, str]) -> None:
        """Display names by uid (from the roster); uids without one show as themselves."""
        self._names = dict(names)
        self.panel.set_names(names)
        self.interphones.set_names(names)
        self._show_title()
        self._show_link()

    def display_name(self, uid: str) -> str:
        return self._names.get(uid) or uid

    def fit_to_screen(self) -> None:
        """Size and place a first window inside the screen's available area."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(DEFAULT_SIZE)
            return
        self._fit_minimum()
        self.setGeometry(initial_geometry(screen.availableGeometry()))

    def _fit_minimum(self) -> None:
        """640×480 at least, more at a large font (see :func:`least_size`)."""
        least = least_size(self)
        if least is not None:
            self.setMinimumSize(least)

    def set_rows(self, rows: list[InterphoneRow]) -> None:
        if self.interphones.set_rows(rows):
            self._rows_shown()

    def update_rows(self, rows: list[InterphoneRow]) -> None:
        """Some of the rows shown, again (see :meth:`InterphoneList.update_rows`)."""
        if self.interphones.update_rows(rows):
            self._rows_shown()

    def _rows_shown(self) -> None:
        # (the tray's menu follows rows_changed: it reads every row)
        selected = self.panel.interphone_id
        if selected:
            self.panel.set_interphone(self.interphones.row(selected))
        self.rows_changed.emit()

    def show_interphone(self, row: InterphoneRow | None) -> None:
        self.panel.set_interphone(row)
        if row is not None and self.interphones.selected_id() != row.id:
            self.interphones.select(row.id)

    def set_talk_state(self, state: TalkState, holder: str = "", detail: str = "",
                       deadline: float | None = None, max_talk: float = 0.0,
                       running: bool | None = None, retry: bool = False) -> None:
        """``running``: a turn runs (asking, in line, talking or releasing); by default,
        whether ``state`` is one of a turn. A latched talk ends when none runs. ``retry``:
        DENIED by no refusal of permission (the server's fault, a budget): "Try again"."""
        self._talk_state = state
        self.panel.talk_button.set_state(state, holder, detail, deadline, max_talk,
                                         retry=retry)
        self.announcer.talk_state(state, holder, detail, retry=retry)
        self.show_tray_state()
        self.talk_intents.turn_changed(state, state in TURN_STATES if running is None
                                       else running)

    def set_activity(self, speaking: list[tuple[str, str]]) -> None:
        """Who speaks in the joined interphones other than the talk target, as (interphone
        name, speaker name): the tray icon shows it (a badge) and its tooltip says it."""
        if speaking != self._activity:
            self._activity = list(speaking)
            self.show_tray_state()

    def set_emergency_action(self, offered: bool, raised_by: str = "",
                             can_cancel: bool = False, where: str = "",
                             target: str = "") -> None:
        """The menu's emergency action for the talk target: ``offered`` (joined, online, the
        server offers emergencies); ``raised_by``: the display name of who raised the one
        up there (``""``: none). While one is up it cannot be raised again: the action
        cancels it when ``can_cancel`` (its raiser, a dispatcher), else it is disabled.
        ``where``: the talk target's name when another interphone is shown ("here" would
        be the one on screen), else ``""``; ``target``: the talk target's name, which the
        confirmation of a raise names."""
        self.emergency_menu.set_state(offered, raised_by, can_cancel, where, target)

    def confirm_emergency(self) -> QMessageBox:
        """Ask before raising an emergency (see :meth:`EmergencyAction.confirm`)."""
        return self.emergency_menu.confirm()

    @property
    def emergency_confirm(self) -> QMessageBox | None:
        """The open "Raise the emergency in X?" question, if any."""
        return self.emergency_menu.confirm_box

    def set_speaking(self, interphone_name: str, speaker: str) -> None:
        """For the window title: who speaks (``""`` nobody) in the joined interphone."""
        self._title_name, self._title_speaker = interphone_name, speaker
        self._show_title()

    def set_link(self, state: LinkState, detail: str = "") -> None:
        self._link = (state, detail)
        self._show_link()
        if state not in (LinkState.CONNECTED, LinkState.DEGRADED):
            self.talk_key.release()
            self.talk_intents.unlatch()

    def set_audio_note(self, simulated: bool, detail: str = "") -> None:
        """The permanent audio note: the device in use, or that audio is simulated."""
        self._audio_note = (simulated, detail)
        self._show_audio_note()

    def set_talk_key(self, key_text: str) -> None:
        self._key_text = key_text
        self.talk_key.set_key(key_text)
        self._show_key_name()

    def _show_key_name(self) -> None:
        self.panel.talk_button.set_key_name(talk_key_label(self._key_text))

    def offer_reconnect(self, offered: bool) -> None:
        """Show (or hide) the Reconnect button, e.g. after "signed in elsewhere". Offered
        while the window is hidden or minimized, the tray says why the app went offline (a
        click shows the window, with the button), until the window is seen or the app is
        online again (the tray icon's own message, without a notification daemon, after
        ``UNTIL_SEEN_TRAY_MS`` at most)."""
        newly = offered and self.reconnect_button.isHidden()
        changed = offered == self.reconnect_button.isHidden()
        self.reconnect_button.setVisible(offered)
        if changed:
            self.tray_state_changed.emit()
        if newly and (not self.isVisible() or self.isMinimized()):
            self.tray_message(self.tr("Interphone"), self.link_text(), "tray-offline", 0,
                              key="link", tray_timeout_ms=UNTIL_SEEN_TRAY_MS)
        elif not offered:  # back online (or signed in again): no longer true
            self.withdraw_notice("link")

    def set_audio_problem(self, text: str) -> None:
        """A lost or failing audio device, shown until cleared with ``""``."""
        self.audio_problem.setText(text)
        self.audio_problem.setToolTip(text)
        self.audio_problem.setVisible(bool(text))
        if text:
            self.show_message(text, 10000)

    def show_about(self) -> QMessageBox:
        return show_about(self)

    def show_message(self, text: str, timeout_ms: int = 5000) -> None:
        self.announcer.say(text)
        self.statusBar().showMessage(text, timeout_ms)

    def withdraw_message(self, text: str) -> None:
        """``text`` is no longer true: off the status bar if it still shows (a newer
        message stays)."""
        if text and self.statusBar().currentMessage() == text:
            self.statusBar().clearMessage()

    # --- talk intents --------------------------------------------------------------------------
    def hold_global_key(self, down: bool) -> None:
        """The global talk key (app.ui.global_key) went down or up: same path as Space."""
        self.talk_intents.hold("global", down)

    def _answer_call(self, interphone_id: str) -> None:
        self.clear_incoming_call()  # (its message too: it no longer rings)
        self.join_requested.emit(interphone_id)

    def _dismiss_call(self, interphone_id: str) -> None:
        self.clear_incoming_call()
        self.call_dismissed.emit(interphone_id)

    # --- display -------------------------------------------------------------------------------
    def _show_title(self) -> None:
        app_name = self.tr("Interphone")
        if self._title_speaker and self._title_name:
            who = self.tr("You are speaking") if self._title_speaker == self._me \
                else self.tr("%1 is speaking").replace("%1",
                                                       self.display_name(self._title_speaker))
            self.setWindowTitle(f"{who} — {self._title_name} — {app_name}")
        elif self._title_name:
            self.setWindowTitle(f"{self._title_name} — {app_name}")
        elif self._me:
            self.setWindowTitle(f"{self.display_name(self._me)} — {app_name}")
        else:
            self.setWindowTitle(app_name)
        self.show_tray_state()

    def _show_link(self) -> None:
        state, detail = self._link
        text = {
            LinkState.CONNECTING: self.tr("Connecting…"),
            LinkState.CONNECTED: self.tr("Connected as %1").replace("%1",
                                                                     self.display_name(self._me)),
            LinkState.DEGRADED: self.tr("Connected as %1, but the server cannot reach its "
                                        "database; trying again…").replace(
                "%1", self.display_name(self._me)),
            LinkState.RECONNECTING: self.tr("Connection lost, reconnecting…"),
            LinkState.OFFLINE: self.tr("Offline"),
        }[state]
        if detail:  # a whole text: Chinese has full-width brackets
            text = fill(self.tr("%1 (%2)", "the connection's state (a detail)"), text, detail)
        self.link_label.set_link(LINK_COLOURS[state], text)
        self.announcer.link(state, text)
        self.show_tray_state()

    def add_status_note(self, label: QLabel) -> None:
        """A note at the right of the status bar (after the audio note) that, like it,
        makes room for a passing message; shown while it has a text."""
        self._status_notes.append(label)
        self.statusBar().addPermanentWidget(label)
        self.show_status_note(label)

    def show_status_note(self, label: QLabel) -> None:
        """``label`` (a status note) took a new text: shown if it has one and no passing
        message needs its room."""
        label.setVisible(bool(label.text()) and not self.statusBar().currentMessage())

    def _on_status_message(self, text: str) -> None:
        self.audio_label.setVisible(not text)
        for label in self._status_notes:
            self.show_status_note(label)
        self.status_bar.share_room()

    def _show_audio_note(self) -> None:
        if self._audio_note is None:
            self.audio_label.clear()
            return
        simulated, detail = self._audio_note
        if simulated:
            text = (self.tr("Audio: simulated, no sound card (%1)").replace("%1", detail)
                    if detail and detail != "no sound card"
                    else self.tr("Audio: simulated, no sound card"))
        else:
            text = self.tr("Audio: %1").replace("%1", detail)
        self.audio_label.setText(text)
        self.audio_label.setToolTip(text)

    def link_text(self) -> str:
        return self.link_label.accessibleName()

    @property
    def link_state(self) -> LinkState:
        return self._link[0]

    def _build_menu(self) -> None:
        self.app_menu = QMenu(self)
        self.settings_action = QAction(icon("settings"), "", self)
        self.settings_action.setShortcuts(preferences_keys())
        self.settings_action.triggered.connect(self.settings_requested)
        self.sign_out_action = QAction("", self)
        self.sign_out_action.triggered.connect(self.sign_out_requested)
        self.quit_action = QAction("", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.quit_requested)
        self.about_action = QAction(icon("app"), "", self)
        self.about_action.triggered.connect(self.show_about)
        self.emergency_menu = EmergencyAction(self)
        self.emergency_menu.requested.connect(self.emergency_requested)
        self.emergency_menu.cancel_requested.connect(self.emergency_cancel_requested)
        self.emergency_action = self.emergency_menu.action
        self.app_menu.setToolTipsVisible(True)  # why the emergency action is disabled
        self.app_menu.addAction(self.emergency_action)
        self.app_menu.addSeparator()
        self.app_menu.addAction(self.settings_action)
        self.app_menu.addAction(self.about_action)
        self.app_menu.addSeparator()
        self.app_menu.addAction(self.sign_out_action)
        self.app_menu.addAction(self.quit_action)
        self.menuBar().addMenu(self.app_menu)

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # --- events --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.talk_key.release()
        if self.close_to_tray is not None and self.close_to_tray():
            self.hide()
            event.ignore()
            return
        self.quit_requested.emit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._list_width_chosen:
            self._fit_list()

    def _fit_list(self) -> None:
        """The list's width follows the window's (``LIST_SHARE``) until the user sets it."""
        room = self.splitter.width() - self.splitter.handleWidth()
        if room <= 0:
            return
        width = max(self.interphones.minimumWidth(),
                    min(font_scaled(self, LIST_MAX_PX), round(self.width() * LIST_SHARE)))
        self.splitter.setSizes([width, max(0, room - width)])

    def _on_splitter_moved(self, _position: int, _index: int) -> None:
        self._list_width_chosen = True

    def showEvent(self, event: QShowEvent) -> None:
        handle = self.windowHandle()
        if handle is not None and not self._follows_screens:  # moved to a smaller screen
            self._follows_screens = True
            handle.screenChanged.connect(lambda _screen: self._fit_minimum())
        self._fit_minimum()  # (the screen it shows on)
        super().showEvent(event)
        self._follow_screen()

    def hideEvent(self, event: QHideEvent) -> None:
        self.talk_key.release()
        self.talk_intents.unlatch()  # (hidden to the tray, minimized, signed out)
        super().hideEvent(event)
        self._follow_screen()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            self.retranslated.emit()
        elif event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self.talk_key.release()
        elif event.type() == QEvent.Type.WindowStateChange:
            self._follow_screen()
        elif event.type() == QEvent.Type.FontChange:
            self._fit_minimum()
            if not self._list_width_chosen:
                self._fit_list()
        super().changeEvent(event)

    def _follow_screen(self) -> None:
        """Hidden to the tray or minimized, the window's clocks and meters wait (the
        view ticker); the audio's work goes on."""
        seen = self.isVisible() and not self.isMinimized()
        self.panel.ticker.set_shown(seen)
        if seen:
            self.window_seen()

    def retranslate(self) -> None:
        self.app_menu.setTitle(self.tr("&Interphone"))
        self.about_action.setText(self.tr("&About Interphone"))
        self.reconnect_button.setText(self.tr("&Reconnect"))
        self.reconnect_button.setToolTip(self.tr("Sign in again with the same account"))
        self.settings_action.setText(self.tr("&Settings…"))
        self.sign_out_action.setText(self.tr("Sign &out"))
        self.quit_action.setText(self.tr("&Quit"))
        self.emergency_menu.show()
        self._show_title()
        self._show_link()
        self._show_audio_note()
        if hasattr(self, "talk_key"):  # not yet during __init__
            self._show_key_name()
