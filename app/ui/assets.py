"""Where the bundled assets (icons, clips, translations) live, frozen or not."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from app.bundle_paths import clips, resources_dir

__all__ = ["clips", "icon", "icon_path", "resources_dir", "translation_path"]


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon if it is missing)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()


def translation_path(language: str) -> Path:
    return resources_dir() / "i18n" / f"interphone_{language}.qm"
