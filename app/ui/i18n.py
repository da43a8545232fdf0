"""Language switching: installs the app's (and Qt's own) translator at run time.

Installing or removing a translator makes Qt send ``QEvent.LanguageChange`` to
every widget; each view re-translates itself in ``changeEvent``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from app.ui.assets import translation_path

logger = logging.getLogger(__name__)


def resolve_language(choice: str) -> str:
    """``system`` becomes ``zh_CN`` on a Chinese locale and ``en`` elsewhere."""
    if choice != "system":
        return choice
    return "zh_CN" if QLocale.system().language() == QLocale.Language.Chinese else "en"


class LanguageSwitcher:
    """Owns the installed translators; :meth:`apply` switches live."""

    def __init__(self, app: QCoreApplication) -> None:
        self._app = app
        self._installed: list[QTranslator] = []
        self.language = "en"

    def apply(self, choice: str) -> str:
        """Switch to ``choice`` (``system``, ``en`` or ``zh_CN``); returns the language used."""
        language = resolve_language(choice)
        for translator in self._installed:
            self._app.removeTranslator(translator)
        self._installed.clear()
        if language != "en":
            self._install(str(translation_path(language)))
            qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
            self._install(f"{qt_dir}/qtbase_{language}.qm", f"{qt_dir}/qt_{language}.qm")
        self.language = language
        QLocale.setDefault(QLocale(language if language != "en" else "en_US"))
        logger.info("language: %s (asked %s)", language, choice)
        return language

    def _install(self, *candidates: str) -> None:
        for path in candidates:
            translator = QTranslator(self._app)
            if translator.load(path):
                self._app.installTranslator(translator)
                self._installed.append(translator)
                return
        logger.warning("no translation at %s", " or ".join(candidates))
