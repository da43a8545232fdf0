"""The floor extensions' widgets: the emergency banner and the instant-replay list."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.floor_text import emergency_text
from app.ui.focus_ring import show_focus_ring
from app.ui.font_scaled import font_scaled
from app.ui.talk_button import format_length

REPLAY_MAX_PX = 150
"""The replay list's tallest at the default font (some five rows), more at a larger one."""
LEAST_LIST_ROWS = 2
"""Lines of text the members and replay lists keep at the least (Qt's own least height of a
list is some 70 px: with a call banner and an emergency banner both shown, a 640×480
window could not give both lists that much, and squeezed them under it)."""


def keep_least_rows(view: QListWidget, rows: int = LEAST_LIST_ROWS) -> None:
    """``view`` may shrink to ``rows`` lines of its text (it scrolls below that)."""
    view.setMinimumHeight(rows * view.fontMetrics().lineSpacing() + 2 * view.frameWidth() + 4)


EMERGENCY_STYLE = ("#emergency { background: #b71c1c; border: 2px solid #ffeb3b;"
                   " border-radius: 6px; } #emergency QLabel { color: white;"
                   " font-weight: bold; }")


class EmergencyBanner(QFrame):
    """"EMERGENCY raised by X" with a Cancel button (shown to the raiser and dispatchers)
    and a Silence button (everyone: stops the repeating alert for this user only); emits
    ``cancel_requested(id)`` and ``silence_requested(id)``, and ``raised(text)`` when it
    shows an emergency it did not show (for a screen reader to say)."""

    cancel_requested = Signal(str)
    silence_requested = Signal(str)
    raised = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emergency")
        self.setStyleSheet(EMERGENCY_STYLE)
        self._id = ""
        self._raised_by = ""
        self._by_you = False
        self._where = ""
        self.text = QLabel(self)
        self.text.setWordWrap(True)  # a narrow window: two lines, the raiser still named
        self.silence = QPushButton(self)  # (created first: Tab reaches it first)
        self.silence.clicked.connect(lambda: self.silence_requested.emit(self._id))
        self.cancel = QPushButton(self)
        self.cancel.clicked.connect(lambda: self.cancel_requested.emit(self._id))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.silence)
        layout.addWidget(self.cancel)
        self.hide()
        self.retranslate()

    def show_emergency(self, interphone_id: str, raised_by: str, can_cancel: bool, *,
                       by_you: bool = False, where: str = "", silenced: bool = False) -> None:
        """``raised_by``: the raiser's display name; ``by_you``: we raised it; ``where``:
        the interphone's name, said when the panel under the banner is another one's;
        ``silenced``: this user silenced its alert (no Silence button)."""
        news = self.isHidden() or (interphone_id, raised_by) != (self._id, self._raised_by)
        self._id, self._raised_by, self._by_you = interphone_id, raised_by, by_you
        self._where = where
        self.cancel.setVisible(can_cancel)
        self.silence.setVisible(not silenced)
        self.retranslate()
        self.show()
        if news:
            self.raised.emit(self.text.text())

    def clear(self) -> None:
        self._id = self._raised_by = ""
        self.hide()

    @property
    def interphone_id(self) -> str:
        return self._id if not self.isHidden() else ""

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.text.setText(emergency_text(self._raised_by, by_you=self._by_you,
                                         where=self._where))
        self.cancel.setText(self.tr("Cancel emergency"))
        self.silence.setText(self.tr("Silence"))
        self.silence.setToolTip(self.tr("Stop the alarm for you only: the emergency stays "
                                        "raised"))


def bracketed_length(seconds: float) -> str:
    """A transmission's length in the language's brackets: "(0:12)", "（0:12）"."""
    return QCoreApplication.translate("ReplayList", "(%1)").replace(
        "%1", format_length(seconds))


NAME_KEPT = 3
"""The characters of a speaker's name a replay row keeps while its time can give way
("Ali…"; a Chinese name whole)."""


