"""Defects a new user hit in the window, its dialogs (settings, sign-in) and the tray:
layout, keyboard navigation, calls. Each test failed before its fix. Real Qt (offscreen)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.ui.i18n import LanguageSwitcher
from app.ui.settings_dialog import SettingsDialog


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
