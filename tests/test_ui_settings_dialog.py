"""The settings dialog as a new user meets it: notes it owes them, small screens."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings, Qt
from test_ui_support import on_a_640x480_screen, on_a_screen, run, until

from app.ui.audio_link import Tone, open_audio, tone_ms
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.preferences import PreferencesController
from app.ui.settings import Settings, TokenStore
from app.ui.settings_dialog import SettingsDialog

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


SMALL_SCREEN_SCRIPT = """
import json, sys
from PySide6.QtWidgets import QApplication, QLabel
from app.ui.settings_dialog import SettingsDialog
app = QApplication(sys.argv)
dialog = SettingsDialog()
dialog.set_devices([], [])
dialog.show()
app.processEvents()
cut = []
for index in range(dialog.tabs.count()):
    dialog.tabs.setCurrentIndex(index)
    app.processEvents()
    for label in dialog.tabs.widget(index).findChildren(QLabel):
        if label.isVisible() and label.wordWrap() and label.text():
            if label.height() < label.heightForWidth(label.width()):
                cut.append(label.text())
print(json.dumps({"screen": app.primaryScreen().availableGeometry().height(),
                  "height": dialog.height(), "cut": cut}))
"""


def test_at_640x480_no_wrapped_text_of_the_dialog_is_cut(tmp_path) -> None:
    """Qt opens a window at most 2/3 of the screen high: on a 640×480 screen the dialog
    opened at its minimum height, and the microphone test's two-line hint ran over the
    button above it (a screen of its own: a process of its own)."""
    shown = on_a_640x480_screen(tmp_path, SMALL_SCREEN_SCRIPT)
    assert shown["screen"] == 480
    assert shown["cut"] == [], shown


BIG_FONT_SCRIPT = """
import json, sys
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QSpinBox, QWidget
from app.ui.settings_dialog import SettingsDialog
app = QApplication(sys.argv)
font = app.font()
font.setPointSize(20)
app.setFont(font)
dialog = SettingsDialog()
dialog.set_devices([], [])
dialog.set_simulated(True)
dialog.show()
app.processEvents()
screen = app.primaryScreen().availableGeometry()
def on_screen(widget):
    place = QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())
    return screen.contains(place)
off = [button.text() for button in dialog.buttons.buttons() if not on_screen(button)]
unreachable = []
for index, page in enumerate(dialog.pages):
    dialog.tabs.setCurrentIndex(index)
    app.processEvents()
    for field in page.widget().findChildren(QWidget):
        if isinstance(field, QAbstractButton | QComboBox | QSpinBox) and field.isVisible():
            page.ensureWidgetVisible(field, 0, 0)
            app.processEvents()
            seen = QRect(field.mapTo(page.viewport(), QPoint(0, 0)), field.size())
            shown = seen.intersected(page.viewport().rect())
            # (wider than the page, a check box is seen as wide as the page is)
            if shown.width() < min(seen.width(), page.viewport().width()) \
                    or shown.height() < seen.height():
                unreachable.append(field.accessibleName() or getattr(field, "text", str)())
print(json.dumps({"dialog": [dialog.width(), dialog.height()],
                  "screen": [screen.width(), screen.height()],
                  "off": off, "unreachable": unreachable}))
