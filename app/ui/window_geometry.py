"""Where a first window goes, and how small it may get: within the screen's available
area, frame included."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QApplication, QMainWindow, QScrollArea, QWidget

DEFAULT_SIZE = QSize(1280, 800)
MINIMUM_SIZE = QSize(640, 480)
# the text size up to which MINIMUM_SIZE holds the window's parts whole (12 pt)
_MINIMUM_SIZE_TEXT_PX = 16
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


def minimum_size(available: QRect, wanted: QSize = MINIMUM_SIZE,
                 frame: QSize = _FRAME_ALLOWANCE) -> QSize:
    """The window's minimum client size: ``wanted``, or less where the screen's available
    area cannot hold that and a frame (a 640×480 screen: the status bar ended off it)."""
    return QSize(max(1, min(wanted.width(), available.width() - frame.width())),
                 max(1, min(wanted.height(), available.height() - frame.height())))


def font_minimum(text_px: int) -> QSize:
    """The least size the window's parts need at a ``text_px``-pixel text: 640×480 up to
    12 pt, in proportion beyond (at 18 pt a 640×480 window cut the talk button's title to
    "Hold t…" and the members' names, and scrolled both ways)."""
    scale = max(1.0, text_px / _MINIMUM_SIZE_TEXT_PX)
    return QSize(round(MINIMUM_SIZE.width() * scale), round(MINIMUM_SIZE.height() * scale))


def least_size(window: QMainWindow) -> QSize | None:
    """``window``'s minimum client size: 640×480, more at a large font
    (:func:`font_minimum`) and what the parts in its scrolled central widget need with its
    menu and status bars (at 12 pt they scrolled sideways at 640 px), within what the
    screen's available area holds (:func:`minimum_size`); None without a screen."""
    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        return None
    wanted = font_minimum(QFontInfo(window.font()).pixelSize())
    scroller = window.centralWidget()
    parts = scroller.widget() if isinstance(scroller, QScrollArea) else None
    if parts is not None:
        bars = window.menuBar().sizeHint().height() + window.statusBar().sizeHint().height()
        wanted = wanted.expandedTo(parts.minimumSizeHint() + QSize(0, bars))
    return minimum_size(screen.availableGeometry(), wanted)


def keep_on_screen(window: QWidget) -> None:
    """Move ``window`` (frame included) back inside its screen's available area where it
    grew or was placed past an edge; the top-left corner wins when it cannot fit."""
    screen = window.screen()
    if screen is None:
        return
    room, frame = screen.availableGeometry(), window.frameGeometry()
    x = max(room.left(), min(frame.left(), room.right() + 1 - frame.width()))
    y = max(room.top(), min(frame.top(), room.bottom() + 1 - frame.height()))
    if (x, y) != (frame.left(), frame.top()):
        window.move(x, y)
