"""A horizontal audio level meter with a decaying peak marker."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

_FLOOR_DB = -60.0
_PEAK_DECAY = 0.02  # of full scale per update


def level_to_fraction(level: float) -> float:
    """Map a linear amplitude (0..1) onto the meter's dB scale (0..1)."""
    if level <= 0.0:
        return 0.0
    db = 20.0 * math.log10(min(level, 1.0))
    return max(0.0, min(1.0, (db - _FLOOR_DB) / -_FLOOR_DB))


class LevelMeter(QWidget):
    """Shows a level set with :meth:`set_level` (linear amplitude 0..1)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # It paints every pixel (the corners in the window's colour), so a new level
        # repaints the meter alone, not the window and the bar behind it (10 times a
        # second while audio plays)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._fraction = 0.0
        self._peak = 0.0
        self._drawn = (0, 0)

    def set_level(self, level: float) -> None:
        fraction = level_to_fraction(level)
        self._peak = max(fraction, self._peak - _PEAK_DECAY)
        self._fraction = fraction
        drawn = self._pixels()
        if drawn != self._drawn:  # repaint only when the bar or the peak moves a pixel
            self._drawn = drawn
            self.update()

    def _pixels(self) -> tuple[int, int]:
        """Where the bar ends and the peak marker stands, in pixels."""
        span = max(1, self.width() - 3)
        return round(span * self._fraction), round(span * self._peak)

    def reset(self) -> None:
        """Back to silence, peak marker included (a test or stream has stopped)."""
        self._fraction = 0.0
        self._peak = 0.0
        self._drawn = (0, 0)
        self.update()

    @property
    def fraction(self) -> float:
        return self._fraction

    @property
    def peak(self) -> float:
        return self._peak

    def sizeHint(self) -> QSize:
        return QSize(120, 12)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, 10)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QColor("#90a4ae"))
        painter.setBrush(QColor("#263238"))
        painter.drawRoundedRect(rect, 3, 3)
        if self._fraction > 0:
            gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
            gradient.setColorAt(0.0, QColor("#43a047"))
            gradient.setColorAt(0.7, QColor("#fdd835"))
            gradient.setColorAt(1.0, QColor("#e53935"))
            bar = QRectF(rect.left() + 1, rect.top() + 1,
                         (rect.width() - 2) * self._fraction, rect.height() - 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(gradient)
            painter.drawRoundedRect(bar, 2, 2)
        if self._peak > 0:
            x = rect.left() + 1 + (rect.width() - 2) * self._peak
            painter.setPen(QColor("white"))
            painter.drawLine(int(x), int(rect.top()) + 1, int(x), int(rect.bottom()) - 1)
        painter.end()
