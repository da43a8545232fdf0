"""The level meter repaints only the columns a new level changed, with no paint event
of its own (its parts are filled by Qt from pixmaps), and what is on screen is still the
whole meter at the new level, the same pixels as the meter painted whole."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.level_meter import LevelMeter, level_to_fraction

WIDTH, HEIGHT = 203, 12


class PaintRects(QObject):
    """The rectangles (in the meter's coordinates) of the paint events the meter and its
    parts receive, and the meter's own paint events."""

    def __init__(self, meter: LevelMeter) -> None:
        super().__init__()
        self.meter = meter
        self.rects: list[QRect] = []
        self.own = 0
        for widget in [meter, *meter.findChildren(QWidget)]:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            assert isinstance(watched, QWidget)
            rect = event.rect()  # type: ignore[attr-defined]
            self.rects.append(rect.translated(watched.mapTo(self.meter, QPoint(0, 0))))
            self.own += watched is self.meter
        return False

    @property
    def united(self) -> QRect:
        united = QRect()
        for rect in self.rects:
            united = united.united(rect)
        return united.intersected(self.meter.rect())


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
    assert paints.rects and paints.own == 0  # no paint event of the meter's own
    rect = paints.united
    old_end, new_end = 1.5 + span * 0.5, 1.5 + span * 0.6
    assert rect.left() <= old_end - 2 and rect.right() >= int(new_end)  # all that changed
    assert rect.left() >= old_end - 6 and rect.right() <= new_end + 4  # and little more
    assert rect.top() == 0 and rect.height() == HEIGHT

    paints.rects.clear()
    meter.set_level(level_for(0.2))  # the bar drops to 20 %, the peak decays 2 %
    QApplication.processEvents()
    rect = paints.united
    low, peak = 1.5 + span * 0.2, 1.5 + span * 0.58
    assert rect.left() <= low - 2 and rect.right() >= int(1.5 + span * 0.6)
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
    assert paints.rects and paints.own == 0 and paints.united.width() <= 12
    assert largest_difference(on_screen(meter), meter.grab().toImage()) <= 2


def test_the_peak_marker_goes_when_the_peak_has_decayed(qtbot) -> None:
    """The marker near the start decays to nothing: the screen is the empty meter."""
    meter = shown_meter(qtbot)
    empty = meter.grab().toImage()
    meter.set_level(level_for(0.05))
    QApplication.processEvents()
    assert largest_difference(on_screen(meter), empty) > 100  # bar and marker shown
    while meter.peak > 0:
        meter.set_level(0.0)
        QApplication.processEvents()
    assert largest_difference(on_screen(meter), empty) == 0


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