class _ElidedLabel(QLabel):
    """A one-line label: ``prefix``, as much of ``text`` as fits (cut with "…" on the
    ``mode`` side), then ``suffix``; it never shrinks below prefix + "…" + suffix, nor,
    while :meth:`keep_start` asks it to, below the first ``keep`` characters of ``text``
    and "…".

    Widths are measured in fractions of a pixel and rounded up: with whole pixels a
    font whose advances are not whole (WenQuanYi Micro Hei's digits) was given its
    text's width rounded down, and the start of the time was cut ("…:10:38 (0:01)")
    in a row with room to spare."""

    def __init__(self, text: str, parent: QWidget | None = None, *, prefix: str = "",
                 suffix: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
                 bold: bool = False, keep: int = 0) -> None:
        super().__init__(parent)
        self.mode = mode
        self.keep = keep
        self._keeping = False
        self.prefix = self.full_text = self.suffix = ""
        self._bold: bool | None = None
        self.set_parts(text, prefix=prefix, suffix=suffix, bold=bold)

    def set_parts(self, text: str, *, prefix: str = "", suffix: str = "",
                  bold: bool = False) -> None:
        """Show another text (a no-op when nothing changed)."""
        if (text, prefix, suffix, bold) == (self.full_text, self.prefix, self.suffix,
                                            self._bold):
            return
        self.prefix, self.full_text, self.suffix = prefix, text, suffix
        if bold != self._bold:
            self._bold = bold
            font = self.font()  # a font, not a style sheet: no style sheet polish per row
            font.setBold(bold)
            self.setFont(font)  # (its FontChange measures again)
        self._measure()

    def _measure(self) -> None:
        self.setMinimumWidth(self.kept_width() if self._keeping else self.least_width())
        self.updateGeometry()
        self._elide()

    def least_width(self) -> int:
        """The width of prefix + "…" + suffix: less is never given."""
        return self._width_of(self.prefix + "…" + self.suffix)

    def kept_width(self) -> int:
        """The width that shows the text's first ``keep`` characters (all of a shorter
        text)."""
        kept = (self.full_text if len(self.full_text) <= self.keep
                else self.full_text[:self.keep] + "…")
        return self._width_of(self.prefix + (kept or "…") + self.suffix)

    def keep_start(self, keeping: bool) -> None:
        """Whether the least width shows the text's first characters."""
        if keeping != self._keeping:
            self._keeping = keeping
            self._measure()

    def _width_of(self, text: str) -> int:
        """The least width that shows ``text`` whole (the label's 2 px of slack included)."""
        return math.ceil(QFontMetricsF(self.font(), self).horizontalAdvance(text)) + 2

    def sizeHint(self) -> QSize:
        return QSize(self._width_of(self.prefix + self.full_text + self.suffix),
                     super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # another font (the desktop's, or the list's once the row is placed in it):
        # the widths measured with the one before are wrong
        if event.type() == QEvent.Type.FontChange:
            self._measure()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        whole = self.prefix + self.full_text + self.suffix
        if self._width_of(whole) <= self.width():
            shown = whole
        else:
            metrics = QFontMetricsF(self.font(), self)
            room = self.width() - 2 - metrics.horizontalAdvance(self.prefix + self.suffix)
            shown = (self.prefix + metrics.elidedText(self.full_text, self.mode, max(room, 1.0))
                     + self.suffix)
        if self.text() != shown:
            self.setText(shown)
        # a screen reader reads the whole text, not what fits (the prefix is a mark)
        spoken = (self.full_text + self.suffix).strip()
        if self.accessibleName() != spoken:
            self.setAccessibleName(spoken)

    def elided(self) -> bool:
        """Whether part of the text is cut (shown as "…")."""
        return self.text() != self.prefix + self.full_text + self.suffix


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One transmission as the replay list shows it."""

    number: int
    speaker: str  # display name
    at: str  # wall-clock time it started, e.g. "14:03:21"
    duration: float
    heard: bool
    receiving: bool = False
    own: bool = False  # the user's own talk: listed as "You"

    @property
    def who(self) -> str:
        """The speaker as the list names them (in the current language)."""
        return QCoreApplication.translate("ReplayList", "You") if self.own else self.speaker


class _ReplayRow(QWidget):
    """One transmission's row: a play button, the speaker, the time and the length."""

    def __init__(self, item: ReplayItem, play: Callable[[int], None]) -> None:
        super().__init__()
        line = QHBoxLayout(self)
        line.setContentsMargins(2, 0, 2, 0)
        self.play = QToolButton(self)
        self.play.setText("▶")
        self.play.setObjectName(f"play-{item.number}")
        self.play.clicked.connect(lambda _=False, n=item.number: play(n))
        show_focus_ring(self.play)  # (the style's focus on a tool button was faint)
        # a narrow pane shortens the name, never the time and length; but the name keeps
        # its first letters, whose it is, while the time can give way instead (at 20 pt on
        # an 800×600 screen a row read "… …:08 (0:01)")
        self.name = _ElidedLabel("", self, keep=NAME_KEPT)
        self.name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # the length always shows; the time gives way after the name
        self.details = _ElidedLabel("", self, mode=Qt.TextElideMode.ElideLeft)
        line.addWidget(self.play)
        line.addWidget(self.name, 1)
        line.addWidget(self.details)
        self.item: ReplayItem | None = None
        self.show_item(item)

    def show_item(self, item: ReplayItem) -> None:
        self.item = item
        self.play.setEnabled(not item.receiving)
        self.name.set_parts(item.who, prefix="● " if not item.heard else "",
                            bold=not item.heard)
        self.details.set_parts(f"{item.at} ", suffix=bracketed_length(item.duration),
                               bold=not item.heard)
        self._fit_name()

    def size_for_list(self) -> QSize:
        """As wide as the list (the name gives way), never wider: no sideways clipping."""
        return QSize(self.minimumSizeHint().width() - self.name.minimumWidth()
                     + self.name.least_width(), self.sizeHint().height())

    def _fit_name(self) -> None:
        """The name keeps its first letters where the row has room for them beside the
        length and "…" of the time; in a narrower row it gives way too."""
        line = self.layout()
        if line is None:
            return
        margins = line.contentsMargins()
        room = (self.width() - margins.left() - margins.right() - 2 * line.spacing()
                - self.play.sizeHint().width())
        self.name.keep_start(room >= self.name.kept_width() + self.details.least_width())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_name()


class ReplayList(QWidget):
    """Transmissions, received and our own ("You"), newest first, each with a play
    button; unheard ones are marked. Emits ``play_requested(number)``.

    A busy interphone keeps well over a hundred transmissions of its last 10 minutes, and
    the list changes several times per transmission: rows are kept and updated in place,
    only new ones are made (rebuilding every row cost the GUI thread about 90 ms at 67
    rows, 280 ms at 150)."""

    play_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[ReplayItem] = []
        self._rows: dict[int, tuple[QListWidgetItem, _ReplayRow]] = {}
        self._reordered = False
        # the control Tab reaches just before the play buttons (one that takes the focus:
        # Qt orders none after a widget that takes none)
        self.tab_after: QWidget | None = None
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: bold;")
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMaximumHeight(font_scaled(self, REPLAY_MAX_PX))
        keep_least_rows(self.list)
        # rows follow the list's width at once: Qt moved them only at its next relayout,
        # the length cut at the right edge meanwhile after the window shrank
        self.list.viewport().installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        # never taller than title + list: spare height goes to the members above, not
        # into a gap that left the title floating far above its list
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.retranslate()

    def set_items(self, items: list[ReplayItem]) -> None:
        """Newest first, as :meth:`ReplayStore.transmissions` lists them."""
        if items == self._items:
            return
        self._items = list(items)
        wanted = {item.number for item in items}
        made, self._reordered = len(self._rows), False
        for number in [n for n in self._rows if n not in wanted]:
            row, widget = self._rows.pop(number)
            self.list.takeItem(self.list.row(row))
            widget.deleteLater()
        for index, item in enumerate(items):
            entry = self._rows.get(item.number)
            if entry is None:
                self._insert(index, item)
                continue
            row, widget = entry
            if self.list.row(row) != index:  # another order than newest first: start over
                self._reordered = True
                self._clear()
                for again, each in enumerate(items):
                    self._insert(again, each)
                break
            if widget.item != item:
                widget.show_item(item)
                widget.setToolTip(self.item_text(item))
                self._name_play(widget, row)
                row.setSizeHint(widget.size_for_list())
        if len(self._rows) != made or self._reordered:  # Tab goes through them in order
            self._order_tab()
        self.retranslate()

    def _order_tab(self) -> None:
        """Tab reaches the play buttons here, top to bottom, right after ``tab_after``
        (rows made later came last in the window's Tab order, after the audio bar under
        the panel)."""
        previous = self.tab_after
        if previous is None:
            return
        for index in range(self.list.count()):
            widget = self.list.itemWidget(self.list.item(index))
            if isinstance(widget, _ReplayRow):
                QWidget.setTabOrder(previous, widget.play)
                previous = widget.play

    def _insert(self, index: int, item: ReplayItem) -> None:
        row = QListWidgetItem()
        self.list.insertItem(index, row)
        widget = _ReplayRow(item, self.play_requested.emit)
        widget.play.setToolTip(self.tr("Play again"))
        widget.setToolTip(self.item_text(item))
        self._name_play(widget, row)
        row.setSizeHint(widget.size_for_list())
        self.list.setItemWidget(row, widget)
        self._rows[item.number] = (row, widget)

    def _name_play(self, widget: _ReplayRow, row: QListWidgetItem) -> None:
        """What a screen reader says of a row's play button (its face is only "▶"), and of
        the row itself (its text is drawn by the row's widget: a screen reader going down
        the list read blank rows)."""
        item = widget.item
        if item is None:
            return
        name = (self.tr("Play again: %1 at %2 (%3)") if item.heard
                else self.tr("Play again: %1 at %2 (%3), not heard yet"))
        name = name.replace("%1", item.who).replace("%2", item.at).replace(
            "%3", format_length(item.duration))
        widget.play.setAccessibleName(name)
        said = (self.tr("%1 at %2 (%3)") if item.heard
                else self.tr("%1 at %2 (%3), not heard yet"))
        row.setData(Qt.ItemDataRole.AccessibleTextRole, said.replace("%1", item.who)
                    .replace("%2", item.at).replace("%3", format_length(item.duration)))

    def _clear(self) -> None:
        self.list.clear()
        self._rows.clear()

    def item_text(self, item: ReplayItem) -> str:
        mark = "● " if not item.heard else ""
        return f"{mark}{item.who}  {item.at}  {bracketed_length(item.duration)}"

    def items(self) -> list[ReplayItem]:
        """What the list shows, newest first."""
        return list(self._items)

    def item_texts(self) -> list[str]:
        return [self.item_text(item) for item in self._items]

    def play_button(self, index: int) -> QToolButton:
        widget = self.list.itemWidget(self.list.item(index))
        button = widget.findChild(QToolButton)
        assert button is not None
        return button

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.list.viewport() \
                and self._rows:
            self.list.doItemsLayout()  # places the row widgets at their new width
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            for row, widget in self._rows.values():
                widget.play.setToolTip(self.tr("Play again"))
                self._name_play(widget, row)
                if widget.item is not None:
                    widget.show_item(widget.item)  # the length's brackets are the language's
            self._measure_rows()  # the new texts' widths, and their fonts' heights
        elif event.type() == QEvent.Type.FontChange:
            # the rows' sizes were measured in the font before (a larger one cut them
            # at the bottom)
            keep_least_rows(self.list)
            # (a fixed 150 px showed fewer than three rows at 18 pt)
            self.list.setMaximumHeight(font_scaled(self, REPLAY_MAX_PX))
            self._measure_rows()
        super().changeEvent(event)

    def _measure_rows(self) -> None:
        for row, widget in self._rows.values():
            row.setSizeHint(widget.size_for_list())

    def retranslate(self) -> None:
        unheard = sum(1 for item in self._items if not item.heard)
        # one sentence to translate, brackets included (Chinese has no space before its own)
        title = (self.tr("Replay (%1 unheard)").replace("%1", str(unheard)) if unheard
                 else self.tr("Replay"))
        self.title.setText(title)
        self.list.setAccessibleName(self.tr("Replay"))
