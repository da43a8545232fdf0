"""The interphone list's share of a narrow window: the pane beside it keeps its room."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from app.ui.main_window import LIST_MAX_PX, LIST_SHARE, MainWindow


def _shown(width: int, height: int) -> MainWindow:
    window = MainWindow()
    window.resize(width, height)
    window.show()
    QApplication.processEvents()
    return window


def test_the_list_takes_a_share_of_a_narrow_window_and_at_most_its_width(qapp) -> None:
    widths = {}
    for width in (640, 800, 1280):
        window = _shown(width, 600)
        try:
            list_width, pane_width = window.splitter.sizes()
            widths[width] = list_width
            assert pane_width >= width - list_width - 40  # the rest goes to the pane
        finally:
            window.close()
            window.deleteLater()
    assert widths[640] == window.interphones.minimumWidth() == 220  # 0.34 x 640 = 218
    assert widths[800] == round(800 * LIST_SHARE) == 272
    assert widths[1280] == LIST_MAX_PX
    assert widths[640] < 300  # the pane at 640 px: 80 px more than before


def test_a_width_the_user_chose_stays(qapp) -> None:
    window = _shown(1280, 800)
    try:
        window.splitter.setSizes([250, 1000])
        window.splitter.splitterMoved.emit(250, 1)  # what a drag of the handle says
        window.resize(800, 600)
        QApplication.processEvents()
        assert window.splitter.sizes()[0] == 250
    finally:
        window.close()
        window.deleteLater()
