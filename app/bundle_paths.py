"""Where the bundled resources (icons, clips, translations) live, frozen or not; no Qt."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the package, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def clips() -> list[Path]:
    """The demo clips (``resources/clips/*.wav``), sorted by name."""
    return sorted((resources_dir() / "clips").glob("*.wav"))
