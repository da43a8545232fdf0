"""The settings dialog as a new user meets it: notes it owes them, small screens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.preferences import PreferencesController
from app.ui.settings import Settings

pytest_plugins = ["test_ui_support"]


@pytest.fixture
def window(qtbot) -> Iterator[MainWindow]:
    window = MainWindow()
    qtbot.addWidget(window)
    yield window
    window.talk_key.detach()


def controller_for(window: MainWindow, settings: Settings,
                   switcher: LanguageSwitcher) -> PreferencesController:
    return PreferencesController(window, settings, switcher, lambda: None, lambda: None,
                                 window.set_talk_key)


def test_the_dialog_says_why_the_language_asked_for_at_start_is_not_shown(
        qapp, window, settings) -> None:
    """``--language zh_CN`` (or the setting) without a CJK font: English, and the
    Interface tab says why from the first time the dialog opens, not only after a
    language is applied in it."""
    switcher = LanguageSwitcher(qapp, has_font=lambda language: False)
    try:
        switcher.apply("zh_CN")  # at start, before any dialog
        dialog = controller_for(window, settings, switcher).open()
        assert not dialog.language_note.isHidden()  # (on the Interface tab)
        assert "font" in dialog.language_note.text()
        dialog.reject()
    finally:
        LanguageSwitcher(qapp).apply("en")


def test_the_language_note_goes_once_the_language_asked_for_is_shown(
        qapp, window, settings) -> None:
    switcher = LanguageSwitcher(qapp, has_font=lambda language: False)
    try:
        switcher.apply("zh_CN")
        controller = controller_for(window, settings, switcher)
        controller.open().reject()
        switcher.apply("en")
        dialog = controller.open()
        assert dialog.language_note.isHidden()
        dialog.reject()
    finally:
        LanguageSwitcher(qapp).apply("en")
