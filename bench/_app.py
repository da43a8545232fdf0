"""The desktop app's process as the benchmarks run it: ``app.ui.runtime.Runtime`` under
offscreen Qt and the app's loop (``app.ui.qt_loop.QtLoop``), the simulated sound card,
signed in with "remember me" to a server on 127.0.0.1 and rejoined to ``groups`` (the
last one the talk target)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from _common import HOST

T = TypeVar("T")


def run_app(port: int, groups: list[str], drive: Callable[[Any], Awaitable[T]],
            prefix: str) -> T:
    """Start the app and run ``drive(runtime)`` on its loop; everything is closed after."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.ui.gui_thread_gc import GuiThreadCollector
    from app.ui.i18n import LanguageSwitcher
    from app.ui.qt_loop import QtLoop, drain
    from app.ui.runtime import Options, Runtime
    from app.ui.settings import Settings, TokenStore

    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(QSettings(str(tmp / "app.ini"), QSettings.Format.IniFormat),
                        TokenStore(tmp / "app.token", None))
    settings.server_address = f"{HOST}:{port}"
    settings.uid, settings.token, settings.remember = "me", "x", True
    settings.rejoin = " ".join(f"group_{g}" for g in groups)
    settings.tones = True
    collector = GuiThreadCollector(app)
    collector.start()
    loop = QtLoop(app)
    asyncio.set_event_loop(loop)
    runtime = Runtime(app, Options(simulate_audio=True), settings, LanguageSwitcher(app))
    try:
        return loop.run_until_complete(drive(runtime))
    finally:
        drain(loop)
        loop.close()
        asyncio.set_event_loop(None)
        collector.stop()
        shutil.rmtree(tmp, ignore_errors=True)
