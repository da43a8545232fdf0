"""Defects a new user hit in the window, its dialogs (settings, sign-in) and the tray:
layout, keyboard navigation, calls. Each test failed before its fix. Real Qt (offscreen)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.ui.global_key_edit import GlobalTalkKeyEdit
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import SettingsDialog
from app.ui.sign_in import SignInDialog
from app.ui.tray import TrayController
from app.ui.view_types import InterphoneRow, RowKind

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

pytest_plugins = ["test_ui_support"]

OPS_ROW = InterphoneRow("group_58", RowKind.GROUP, "Ops", 3, "", True)
ROWS = [OPS_ROW, InterphoneRow("group_59", RowKind.GROUP, "Maintenance"),
        InterphoneRow("chat_bob:sung", RowKind.CHAT, "Bob")]


def test_settings_dialog_grows_to_fit_english_after_a_switch_from_chinese(qtbot) -> None:
    """Opened in Chinese, switched to English with Apply: the dialog kept its width and
    cut "Closing the window keeps Interphone running in the system tray" short."""
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    switcher.apply("zh_CN")
    try:
        dialog = SettingsDialog()
        qtbot.addWidget(dialog)
        dialog.set_tray_available(False)
        dialog.tabs.setCurrentIndex(2)
        dialog.show()
        qtbot.waitExposed(dialog)
        switcher.apply("en")
        box = dialog.close_to_tray
        qtbot.waitUntil(lambda: box.text().startswith("&Closing"))
        qtbot.waitUntil(lambda: box.width() >= box.sizeHint().width())
        assert dialog.width() >= dialog.sizeHint().width()
    finally:
        switcher.apply("en")


def tab_cycle(qtbot, window: MainWindow, start: QWidget) -> list[QWidget]:
    """The widgets Tab visits from ``start`` until it comes back (or 20 presses)."""
    start.setFocus()
    visited = [start]
    for _ in range(20):
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        assert focus is not None
        if focus is start:
            return visited
        visited.append(focus)
    raise AssertionError(f"Tab never came back to {start!r}: {visited!r}")


def test_tab_reaches_the_filter_box_and_the_panel_controls_in_their_order(qtbot) -> None:
    """Tab from the last control wrapped to the window's focus proxy (the list), so the
    filter box was never reached again; and Leave came before the volume and Mute
    beside it on its left."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    window.show_interphone(OPS_ROW)
    window.panel.mix.set_row(OPS_ROW)  # joined, not the talk target: Talk here, volume, Mute
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)
    assert QApplication.focusWidget() is window.interphones.tree  # Space talks at start
    try:
        cycle = tab_cycle(qtbot, window, window.interphones.filter)
        mix, panel = window.panel.mix, window.panel
        order = [mix.talk_here, mix.volume, mix.mute, panel.leave_button]
        assert all(widget in cycle for widget in order), cycle
        assert [cycle.index(widget) for widget in order] == \
            sorted(cycle.index(widget) for widget in order)
    finally:
        window.talk_key.detach()


def test_the_tray_menu_offers_to_show_a_minimized_window(qtbot, settings) -> None:
    """Minimized, the tray menu said "Hide Interphone" and its action showed the window."""
    window = MainWindow()
    qtbot.addWidget(window)
    tray = TrayController(window, settings, available=True)
    try:
        window.show()
        qtbot.waitExposed(window)
        tray.refresh()
        assert tray.show_action.text() == "Hide Interphone"
        window.showMinimized()
        qtbot.waitUntil(window.isMinimized)
        tray.refresh()
        assert tray.show_action.text() == "Show Interphone"
        tray.show_action.trigger()  # what it says: the window comes back
        qtbot.waitUntil(lambda: not window.isMinimized())
        assert window.isVisible()
        tray.refresh()
        assert tray.show_action.text() == "Hide Interphone"
    finally:
        tray.close()
        window.talk_key.detach()


