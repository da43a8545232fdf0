"""What the capture_*.py scripts share: where shots go, waiting, saving, settings, the
application and its loop, the app running in one language, and which of a script's
parts to take."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from app.client import InterphoneClient
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.qt_loop import QtLoop
from app.ui.runtime import Options, Runtime
from app.ui.settings import Settings, TokenStore
from app.ui.sign_in import SignInDialog

OUT = Path(__file__).resolve().parent
LANGUAGES = ("en", "zh_CN")


def chosen_parts(doc: str | None, parts: tuple[str, ...]) -> frozenset[str]:
    """The script's ``parts`` named on its command line (``capture_main.py sign-in``), or
    all of them when none is named; an unknown name stops with the usage."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                     epilog="parts: " + ", ".join(parts))
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help="only these parts (all when none is given)")
    named = parser.parse_args().parts
    unknown = [name for name in named if name not in parts]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r} (choose from {', '.join(parts)})")
    return frozenset(named or parts)


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.05)


def save(shot: QWidget | QPixmap, name: str) -> None:
    """A widget as it is drawn now, or a pixmap, to docs/screenshots/``name``."""
    path = OUT / name
    (shot.grab() if isinstance(shot, QWidget) else shot).save(str(path))
    print("wrote", path)


def scratch_settings(folder: Path, language: str) -> Settings:
    """Settings and a token store of their own in ``folder`` (never the user's)."""
    return Settings(QSettings(str(folder / f"{language}.ini"), QSettings.Format.IniFormat),
                    TokenStore(folder / f"{language}.token", None))


@contextlib.contextmanager
def qt_session() -> Iterator[tuple[QApplication, QtLoop, Path]]:
    """The application (which runs on with no window open), its asyncio loop and a
    scratch folder, for the time of the ``with``."""
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = QtLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder, loop:
        yield app, loop, Path(folder)


def in_each_language(loop: QtLoop,
                     capture: Callable[[str], Awaitable[None]]) -> None:
    """``capture(language)`` run to its end in English, then in Simplified Chinese."""
    for language in LANGUAGES:
        loop.run_until_complete(capture(language))


async def sign_in_dialog(runtime: Runtime) -> SignInDialog:
    """The sign-in dialog the app shows at its start, once it is visible."""
    await until(lambda: runtime.sign_in_dialog is not None
                and runtime.sign_in_dialog.isVisible())
    dialog = runtime.sign_in_dialog
    assert dialog is not None
    return dialog


async def signed_in(runtime: Runtime) -> tuple[MainWindow, InterphoneClient]:
    """The main window and the client, once the app has signed in."""
    await until(lambda: runtime.window is not None and runtime.client is not None, 15.0)
    window, client = runtime.window, runtime.client
    assert window is not None and client is not None
    return window, client


@contextlib.asynccontextmanager
async def running(app: QApplication, language: str, options: Options,
                  settings: Settings) -> AsyncIterator[Runtime]:
    """The app in ``language`` running (its ``run()``) for the time of the ``async with``;
    then it quits and English is applied again."""
    switcher = LanguageSwitcher(app)
    switcher.apply(language)
    runtime = Runtime(app, options, settings, switcher)
    main = asyncio.ensure_future(runtime.run())
    try:
        yield runtime
    finally:
        runtime.quit()
        await asyncio.wait_for(main, 15)
        switcher.apply("en")
