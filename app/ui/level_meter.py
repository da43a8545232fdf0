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
_CAP_PX = _BAR_END_PX + 1  # the bar's rounded end: the columns it differs from a full bar
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
        self._drawn = (0, 0)  # the bar's length and the peak's place, in pixels
        self._full: QPixmap | None = None  # the meter with the bar at full length
        self._caps: QPixmap | None = None  # the bar's rounded end at each length
        self._marker: QPixmap | None = None  # the peak marker (antialiased, see-through)
        self.last_update: QRect | None = None
        """The region the last level change asked to repaint (for tests)."""

    def set_level(self, level: float) -> None:
        if level <= 0.0 and not self._peak and not self._fraction:
            return  # silence goes on (the microphone's meter while listening)
        fraction = level_to_fraction(level)
        self._peak = peak = max(fraction, self._peak - _PEAK_DECAY)
        self._fraction = fraction
        span = self._span
        drawn = int(span * fraction + 0.5), int(span * peak + 0.5)
        if drawn != self._drawn:  # repaint only when the bar or the peak moves a pixel
            # only the columns that changed: the bar between its old and new end, the
            # peak marker where it was and where it is (a few pixels painted and flushed
            # to the screen instead of the whole bar, 10 times a second), at once (no
            # event to post and dispatch for it)
            self.last_update = self._changed(self._drawn, drawn)
            self._drawn = drawn
            self.repaint(self.last_update)

    def _changed(self, old: tuple[int, int], new: tuple[int, int]) -> QRect:
        """The columns that differ between the old pixels (bar end, peak) and the new."""
        width = self._span + 3
        left, right = width, -1
        if old[0] != new[0]:  # the bar's end (column length + 1) and its rounded corners
            left, right = min(old[0], new[0]) + 1 - _BAR_END_PX, max(old[0], new[0]) + 3
        if old[1] != new[1]:  # the peak marker (at column peak + 1)
            left = min(left, old[1] + 1 - _PEAK_PX, new[1] + 1 - _PEAK_PX)
            right = max(right, old[1] + 1 + _PEAK_PX, new[1] + 1 + _PEAK_PX)
        left, right = max(0, left), min(width - 1, right)
        return QRect(left, 0, max(0, right - left + 1), self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._span = max(1, event.size().width() - 3)
        self._rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        self._forget_pixmaps()
        self._drawn = self._pixels()  # Qt repaints it all
        super().resizeEvent(event)

    def _pixels(self) -> tuple[int, int]:
        """The bar's length and the peak marker's place, in whole pixels (what is drawn)."""
        return int(self._span * self._fraction + 0.5), int(self._span * self._peak + 0.5)

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
        """Copies of pixmaps drawn once per size and look: the empty meter, the meter
        full up to where the bar's rounded end begins, that end (one per bar length),
        the peak marker; no path or gradient to fill on each new level."""
        painter = QPainter(self)
        clip = event.rect()
        painter.drawPixmap(clip, self._trough_pixmap(), clip)
        length, peak = self._drawn
        if length:
            start = max(0, length + 1 - _BAR_END_PX)  # where the rounded end begins
            if start > clip.left():
                painter.drawPixmap(QRectF(0, 0, start, self.height()), self._full_pixmap(),
                                   QRectF(0, 0, start * self._trough_ratio,
                                          self.height() * self._trough_ratio))
            ratio, width = self._trough_ratio, length + 2 - start
            painter.drawPixmap(QRectF(start, 0, width, self.height()), self._caps_pixmap(),
                               QRectF((_CAP_PX * length + start - length + 2) * ratio, 0,
                                      width * ratio, self.height() * ratio))
        if self._peak > 0:
            painter.drawPixmap(peak, 0, self._marker_pixmap())
        painter.end()

    @property
    def _trough_ratio(self) -> float:
        return self._trough.devicePixelRatio() if self._trough is not None else 1.0

    def _forget_pixmaps(self) -> None:
        self._trough = self._full = self._caps = self._marker = None

    def _trough_pixmap(self) -> QPixmap:
        """The empty meter (the window's colour in the corners, the border, the trough),
        drawn once per size and palette: each repaint copies the columns it needs."""
        ratio = self.devicePixelRatioF()
        if self._trough is None or self._trough.devicePixelRatio() != ratio:
            self._forget_pixmaps()
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

    def _full_pixmap(self) -> QPixmap:
        if self._full is None:
            self._full = self._bar_pixmap(self._span, 0, self.width())
        return self._full

    def _caps_pixmap(self) -> QPixmap:
        """The bar's rounded end at every length, side by side: length ``n`` ends in
        the :data:`_CAP_PX` columns from ``_CAP_PX * n`` (columns ``n - 2`` .. ``n + 1``
        of the meter), all drawn at once (a few milliseconds per size and look) so that
        no new level waits for its own."""
        if self._caps is None:
            trough = self._trough_pixmap()
            ratio, height, rect = trough.devicePixelRatio(), self.height(), self._rect
            pixmap = QPixmap(QSize(_CAP_PX * (self._span + 1), height) * ratio)
            pixmap.setDevicePixelRatio(ratio)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_bar_gradient(rect))
            for length in range(1, self._span + 1):
                left = length + 2 - _CAP_PX  # the meter's column at the slot's left
                slot = QRectF(_CAP_PX * length, 0, _CAP_PX, height)
                painter.setClipRect(slot)
                painter.drawPixmap(slot, trough, QRectF(left * ratio, 0, _CAP_PX * ratio,
                                                         height * ratio))
                painter.translate(_CAP_PX * length - left, 0)
                painter.drawRoundedRect(QRectF(rect.left() + 1, rect.top() + 1, length,
                                               rect.height() - 2), 2, 2)
                painter.resetTransform()
            painter.end()
            self._caps = pixmap
        return self._caps

    def _bar_pixmap(self, length: int, left: int, width: int) -> QPixmap:
        """Columns ``left`` .. ``left + width - 1`` of the meter with a bar ``length``
        pixels long (its gradient spans the whole meter: a part of the bar has the
        colours it has in the full one)."""
        trough = self._trough_pixmap()
        ratio = trough.devicePixelRatio()
        height = self.height()
        pixmap = QPixmap(QSize(width, height) * ratio)
        pixmap.setDevicePixelRatio(ratio)
        painter = QPainter(pixmap)
        painter.drawPixmap(QRectF(0, 0, width, height), trough,
                           QRectF(left * ratio, 0, width * ratio, height * ratio))
        painter.translate(-left, 0)
        rect = self._rect
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_bar_gradient(rect))
        painter.drawRoundedRect(QRectF(rect.left() + 1, rect.top() + 1, length,
                                       rect.height() - 2), 2, 2)
        painter.end()
        return pixmap

    def _marker_pixmap(self) -> QPixmap:
        """The peak marker, an antialiased line on a see-through pixmap drawn with its
        left column at the peak's pixel (the line is at the next column's left edge)."""
        if self._marker is None:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(QSize(2, self.height()) * ratio)
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(_PEAK)
            painter.drawLine(1, int(self._rect.top()) + 1, 1, int(self._rect.bottom()) - 1)
            painter.end()
            self._marker = pixmap
        return self._marker

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in _LOOK_CHANGES:  # the window's colour may differ now
            self._forget_pixmaps()
        super().changeEvent(event)


def _bar_gradient(rect: QRectF) -> QBrush:
    gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
    gradient.setColorAt(0.0, QColor("#43a047"))
    gradient.setColorAt(0.7, QColor("#fdd835"))
    gradient.setColorAt(1.0, QColor("#e53935"))
    return QBrush(gradient)
