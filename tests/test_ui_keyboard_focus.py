"""What a keyboard user sees as Tab goes round the window: every stop shows it has the
focus."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from test_ui_support import OPS

from app.ui.main_window import MainWindow
from app.ui.view_types import InterphoneRow, RowKind

pytest_plugins = ["test_ui_support"]


def test_the_member_list_shows_the_focus_with_nothing_selected(qtbot) -> None:
    """With no interphone selected, Tab from the list went to the empty member list and
    nothing on screen moved: the next Tab seemed to skip a stop. The list shows an
    outline while it has the focus, empty or not."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_rows([InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", False)])
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    try:
        members = window.panel.members
        window.interphones.filter.setFocus(Qt.FocusReason.TabFocusReason)
        QApplication.processEvents()
        plain = members.grab().toImage()
        members.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(members.hasFocus)
        QApplication.processEvents()
        assert members.grab().toImage() != plain
        window.interphones.filter.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(lambda: not members.hasFocus())
        QApplication.processEvents()
        assert members.grab().toImage() == plain
    finally:
        window.talk_key.detach()


def test_leave_and_join_pressed_from_the_keyboard_keep_the_focus_in_their_place(
        qtbot) -> None:
    """Return on Leave left, and the focus went nowhere to be seen (Leave hid under it):
    the next Return or Space did nothing, and Tab started again from somewhere else. The
    focus moves to the button that takes its place (Join, and Leave after a join)."""
    window = MainWindow()
    qtbot.addWidget(window)
    joined = InterphoneRow(OPS, RowKind.GROUP, "Ops", 3, "", True, True)
    left = InterphoneRow(OPS, RowKind.GROUP, "Ops", 2, "", False)
    window.set_rows([joined])
    window.show_interphone(joined)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    try:
        panel = window.panel
        panel.leave_button.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(panel.leave_button.hasFocus)
        window.set_rows([left])
        window.show_interphone(left)
        QApplication.processEvents()
        assert panel.join_button.isVisible() and panel.join_button.hasFocus()
        window.set_rows([joined])
        window.show_interphone(joined)
        QApplication.processEvents()
        assert panel.leave_button.isVisible() and panel.leave_button.hasFocus()
    finally:
        window.talk_key.detach()
