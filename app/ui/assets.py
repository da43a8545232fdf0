"""Where the bundled assets (icons, clips, translations) live, frozen or not."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter

from app.bundle_paths import clips, resources_dir
from app.ui.contrast import NON_TEXT_CONTRAST, contrast_ratio, readable

__all__ = ["clips", "icon", "icon_contrast", "icon_in", "icon_on", "icon_path",
           "resources_dir", "translation_path"]

_TINTED_SIZES = (16, 18, 20, 22, 24, 32, 48)


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon if it is missing)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()


def icon_on(name: str, background: QColor) -> QIcon:
    """:func:`icon`, or where it is drawn in one colour that has less than 3:1 contrast
    on ``background`` (a dark theme: the grey microphone and speaker of the audio bar
    were 2.2:1 on it, its mute 2.8:1), the same shape in that colour made readable."""
    colours = _colours(name)
    if len(colours) != 1:
        return icon(name)
    shown = readable(colours[0], background, NON_TEXT_CONTRAST)
    if shown.rgb() == QColor(colours[0]).rgb():
        return icon(name)
    return _tinted(name, shown.rgba())


def icon_in(name: str, colour: QColor) -> QIcon:
    """``name``'s shape all in ``colour`` (on a selected row: the highlight's text colour,
    where the icon's own colours may not show)."""
    return _tinted(name, colour.rgba())


def icon_contrast(name: str, background: QColor) -> float:
    """The least contrast on ``background`` of the colours ``name``'s SVG is drawn in
    (21 for an icon that names none; a view asks at each paint: the answers are kept)."""
    return _icon_contrast(name, background.rgba())


@lru_cache(maxsize=64)
def _icon_contrast(name: str, background: int) -> float:
    under = QColor.fromRgba(background)
    return min((contrast_ratio(QColor(colour), under) for colour in _colours(name)),
               default=21.0)


@cache
def _colours(name: str) -> tuple[str, ...]:
    """The colours an icon's SVG names (``#rrggbb``), each once."""
    path = icon_path(name)
    if not path.exists():
        return ()
    found = re.findall(r"#[0-9a-fA-F]{6}\b", path.read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(colour.lower() for colour in found))


@cache
def _tinted(name: str, rgba: int) -> QIcon:
    """``name``'s icon in the colour ``rgba``, at the sizes and pixel ratios in use."""
    source, tinted = icon(name), QIcon()
    ratios = {1.0, 2.0}
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        ratios |= {screen.devicePixelRatio() for screen in app.screens()}
    for size in _TINTED_SIZES:
        for ratio in sorted(ratios):
            pixmap = source.pixmap(QSize(size, size), ratio)
            painter = QPainter(pixmap)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            painter.fillRect(pixmap.rect(), QColor.fromRgba(rgba))
            painter.end()
            tinted.addPixmap(pixmap)
    return tinted


def translation_path(language: str) -> Path:
    return resources_dir() / "i18n" / f"interphone_{language}.qm"