"""


def test_at_a_20_point_font_on_an_800x600_screen_the_dialog_stays_on_it(tmp_path) -> None:
    """A large system font (20 pt) made the dialog 943 pixels wide on an 800×600 screen
    (its check boxes do not wrap): OK, Cancel and Apply were off the screen with the right
    of every page. It stays on the screen, each page scrolling to every control."""
    shown = on_a_screen(tmp_path, BIG_FONT_SCRIPT, 800, 600)
    assert shown["screen"] == [800, 600]
    assert shown["dialog"][0] <= 800 and shown["dialog"][1] <= 600, shown
    assert shown["off"] == [], shown
    assert shown["unreachable"] == [], shown


def test_the_speaker_and_microphone_tests_say_when_the_main_speaker_silences_them(
        qapp, window, settings) -> None:
    """The main window's speaker mute (or volume at 0) silences the test sound and the
    microphone test: pressed, they said nothing of it, and a new user heard nothing."""
    settings.muted = True
    controller = controller_for(window, settings, LanguageSwitcher(qapp))
    dialog = controller.open()
    try:
        assert not dialog.speaker_note.isHidden()
        assert "muted" in dialog.speaker_note.text()
        settings.muted = False  # unmuted in the window while the dialog stays open
        dialog.speaker_test.click()
        assert dialog.speaker_note.isHidden()
        settings.volume = 0
        dialog.mic_test.setChecked(True)
        assert not dialog.speaker_note.isHidden()
        assert "volume" in dialog.speaker_note.text()
        dialog.mic_test.setChecked(False)
    finally:
        dialog.reject()


def test_hand_edited_values_out_of_range_read_as_the_default(tmp_path) -> None:
    """The dialog offers a release delay of 0..1000 ms and the window a volume of
    0..100 %, but the file was taken as it was: ``release_delay_ms=99999`` kept the
    microphone sending 100 s after the talk key was let go, ``volume=500`` played at
    150 % with the slider at its end."""
    ini = tmp_path / "edited.ini"
    ini.write_text("[talk]\nrelease_delay_ms=99999\n[audio]\nvolume=500\n"
                   "[meta]\nschema_version=2\n")
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "edited.token", None))
    assert settings.release_delay_ms == 150 and settings.volume == 80
    ini.write_text("[talk]\nrelease_delay_ms=-20\n[audio]\nvolume=-1\n"
                   "[meta]\nschema_version=2\n")
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(tmp_path / "edited.token", None))
    assert settings.release_delay_ms == 150 and settings.volume == 80
    settings.release_delay_ms, settings.volume = 1000, 0  # the ends are allowed
    assert (settings.release_delay_ms, settings.volume) == (1000, 0)


@pytest.mark.parametrize("has_font, shown", [(False, "Simplified Chinese"), (True, "简体中文")])
def test_the_chinese_choice_is_named_in_english_where_no_font_can_show_it(
        qtbot, has_font: bool, shown: str) -> None:
    """Without a font for Chinese the language list offered "简体中文" as four empty
    boxes, and the note that said why named it the same way."""
    dialog = SettingsDialog(has_font=lambda language: has_font)
    qtbot.addWidget(dialog)
    index = dialog.language.findData("zh_CN")
    assert dialog.language.itemText(index) == shown


def test_the_no_font_note_names_the_language_in_english(qapp) -> None:
    switcher = LanguageSwitcher(qapp, has_font=lambda language: False)
    try:
        switcher.apply("zh_CN")
        assert "Simplified Chinese" in switcher.note and "简体" not in switcher.note
    finally:
        LanguageSwitcher(qapp).apply("en")


@pytest.mark.parametrize("field", ["global_key", "talk_key"])
def test_escape_takes_the_refusal_away_with_the_recording(qtbot, field: str) -> None:
    """"a" pressed while the global key was recorded said in red why it cannot be one;
    Escape cancelled the recording and the red text stayed, as if it still stood."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    if field == "global_key":
        recorder, problem = dialog.global_key.field, dialog.global_key_problem
    else:
        recorder, problem = dialog.talk_key, dialog.talk_key_problem
    before = recorder.text()
    recorder.setFocus()
    qtbot.keyClick(recorder, Qt.Key.Key_Return)  # recording
    assert recorder.recording
    qtbot.keyClick(recorder, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier, -1)
    assert not problem.isHidden() and problem.text()
    assert recorder.recording
    qtbot.keyClick(recorder, Qt.Key.Key_Escape)
    assert not recorder.recording and recorder.text() == before
    assert problem.isHidden()
    assert dialog.isVisible()  # (Escape cancelled the recording, not the dialog)
    if field == "global_key":
        assert dialog.global_key.refusal is None  # (a language change does not say it again)


def test_the_test_sound_says_it_plays_and_that_it_could_not(qloop, qapp, window,
                                                            settings) -> None:
    """Pressed, "Play a test sound" gave no sign: nothing said that it played, nor that
    the output device had failed and nothing could play (the clocked virtual device)."""
    async def scenario() -> None:
        audio = open_audio(lambda payload: None, frame_ms=20, bitrate=24000, simulate=True)
        controller = PreferencesController(window, settings, LanguageSwitcher(qapp),
                                           lambda: audio, lambda: None, window.set_talk_key)
        dialog = controller.open()
        button = dialog.speaker_test
        try:
            assert button.text() == "&Play a test sound"
            button.click()
            began = time.monotonic()
            assert button.text() == "Playing…"
            await until(lambda: button.text() == "&Play a test sound", what="played")
            assert time.monotonic() - began >= tone_ms(Tone.INCOMING_CALL) / 1000 - 0.05
            assert dialog.device_problem.isHidden()
            output = audio.engine._output
            assert output is not None
            output.close()  # the output device fails
            button.click()
            assert button.text() == "&Play a test sound"
            assert not dialog.device_problem.isHidden()
            assert dialog.device_problem.text().startswith(
                "The test sound could not play: The audio device")
        finally:
            dialog.reject()
            audio.close()

    run(qloop, scenario())
