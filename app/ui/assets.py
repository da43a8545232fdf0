"""Where the bundled assets (icons, clips, translations) live, frozen or not."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the package, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon if it is missing)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()


def translation_path(language: str) -> Path:
    return resources_dir() / "i18n" / f"interphone_{language}.qm"


def clips() -> list[Path]:
    """The demo clips (``resources/clips/*.wav``), sorted by name."""
    return sorted((resources_dir() / "clips").glob("*.wav"))
