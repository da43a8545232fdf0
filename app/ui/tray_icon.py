"""The tray icon's picture: the talk state's icon with badges (muted, someone speaking in
another joined interphone, a call ringing), so a glance at the panel tells the states
apart."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

from app.ui.assets import icon

SIZES = (16, 22, 24, 32, 44, 48, 64, 96, 128)
"""Rendered for the sizes tray hosts ask for (a QIcon of pixmaps scales the nearest), and
for them at 200 %: a 48 px tray at QT_SCALE_FACTOR=2 got the 64 px one blown up, blurred,
where the icon without a badge (an SVG) stays sharp."""
BADGE_SHARE = 0.55
"""A badge's side, as a share of the icon's."""


@cache
def tray_icon(base: str, *, muted: bool = False, activity: bool = False,
              ringing: bool = False, degraded: bool = False) -> QIcon:
    """``base`` (``tray-idle``, ``tray-busy``…) with the muted badge in the lower right
    corner, the receiving-elsewhere badge in the upper right one, the ringing call's in
    the upper left one and the warning of a server that cannot reach its database in the
    lower left one."""
    if not muted and not activity and not ringing and not degraded:
        return icon(base)
    result = QIcon()
    for size in SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        icon(base).paint(painter, QRect(0, 0, size, size))
        side = max(8, round(size * BADGE_SHARE))
        if activity:
            icon("badge-activity").paint(painter, QRect(size - side, 0, side, side))
        if ringing:
            icon("badge-call").paint(painter, QRect(0, 0, side, side))
        if muted:
            icon("badge-muted").paint(painter, QRect(size - side, size - side, side, side))
        if degraded:
            icon("badge-degraded").paint(painter, QRect(0, size - side, side, side))
        painter.end()
        result.addPixmap(pixmap)
    return result
