"""Text colours that stay readable on the palette they are drawn on (a dark desktop theme
too): the app's accent colours (the red of a speaker, the blue-grey of a secondary line)
are made lighter on a dark background, darker on a light one, until they reach the
contrast WCAG asks of text (4.5:1)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

TEXT_CONTRAST = 4.5
"""WCAG 2's least contrast of normal text (level AA)."""
NON_TEXT_CONTRAST = 3.0
"""WCAG 2's least contrast of an icon or a control's parts on what is around them."""


def luminance(colour: QColor) -> float:
    """The relative luminance (0 black … 1 white) of ``colour``."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG's contrast ratio of two colours (1 … 21)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def mix(first: QColor | str, second: QColor | str, share: float) -> QColor:
    """``first`` with ``share`` (0 … 1) of ``second`` mixed in."""
    one, two = QColor(first), QColor(second)
    return QColor.fromRgbF(one.redF() + (two.redF() - one.redF()) * share,
                           one.greenF() + (two.greenF() - one.greenF()) * share,
                           one.blueF() + (two.blueF() - one.blueF()) * share)


def is_dark(background: QColor) -> bool:
    """Whether ``background`` takes light text (a dark theme's)."""
    return luminance(background) < 0.18


def readable(colour: QColor | str, background: QColor,
             minimum: float = TEXT_CONTRAST) -> QColor:
    """``colour``, or the nearest mix of it with white (on a dark ``background``) or
    black (on a light one) that has ``minimum`` contrast on ``background`` (views ask
    at each paint: the answers are kept)."""
    return QColor.fromRgba(_readable_rgba(QColor(colour).rgba(), background.rgba(), minimum))


@lru_cache(maxsize=128)
def _readable_rgba(colour: int, background: int, minimum: float) -> int:
    base, under = QColor.fromRgba(colour), QColor.fromRgba(background)
    if contrast_ratio(base, under) >= minimum:
        return colour
    towards = QColor("white") if is_dark(under) else QColor("black")
    mixed = base
    for step in range(1, 21):
        mixed = mix(base, towards, step / 20)
        if contrast_ratio(mixed, under) >= minimum:
            break
    return mixed.rgba()


LIGHT_TINT = QColor("#ffebee")
"""The pale red fill of a speaker's row on a light background."""

DARK_TINT_SHARE = 0.3
"""How much of the accent colour tints a dark background (a muted band, not a bright one)."""


def accent_fill(accent: QColor | str, background: QColor,
                light_fill: QColor | str = LIGHT_TINT) -> QColor:
    """The fill that marks a row in ``accent`` colour on ``background``: ``light_fill``
    on a light background, ``background`` tinted with ``accent`` on a dark one (the pale
    fill was a bright band across a dark theme)."""
    if not is_dark(background):
        return QColor(light_fill)
    return mix(background, accent, DARK_TINT_SHARE)


DARK_TEXT = QColor("#212121")
"""The text colour on a fill that white text does not read on (amber, orange, grey)."""


def text_on(fill: QColor | str) -> QColor:
    """White, or a near-black where that reads better on ``fill`` (white on the amber of
    "Requesting…" was 1.9:1, on the grey of "Offline" 2.7:1; views ask at each paint:
    the answers are kept)."""
    return QColor.fromRgba(_text_on_rgba(QColor(fill).rgba()))


@lru_cache(maxsize=64)
def _text_on_rgba(fill: int) -> int:
    under = QColor.fromRgba(fill)
    white = QColor("white")
    return (white if contrast_ratio(white, under) >= contrast_ratio(DARK_TEXT, under)
            else DARK_TEXT).rgba()


def window_colour(widget: QWidget | None = None) -> QColor:
    """The background a label of ``widget`` is drawn on (the application's window colour
    without a widget)."""
    palette = widget.palette() if widget is not None else QApplication.palette()
    return palette.color(QPalette.ColorRole.Window)


def text_style(colour: str, widget: QWidget | None = None, extra: str = "") -> str:
    """A style sheet giving a label of ``widget`` the text colour ``colour``, made
    readable on its window colour (``extra``: more declarations, e.g. bold)."""
    shown = readable(colour, window_colour(widget)).name()
    return f"color: {shown};{' ' + extra if extra else ''}"
