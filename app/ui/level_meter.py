"""A horizontal audio level meter with a decaying peak marker."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QLinearGradient,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

_FLOOR_DB = -60.0
_PEAK_DECAY = 0.02  # of full scale per update
_BAR_END_PX = 3  # the bar's rounded end (radius 2) and its antialiasing, left of its end
_PEAK_PX = 2  # the peak marker's antialiased line, each side of its x
_LOOK_CHANGES = (QEvent.Type.PaletteChange, QEvent.Type.StyleChange,
                 QEvent.Type.EnabledChange, QEvent.Type.ActivationChange)
_BORDER = QColor("#90a4ae")
_TROUGH = QBrush(QColor("#263238"))
_PEAK = QColor("white")


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
        self._rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        self._trough: QPixmap | None = None
        self._span = max(1, self.width() - 3)  # the bar's length when full, in pixels
        self._drawn = (0, 0)
        self._painted = (0.0, 0.0)  # the fraction and peak last asked to be painted
        self._gradient = QBrush()
        self._gradient_width = -1.0
        self.last_update: QRect | None = None
        """The region the last level change asked to repaint (for tests)."""

    def set_level(self, level: float) -> None:
        if level <= 0.0 and not self._peak and not self._fraction:
            return  # silence goes on (the microphone's meter while listening)
        fraction = level_to_fraction(level)
        self._peak = max(fraction, self._peak - _PEAK_DECAY)
        self._fraction = fraction
        span = self._span
        drawn = round(span * fraction), round(span * self._peak)
        if drawn != self._drawn:  # repaint only when the bar or the peak moves a pixel
            # only the columns that changed: the bar between its old and new end, the
            # peak marker where it was and where it is (a few pixels painted and flushed
            # to the screen instead of the whole bar, 10 times a second), at once (no
            # event to post and dispatch for it)
            self.last_update = self._changed(*self._painted)
            self._drawn, self._painted = drawn, (fraction, self._peak)
            self.repaint(self.last_update)

    def _changed(self, old_fraction: float, old_peak: float) -> QRect:
        """The columns that differ between the old level and the new one."""
        span, width = self._span, self._span + 3
        left, right = width, -1
        if self._fraction != old_fraction:
            low, high = 1.5 + span * old_fraction, 1.5 + span * self._fraction
            if low > high:
                low, high = high, low
            left, right = int(low) - _BAR_END_PX, math.ceil(high) + 1
        if self._peak != old_peak:
            for peak in (old_peak, self._peak):
                x = int(1.5 + span * peak)
                left, right = min(left, x - _PEAK_PX), max(right, x + _PEAK_PX)
        left, right = max(0, left), min(width - 1, right)
        return QRect(left, 0, max(0, right - left + 1), self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._span = max(1, event.size().width() - 3)
        self._rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        self._trough = None
        self._drawn = self._pixels()  # Qt repaints it all
        self._painted = (self._fraction, self._peak)
        super().resizeEvent(event)

    def _pixels(self) -> tuple[int, int]:
        """Where the bar ends and the peak marker stands, in pixels."""
        return round(self._span * self._fraction), round(self._span * self._peak)

    def reset(self) -> None:
        """Back to silence, peak marker included (a test or stream has stopped)."""
        self._fraction = 0.0
        self._peak = 0.0
        self._drawn = (0, 0)
        self._painted = (0.0, 0.0)
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
        clip = event.rect()
        painter.drawPixmap(clip, self._trough_pixmap(), clip)
        rect = self._rect
        if self._fraction > 0:
            if self._gradient_width != rect.width():
                self._gradient_width = rect.width()
                self._gradient = _bar_gradient(rect)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._gradient)
            painter.drawRoundedRect(QRectF(rect.left() + 1, rect.top() + 1,
                                           (rect.width() - 2) * self._fraction,
                                           rect.height() - 2), 2, 2)
        if self._peak > 0:
            x = int(rect.left() + 1 + (rect.width() - 2) * self._peak)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(_PEAK)
            painter.drawLine(x, int(rect.top()) + 1, x, int(rect.bottom()) - 1)
        painter.end()

    def _trough_pixmap(self) -> QPixmap:
        """The empty meter (the window's colour in the corners, the border, the trough),
        drawn once per size and palette: each repaint copies the columns it needs."""
        ratio = self.devicePixelRatioF()
        if self._trough is None or self._trough.devicePixelRatio() != ratio:
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            painter = QPainter(pixmap)
            painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(_BORDER)
            painter.setBrush(_TROUGH)
            painter.drawRoundedRect(self._rect, 3, 3)
            painter.end()
            self._trough = pixmap
        return self._trough

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in _LOOK_CHANGES:  # the window's colour may differ now
            self._trough = None
        super().changeEvent(event)


def _bar_gradient(rect: QRectF) -> QBrush:
    gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
    gradient.setColorAt(0.0, QColor("#43a047"))
    gradient.setColorAt(0.7, QColor("#fdd835"))
    gradient.setColorAt(1.0, QColor("#e53935"))
    return QBrush(gradient)
