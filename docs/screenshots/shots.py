"""What the capture_*.py scripts share: where shots go, waiting, saving, settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

from app.ui.settings import Settings, TokenStore

OUT = Path(__file__).resolve().parent


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
