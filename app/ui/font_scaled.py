"""Pixel sizes chosen at the default font, grown with a larger one (a desktop's large-text
setting): a fixed width or icon size left names elided and icons tiny beside the text."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

BASE_LINE_PX = 14
"""A line's height at the font the sizes were chosen at (9 pt DejaVu Sans, 96 dpi)."""


def font_scaled(widget: QWidget, px: int) -> int:
    """``px`` at the default font, in proportion at ``widget``'s font when that is larger
    (never less: a smaller font keeps the size)."""
    return max(px, round(px * widget.fontMetrics().height() / BASE_LINE_PX))
