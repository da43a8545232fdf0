"""A horizontal audio level meter with a decaying peak marker."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAccessible,
    QBrush,
    QColor,
    QLinearGradient,
    QPainter,
    QPalette,
    QPixmap,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

_FLOOR_DB = -60.0
_PEAK_DECAY = 0.02  # of full scale per update
_BAR_END_PX = 3  # the bar's rounded end (radius 2) and its antialiasing, left of its end
_CAP_PX = _BAR_END_PX + 1  # the bar's rounded end: the columns it differs from a full bar
_LOOK_CHANGES = (QEvent.Type.PaletteChange, QEvent.Type.StyleChange,
                 QEvent.Type.EnabledChange, QEvent.Type.ActivationChange,
                 QEvent.Type.DevicePixelRatioChange)
_NO_PEAK = -1  # the peak marker's place while there is no peak
_BORDER = QColor("#90a4ae")
_TROUGH = QBrush(QColor("#263238"))
_PEAK = QColor("white")
_SAID_STEP = 10  # the level a screen reader is told, in steps of this many percent


def level_to_fraction(level: float) -> float:
    """Map a linear amplitude (0..1) onto the meter's dB scale (0..1)."""
    if level <= 0.0:
        return 0.0
    db = 20.0 * math.log10(min(level, 1.0))
    return max(0.0, min(1.0, (db - _FLOOR_DB) / -_FLOOR_DB))


