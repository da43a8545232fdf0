"""The main window at a large system font (18 pt, a desktop's large-text setting): sizes
chosen in pixels at the default font grow with the text, so that the replay rows, the
interphone list and the icons stay legible beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QPushButton,
    QStyle,
    QStyleFactory,
    QStyleOptionButton,
    QWidget,
)

from app.ui.floor_widgets import ReplayItem
from app.ui.font_style import FontScaledStyle
from app.ui.main_window import MainWindow
from app.ui.talk_button import TalkButton
from app.ui.view_types import TalkState
from app.ui.window_geometry import minimum_size

pytest_plugins = ["test_ui_support"]

POINTS = 18


@pytest.fixture
def large_font(qapp: QApplication) -> Iterator[QFont]:
    default = qapp.font()
    large = QFont(default)
    large.setPointSize(POINTS)
    qapp.setFont(large)
    try:
        yield large
    finally:
        qapp.setFont(default)


@pytest.fixture
def window(qtbot, large_font: QFont) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.panel.replay.set_items([ReplayItem(1, "Alice", "19:27:42", 1.0, False),
                                   ReplayItem(2, "Echo", "19:27:40", 2.0, True)])
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    try:
        yield window
    finally:
        window.talk_key.detach()


def test_replay_rows_are_whole_in_a_wide_window(window: MainWindow) -> None:
    """The lists beside the talk button stopped at 280 px: at 18 pt a row read
    "Ali… …:42 (0:01)" while the round button had room to spare."""
    rows = window.panel.replay.list
    for index in range(rows.count()):
        row = rows.itemWidget(rows.item(index))
        assert not row.name.text().endswith("…"), row.name.text()
        assert not row.details.text().startswith("…"), row.details.text()
    assert window.panel.members.width() > 280


def test_the_interphone_list_widens_with_the_font(window: MainWindow) -> None:
    """The list stopped at 300 px: at 18 pt the talk target's line read "Talk target · Ali…"
    in a 1280-pixel window (it takes its share of the window, 435 px, now)."""
    metrics = window.interphones.fontMetrics()
    # the line's words, beside the kind's icon, with the margins of a row
    needed = metrics.horizontalAdvance("Talk target · Alice speaking") + 2 * metrics.height()
    assert window.interphones.width() >= needed


def icon_height(label: QWidget) -> int:
    pixmap = label.pixmap()  # type: ignore[attr-defined]
    return round(pixmap.height() / pixmap.devicePixelRatio())


def test_icons_grow_with_the_font(window: MainWindow) -> None:
    """The meters' microphone and speaker (18 px), the ringing phone (28 px), the shown
    interphone's kind (40 px) and the members' icons (16 px) stayed that small beside
    28-pixel lines of text."""
    line = window.fontMetrics().height()
    bar = window.audio_bar
    assert icon_height(bar.input_label) >= line
    assert icon_height(bar.output_label) >= line
    assert bar.mute.iconSize().height() >= line * 16 // 18
    window.banner.show_call("chat_bob", "Bob")
    assert icon_height(window.banner.icon) >= line * 28 // 14
    assert window.panel.members.iconSize().height() >= line * 16 // 14


def test_the_sizes_follow_a_font_changed_while_running(qtbot, qapp: QApplication) -> None:
    """The desktop's font changed while the window is open: the sizes follow it."""
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        small = window.panel.members.maximumWidth()
        default = qapp.font()
        large = QFont(default)
        large.setPointSize(POINTS)
        qapp.setFont(large)
        try:
            QApplication.processEvents()
            assert window.panel.members.maximumWidth() > small
            line = window.fontMetrics().height()
            assert icon_height(window.audio_bar.input_label) >= line
        finally:
            qapp.setFont(default)
        QApplication.processEvents()
        assert window.panel.members.maximumWidth() == small
    finally:
        window.talk_key.detach()


def indicator(box: QCheckBox) -> QRect:
    option = QStyleOptionButton()
    option.initFrom(box)
    return box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)


def test_check_boxes_and_small_icons_grow_with_the_font(qtbot, large_font: QFont) -> None:
    """The style draws a check box's square in pixels: at 18 pt "Remember me on this
    computer" had a 13-pixel box beside 28-pixel lines, and the dialogs' button icons
    stayed 16 pixels. The app's style grows them with the font."""
    box = QCheckBox("Remember me on this computer")
    qtbot.addWidget(box)
    style = FontScaledStyle()
    # a plain style of the kind it wraps (not the application's: a test that ran the app
    # set that to ours; nor the wrapped one itself, whose metrics go through ours)
    plain_style = QStyleFactory.create(style.baseStyle().name())
    box.setStyle(plain_style)
    plain = indicator(box).height()
    box.setStyle(style)
    line = box.fontMetrics().height()
    assert indicator(box).height() >= plain * line // 14 > plain
    button = QPushButton("OK")
    qtbot.addWidget(button)
    button.setStyle(style)
    icons = style.pixelMetric(QStyle.PixelMetric.PM_ButtonIconSize, None, button)
    assert icons >= 16 * line // 14


