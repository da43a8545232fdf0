"""Language switching: installs the app's (and Qt's own) translator at run time.

Installing or removing a translator makes Qt send ``QEvent.LanguageChange`` to
every widget; each view re-translates itself in ``changeEvent``.

A language whose script no installed font covers (Chinese with only DejaVu:
empty boxes) is not used: the interface stays in English and :attr:`note`
says why, for the window to show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFontDatabase

from app.ui.assets import translation_path

logger = logging.getLogger(__name__)

_SCRIPTS = {"zh_CN": QFontDatabase.WritingSystem.SimplifiedChinese}
_NATIVE_NAMES = {"zh_CN": "简体中文"}
_ENGLISH_NAMES = {"zh_CN": "Simplified Chinese"}
FONT_PACKAGE_HINT = "fonts-noto-cjk"


def font_covers(language: str) -> bool:
    """Whether an installed font can show ``language``'s script."""
    script = _SCRIPTS.get(language)
    return script is None or bool(QFontDatabase.families(script))


def language_name(language: str, has_font: Callable[[str], bool] = font_covers) -> str:
    """How a language is named in the choice of languages: in itself ("简体中文") where a
    font can show it, else in English (not four empty boxes)."""
    if language in _NATIVE_NAMES and has_font(language):
        return _NATIVE_NAMES[language]
    return _ENGLISH_NAMES.get(language, language)


def resolve_language(choice: str) -> str:
    """``system`` becomes ``zh_CN`` on a Chinese locale and ``en`` elsewhere."""
    if choice != "system":
        return choice
    return "zh_CN" if QLocale.system().language() == QLocale.Language.Chinese else "en"


class LanguageSwitcher:
    """Owns the installed translators; :meth:`apply` switches live."""

    def __init__(self, app: QCoreApplication,
                 has_font: Callable[[str], bool] = font_covers) -> None:
        self._app = app
        self._has_font = has_font
        self._installed: list[QTranslator] = []
        self.language = "en"
        self.note = ""  # why the asked-for language is not used ("" when it is)

    def apply(self, choice: str) -> str:
        """Switch to ``choice`` (``system``, ``en`` or ``zh_CN``); returns the language used."""
        language = resolve_language(choice)
        self.note = ""
        if language != "en" and not self._has_font(language):
            name = _ENGLISH_NAMES.get(language, language)  # (its own script: empty boxes)
            self.note = (f"No installed font can show {name}, so the interface stays in "
                         f"English. Install a CJK font (e.g. the {FONT_PACKAGE_HINT} package) "
                         f"and restart.")
            logger.warning("no font covers %s: using English", language)
            language = "en"
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
