"""A clear outline round a control that has the keyboard focus (the default style shows
the focus of a slider or a tool button only as a faint dotted or 1 px outline)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QWidget

from app.ui.contrast import NON_TEXT_CONTRAST, readable, window_colour

RING_PX = 2
"""The outline's width."""


def ring_colour(widget: QWidget) -> QColor:
    """The palette's highlight colour, made to read at 3:1 on ``widget``'s window colour
    where it does not (a theme's highlight may be close to its window)."""
    highlight = widget.palette().color(QPalette.ColorRole.Highlight)
    return readable(highlight, window_colour(widget), NON_TEXT_CONTRAST)


class FocusRing(QWidget):
    """A see-through child over ``target`` that draws a :data:`RING_PX` outline along its
    edges while ``target`` has the focus, and is hidden otherwise (the control looks as
    before when it has not the focus)."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setObjectName("focusRing")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._target = target
        self.hide()
        target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._target:
            kind = event.type()
            if kind == QEvent.Type.FocusIn:
                self.setGeometry(self._target.rect())
                self.raise_()
                self.show()
            elif kind == QEvent.Type.FocusOut:
                self.hide()
            elif kind == QEvent.Type.Resize and self.isVisible():
                self.setGeometry(self._target.rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        colour = ring_colour(self._target)
        width, height = self.width(), self.height()
        painter.fillRect(0, 0, width, RING_PX, colour)
        painter.fillRect(0, height - RING_PX, width, RING_PX, colour)
        painter.fillRect(0, 0, RING_PX, height, colour)
        painter.fillRect(width - RING_PX, 0, RING_PX, height, colour)
        painter.end()


def show_focus_ring(*targets: QWidget) -> None:
    """Give each of ``targets`` a :class:`FocusRing`."""
    for target in targets:
        FocusRing(target)