@pytest.mark.parametrize("end", ["dismiss", "answer", "ended"])
def test_the_status_bar_stops_saying_a_call_rings_once_it_is_over(qtbot, end: str) -> None:
    """Dismissed (or answered, or cancelled by the caller), the banner went but the status
    bar kept "Alice is calling you" for up to 8 s."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("bob")
    window.show()
    qtbot.waitExposed(window)
    try:
        window.notify_incoming_call("chat_alice:bob", "Alice")
        assert window.statusBar().currentMessage() == "Alice is calling you"
        if end == "dismiss":
            window.banner.dismiss.click()
        elif end == "answer":
            window.banner.answer.click()
        else:
            window.clear_incoming_call("chat_alice:bob")
        assert not window.banner.isVisible()
        assert window.statusBar().currentMessage() == ""
        window.show_message("Missed call from Alice", 8000)  # a later message stays
        window.clear_incoming_call("chat_alice:bob")
        assert window.statusBar().currentMessage() == "Missed call from Alice"
    finally:
        window.talk_key.detach()


def test_the_global_key_turn_off_button_is_greyed_out_while_the_key_is_off(qtbot) -> None:
    """"Turn off" beside a field saying "Off" was enabled (and did nothing)."""
    edit = GlobalTalkKeyEdit()
    qtbot.addWidget(edit)
    assert edit.field.text() == "Off" and not edit.off.isEnabled()
    assert edit.offer("F9") and edit.off.isEnabled()
    edit.off.click()
    assert edit.key_name() == "" and not edit.off.isEnabled()
    edit.set_key_name("RightCtrl")
    assert edit.off.isEnabled()
    edit.set_key_name("")
    assert not edit.off.isEnabled()


def test_settings_say_why_the_tray_option_is_greyed_out(qtbot) -> None:
    """Without a system tray the option was off and disabled with no word of why."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(2)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.tray_note.isVisible()
    dialog.set_tray_available(False)
    assert not dialog.close_to_tray.isEnabled()
    assert dialog.tray_note.isVisible() and "no system tray" in dialog.tray_note.text()
    dialog.set_tray_available(True)
    assert not dialog.tray_note.isVisible()


def ops_in_a_640x480_window(qtbot: QtBot) -> MainWindow:
    """The window (sung's, the rows of ROWS) in 640x480 showing Ops and its mix, exposed;
    the caller detaches its talk key at the end."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    window.resize(640, 480)
    window.show_interphone(OPS_ROW)
    window.panel.mix.set_row(OPS_ROW)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_talk_button_is_whole_in_a_640x480_window_with_both_banners(qtbot) -> None:
    """An incoming call and an emergency at once in a 640x480 window: the pane was squeezed
    below the talk button's minimum and the round button was cut off at the bottom."""
    window = ops_in_a_640x480_window(qtbot)
    try:
        window.notify_incoming_call("chat_bob:sung", "Bob")
        window.emergency.show_emergency("group_58", "Alice", True, by_you=False)
        panel, button = window.panel, window.panel.talk_button

        def whole() -> bool:
            return panel.contentsRect().contains(button.geometry())

        qtbot.waitUntil(lambda: window.banner.isVisible() and window.emergency.isVisible())
        qtbot.waitUntil(whole, timeout=2000)
        assert window.size().height() == 480
    finally:
        window.talk_key.detach()


def shows_all_of(label: QLabel) -> bool:
    if label.wordWrap():
        return label.height() >= label.heightForWidth(label.width())
    return label.width() >= label.sizeHint().width()


