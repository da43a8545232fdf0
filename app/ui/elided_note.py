"""A one-line note of the status bar that is cut with "…" where the window is narrow.

A ``QLabel`` asks for its whole text's width at the least; in a narrow window the status
bar still squeezes it and the text is cut off anywhere ("Global talk key: Right Ctrl (for
this run, fro"). :class:`ElidedNote` may shrink to a few characters and then paints as
much of its text as fits, ending with "…"; ``text()`` stays the whole text (the tooltip
should say it too).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizeGrip, QStatusBar, QStyle, QStyleOption, QWidget

from app.ui.contrast import readable

QWIDGETSIZE_MAX = (1 << 24) - 1

LEAST_CHARACTERS = 8
"""How narrow a note may get: about this many characters' width."""


class ElidedNote(QLabel):
    """A plain-text, one-line label cut at the right with "…" when it is narrower than
    its text; ``colour``: its text's (a palette colour: a style sheet's is not the one
    the cut text would be painted in)."""

    def __init__(self, parent: QWidget | None = None, *, colour: str = "") -> None:
        super().__init__(parent)
        if colour:  # (made readable on the window colour: a dark theme's too)
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText,
                             readable(colour, palette.color(QPalette.ColorRole.Window)))
            self.setPalette(palette)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        least = self.fontMetrics().averageCharWidth() * LEAST_CHARACTERS
        return QSize(min(hint.width(), least), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        text = self.text()
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        if shown == text:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(),
                                  self.isEnabled(), shown, self.foregroundRole())


class ElidedStatusBar(QStatusBar):
    """A status bar whose passing message (``showMessage``) is cut with "…" where it is
    wider than its room: Qt's clips it anywhere (on an 800 px window "… Install a CJK
    font (e.g. the", the package to install cut off). ``currentMessage()`` stays the
    whole text, and so does the tooltip while the message shows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messageChanged.connect(self._on_message)
        self.gives_way: QWidget | None = None
        """A permanent widget narrowed while a message shows, down to its least width, so
        the message has its whole width (the degraded link left "Everyone will be joi…")."""

    def share_room(self) -> None:
        """Narrow :attr:`gives_way` to what a message shown leaves (called once the notes
        that make room for it are hidden, and as the bar is resized)."""
        widget = self.gives_way
        if widget is None:
            return
        message = self.currentMessage()
        if not message:
            widget.setMaximumWidth(QWIDGETSIZE_MAX)
            return
        others = sum(child.sizeHint().width() + 6 for child in self.findChildren(QWidget)
                     if child.parentWidget() is self and not child.isHidden()
                     and child is not widget)
        room = self.width() - self.fontMetrics().horizontalAdvance(message) - 24 - others
        widget.setMaximumWidth(max(widget.minimumSizeHint().width(), room))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.share_room()

    def shown_message(self) -> str:
        """The message as it is painted (cut with "…" to its room)."""
        message = self.currentMessage()
        return self.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight,
                                             self.message_rect().width())

    def message_rect(self) -> QRect:
        """Where the message is painted (as Qt places it): from the left, up to the
        first permanent widget shown (the others are hidden meanwhile) or the size
        grip."""
        right = self.width() - 12
        for child in self.findChildren(QWidget):
            if child.parentWidget() is not self or not child.isVisible():
                continue
            right = min(right, child.x() - (0 if isinstance(child, QSizeGrip) else 2))
        return QRect(6, 0, max(0, right - 6), self.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        message = self.currentMessage()
        shown = self.shown_message() if message else message
        if shown == message:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option,
                                   painter, self)
        for child in self.findChildren(QWidget):
            if child.parentWidget() is self and child.isVisible() \
                    and not isinstance(child, QSizeGrip):
                option.rect = child.geometry().adjusted(-1, -1, 1, 1)
                self.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem,
                                           option, painter, self)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.message_rect(), Qt.AlignmentFlag.AlignLeading
                         | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine, shown)

    def _on_message(self, message: str) -> None:
        self.setToolTip(message)
