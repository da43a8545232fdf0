"""A check box whose text wraps to its width (a long one at a large font made a dialog
wider than the screen: a QCheckBox's text is one line, and its least width all of it)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QStyleOptionFocusRect,
    QStylePainter,
    QWidget,
)

_LEAST_TEXT_EM = 10
"""The text's least width, in widths of "M" (the longest word is cut below it)."""


class WrappingCheckBox(QCheckBox):
    """A :class:`QCheckBox` (its text, mnemonic, accessible name and clicks as usual)
    whose text wraps at word breaks to the width the layout gives it: its least width is
    the indicator and a few words, its height the lines at that width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        policy = self.sizePolicy()
        policy.setHorizontalPolicy(QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def _indent(self) -> int:
        """The indicator's width and the space after it: where the text begins."""
        style = self.style()
        return (style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, self)
                + style.pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing, None, self))

    def _flags(self) -> int:
        shown = self.style().styleHint(QStyle.StyleHint.SH_UnderlineShortcut, None, self)
        return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop) \
            | int(Qt.TextFlag.TextWordWrap) | int(
                Qt.TextFlag.TextShowMnemonic if shown else Qt.TextFlag.TextHideMnemonic)

    def _text_rect(self, width: int) -> QRect:
        """The text's rectangle, wrapped in ``width`` (the whole box's width)."""
        room = max(1, width - self._indent())
        return self.fontMetrics().boundingRect(QRect(0, 0, room, 1 << 20), self._flags(),
                                               self.text())

    def _indicator_height(self) -> int:
        return self.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorHeight, None, self)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(self._indicator_height(), self._text_rect(width).height()) + 2

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().boundingRect(QRect(0, 0, 1 << 20, 1 << 20), self._flags(),
                                               self.text())
        width = self._indent() + line.width() + 2
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        least = self._indent() + self.fontMetrics().horizontalAdvance("M") * _LEAST_TEXT_EM
        width = min(self.sizeHint().width(), least)
        return QSize(width, self.heightForWidth(width))

    def hitButton(self, pos: QPoint) -> bool:
        return self.rect().contains(pos)  # the indicator and every line of the text

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionButton()
        self.initStyleOption(option)
        indicator = QStyleOptionButton(option)
        line = self.fontMetrics().height()
        size = self._indicator_height()
        indicator.rect = QRect(0, max(0, (line - size) // 2) + 1,
                               self.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth,
                                                        None, self), size)
        painter.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorCheckBox, indicator)
        text = self._text_rect(self.width()).translated(self._indent(), 1)
        painter.drawItemText(text, self._flags(), option.palette, self.isEnabled(),
                             self.text(), QPalette.ColorRole.WindowText)
        if self.hasFocus():
            focus = QStyleOptionFocusRect()
            focus.initFrom(self)
            focus.rect = text.adjusted(-1, -1, 1, 1)
            painter.drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, focus)
