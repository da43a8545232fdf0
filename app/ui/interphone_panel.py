"""The right pane: the selected interphone, its members, who speaks, and the talk button."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.assets import icon
from app.ui.contrast import accent_fill, readable, text_style
from app.ui.elided_note import ElidedNote
from app.ui.floor_widgets import ReplayList, keep_least_rows
from app.ui.focus_ring import show_focus_ring
from app.ui.font_scaled import font_scaled
from app.ui.interphone_mix import InterphoneMixControls
from app.ui.last_spoke import LastSpoke, clock_text
from app.ui.quiet_line import QuietLine
from app.ui.talk_button import CALL, JOIN, TalkButton, format_length, format_seconds
from app.ui.view_ticker import ViewTicker
from app.ui.view_types import InterphoneRow, Reception, RowKind

CLOCK_PERIOD_MS = 500
LISTS_MAX_PX = 280  # the members' and the replay list's widest, at the default font
KIND_ICON_PX = 40  # the shown interphone's kind, beside its name
MEMBER_ICON_PX = 16  # a member's (or the speaker's) icon in the list
"""How often the speaking line's elapsed time is looked at (it changes each second)."""


def member_count_text(count: int) -> str:
    """``1 member`` / ``N members``, translated: the one wording of the list and the panel."""
    if count == 1:
        return QCoreApplication.translate("InterphonePanel", "1 member")
    return QCoreApplication.translate("InterphonePanel", "%1 members").replace("%1", str(count))


