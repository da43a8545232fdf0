"""The loopback demo end to end, the screenshot, and the live language switch."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication
from test_ui_support import run, until

from app.demo import DemoTimings
from app.ui.i18n import LanguageSwitcher
from app.ui.main import run as main_run
from app.ui.runtime import Options, Runtime
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]

QUIET = DemoTimings(alice_greets_after=None, carol_first_after=0.5, alice_answers_after=None,
                    carol_follows_after=None, bob_calls_after=None)


def space(window, kind: QEvent.Type) -> None:
    target = window.windowHandle()  # Qt hands the keys to the focused widget
    QApplication.sendEvent(target, QKeyEvent(kind, Qt.Key.Key_Space,
                                             Qt.KeyboardModifier.NoModifier, " "))


async def ran(runtime: Runtime, exercise: Callable[[], Awaitable[None]]) -> int:
    """``runtime`` run, ``exercise()`` once it is ready, then quit: its exit code."""
    main = asyncio.ensure_future(runtime.run())
    try:
        await asyncio.wait_for(runtime.ready.wait(), 10)
        await exercise()
    finally:
        runtime.quit()
    return await asyncio.wait_for(main, 10)


def screenshot_path(tmp_path: Path) -> Path:
    wanted = os.environ.get("INTERPHONE_SCREENSHOT")
    return Path(wanted) if wanted else tmp_path / "demo.png"


@pytest.fixture
def switcher(qapp) -> LanguageSwitcher:
    switcher = LanguageSwitcher(qapp, has_font=lambda language: True)  # fonts: test_ui_i18n
    yield switcher
    switcher.apply("en")


def test_demo_echo_bot_answers_and_screenshot(qloop, settings, switcher, tmp_path) -> None:
    options = Options(demo=True, simulate_audio=True, size=QSize(1280, 800),
                      demo_timings=QUIET)
    runtime = Runtime(QCoreApplication.instance(), options, settings, switcher)
    shot = screenshot_path(tmp_path)

    async def exercise() -> None:
        window, presenter = runtime.window, runtime.presenter
        assert window is not None and presenter is not None
        assert "simulated" in window.audio_label.text()
        assert window.panel.interphone_id == "group_58"
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        # carol speaks in another interphone: the list shows it
        await until(lambda: window.interphones.row("discuss_12").speaker == "carol",
                    what="carol speaking in Night shift")
        space(window, QEvent.Type.KeyPress)
        await until(lambda: window.panel.talk_button.state is TalkState.TALKING, what="talking")
        await asyncio.sleep(0.8)  # say something (the simulated microphone speaks a clip)
        space(window, QEvent.Type.KeyRelease)
        await until(lambda: presenter.received["echo"] > 20, timeout=8,
                    what="the echo bot's playback reaching us")
        await until(lambda: runtime.audio.levels()[1] > 0.01, what="echo audible")
        assert runtime.screenshot(shot)
        await until(lambda: runtime.world.echo.utterances_sent >= 1, timeout=8)

    assert run(qloop, ran(runtime, exercise), timeout=30) == 0
    assert shot.stat().st_size > 10_000
    assert runtime.world is None and runtime.client is None  # all shut down


def test_language_switch_retranslates_live(qloop, settings, switcher) -> None:
    settings.global_talk_key = "F9"  # the status bar says whether it works here, and why
    options = Options(demo=True, simulate_audio=True, demo_timings=QUIET)
    runtime = Runtime(QCoreApplication.instance(), options, settings, switcher)

    async def exercise() -> None:
        window = runtime.window
        button = window.panel.talk_button
        await until(lambda: button.state is TalkState.IDLE)
        assert button.texts()[0] == "Hold to talk"
        assert window.app_menu.title() == "&Interphone"
        key_status = runtime.global_key_label
        await until(lambda: key_status.text().startswith("Global talk key"),
                    what="the global key's status in the status bar")
        # codec settings restart the audio engine; the microphone test drives the meter
        old_audio = runtime.audio
        dialog = runtime.preferences.open()
        dialog.frame_ms.setCurrentIndex(dialog.frame_ms.findData(40))
        dialog.release_delay.setValue(250)
        dialog.buttons.button(dialog.buttons.StandardButton.Apply).click()
        assert runtime.audio is not old_audio and runtime.audio.engine.frame_ms == 40
        assert runtime.presenter.audio is runtime.audio
        assert settings.frame_ms == 40 and settings.release_delay_ms == 250
        dialog.mic_test.click()
        await until(lambda: dialog.mic_meter.fraction > 0, what="microphone level shown")
        dialog.reject()
        assert not dialog.mic_test.isChecked()
        dialog = runtime.preferences.open()
        index = dialog.language.findData("zh_CN")
        dialog.language.setCurrentIndex(index)
        dialog.buttons.button(dialog.buttons.StandardButton.Apply).click()
        # LanguageChange events are posted: wait until the last view asserted below has its.
        await until(lambda: button.texts()[0] == "按住讲话"
                    and window.interphones.filter.placeholderText() == "按名称筛选…",
                    what="the views retranslated")
        assert switcher.language == "zh_CN" and settings.language == "zh_CN"
        assert window.app_menu.title() == "实时对讲(&I)"
        assert "成员" in window.panel.members_title.text()
        assert dialog.windowTitle() == "实时对讲设置"
        assert window.interphones.filter.placeholderText() == "按名称筛选…"
        assert "全局讲话键" in key_status.text() and "Global" not in key_status.text()
        dialog.language.setCurrentIndex(dialog.language.findData("en"))
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        await until(lambda: button.texts()[0] == "Hold to talk"
                    and window.app_menu.title() == "&Interphone", what="back in English")
        assert window.app_menu.title() == "&Interphone"

    assert run(qloop, ran(runtime, exercise), timeout=30) == 0


def test_command_line_demo_quits_after_and_writes_a_screenshot(qapp, tmp_path) -> None:
    shot = tmp_path / "cli.png"
    code = main_run(["--demo", "--quit-after", "1.5", "--screenshot", str(shot),
                     "--simulated-audio", "--size", "800x600", "--language", "en",
                     "--settings", str(tmp_path / "settings.ini")])
    assert code == 0
    assert shot.exists() and shot.stat().st_size > 5_000
