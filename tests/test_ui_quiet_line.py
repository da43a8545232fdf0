"""A label whose text changes each second (the speaking clock, the reception figures)
lays the window out again only when it needs another size."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from app.ui.quiet_line import QuietLine


class LayoutRequests(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def shown_line(qtbot) -> tuple[QWidget, QuietLine]:
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    line = QuietLine(QLabel("alice is speaking · 0:12"))
    layout.addWidget(line)
    layout.addWidget(QLabel("below"))
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    return window, line


def set_text(line: QuietLine, text: str) -> None:
    line.label.setText(text)
    line.follow()
    QApplication.processEvents()


def test_a_new_text_of_the_same_size_does_not_lay_the_window_out(qtbot) -> None:
    window, line = shown_line(qtbot)
    requests = LayoutRequests(window)
    before = line.label.sizeHint()
    set_text(line, "alice is speaking · 0:21")  # the same glyphs: the same size
    assert line.label.sizeHint() == before
    assert requests.count == 0
    assert line.label.text() == "alice is speaking · 0:21"
    assert line.label.geometry() == line.rect()  # the label fills its line


def test_a_longer_text_or_a_bolder_style_gets_its_room(qtbot) -> None:
    window, line = shown_line(qtbot)
    requests = LayoutRequests(window)
    set_text(line, "somebody with a much longer name is speaking · 0:12")
    assert requests.count >= 1
    assert line.width() >= line.label.sizeHint().width()
    assert line.label.width() == line.width()
    plain = line.label.sizeHint().width()
    line.label.setStyleSheet("font-weight: bold; font-size: 20px;")
    line.follow()
    QApplication.processEvents()
    assert line.label.sizeHint().width() > plain
    assert line.width() >= line.label.sizeHint().width()
    assert line.height() >= line.label.sizeHint().height()
