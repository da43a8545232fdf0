"""A one-line note of the status bar that is cut with "…" where the window is narrow.

A ``QLabel`` asks for its whole text's width at the least; in a narrow window the status
bar still squeezes it and the text is cut off anywhere ("Global talk key: Right Ctrl (for
this run, fro"). :class:`ElidedNote` may shrink to a few characters and then paints as
much of its text as fits, ending with "…"; ``text()`` stays the whole text (the tooltip
should say it too).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QWidget

from app.ui.contrast import readable

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
