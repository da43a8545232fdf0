"""The desktop style with its check boxes, radio buttons and small icons grown with a large
font: the styles size them in pixels, so at 18 pt a check box was a 13-pixel square beside
28-pixel lines, and the buttons' and tabs' icons stayed 16 pixels."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

from app.ui.font_scaled import BASE_LINE_PX

_PM = QStyle.PixelMetric
SCALED = frozenset({
    _PM.PM_IndicatorWidth, _PM.PM_IndicatorHeight,
    _PM.PM_ExclusiveIndicatorWidth, _PM.PM_ExclusiveIndicatorHeight,
    _PM.PM_SmallIconSize, _PM.PM_ButtonIconSize, _PM.PM_TabBarIconSize,
    _PM.PM_ListViewIconSize,
})
"""The metrics that follow the font (never below the style's own)."""


class FontScaledStyle(QProxyStyle):
    """The application's style (the desktop's) with :data:`SCALED` in proportion to the
    font of the widget asking, or the application's."""

    def pixelMetric(self, metric: QStyle.PixelMetric, option: QStyleOption | None = None,
                    widget: QWidget | None = None) -> int:
        size = super().pixelMetric(metric, option, widget)
        if metric not in SCALED:
            return size
        metrics = widget.fontMetrics() if widget is not None \
            else QFontMetrics(QApplication.font())
        return max(size, round(size * metrics.height() / BASE_LINE_PX))
