"""The status bar's connection status: a coloured dot and the link's words, cut with "…"
where the window is narrow.

A rich-text ``QLabel`` ("<span>●</span> Connected as…") asks for its whole width at the
least: in a 640 px window the degraded link ("Connected as Alice, but the server cannot
reach its database; trying again…") made the status bar wider than the window, the
audio note beside it cut off mid-word, and a passing message beside it was left a few
characters ("Everyone will be joi…"). :class:`LinkNote` may shrink to its dot and a few
characters; ``text()`` is the whole line and ``accessibleName()`` its words.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from app.ui.elided_note import ElidedNote
from app.ui.view_types import LinkState

DOT = "● "
LINK_COLOURS = {LinkState.CONNECTED: "#2e7d32", LinkState.RECONNECTING: "#ef6c00",
                LinkState.DEGRADED: "#ef6c00", LinkState.CONNECTING: "#607d8b",
                LinkState.OFFLINE: "#c62828"}


class LinkNote(ElidedNote):
    """The dot in the link's colour, then its words (cut with "…" to the room left)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._colour = QColor("#607d8b")

    def set_link(self, colour: str, text: str) -> None:
        self._colour = QColor(colour)
        self.setText(DOT + text)
        self.setAccessibleName(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width() + self.fontMetrics().horizontalAdvance(DOT), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        metrics = self.fontMetrics()
        dot = metrics.horizontalAdvance(DOT)
        words = self.text()[len(DOT):]
        shown = metrics.elidedText(words, Qt.TextElideMode.ElideRight, rect.width() - dot)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter = QPainter(self)
        painter.setPen(self._colour)  # (as the rich text drew it)
        painter.drawText(rect, align, DOT)
        self.style().drawItemText(painter, rect.adjusted(dot, 0, 0, 0), int(align),
                                  self.palette(), self.isEnabled(), shown,
                                  self.foregroundRole())
