"""Sound-card errors worded in the interface's language: app/audio gives the reason as data
(``AudioDeviceError.reason``), the desktop words it; PortAudio's English ("Device
unavailable [PaErrorCode -9985]") never reaches a Chinese window (real Qt offscreen, the
real compiled .qm, the clocked virtual device)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QCoreApplication
from test_ui_support import run

from app.audio.backend import AudioDeviceError, DeviceErrorReason, Direction
from app.audio.sd_backend import portaudio_reason
from app.ui.audio_link import open_audio
from app.ui.failure_text import device_error_text, device_problem_text, error_text
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.preferences import PreferencesController
from app.ui.runtime import Options, Runtime

pytest_plugins = ["test_ui_support"]

R = DeviceErrorReason
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile("[A-Za-z]")
NAME = "USB Headset 2"
BUSY = "cannot open input device 'USB Headset 2': Device unavailable [PaErrorCode -9985]"


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


def error(reason: DeviceErrorReason, device: str = NAME,
          direction: Direction | None = "input", detail: str = "") -> AudioDeviceError:
    return AudioDeviceError(f"English words of {reason}", reason, device=device,
                            direction=direction, detail=detail)


CASES = [  # (error, words of its English sentence)
    (error(R.NO_DEVICE, "", "input"), "No microphone was found."),
    (error(R.NO_DEVICE, "", "output"), "No speakers or headphones were found."),
    (error(R.NO_DEVICE, "", None), "No audio device was found."),
    (error(R.NOT_FOUND), f"The audio device “{NAME}” was not found."),
    (error(R.NOT_FOUND, ""), "The audio device was not found."),
    (error(R.NO_CHANNELS, direction="input"), f"“{NAME}” cannot record"),
    (error(R.NO_CHANNELS, direction="output"), f"“{NAME}” cannot play sound"),
    (error(R.NO_CHANNELS, direction=None), "has no usable channels"),
    (error(R.NO_CHANNELS, ""), "has no usable channels"),
    (error(R.UNAVAILABLE), f"“{NAME}” is busy or unavailable"),
    (error(R.UNAVAILABLE, ""), "The audio device is busy or unavailable"),
    (error(R.UNPLUGGED), f"“{NAME}” was unplugged or stopped working."),
    (error(R.UNPLUGGED, ""), "The audio device was unplugged or stopped working."),
    (error(R.UNSUPPORTED), f"“{NAME}” does not accept the sound settings"),
    (error(R.UNSUPPORTED, ""), "The audio device does not accept the sound settings"),
    (error(R.AUDIO_SYSTEM, ""), "The computer's audio system is not available."),
    (error(R.CLOSED), f"“{NAME}” was already closed."),
    (error(R.CLOSED, ""), "The audio stream was already closed."),
    (error(R.OTHER), f"The audio device “{NAME}” failed (English words of other)."),
    (error(R.OTHER, ""), "The audio device failed (English words of other)."),
]


def test_every_reason_has_a_case() -> None:
    assert {case.reason for case, _ in CASES} == set(DeviceErrorReason)


@pytest.mark.parametrize(("failure", "english_words"), CASES,
                         ids=[f"{e.reason}-{e.device or 'unnamed'}-{e.direction}"
                              for e, _ in CASES])
def test_each_reason_is_worded_in_english_and_in_chinese(
        switcher: LanguageSwitcher, failure: AudioDeviceError, english_words: str) -> None:
    english = device_error_text(failure)
    assert english_words in english, english
    assert not CJK.search(english), english
    assert (str(failure) in english) == (failure.reason is R.OTHER)  # only when it is all
    switcher.apply("zh_CN")
    chinese = device_error_text(failure)
    assert CJK.search(chinese), chinese
    assert (NAME in chinese) == (NAME in english), chinese  # the same device named
    rest = chinese.replace(NAME, "").replace(str(failure), "")
    assert not LATIN.search(rest), chinese
    switcher.apply("en")
    assert device_error_text(failure) == english


def test_the_librarys_words_follow_in_parentheses_only_where_they_add_something(
        switcher: LanguageSwitcher) -> None:
    host = error(R.UNAVAILABLE, detail="Device or resource busy")
    assert device_error_text(host) == (f"The audio device “{NAME}” is busy or unavailable: "
                                       "another program may be using it "
                                       "(Device or resource busy).")
    switcher.apply("zh_CN")
    assert device_error_text(host) == \
        f"音频设备“{NAME}”正忙或不可用：可能有其他程序正在使用它（Device or resource busy）。"


def test_a_portaudio_refusal_reads_as_its_meaning_in_chinese(switcher: LanguageSwitcher) -> None:
    """PortAudio's own "Device unavailable [PaErrorCode -9985]" says nothing the reason does
    not: the Chinese interface shows no English at all."""
    import sounddevice as sd

    reason, detail = portaudio_reason(sd.PortAudioError("Device unavailable", -9985), R.OTHER)
    busy = AudioDeviceError(BUSY, reason, device=NAME, direction="input", detail=detail)
    assert str(busy) == BUSY  # logs and the CLI keep the library's words
    assert error_text(busy) == device_error_text(busy)
    switcher.apply("zh_CN")
    text = device_problem_text(busy)
    assert "PaErrorCode" not in text and "unavailable" not in text
    assert text == (f"音频设备“{NAME}”正忙或不可用：可能有其他程序正在使用它。"
                    "请检查设备，然后在设置中按“刷新”。")


# ---- where the user sees it ------------------------------------------------------------------


def test_the_lost_device_banner_and_status_bar_speak_chinese(qapp, settings, qtbot,
                                                            switcher) -> None:
    runtime = Runtime(qapp, Options(), settings, switcher)
    window = runtime.window = MainWindow()
    qtbot.addWidget(window)
    try:
        switcher.apply("zh_CN")
        runtime._on_device_error(AudioDeviceError(
            f"device was unplugged (input '{NAME}')", R.UNPLUGGED, device=NAME,
            direction="input"))
        assert window.audio_problem.isVisibleTo(window)
        banner = window.audio_problem.text()
        assert banner == f"音频设备“{NAME}”已被拔出或停止工作。请检查设备，然后在设置中按“刷新”。"
        assert window.statusBar().currentMessage() == banner
        switcher.apply("en")
        runtime._on_device_error(AudioDeviceError(
            f"device was unplugged (input '{NAME}')", R.UNPLUGGED, device=NAME,
            direction="input"))
        assert window.audio_problem.text() == (
            f"The audio device “{NAME}” was unplugged or stopped working. Check the device, "
            "then press Refresh in the settings.")
    finally:
        window.talk_key.detach()


def test_the_settings_and_the_audio_note_speak_chinese_and_follow_a_language_change(
        qloop, qapp, settings, qtbot, switcher) -> None:
    runtime = Runtime(qapp, Options(), settings, switcher)
    window = runtime.window = MainWindow()
    qtbot.addWidget(window)

    async def scenario() -> None:
        audio = runtime.audio = open_audio(lambda payload: None, frame_ms=20, bitrate=24000,
                                           simulate=True)
        audio.on_device_error = runtime._on_device_error
        controller = runtime.preferences = PreferencesController(
            window, settings, switcher, lambda: audio, lambda: None, window.set_talk_key,
            runtime._on_settings_changed)
        try:
            audio.refusal = AudioDeviceError(BUSY, R.UNAVAILABLE, device=NAME,
                                             direction="input")
            runtime._announce_audio()
            assert window.audio_label.text() == (
                f"Audio: simulated, no sound card (The audio device “{NAME}” is busy or "
                "unavailable: another program may be using it.)")
            audio.engine._report_device_error(AudioDeviceError(
                "stream is closed", R.CLOSED, device=NAME, direction="output"))
            assert audio.device_error is not None and audio.device_error.reason is R.CLOSED
            dialog = controller.open()
            assert dialog.device_problem.text().startswith(f"The audio device “{NAME}” was "
                                                           "already closed.")
            # the language changes: every device text follows
            controller.apply(replace(dialog.preferences(), language="zh_CN"))
            assert dialog.device_problem.text() == (
                f"音频设备“{NAME}”已关闭。请检查设备，然后在设置中按“刷新”。")
            assert window.audio_problem.text() == dialog.device_problem.text()
            assert window.audio_label.text() == (
                f"音频：模拟，无声卡（音频设备“{NAME}”正忙或不可用：可能有其他程序正在使用它。）")
        finally:
            runtime.preferences = None
            runtime.audio = None
            audio.close()
            window.talk_key.detach()

    run(qloop, scenario())
