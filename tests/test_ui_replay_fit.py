"""The replay list's time and length column shows its whole text in any font.

On Debian with WenQuanYi Micro Hei, a row read "…:10:38 (0:01)" with room to spare: its
width was the text's in whole pixels, rounded down from the font's fractional advances,
and the time was elided to fit that. Whether a font and size rounds that way is chance,
so the rows are checked at many sizes of the default font (the only one a test machine
can count on)."""

from __future__ import annotations

import math

import pytest
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QApplication

from app.ui.floor_widgets import ReplayItem, ReplayList, _ReplayRow

PIXEL_SIZES = range(8, 31)
ITEMS = [ReplayItem(3, "Alice", "10:10:38", 1.4, False),  # unheard: bold
         ReplayItem(2, "Bob", "14:03:21", 12.0, True),
         ReplayItem(1, "Carol", "22:27:17", 61.0, True)]


def sized(pixels: int) -> QFont:
    font = QFont(QApplication.font())
    font.setPixelSize(pixels)
    return font


def cut_rows(replay: ReplayList) -> list[tuple[str, str, int, float]]:
    """Each row whose time and length are not shown whole, or narrower than they are:
    (shown, whole, width, the whole text's advance)."""
    cut = []
    for index in range(replay.list.count()):
        row = replay.list.itemWidget(replay.list.item(index))
        assert isinstance(row, _ReplayRow)
        details = row.details
        whole = details.prefix + details.full_text + details.suffix
        advance = QFontMetricsF(details.font(), details).horizontalAdvance(whole)
        if details.text() != whole or details.width() < math.ceil(advance):
            cut.append((details.text(), whole, details.width(), advance))
    return cut


@pytest.fixture
def replay(qtbot) -> ReplayList:
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.resize(700, 400)  # room for every row's name and time at every size tried
    replay.show()
    qtbot.waitExposed(replay)
    return replay


def test_rows_made_in_any_font_size_show_their_whole_time(replay) -> None:
    cut = {}
    for pixels in PIXEL_SIZES:
        replay.set_items([])
        replay.setFont(sized(pixels))
        replay.set_items(ITEMS)
        QApplication.processEvents()
        if rows := cut_rows(replay):
            cut[pixels] = rows
    assert cut == {}


def test_rows_follow_a_font_change_and_show_their_whole_time(replay) -> None:
    """The desktop's font changes while the rows are shown (and a row gets the list's
    font once placed in it): they measure again."""
    replay.set_items(ITEMS)
    cut = {}
    for pixels in PIXEL_SIZES:
        replay.setFont(sized(pixels))
        QApplication.processEvents()
        if rows := cut_rows(replay):
            cut[pixels] = rows
    assert cut == {}


def test_a_narrow_list_still_cuts_the_time_before_the_length(qtbot) -> None:
    """The fix keeps the design: where there is no room the time gives way from its
    start, and the length always shows."""
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.setFont(sized(24))
    replay.set_items(ITEMS)
    replay.resize(160, 200)
    replay.show()
    qtbot.waitExposed(replay)
    QApplication.processEvents()
    row = replay.list.itemWidget(replay.list.item(1))
    assert isinstance(row, _ReplayRow)
    assert row.details.elided()
    assert row.details.text().startswith("…") and row.details.text().endswith("(0:12)")


def test_rows_grow_with_a_larger_font(replay) -> None:
    """Each row keeps the height its play button and text need in the font it has now
    (made in a small font, then the desktop's grew: they were cut at the bottom)."""
    replay.setFont(sized(9))
    replay.set_items(ITEMS)
    replay.setFont(sized(26))
    QApplication.processEvents()
    for index in range(replay.list.count()):
        item = replay.list.item(index)
        row = replay.list.itemWidget(item)
        assert isinstance(row, _ReplayRow)
        assert replay.list.visualItemRect(item).height() >= row.sizeHint().height()
        assert row.height() >= row.sizeHint().height()


def test_rows_are_measured_again_in_a_new_language(replay) -> None:
    """After a language change each row keeps the size its new texts need (the length's
    brackets are the language's; a CJK font's line is taller): it kept the English size."""
    from app.ui.i18n import LanguageSwitcher

    replay.set_items(ITEMS)
    switcher = LanguageSwitcher(QApplication.instance(), has_font=lambda _: True)
    try:
        switcher.apply("zh_CN")
        QApplication.processEvents()
        for index in range(replay.list.count()):
            item = replay.list.item(index)
            row = replay.list.itemWidget(item)
            assert isinstance(row, _ReplayRow)
            assert "（" in row.details.text()
            assert item.sizeHint() == row.size_for_list()
    finally:
        switcher.apply("en")


def test_a_narrow_list_keeps_the_first_letters_of_each_name(qtbot) -> None:
    """At 20 pt on an 800×600 screen a row read "… …:08 (0:01)": the name had given way
    to nothing, so whose transmission it was did not show. The name keeps its first three
    letters while the time can give way instead (and gives way too in a row narrower
still, as test_replay_rows_keep_their_length_in_a_narrow_pane wants)."""
    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.setFont(sized(26))
    replay.set_items(ITEMS)
    replay.resize(300, 200)
    replay.show()
    qtbot.waitExposed(replay)
    QApplication.processEvents()
    for index, item in enumerate(ITEMS):
        row = replay.list.itemWidget(replay.list.item(index))
        assert isinstance(row, _ReplayRow)
        shown = row.name.text().removeprefix("● ")
        assert shown.startswith(item.speaker[:3]), (shown, row.details.text())
        assert row.details.text().endswith(row.details.suffix)  # the length still whole
        assert row.geometry().right() <= replay.list.viewport().width()  # no side clip
