"""Keyboard and mouse use of the window (issue 14): buttons, the talk key, the filter box."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget
from test_ui_support import OPS, run, until

from app.ui.interphone_list import ROW_ROLE, InterphoneList
from app.ui.main_window import MainWindow
from app.ui.talk_key import RIGHT_CTRL, TalkKey, parse_talk_key, refusal
from app.ui.talk_key_edit import TalkKeyEdit
from app.ui.view_types import InterphoneRow, RowKind, TalkState

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

ROWS = [
    InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "", True),
    InterphoneRow("group_59", RowKind.GROUP, "Maintenance"),
    InterphoneRow("discuss_12", RowKind.DISCUSS, "Night shift", 2),
    InterphoneRow("chat_lxx:sung", RowKind.CHAT, "Li Xiaoxia"),
]
LEFT_CTRL_SCAN, RIGHT_CTRL_SCAN = 37, 105  # X11 keycodes

pytest_plugins = ["test_ui_support"]


@pytest.fixture
def window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    yield window
    window.talk_key.detach()


def talk_events(window: MainWindow) -> list[str]:
    events: list[str] = []
    window.talk_pressed.connect(lambda: events.append("press"))
    window.talk_released.connect(lambda: events.append("release"))
    return events


def native_key(kind: QEvent.Type, key: Qt.Key, scan: int) -> QKeyEvent:
    return QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, scan, 0, 0)


def mouse(kind: QEvent.Type, button: Qt.MouseButton) -> QMouseEvent:
    return QMouseEvent(kind, QPointF(5, 5), QPointF(5, 5), button, button,
                       Qt.KeyboardModifier.NoModifier)


# --- buttons ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space])
def test_focused_join_and_leave_buttons_press_from_the_keyboard(qtbot, window, key) -> None:
    """Return did nothing and Space grabbed the floor instead of pressing the button."""
    talk = talk_events(window)
    panel = window.panel
    window.show_interphone(ROWS[1])  # not joined: Join is shown
    panel.join_button.setFocus()
    with qtbot.waitSignal(panel.join_requested, timeout=2000) as joined:
        qtbot.keyClick(window.windowHandle(), key)  # to the focused button
    assert joined.args == ["group_59"]
    window.show_interphone(ROWS[0])  # joined: Leave is shown
    panel.leave_button.setFocus()
    with qtbot.waitSignal(panel.leave_requested, timeout=2000) as left:
        qtbot.keyClick(window.windowHandle(), key)
    assert left.args == ["group_58"]
    assert talk == []  # the talk key did not fire


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Space])
def test_call_banner_and_mute_buttons_press_from_the_keyboard(qtbot, window, key) -> None:
    talk = talk_events(window)
    window.notify_incoming_call("chat_bob:sung", "bob")
    window.banner.answer.setFocus()
    with qtbot.waitSignal(window.join_requested, timeout=2000) as answered:
        qtbot.keyClick(window.windowHandle(), key)
    assert answered.args == ["chat_bob:sung"]
    window.notify_incoming_call("chat_bob:sung", "bob")
    window.banner.dismiss.setFocus()
    with qtbot.waitSignal(window.call_dismissed, timeout=2000):
        qtbot.keyClick(window.windowHandle(), key)
    mute = window.audio_bar.mute
    mute.setFocus()
    with qtbot.waitSignal(window.mute_toggled, timeout=2000) as muted:
        qtbot.keyClick(window.windowHandle(), key)
    assert muted.args == [True]
    assert talk == []


def test_space_still_talks_when_no_button_has_the_focus(qtbot, window) -> None:
    talk = talk_events(window)
    window.interphones.tree.setFocus()
    qtbot.keyPress(window.windowHandle(), Qt.Key.Key_Space)  # to the focused list
    qtbot.keyRelease(window.windowHandle(), Qt.Key.Key_Space)
    assert talk == ["press", "release"]


# --- talk key -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "refused"), [
    (Qt.Key.Key_CapsLock, True), (Qt.Key.Key_A, True), (Qt.Key.Key_7, True),
    (Qt.Key.Key_Space, False), (Qt.Key.Key_F9, False), (Qt.Key.Key_Pause, False),
])
def test_talk_key_refusals_give_a_reason(qapp, key: Qt.Key, refused: bool) -> None:
    assert bool(refusal(key)) is refused


def test_talk_key_field_records_right_ctrl_and_mouse_buttons_and_refuses_caps_lock(qtbot) -> None:
    edit = TalkKeyEdit()
    qtbot.addWidget(edit)
    edit.show()
    changed: list[str] = []
    refused: list[str] = []
    edit.key_changed.connect(changed.append)
    edit.refused.connect(refused.append)

    edit.start_recording()
    QApplication.sendEvent(edit, native_key(QEvent.Type.KeyPress, Qt.Key.Key_CapsLock, 66))
    assert refused and "Caps Lock" in refused[-1] and changed == []
    QApplication.sendEvent(edit, native_key(QEvent.Type.KeyPress, Qt.Key.Key_Q, 24))
    assert len(refused) == 2 and changed == []
    QApplication.sendEvent(edit, native_key(QEvent.Type.KeyPress, Qt.Key.Key_Control,
                                            LEFT_CTRL_SCAN))
    assert "Right Ctrl" in refused[-1] and changed == []
    QApplication.sendEvent(edit, native_key(QEvent.Type.KeyPress, Qt.Key.Key_Control,
                                            RIGHT_CTRL_SCAN))
    assert changed == [RIGHT_CTRL] and edit.text() == "Right Ctrl" and not edit.recording

    edit.start_recording()
    QApplication.sendEvent(edit, mouse(QEvent.Type.MouseButtonPress, Qt.MouseButton.BackButton))
    assert changed[-1] == "Mouse:Back" and edit.key_text() == "Mouse:Back"
    edit.start_recording()
    qtbot.keyClick(edit, Qt.Key.Key_F8)
    assert changed[-1] == "F8"


def test_right_ctrl_alone_talks_but_left_ctrl_does_not(qtbot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    talk_key = TalkKey(window, RIGHT_CTRL)
    events: list[str] = []
    talk_key.pressed.connect(lambda: events.append("press"))
    talk_key.released.connect(lambda: events.append("release"))
    handle = talk_key.window_handle  # where the window system delivers keys and buttons
    assert handle is not None
    try:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(handle,
                                   native_key(kind, Qt.Key.Key_Control, LEFT_CTRL_SCAN))
        assert events == []
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(handle,
                                   native_key(kind, Qt.Key.Key_Control, RIGHT_CTRL_SCAN))
        assert events == ["press", "release"]
        talk_key.set_key("Mouse:Forward")
        for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            QApplication.sendEvent(handle,
                                   mouse(kind, Qt.MouseButton.ForwardButton))
        assert events == ["press", "release", "press", "release"]
    finally:
        talk_key.detach()


def test_a_stored_unusable_key_falls_back_to_space(qapp) -> None:
    assert parse_talk_key("CapsLock").key == Qt.Key.Key_Space
    assert parse_talk_key("A").key == Qt.Key.Key_Space
    assert parse_talk_key("Mouse:Back").mouse == Qt.MouseButton.BackButton


# --- the filter box -------------------------------------------------------------------------------
def list_typed_into(qtbot: QtBot) -> InterphoneList:
    """The list of ROWS, shown in an active window, the keyboard in its filter box."""
    view = InterphoneList()
    qtbot.addWidget(view)
    view.set_rows(ROWS)
    view.show()
    view.activateWindow()
    qtbot.waitExposed(view)
    view.filter.setFocus()
    return view


def test_filter_box_down_and_enter_reach_the_results_and_escape_clears(qtbot) -> None:
    view = list_typed_into(qtbot)
    qtbot.keyClicks(view.filter, "shift")
    with qtbot.waitSignal(view.selected) as selected:
        qtbot.keyClick(view.filter, Qt.Key.Key_Down)
    assert selected.args == ["discuss_12"]
    assert view.focusWidget() is view.tree
    view.filter.setFocus()
    qtbot.keyClick(view.filter, Qt.Key.Key_Escape)
    assert view.filter.text() == "" and set(view.visible_ids()) == {row.id for row in ROWS}
    qtbot.keyClicks(view.filter, "main")
    with qtbot.waitSignal(view.selected) as selected:
        qtbot.keyClick(view.filter, Qt.Key.Key_Return)
    assert selected.args == ["group_59"]


def test_escape_in_the_filtered_list_brings_every_row_back(qtbot) -> None:
    """Down from the filter box led into the results, and there Escape did nothing: the
    other rows stayed hidden until the user went back up to the box."""
    view = list_typed_into(qtbot)
    qtbot.keyClicks(view.filter, "night")
    qtbot.keyClick(view.filter, Qt.Key.Key_Down)
    assert view.focusWidget() is view.tree and view.visible_ids() == ["discuss_12"]
    qtbot.keyClick(view.tree, Qt.Key.Key_Escape)
    assert view.filter.text() == "" and set(view.visible_ids()) == {row.id for row in ROWS}
    assert view.selected_id() == "discuss_12" and view.focusWidget() is view.tree


# --- the list keeps still under the mouse -------------------------------------------------------
def test_list_order_is_stable_while_the_pointer_is_over_it(qtbot) -> None:
    view = InterphoneList()
    qtbot.addWidget(view)
    view.set_rows(ROWS)
    before = view.order()
    assert before.index("group_58") < before.index("group_59")
    QApplication.sendEvent(view.tree.viewport(), QEvent(QEvent.Type.Enter))
    livened = [InterphoneRow("group_58", RowKind.GROUP, "Ops", 0, "", False),
               InterphoneRow("group_59", RowKind.GROUP, "Maintenance", 2, "wux"), *ROWS[2:]]
    view.set_rows(livened)  # Maintenance becomes live: it would jump above Ops
    assert view.order() == before  # ... but not under the mouse
    item = view.tree.itemAt(QPoint(5, 5))
    assert item is not None
    QApplication.sendEvent(view.tree.viewport(), QEvent(QEvent.Type.Leave))
    after = view.order()
    assert after.index("group_59") < after.index("group_58")


def test_talk_button_in_busy_state_shows_a_refused_press(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    button = window.panel.talk_button
    button.resize(200, 200)
    button.set_state(TalkState.BUSY, "Alice")
    assert button.texts() == ("Busy", "Alice is speaking")
    qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert button.refused and button.texts()[0] == "Wait"
    qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.waitUntil(lambda: not button.refused, timeout=3000)
    window.talk_key.detach()


# --- section headers and the order after a join (signed in, real server) ------------------------
EVERYONE, NIGHT = "group_1", "discuss_12"


def test_arrow_keys_and_clicks_step_over_the_section_headers(qloop, ui, qtbot) -> None:
    """Down from the last group landed on the "Discussions" header: nothing was selected
    any more and the panel said "No interphone selected"."""
    rows = ui.window.interphones
    tree = rows.tree
    assert rows.order()[:3] == [OPS, EVERYONE, NIGHT]  # Groups: Ops, Everyone; Discussions
    rows.select(EVERYONE)
    qtbot.keyClick(tree, Qt.Key.Key_Down)
    assert rows.selected_id() == NIGHT and ui.window.panel.interphone_id == NIGHT
    assert tree.currentItem().data(0, ROW_ROLE).id == NIGHT
    qtbot.keyClick(tree, Qt.Key.Key_Up)
    assert rows.selected_id() == EVERYONE
    qtbot.keyClick(tree, Qt.Key.Key_Down)
    qtbot.keyClick(tree, Qt.Key.Key_Down)  # over "Contacts" to the first contact
    assert rows.selected_id() == rows.order()[3]
    qtbot.keyClick(tree, Qt.Key.Key_Home)
    assert rows.selected_id() == OPS
    qtbot.keyClick(tree, Qt.Key.Key_Up)  # nothing above the first row: it stays
    assert rows.selected_id() == OPS
    qtbot.keyClick(tree, Qt.Key.Key_Left)
    assert rows.selected_id() == OPS
    qtbot.keyClick(tree, Qt.Key.Key_End)
    assert rows.selected_id() == rows.order()[-1]
    header = tree.topLevelItem(1)  # "Discussions (1)"
    assert header.data(0, ROW_ROLE) is None
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(header).center())
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton,
                      pos=tree.visualItemRect(header).center())
    assert rows.selected_id() == rows.order()[-1] and header.isExpanded()


def test_the_first_arrow_key_in_a_list_with_nothing_selected_selects_the_first_row(
        qtbot, window) -> None:
    """Signed in, nothing selected, the focus in the list: Down selected the second
    interphone. Taking the focus had made the first row current without showing it, and
    Down moved on from there."""
    rows = window.interphones
    rows.tree.setFocus()
    qtbot.waitUntil(rows.tree.hasFocus)
    assert rows.selected_id() == ""
    qtbot.keyClick(rows.tree, Qt.Key.Key_Down)
    assert rows.selected_id() == rows.order()[0] == "group_58"
    qtbot.keyClick(rows.tree, Qt.Key.Key_Down)
    assert rows.selected_id() == rows.order()[1]
    rows.tree.clearSelection()  # (as a row removed while selected leaves it)
    qtbot.keyClick(rows.tree, Qt.Key.Key_Up)
    assert rows.selected_id() == rows.order()[-1]


def test_a_joined_row_stays_where_it_was_until_the_user_leaves_the_list(qloop, ui) -> None:
    """Enter on "Everyone" joined it, and the list re-sorted at once: the row jumped
    above Ops, away from under the user."""
    async def scenario() -> None:
        rows = ui.window.interphones
        before = rows.order()
        assert before.index(OPS) < before.index(EVERYONE)
        rows.select(EVERYONE)
        ui.window.activateWindow()
        rows.tree.setFocus()
        await until(rows.tree.hasFocus, what="the focus in the list")
        QApplication.sendEvent(rows.tree, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return,
                                                    Qt.KeyboardModifier.NoModifier))
        await until(lambda: rows.row(EVERYONE).talk_target, what="Everyone joined")
        await until(lambda: rows.row(EVERYONE).live, what="Everyone live")
        assert rows.order() == before and rows.selected_id() == EVERYONE
        ui.window.panel.talk_button.setFocus()  # done with the list
        await until(lambda: not rows.tree.hasFocus(), what="the focus elsewhere")
        after = rows.order()
        assert after.index(EVERYONE) < after.index(OPS)  # live and joined, sorted by name
        ui.presenter.leave(EVERYONE)  # from the pointer: kept until it leaves the list
        await until(lambda: not rows.row(EVERYONE).live, what="Everyone ended")
        viewport = rows.tree.viewport()
        QApplication.sendEvent(viewport, QEvent(QEvent.Type.Enter))
        ui.presenter.join(EVERYONE)  # a double-click
        await until(lambda: rows.row(EVERYONE).talk_target, what="joined again")
        assert rows.order() == before  # the pointer is still over the list
        QApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
        assert rows.order() == after
        ui.presenter.leave(EVERYONE)
        await until(lambda: not rows.row(EVERYONE).live, what="Everyone ended again")
        assert rows.order() == before
        ui.presenter.join(EVERYONE)  # e.g. the call banner's Answer: the user is elsewhere
        await until(lambda: rows.row(EVERYONE).live, what="joined a third time")
        assert rows.order() == after

    run(qloop, scenario())
