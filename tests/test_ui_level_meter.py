"""The level meter repaints only the columns a new level changed, and what is on screen
is still the whole meter at the new level."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.ui.level_meter import LevelMeter, level_to_fraction

WIDTH, HEIGHT = 203, 12


class PaintRects(QObject):
    """The rectangles of the paint events a widget receives."""

    def __init__(self, widget: LevelMeter) -> None:
        super().__init__()
        self.rects: list[QRect] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())  # type: ignore[attr-defined]
        return False


def shown_meter(qtbot) -> LevelMeter:
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.resize(WIDTH, HEIGHT)
    meter.show()
    qtbot.waitExposed(meter)
    for _ in range(3):
        QApplication.processEvents()
    return meter


def on_screen(meter: LevelMeter) -> QImage:
    """What the window system shows of the meter (the backing store, partial repaints
    included)."""
    painted = meter.grab().toImage()
    screen = QApplication.primaryScreen()
    return screen.grabWindow(meter.winId()).toImage().convertToFormat(painted.format())


def largest_difference(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    return max(abs((a.pixel(x, y) >> shift & 255) - (b.pixel(x, y) >> shift & 255))
               for x in range(a.width()) for y in range(a.height()) for shift in (0, 8, 16))


def level_for(fraction: float) -> float:
    return 10 ** ((fraction - 1.0) * 3)  # the meter's dB scale: -60 dB .. 0 dB


def test_level_for_is_the_meters_scale() -> None:
    assert abs(level_to_fraction(level_for(0.37)) - 0.37) < 1e-9


def test_the_screen_shows_the_new_level_after_partial_repaints(qtbot) -> None:
    """Up, down, the peak decaying, silence: after each the meter on screen is the meter
    painted whole at that level (a gradient can differ by one step where clipped)."""
    meter = shown_meter(qtbot)
    for fraction in (0.5, 0.8, 0.3, 0.29, 0.9, 0.1, 0.0, 0.0, 0.6, 0.61, 0.2):
        meter.set_level(level_for(fraction) if fraction else 0.0)
        QApplication.processEvents()
        assert largest_difference(on_screen(meter), meter.grab().toImage()) <= 2, fraction


def test_a_new_level_repaints_the_columns_that_changed(qtbot) -> None:
    meter = shown_meter(qtbot)
    meter.set_level(level_for(0.5))
    QApplication.processEvents()
    paints = PaintRects(meter)
    span = WIDTH - 3
    meter.set_level(level_for(0.6))  # bar and peak from 50 % to 60 %
    QApplication.processEvents()
    assert len(paints.rects) == 1
    rect = paints.rects[0]
    old_end, new_end = 1.5 + span * 0.5, 1.5 + span * 0.6
    assert rect.left() <= old_end - 2 and rect.right() >= new_end + 1  # all that changed
    assert rect.left() >= old_end - 6 and rect.right() <= new_end + 4  # and little more
    assert rect.top() == 0 and rect.height() == HEIGHT

    paints.rects.clear()
    meter.set_level(level_for(0.2))  # the bar drops to 20 %, the peak decays 2 %
    QApplication.processEvents()
    rect = paints.rects[0]
    low, peak = 1.5 + span * 0.2, 1.5 + span * 0.58
    assert rect.left() <= low - 2 and rect.right() >= 1.5 + span * 0.6 + 1
    assert rect.left() >= low - 6 and rect.right() <= 1.5 + span * 0.6 + 4
    assert abs(meter.peak - 0.58) < 1e-9 and rect.left() < peak < rect.right()


def test_a_decaying_peak_alone_repaints_a_few_columns(qtbot) -> None:
    meter = shown_meter(qtbot)
    meter.set_level(level_for(0.7))
    QApplication.processEvents()
    meter.set_level(0.0)  # the bar goes, the peak stays (decaying)
    QApplication.processEvents()
    paints = PaintRects(meter)
    meter.set_level(0.0)  # only the peak moves: 2 % of the span, ~4 px
    QApplication.processEvents()
    assert len(paints.rects) == 1 and paints.rects[0].width() <= 12
    assert largest_difference(on_screen(meter), meter.grab().toImage()) <= 2


def test_a_new_palette_redraws_the_cached_empty_meter(qtbot) -> None:
    """The empty meter is drawn once into a pixmap: a new window colour must reach it."""
    from PySide6.QtGui import QColor, QPalette

    meter = shown_meter(qtbot)
    meter.set_level(level_for(0.4))
    QApplication.processEvents()
    palette = meter.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#ff00ff"))
    meter.setPalette(palette)
    QApplication.processEvents()
    corner = on_screen(meter).pixelColor(0, 0)
    assert corner == QColor("#ff00ff")
    meter.set_level(level_for(0.3))
    QApplication.processEvents()
    assert on_screen(meter).pixelColor(WIDTH - 1, 0) == QColor("#ff00ff")