class InterphonePanel(QWidget):
    """Emits ``join_requested(id)`` / ``leave_requested(id)``.

    Its ``talk_button`` emits the talk intents.
    """

    join_requested = Signal(str)
    leave_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: InterphoneRow | None = None
        self._members: list[str] = []
        self._members_known = False
        self._members_shown: tuple[object, ...] = ()  # what the member list was made of
        self._speaker = ""
        self._speaker_since: float | None = None
        self._last: LastSpoke | None = None  # who spoke last: the "Last spoke" line
        self._me = ""
        self._names: dict[str, str] = {}
        self._offline = False
        self._clock_shown = -1  # the whole seconds the speaking line shows

        self.kind_icon = QLabel(self)
        self.title = ElidedNote(self)  # a long name is cut with "…" (it was cut anywhere)
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel(self)
        self.subtitle.setStyleSheet(text_style("#607d8b", self))
        # made before the join and leave buttons: Tab follows the order of creation, and
        # these come first on screen
        self.mix = InterphoneMixControls(self)  # talk here, volume, mute (joined rows)
        self.join_button = QPushButton(self)
        self.join_button.setIcon(icon("join"))
        self.join_button.clicked.connect(self._on_join)
        self.leave_button = QPushButton(self)
        self.leave_button.setIcon(icon("leave"))
        self.leave_button.clicked.connect(self._on_leave)
        for button in (self.join_button, self.leave_button):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        # a long name is cut with "…": the whole line was the pane's least width, and a
        # narrow window scrolled sideways, the talk button and Leave out of sight
        self.speaking = ElidedNote(self)
        speaking_font = QFont(self.speaking.font())
        speaking_font.setPointSizeF(speaking_font.pointSizeF() * 1.2)
        self.speaking.setFont(speaking_font)
        # the speaking line's clock and the reception figures change each second:
        # neither relays the window out for that
        self._speaking_line = QuietLine(self.speaking, self)
        self.last_spoke = ElidedNote(self)
        self.last_spoke.setStyleSheet(text_style("#607d8b", self))
        self.reception = QLabel(self)  # how the speaker being heard comes through
        self._reception_line = QuietLine(self.reception, self)
        self._reception_line.setVisible(False)
        self._reception: Reception | None = None

        self.members_title = QLabel(self)
        self.members_title.setStyleSheet("font-weight: bold;")
        self.members = QListWidget(self)
        # reached by Tab (the arrows go through it): a keyboard or screen-reader user
        # learns who is in, and reads a name the narrow list shortens
        self.members.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        show_focus_ring(self.members)  # (an empty list showed no sign of the focus)
        self.members.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.members.setMinimumWidth(120)
        # long names are elided (full name in the tooltip), never scrolled sideways
        self.members.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.members.setTextElideMode(Qt.TextElideMode.ElideRight)
        # its colours follow its palette (the desktop turning dark while we run)
        self.members.installEventFilter(self)
        self.members.setWordWrap(False)
        self.members.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        keep_least_rows(self.members)
        self.ticker = ViewTicker(self)
        """The one timer of this pane's clocks (the speaking time, the talk countdown) and
        of the presenter's audio tick: they share its wake-ups."""
        self.talk_button = TalkButton(self, ticker=self.ticker)
        self.talk_button.join_clicked.connect(self._join_from_talk_button)
        self.replay = ReplayList(self)
        self.replay.tab_after = self.members  # Tab: the members, then the replay rows
        self._fit_to_font()

        header = QGridLayout()
        header.addWidget(self.kind_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.title, 0, 1)
        header.addWidget(self.subtitle, 1, 1)
        header.setColumnStretch(1, 1)
        self.controls = QWidget(self)  # beside the title, or under it when narrow
        buttons = QHBoxLayout(self.controls)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.mix)
        buttons.addWidget(self.join_button)
        buttons.addWidget(self.leave_button)
        self._header = header
        self._controls_beside: bool | None = None
        self._place_controls()

        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        members_box = QVBoxLayout()
        members_box.addWidget(self.members_title)
        members_box.addWidget(self.members)
        members_box.addWidget(self.replay)
        body = QHBoxLayout()
        # the lists get the larger share of a narrow pane (they hold text; the round
        # button is as legible smaller); both lists stop at
        # LISTS_MAX_PX (more at a larger font) in a wide one
        body.addLayout(members_box, 3)
        body.addWidget(self.talk_button, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(header)
        layout.addWidget(line)
        layout.addWidget(self._speaking_line)
        layout.addWidget(self._reception_line)
        layout.addWidget(self.last_spoke)
        layout.addLayout(body, 1)

        self.retranslate()

    # --- setters -----------------------------------------------------------------------------
    def set_me(self, uid: str) -> None:
        self._me = uid
        self._show_members()

    def set_names(self, names: dict[str, str]) -> None:
        """Display names by uid; a uid without one is shown as is."""
        self._names = dict(names)
        self._show_members()
        self._show_speaking()

    def set_offline(self, offline: bool) -> None:
        """Offline: what is shown is stale, so it is greyed and the timer stops."""
        self._offline = offline
        self._follow_clock()
        self._show_header()
        self._show_members()
        self._show_speaking()

    @property
    def offline(self) -> bool:
        return self._offline

    def name_of(self, uid: str) -> str:
        return self._names.get(uid) or uid

    def set_interphone(self, row: InterphoneRow | None) -> None:
        """Show ``row`` (None: nothing selected)."""
        if row is None or self._row is None or row.id != self._row.id:
            self._members, self._members_known = [], False
            # (another interphone's speaker did not speak last here)
            self._last, self._speaker, self._speaker_since = None, "", None
            self._follow_clock()
        self._row = row
        if row is None:  # the controls of the interphone shown before go with it
            self.mix.set_row(None)
        if row is not None and not row.live:
            self._members, self._members_known = [], True
        self._show_header()
        self._show_members()
        self._show_speaking()

    def set_members(self, members: list[str]) -> None:
        self._members, self._members_known = list(members), True
        self._show_members()

    def forget_members(self) -> None:
        """Who is in is not known (any more): the list says so until it is."""
        if self._members_known:
            self._members, self._members_known = [], False
            self._show_members()

    def set_speaker(self, uid: str, since: float | None = None) -> None:
        """Who speaks now (``""``: nobody) and since when (``time.monotonic``; None: not
        known, the speech went on before it was seen, so no time is shown)."""
        if self._speaker and uid != self._speaker:
            # as the replay list tells a transmission: its start and length (the presenter
            # replaces this with what it knows, the received transmission's)
            now, wall = time.monotonic(), time.time()
            since = self._speaker_since
            self._last = (LastSpoke(self._speaker, clock_text(wall), None) if since is None
                          else LastSpoke(self._speaker, clock_text(wall - (now - since)),
                                         now - since))
        self._speaker = uid
        self._speaker_since = since if uid else None
        self._follow_clock()
        self._show_members()
        self._show_speaking()

    def set_reception(self, reception: Reception | None) -> None:
        """The speaker being heard: loss, jitter, FEC (None: hide the line)."""
        self._reception = reception
        self._show_reception()

    def _show_reception(self) -> None:
        reception = self._reception
        self._reception_line.setVisible(reception is not None)
        if reception is None:
            self.reception.setText("")
            self._reception_line.follow()
            return
        parts = [self.tr("%1 % lost").replace("%1", f"{reception.loss_pct:.1f}"),
                 self.tr("jitter %1 ms").replace("%1", f"{reception.jitter_ms:.0f}")]
        if reception.quiet_s:  # the figures above are those of packets that stopped coming
            parts = [self.tr("no audio for %1 s").replace("%1", f"{reception.quiet_s:.0f}")]
        elif reception.fec_repairing:
            parts.append(self.tr("FEC repairing"))
        elif reception.fec_on:
            parts.append(self.tr("FEC on"))
        _set_text(self.reception, self.tr("Reception: %1").replace("%1", " · ".join(parts)))
        bad = reception.loss_pct >= 5.0 or reception.jitter_ms >= 60.0 or reception.quiet_s > 0
        fair = reception.loss_pct >= 1.0 or reception.jitter_ms >= 30.0
        color = "#c62828" if bad else "#ef6c00" if fair else "#2e7d32"
        _set_style(self.reception, text_style(color, self))  # each second: only when it changes
        self._reception_line.follow()
        tip = self.tr("Packets lost and arrival jitter over the last seconds of what you "
                      "hear; FEC: the speaker sends redundancy that rebuilds lost packets.")
        if self.reception.toolTip() != tip:
            self.reception.setToolTip(tip)

    def set_last_speaker(self, last: LastSpoke | None) -> None:
        """Who spoke last, when it started and how long (None: nobody yet)."""
        self._last = last
        self._show_speaking()

    @property
    def interphone_id(self) -> str:
        return self._row.id if self._row is not None else ""

    def member_texts(self) -> list[str]:
        return [self.members.item(i).text() for i in range(self.members.count())]

    # --- internals ---------------------------------------------------------------------------
    def _on_join(self) -> None:
        if self._row is not None:
            self.join_requested.emit(self._row.id)

    def _join_from_talk_button(self) -> None:
        """A click on "Join to talk" does what the Join (Call) button beside the title
        does, when it is offered (a contact shown offline cannot be called)."""
        button = self.join_button
        if self._row is not None and button.isVisibleTo(self) and button.isEnabled():
            button.click()

    def _on_leave(self) -> None:
        if self._row is not None:
            self.leave_requested.emit(self._row.id)

    def _show_header(self) -> None:
        row = self._row
        # pressed from the keyboard, Leave (Join) hides under the focus: it goes to the
        # button in its place, not out of sight
        focused = self.join_button.hasFocus() or self.leave_button.hasFocus()
        self.join_button.setVisible(row is not None and not row.joined)
        self.leave_button.setVisible(row is not None and row.joined)
        if focused and row is not None:
            shown = self.leave_button if row.joined else self.join_button
            shown.setFocus(Qt.FocusReason.OtherFocusReason)
        if row is None:
            self.talk_button.set_join_offer("")  # nothing to join: no action
            self.kind_icon.clear()
            self.title.setText(self.tr("No interphone selected"))
            self.title.setToolTip("")
            self.subtitle.setText(self.tr("Pick a group, discussion or contact on the left."))
            return
        size = font_scaled(self, KIND_ICON_PX)
        self.kind_icon.setPixmap(icon(row.kind.value).pixmap(size, size))
        self.title.setText(row.name)
        self.title.setToolTip(row.name)
        kind = {RowKind.GROUP: self.tr("Group"), RowKind.DISCUSS: self.tr("Discussion"),
                RowKind.CHAT: self.tr("One-to-one call")}[row.kind]
        # offline: how many are in (or whether it is active) is not known, as the list says
        state = self.tr("Offline") if self._offline \
            else member_count_text(row.member_count) if row.live else self.tr("Not active")
        self.subtitle.setText(f"{kind} · {state}")
        calling = row.kind is RowKind.CHAT and not row.live
        self.join_button.setText(self.tr("Call") if calling else self.tr("Join"))
        # a contact shown offline (extension presence; not known while we are offline)
        unreachable = calling and row.online is False and not self._offline
        # we are offline: nothing can be asked of the server (as the talk button says)
        self.join_button.setEnabled(not unreachable and not self._offline)
        self.join_button.setToolTip(
            self.tr("Not connected: you can join once connected again") if self._offline
            else self.tr("%1 is offline: you can call when they are online").replace(
                "%1", row.name) if unreachable
            else self.tr("Call this contact") if calling else self.tr("Join this interphone"))
        self.leave_button.setEnabled(not self._offline)
        self.leave_button.setToolTip(
            self.tr("Not connected: you can leave once connected again") if self._offline
            else self.tr("Leave this interphone"))
        # the big button offers the same ("Call" a contact, disabled while it is offline)
        self.talk_button.set_join_offer(
            CALL if calling else JOIN, not unreachable,
            self.tr("%1 is offline").replace("%1", row.name) if unreachable else "")

    def _show_members(self) -> None:
        # the list is made again only when what it shows changed: it is asked at each
        # change of the window, and 500 members took about 20 ms of the GUI thread each time
        shown = (self._row is None, self._offline, self._members_known, tuple(self._members),
                 tuple(map(self.name_of, self._members)), self._speaker, self._me,
                 self.tr(" (you)"), self.tr("speaking"), self.tr("Members (%1)"),
                 self.tr("Offline: members unknown"), self.tr("Join to see who is in"),
                 self._list_base().rgba())
        if shown == self._members_shown:
            return
        self._members_shown = shown
        self.members.clear()
        row = self._row
        if row is None:
            self.members_title.setText(self.tr("Members"))
            return
        if self._offline:
            self.members_title.setText(self.tr("Members"))
            hint = QListWidgetItem(self.tr("Offline: members unknown"))
            hint.setForeground(readable("#90a4ae", self._list_base()))
            self.members.addItem(hint)
            return
        if not self._members_known:
            self.members_title.setText(self.tr("Members"))
            hint = QListWidgetItem(self.tr("Join to see who is in"))
            hint.setForeground(readable("#90a4ae", self._list_base()))
            self.members.addItem(hint)
            return
        self.members_title.setText(self.tr("Members (%1)").replace("%1", str(len(self._members))))
        for uid in self._members:
            name = self.name_of(uid)
            text = name + (self.tr(" (you)") if uid == self._me else "")
            item = QListWidgetItem(icon("person"), text)
            item.setToolTip(name if name == uid
                            else self.tr("%1 (%2)").replace("%1", name).replace("%2", uid))
            if uid == self._speaker:
                item.setIcon(icon("mic-live"))
                font = item.font()
                font.setBold(True)
                item.setFont(font)
                # a pale red on a light list, its dark base tinted red on a dark one
                fill = accent_fill(SPEAKER_RED, self._list_base())
                item.setBackground(fill)
                item.setForeground(readable(SPEAKER_RED, fill))
                item.setText(text + " · " + self.tr("speaking"))
            self.members.addItem(item)

    def _list_base(self) -> QColor:
        """The member list's background (its hints' grey is made readable on it)."""
        return self.members.palette().color(QPalette.ColorRole.Base)

    def _follow_clock(self) -> None:
        """The elapsed time counts while someone speaks and we are online (stale offline)."""
        if self._speaker and self._speaker_since is not None and not self._offline:
            self.ticker.subscribe(self._on_clock, CLOCK_PERIOD_MS)
        else:
            self.ticker.unsubscribe(self._on_clock)
        self._clock_shown = -1

    def _on_clock(self, now: float) -> None:
        """Each ``CLOCK_PERIOD_MS``: the speaking line, only when its seconds changed."""
        since = self._speaker_since
        whole = int(now - since) if since is not None else -1
        if whole != self._clock_shown:
            self._show_speaking(now)

    def _show_speaking(self, now: float | None = None) -> None:
        if self._row is None:
            _set_text(self.speaking, "")
            _set_text(self.last_spoke, "")
            self._speaking_line.follow()
            return
        if self._offline:
            _set_text(self.speaking, self.tr("Offline: who is speaking is unknown"))
            _set_style(self.speaking, GREYED)
        elif self._speaker and self._speaker_since is not None:
            seconds = (time.monotonic() if now is None else now) - self._speaker_since
            self._clock_shown = int(seconds)
            elapsed = format_seconds(seconds)
            if self._speaker == self._me:
                text = self.tr("You are speaking · %1").replace("%1", elapsed)
            else:
                text = self.tr("%1 is speaking · %2").replace("%1", self.name_of(self._speaker))\
                    .replace("%2", elapsed)
            _set_text(self.speaking, text)
            _set_style(self.speaking, text_style("#c62828", self, "font-weight: bold;"))
        elif self._speaker:  # since when is not known: no time
            _set_text(self.speaking, self.tr("%1 is speaking").replace(
                "%1", self.name_of(self._speaker)))
            _set_style(self.speaking, text_style("#c62828", self, "font-weight: bold;"))
        elif self._row.calling:  # (a passing status-bar line is soon replaced by others)
            _set_text(self.speaking, self.tr("Calling %1… no answer yet").replace(
                "%1", self._row.name))
            _set_style(self.speaking, text_style("#ef6c00", self, "font-weight: bold;"))
        elif self._row.live:
            _set_text(self.speaking, self.tr("Nobody is speaking"))
            _set_style(self.speaking, "")
        else:
            _set_text(self.speaking, self.tr("This interphone is not active"))
            _set_style(self.speaking, text_style("#607d8b", self))
        self._speaking_line.follow()
        _set_style(self.last_spoke, GREYED if self._offline else text_style("#607d8b", self))
        last = self._last
        if last is not None and not (self._offline and self._speaker):
            who = self.tr("you") if last.uid == self._me else self.name_of(last.uid)
            if last.length is None:  # its start was not seen: when it ended
                text = self.tr("Last spoke: %1, until %2").replace("%1", who)\
                    .replace("%2", last.at)
            elif last.cut:  # our own, cut by a lost connection: as far as it went
                text = self.tr("Last spoke: %1 at %2 (%3, cut off)").replace("%1", who)\
                    .replace("%2", last.at).replace("%3", format_length(last.length))
            else:  # as its row in the replay list: the start, then the length
                text = self.tr("Last spoke: %1 at %2 (%3)").replace("%1", who)\
                    .replace("%2", last.at).replace("%3", format_length(last.length))
            _set_text(self.last_spoke, text)
        elif self._speaker and self._offline:
            _set_text(self.last_spoke, self.tr("Last heard before going offline: %1")
                                    .replace("%1", self.name_of(self._speaker)))
        elif self._speaker:
            _set_text(self.last_spoke, "")  # the first utterance is under way
        else:
            _set_text(self.last_spoke, self.tr("Nobody has spoken yet"))

    def _place_controls(self) -> None:
        """Join/Leave and the mix controls sit beside the title when everything fits the
        pane's width, else on a row of their own under it (in a 640 px window they were
        squeezed over each other and over the title)."""
        header = self._header
        spacing = max(header.horizontalSpacing(), 6)
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else None
        room = self.width() - (margins.left() + margins.right() if margins else 0)
        title = max(self.title.sizeHint().width(), self.subtitle.sizeHint().width())
        controls = self.controls.sizeHint().width()
        if not self.mix.isHidden():  # as if Talk here showed: pressing it moves nothing
            controls += self.mix.widest_width() - self.mix.sizeHint().width()
        needed = self.kind_icon.sizeHint().width() + title + controls + 2 * spacing
        beside = needed <= room
        if beside == self._controls_beside:
            return
        self._controls_beside = beside
        header.removeWidget(self.controls)
        # beside the title, the controls must not set the pane's least width: a window
        # narrowed then kept the pane as wide as title and controls side by side (scrolled
        # sideways, the buttons out of sight) and never put them under the title
        self.controls.setMinimumWidth(1 if beside else 0)
        if beside:
            header.addWidget(self.controls, 0, 2, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        else:
            header.addWidget(self.controls, 2, 0, 1, 3, Qt.AlignmentFlag.AlignRight)

    @property
    def controls_beside_title(self) -> bool:
        """Where the header's controls are: beside the title, or on a row under it."""
        return bool(self._controls_beside)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._place_controls()
        super().resizeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # a title or the controls changed
            self._place_controls()  # before the layout is done, so that it is done once
        return super().event(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.members and event.type() == QEvent.Type.PaletteChange:
            self._show_members()
        return super().eventFilter(watched, event)

    def _fit_to_font(self) -> None:
        """The lists' widest, in proportion to the font: a fixed 280 px left a replay row
        at 18 pt "Ali… …:42 (0:01)" beside a round button with room to spare."""
        widest = font_scaled(self, LISTS_MAX_PX)
        self.members.setMaximumWidth(widest)
        self.replay.setMaximumWidth(widest)
        size = font_scaled(self, MEMBER_ICON_PX)
        self.members.setIconSize(QSize(size, size))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        elif event.type() == QEvent.Type.FontChange:
            self._fit_to_font()
            self._show_header()  # (the kind's icon at the new size)
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.leave_button.setText(self.tr("Leave"))
        self.members.setAccessibleName(self.tr("Members"))
        self._show_header()
        self._show_members()
        self._show_speaking()
        self._show_reception()


def _set_text(label: QLabel, text: str) -> None:
    """Set a label's text only when it changes (the speaking clock redraws twice a second)."""
    if label.text() != text:
        label.setText(text)


SPEAKER_RED = "#b71c1c"
"""The text of the member speaking (made readable on the fill of their row)."""

GREYED = "color: #9e9e9e;"
"""Stale text (offline): a mid grey, greyed on a light or a dark background alike."""


def _set_style(label: QLabel, style: str) -> None:
    """Set a style sheet only when it changes: each call re-polishes the widget."""
    if label.styleSheet() != style:
        label.setStyleSheet(style)