def test_the_style_keeps_its_sizes_at_the_default_font(qtbot, qapp: QApplication) -> None:
    box = QCheckBox("Remember me on this computer")
    qtbot.addWidget(box)
    style = FontScaledStyle()
    plain_style = QStyleFactory.create(style.baseStyle().name())
    box.setStyle(plain_style)
    plain = indicator(box)
    box.setStyle(style)
    if box.fontMetrics().height() <= 14:  # (the default font: 9 pt)
        assert indicator(box).size() == plain.size()


def test_the_replay_list_shows_as_many_rows_at_a_large_font(qtbot, large_font: QFont) -> None:
    """The replay list stopped at 150 px: some five rows at the default font, fewer than
    three at 18 pt in a window with room for more."""
    window = MainWindow()
    qtbot.addWidget(window)
    replay = window.panel.replay
    replay.set_items([ReplayItem(n, "Alice", "19:27:42", 1.0, True) for n in range(1, 9)])
    window.resize(1280, 1000)
    window.show()
    qtbot.waitExposed(window)
    try:
        QApplication.processEvents()
        rows = replay.list
        assert rows.viewport().height() >= 5 * rows.sizeHintForRow(0), rows.sizeHintForRow(0)
    finally:
        window.talk_key.detach()


@pytest.mark.parametrize("points", [None, POINTS])
@pytest.mark.parametrize("offer", ["join", ""])
def test_the_talk_buttons_texts_are_whole_at_its_least_size(qtbot, qapp: QApplication,
                                                             points: int | None,
                                                             offer: str) -> None:
    """At 640x480 and 18 pt the disc shrank to its 120-pixel least size, where the title,
    never smaller than the text, read "Hold t…"; at the default font, with nothing selected,
    the least disc read "Pick an interphone to t…"."""
    default = qapp.font()
    if points is not None:
        large = QFont(default)
        large.setPointSize(points)
        qapp.setFont(large)
    try:
        button = TalkButton()
        qtbot.addWidget(button)
        if offer:
            button.set_state(TalkState.IDLE)
        else:
            button.set_join_offer("")
        button.resize(button.minimumSizeHint())
        title, detail = button.texts()
        assert " ".join(button.title_lines(title)[1]) == title
        assert " ".join(button.detail_lines(detail)) == detail
    finally:
        qapp.setFont(default)


def test_the_windows_least_size_grows_with_the_font(qtbot, qapp: QApplication) -> None:
    """640x480 held the window's parts at 9 pt; at 18 pt it cut the members' names and the
    talk button's title and scrolled both ways: the least size grows with the font, within
    what the screen holds."""
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        default_minimum = window.minimumSize()
        default = qapp.font()
        large = QFont(default)
        large.setPointSize(POINTS)
        qapp.setFont(large)
        try:
            QApplication.processEvents()
            screen = window.screen().availableGeometry()
            expected = minimum_size(screen, QSize(960, 720))
            assert window.minimumSize().width() >= expected.width() > default_minimum.width()
            assert window.minimumSize().height() >= expected.height()
            assert expected.height() > default_minimum.height()
        finally:
            qapp.setFont(default)
        QApplication.processEvents()
        assert window.minimumSize() == default_minimum
    finally:
        window.talk_key.detach()


@pytest.mark.parametrize("points", [9, 12, 14])
def test_at_its_least_size_the_window_does_not_scroll(qtbot, qapp: QApplication,
                                                      points: int) -> None:
    """At 12 pt the window's parts needed 657 pixels: its least size, 640 wide, scrolled
    them sideways. (This platform's 800-pixel screen holds the least size up to 14 pt.)"""
    default = qapp.font()
    font = QFont(default)
    font.setPointSize(points)
    qapp.setFont(font)
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.resize(window.minimumSize())
        QApplication.processEvents()
        assert window.size() == window.minimumSize()
        assert not window.scroller.horizontalScrollBar().isVisible()
        assert not window.scroller.verticalScrollBar().isVisible()
    finally:
        window.talk_key.detach()
        qapp.setFont(default)
