"""The self-test's Qt step: the platform plugin, SVG icons, Qt's and the app's translations load."""

from __future__ import annotations

import os
import sys
from pathlib import Path


class QtPlatformError(RuntimeError):
    """Qt loaded, but a part the app needs is missing."""


def check_qt_platform() -> str:
    """Start a QGuiApplication (offscreen unless told otherwise) and check what the app needs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QLibraryInfo, QTranslator
    from PySide6.QtGui import QGuiApplication, QIcon, QImageReader

    from app.ui.assets import icon_path, translation_path
    from app.ui.settings import LANGUAGES

    if QGuiApplication.instance() is None:
        QGuiApplication([sys.argv[0] or "interphone"])
    platform = QGuiApplication.platformName()
    if b"svg" not in [bytes(fmt.data()) for fmt in QImageReader.supportedImageFormats()]:
        raise QtPlatformError(f"platform {platform}: the SVG image plugin is missing")
    # The app's own resources (a bundle without them would start with blank icons and
    # in English only): the icon must be there and render, each translation must load.
    svg = icon_path("app")
    if not svg.is_file():
        raise QtPlatformError(f"the app's icons are missing ({svg})")
    if QIcon(str(svg)).pixmap(32, 32).isNull():
        raise QtPlatformError(f"platform {platform}: {svg} does not render")
    languages = [language for language in LANGUAGES if language not in ("system", "en")]
    for language in languages:
        if not QTranslator().load(str(translation_path(language))):
            raise QtPlatformError(f"the {language} translation {translation_path(language)} "
                                  f"does not load")
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))
    translations = len(list(folder.glob("qtbase_*.qm")))
    if translations == 0:
        raise QtPlatformError(f"no Qt translations in {folder}")
    return (f"platform {platform}, {translations} qtbase translations, "
            f"app translations {' '.join(languages)}")
