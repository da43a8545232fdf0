"""A one-line label whose new text lays the window out again only when it needs room.

``QLabel.setText`` asks the parent's layout to be redone, and a layout that is redone
asks its own widget's parent too (``QLayout.activate`` ends with ``updateGeometry``):
a clock that ticks each second relays the panel, the splitter and the main window out
each second, and repaints them, though nothing moved. A :class:`QuietLine` holds the
label as the only child of a widget without a layout, sized to the line; it tells its
own layout only when the label's size hints changed (another name, font or style), not
when only its digits did.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

_LOOK_CHANGES = (QEvent.Type.FontChange, QEvent.Type.StyleChange)


class QuietLine(QWidget):
    """Holds ``label`` (one line, no word wrap); call :meth:`follow` after changing its
    text or look."""

    def __init__(self, label: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        label.setParent(self)
        self.setSizePolicy(label.sizePolicy())
        self._hint = label.sizeHint()
        self._minimum = label.minimumSizeHint()

    def follow(self) -> None:
        """The label changed: lay out again only if its size hints did."""
        label = self.label
        hint, minimum = label.sizeHint(), label.minimumSizeHint()
        if hint != self._hint or minimum != self._minimum:
            self._hint, self._minimum = hint, minimum
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # the layout asks when it is redone: the label's now
        self._hint = self.label.sizeHint()
        return self._hint

    def minimumSizeHint(self) -> QSize:
        self._minimum = self.label.minimumSizeHint()
        return self._minimum

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.label.setGeometry(0, 0, event.size().width(), event.size().height())
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in _LOOK_CHANGES:  # the label's font may differ now
            self.follow()
        super().changeEvent(event)
