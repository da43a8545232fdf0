"""One watcher of the system tray (``TrayWatch``) serves the background start's retries
and the window hidden in the tray: it asks on one clock, at the most frequent interval
asked for, only while someone watches, and says when the answer changes. Real Qt
(offscreen), a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication
from test_ui_support import remembered_start, run, until

from app.server import Directory, InterphoneServer, ServerSettings
from app.ui.i18n import LanguageSwitcher
from app.ui.settings import Settings
from app.ui.tray_watch import TrayWatch

pytest_plugins = ["test_ui_support"]


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


class Desktop:
    """Stands in for the desktop's answer to "is there a tray?", counting the questions."""

    def __init__(self, tray: bool) -> None:
        self.tray = tray
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.tray


def test_the_watch_asks_at_the_most_frequent_interval_and_says_changes_only(qloop) -> None:
    desktop = Desktop(True)
    watch = TrayWatch(probe=desktop)
    changes: list[bool] = []
    watch.changed.connect(changes.append)
    slow, fast = object(), object()

    async def scenario() -> None:
        await asyncio.sleep(0.2)
        assert desktop.asked == 0 and watch.present is None  # nobody watches: no clock
        watch.watch(slow, 10_000)
        watch.watch(fast, 20)
        await until(lambda: desktop.asked >= 5, what="asked on the fast clock", timeout=2)
        assert changes == [True]  # the first answer, then nothing while it stays
        desktop.tray = False
        await until(lambda: changes == [True, False], what="gone", timeout=2)
        assert watch.missing_for() >= 0
        desktop.tray = True
        await until(lambda: changes == [True, False, True], what="back", timeout=2)
        assert watch.missing_for() == 0
        watch.unwatch(fast)  # the slow one alone: its interval
        asked = desktop.asked
        await asyncio.sleep(0.3)
        assert desktop.asked == asked
        watch.unwatch(slow)
        assert not watch.watching and watch.present is None

    try:
        run(qloop, scenario())
    finally:
        watch.deleteLater()


def test_one_watch_serves_the_retries_and_the_window_hidden_in_the_tray(
        qloop, qapp: QApplication, settings: Settings, switcher: LanguageSwitcher,
        monkeypatch) -> None:
    """A background start retrying in the tray, then signed in with the window hidden
    there: the retries and the hidden window each ran a clock of their own asking the
    desktop whether a tray was there. One watcher asks for both; the panel going away
    still shows the window, and the clock stops then."""
    import app.ui.tray as tray_module

    monkeypatch.setattr(tray_module, "TRAY_CHECK_MS", 50)
    desktop = Desktop(True)
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch, tray=desktop)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None, what="retrying", timeout=10)
        assert runtime.tray_watch.watching  # the retries watch
        await until(lambda: runtime.tray_watch.present is True, what="a tray seen", timeout=5)
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                  settings=ServerSettings(auth="open"))
        await server.start()
        try:
            await asyncio.wait_for(runtime.ready.wait(), 10)
            window, tray = runtime.window, runtime.tray
            assert window is not None and tray is not None and not window.isVisible()
            assert tray._watch is runtime.tray_watch  # the same watcher, now for the window
            assert runtime.tray_watch.watching
            desktop.tray = False  # the panel goes away for good
            await until(window.isVisible, what="the window shown", timeout=3)
            assert not runtime.tray_watch.watching  # nobody needs to know now
            asked = desktop.asked
            await asyncio.sleep(0.3)
            assert desktop.asked == asked
            runtime.quit()
            return await asyncio.wait_for(main, 5)
        finally:
            await server.stop()

    assert run(qloop, scenario(), timeout=30) == 0


def test_retrying_in_a_tray_that_is_there_asks_the_desktop_seldom(
        qloop, qapp: QApplication, settings: Settings, switcher: LanguageSwitcher,
        monkeypatch) -> None:
    """Started at login with no network for hours: while the tray is there, the retries
    look whether it still is about as often as they try (every few seconds), not four
    times a second; a tray that goes away is still noticed, and the dialog comes after
    the grace."""
    import app.ui.runtime as runtime_module

    monkeypatch.setattr(runtime_module, "TRAY_GRACE_S", 0.5)
    desktop = Desktop(True)
    runtime, _ = remembered_start(qapp, settings, switcher, monkeypatch, tray=desktop)

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.tray_watch.present is True, what="a tray seen", timeout=5)
        asked = desktop.asked
        await asyncio.sleep(2.0)
        assert desktop.asked - asked <= 2
        desktop.tray = False  # the panel goes away: within a retry's pause, then the grace
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="dialog", timeout=10)
        runtime.sign_in_dialog.reject()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0