class LevelMeter(QWidget):
    """Shows a level set with :meth:`set_level` (linear amplitude 0..1).

    The meter is made of child widgets that each show a pixmap drawn once per size and
    look as their background (Qt fills it, no Python runs to paint): the empty meter,
    the meter with a full bar (shown up to where the bar's rounded end begins), the
    rounded end at every whole-pixel length side by side (seen through a window as wide
    as one end) and the peak marker (see-through). A new level moves or resizes the
    parts whose pixels changed; Qt repaints those columns from the pixmaps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fraction = 0.0
        self._peak = 0.0
        self._rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        self._trough: QPixmap | None = None
        self._span = max(1, self.width() - 3)  # the bar's length when full, in pixels
        self._drawn = (0, _NO_PEAK)  # the bar's length and the peak's place, in pixels
        self._full: QPixmap | None = None  # the meter with the bar at full length
        self._caps: QPixmap | None = None  # the bar's rounded end at each length
        self._marker: QPixmap | None = None  # the peak marker (antialiased, see-through)
        self._stale = True  # the parts show pixmaps of another size or look
        # the parts, bottom to top (each opaque but the marker: Qt paints nothing under
        # them, neither this widget nor the window)
        self._trough_part = _picture(self, "trough")  # the empty meter
        self._bar_part = _picture(self, "bar")  # the full meter, up to the bar's rounded end
        # a longer or shorter bar repaints the columns it gains, not all of it
        self._bar_part.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self._end_window = QWidget(self)  # the columns of the bar's rounded end
        self._end_window.setObjectName("barEndWindow")
        self._end_window.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._end_window.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # its child
        self._ends_part = _picture(self._end_window, "barEnds")  # every end, side by side
        self._marker_part = _picture(self, "peak")
        self._said: int | None = None  # the percent the accessible description gives

    def set_level(self, level: float) -> None:
        if level <= 0.0 and not self._peak and not self._fraction:
            return  # silence goes on (the microphone's meter while listening)
        fraction = level_to_fraction(level)
        self._peak = peak = max(fraction, self._peak - _PEAK_DECAY)
        self._fraction = fraction
        span = self._span
        drawn = int(span * fraction + 0.5), int(span * peak + 0.5) if peak > 0 else _NO_PEAK
        if drawn != self._drawn:  # only when the bar or the peak moves a pixel
            if QAccessible.isActive():  # a screen reader is there (else no more work)
                self._say(fraction)
            self._show(drawn)

    def _say(self, fraction: float) -> None:
        """The level in the accessible description ("Microphone level: 40 %"), changed
        only when it crosses a step of :data:`_SAID_STEP` percent (not per audio block:
        a screen reader is not flooded, the repaint costs nothing more)."""
        percent = int(fraction * 100 / _SAID_STEP + 0.5) * _SAID_STEP
        if percent != self._said:
            self._said = percent
            self.setAccessibleDescription(
                self.tr("%1: %2 %").replace("%1", self.accessibleName())
                .replace("%2", str(percent)))

    def _show(self, drawn: tuple[int, int]) -> None:
        """Move the parts that changed: Qt repaints the columns they leave and reach
        (a few pixels filled from pixmaps and flushed, 10 times a second)."""
        old, self._drawn = self._drawn, drawn
        if self._stale:
            return  # placed when the pixmaps are drawn (shown, resized, new look)
        if drawn[0] != old[0]:
            self._place_bar(drawn[0])
        if drawn[1] != old[1]:
            self._place_marker(drawn[1])

    def _place_bar(self, length: int) -> None:
        height = self.height()
        start = max(0, length + 1 - _BAR_END_PX)  # where the rounded end begins
        self._bar_part.setGeometry(0, 0, start, height)  # 0 wide: not shown
        if not length:
            self._end_window.setGeometry(0, 0, 0, height)
            return
        if self._caps is None:
            _show_pixmap(self._ends_part, self._caps_pixmap())
        self._end_window.setGeometry(start, 0, length + 2 - start, height)
        # length n's end is the slot at _CAP_PX * n, meter columns n - 2 .. n + 1
        self._ends_part.move(length - 2 - _CAP_PX * length - start, 0)

    def _place_marker(self, peak: int) -> None:
        self._marker_part.setGeometry(peak, 0, 2 if peak != _NO_PEAK else 0, self.height())

    def _rebuild(self) -> None:
        """Draw the pixmaps for the meter's size and look and show them in the parts."""
        self._forget_pixmaps()
        width, height = self.width(), self.height()
        _show_pixmap(self._trough_part, self._trough_pixmap())
        self._trough_part.setGeometry(0, 0, width, height)
        _show_pixmap(self._bar_part, self._full_pixmap())
        _show_pixmap(self._marker_part, self._marker_pixmap())
        self._ends_part.resize(_CAP_PX * (self._span + 1), height)
        self._stale = False
        self._place_bar(self._drawn[0])
        self._place_marker(self._drawn[1])

    def _look_changed(self) -> None:
        self._stale = True
        if self.isVisible():  # else when shown
            self._rebuild()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._span = max(1, event.size().width() - 3)
        self._rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        self._drawn = self._pixels()
        self._look_changed()
        super().resizeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        if self._stale:
            self._rebuild()
        super().showEvent(event)

    def _pixels(self) -> tuple[int, int]:
        """The bar's length and the peak marker's place, in whole pixels (what is drawn)."""
        peak = int(self._span * self._peak + 0.5) if self._peak > 0 else _NO_PEAK
        return int(self._span * self._fraction + 0.5), peak

    def reset(self) -> None:
        """Back to silence, peak marker included (a test or stream has stopped)."""
        self._fraction = 0.0
        self._peak = 0.0
        if QAccessible.isActive():
            self._say(0.0)
        self._show((0, _NO_PEAK))

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
            self._look_changed()
        elif event.type() == QEvent.Type.LanguageChange:
            # said again in the new language at once, once the window gave the meter its
            # new name (a level that does not move would keep the old words till a talk)
            QTimer.singleShot(0, self, self._say_again)
        super().changeEvent(event)

    def _say_again(self) -> None:
        self._said = None
        if QAccessible.isActive():
            self._say(self._fraction)


def _picture(parent: QWidget, name: str) -> QWidget:
    """A part of the meter: a child that shows a pixmap as its background, filled by Qt
    (no paint event of ours), opaque unless the pixmap has see-through pixels."""
    part = QWidget(parent)
    part.setObjectName(name)
    part.setAutoFillBackground(True)
    part.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # the meter's tooltip
    return part


def _show_pixmap(part: QWidget, pixmap: QPixmap) -> None:
    """``part`` shows ``pixmap`` from its top left corner (in every colour group: the
    meter's own look is drawn into the pixmaps)."""
    palette = part.palette()
    palette.setBrush(QPalette.ColorRole.Window, QBrush(pixmap))
    part.setPalette(palette)


def _bar_gradient(rect: QRectF) -> QBrush:
    gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
    gradient.setColorAt(0.0, QColor("#43a047"))
    gradient.setColorAt(0.7, QColor("#fdd835"))
    gradient.setColorAt(1.0, QColor("#e53935"))
    return QBrush(gradient)