@pytest.mark.parametrize("width", [640, 624])  # (624: the least on a 640x480 screen)
def test_the_banners_say_who_called_and_who_raised_the_emergency_in_a_narrow_window(
        qtbot, width: int) -> None:
    """In a 640 px window the emergency banner read "EMERGENCY raised b", cut off before
    the raiser's name (the call banner the same with a longer name)."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.setMinimumSize(width, 432)
    window.set_me("sung")
    window.set_rows(ROWS)
    window.resize(width, 480)
    window.show_interphone(OPS_ROW)
    window.show()
    qtbot.waitExposed(window)
    try:
        window.notify_incoming_call("chat_bob:sung", "Bob Alexander Whitfield")
        window.emergency.show_emergency("group_58", "Alice Liddell", True, by_you=False)
        qtbot.waitUntil(lambda: window.banner.isVisible() and window.emergency.isVisible())
        qtbot.waitUntil(lambda: shows_all_of(window.emergency.text)
                        and shows_all_of(window.banner.text), timeout=2000)
    finally:
        window.talk_key.detach()


def least_height(widget: QWidget) -> int:
    """The height a layout gives ``widget`` at the least (its minimum, else its hint)."""
    return widget.minimumHeight() or widget.minimumSizeHint().height()


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("names", [("Bob", "Alice"),
                                   ("Bob Alexander Whitfield", "Alice Liddell Pleasance")])
def test_a_640x480_window_with_both_banners_squeezes_nothing(
        qtbot, qapp, language: str, names: tuple[str, str]) -> None:
    """An incoming call and an emergency at once in a 640x480 window: the pane needed
    some 50 px more than the window had (each list wants Qt's least height of 70 px), so
    the members and replay lists were squeezed under their least height, the replay
    list's title ran into the members list, and the window's least size was taller than
    a 640x480 screen."""
    switcher = LanguageSwitcher(qapp, has_font=lambda language: True)
    switcher.apply(language)
    window = ops_in_a_640x480_window(qtbot)
    try:
        caller, raiser = names
        window.notify_incoming_call("chat_bob:sung", caller)
        window.emergency.show_emergency("group_58", raiser, True, by_you=True)
        qtbot.waitUntil(lambda: window.banner.isVisible() and window.emergency.isVisible())
        panel = window.panel
        lists = [panel.members, panel.replay, panel.replay.list]

        def fits() -> bool:
            return all(view.height() >= least_height(view) for view in lists)

        qtbot.waitUntil(fits, timeout=2000)
        assert window.minimumSizeHint().height() <= 480
        assert window.size().height() == 480
        assert panel.contentsRect().contains(panel.talk_button.geometry())
        assert panel.replay.geometry().top() > panel.members.geometry().bottom()
        status = window.statusBar()
        assert status.isVisible() and status.geometry().bottom() == window.height() - 1
    finally:
        window.talk_key.detach()
        switcher.apply("en")


def test_settings_tab_through_the_fields_in_the_order_they_read(qtbot) -> None:
    """Tab went from the speaker to Refresh before "Play a test sound" beside it, and from
    the talk key to the release delay before the global talk key between them."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.global_key.set_key_name("F9")  # (its Turn off is then enabled)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    expected = {0: [dialog.output_device, dialog.speaker_test, dialog.refresh, dialog.bitrate],
                1: [dialog.talk_mode, dialog.talk_key, dialog.global_key.field,
                    dialog.global_key.off,
                    dialog.release_delay]}
    for tab, order in expected.items():
        dialog.tabs.setCurrentIndex(tab)
        order[0].setFocus()
        qtbot.waitUntil(lambda first=order[0]: QApplication.focusWidget() is first)
        visited = [order[0]]
        for _ in order[1:]:
            qtbot.keyClick(dialog.windowHandle(), Qt.Key.Key_Tab)
            visited.append(QApplication.focusWidget())
        assert visited == order, (tab, visited)


def test_sign_in_tabs_to_the_tls_box_before_remember_me(qtbot) -> None:
    """"Encrypted connection (TLS)" reads above "Remember me on this computer", but Tab
    reached it after."""
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    order = [dialog.address, dialog.uid, dialog.token, dialog.tls, dialog.remember, dialog.ok]
    dialog.address.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.address)
    visited = [dialog.address]
    for _ in order[1:]:
        qtbot.keyClick(dialog.windowHandle(), Qt.Key.Key_Tab)
        visited.append(QApplication.focusWidget())
    assert visited == order


def test_tab_reaches_the_call_and_emergency_banners_before_the_panel_below(qtbot) -> None:
    """Answer, Dismiss and Cancel emergency sit above the panel but came after its
    controls (and after Leave) in the Tab order."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_me("sung")
    window.set_rows(ROWS)
    window.show_interphone(OPS_ROW)
    window.panel.mix.set_row(OPS_ROW)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    try:
        window.notify_incoming_call("chat_bob:sung", "Bob")
        window.emergency.show_emergency("group_58", "Alice", True, by_you=False)
        cycle = tab_cycle(qtbot, window, window.interphones.filter)
        banner = window.banner
        order = [window.interphones.tree, window.emergency.cancel, banner.answer,
                 banner.dismiss, window.panel.mix.talk_here, window.panel.leave_button]
        assert all(widget in cycle for widget in order), cycle
        assert [cycle.index(widget) for widget in order] == \
            sorted(cycle.index(widget) for widget in order)
    finally:
        window.talk_key.detach()
