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
