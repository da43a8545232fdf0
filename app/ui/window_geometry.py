"""Where a first window goes: within the screen's available area, frame included."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

DEFAULT_SIZE = QSize(1280, 800)
# room for a title bar and frame when the window system has not told us yet
_FRAME_ALLOWANCE = QSize(16, 48)


def initial_geometry(available: QRect, wanted: QSize = DEFAULT_SIZE,
                     frame: QSize = _FRAME_ALLOWANCE) -> QRect:
    """The client area for a first window: ``wanted`` or less, frame included, centred in
    ``available`` (the screen minus panels), so the title and status bars stay visible."""
    width = min(wanted.width(), available.width() - frame.width())
    height = min(wanted.height(), available.height() - frame.height())
    left = available.left() + (available.width() - width - frame.width()) // 2 \
        + frame.width() // 2
    top = available.top() + (available.height() - height - frame.height()) // 2 \
        + frame.height() - frame.width() // 2
    return QRect(left, max(available.top(), top), max(1, width), max(1, height))
