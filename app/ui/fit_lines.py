"""Text wrapped into the few lines of a box (the talk button's disc): at spaces, and in
Chinese (no spaces) between its characters."""

from __future__ import annotations

import re
from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF

# a CJK character with the punctuation that may not begin a line after it ("，", "。"…),
# or a run of anything else (a Latin name inside Chinese text)
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_PIECE = re.compile(f"[{_CJK}][\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]*|[^{_CJK}]+")


def _pieces(text: str) -> Iterator[tuple[str, str]]:
    """Where a line may break: each piece with what goes before it on the same line
    (" " after a space, "" between two characters of Chinese)."""
    for word in text.split():
        for index, piece in enumerate(_PIECE.findall(word)):
            yield piece, " " if index == 0 else ""


def fit_lines(text: str, metrics: QFontMetricsF, width: float, most: int) -> list[str]:
    """``text`` wrapped into at most ``most`` lines no wider than ``width``, at its spaces
    and between Chinese characters: a word too long for a line (a long name) is cut with
    "…", and so is the last line when more would follow (the disc's text was cut at both
    sides of its box, mid-letter, and words past its last line were lost without a sign;
    Chinese, one "word" for want of spaces, was cut on its first line)."""
    lines: list[str] = []
    breaks: list[str] = []  # what went before each line's first piece
    for piece, before in _pieces(text):
        joined = f"{lines[-1]}{before}{piece}" if lines else piece
        if lines and metrics.horizontalAdvance(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
            breaks.append(before)
    if len(lines) > most:
        rest = "".join(breaks[i] + lines[i] for i in range(most, len(lines)))
        lines[most - 1:] = [lines[most - 1] + rest + (" …" if breaks[most] else "…")]
    return [metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines]


def joined(lines: list[str]) -> str:
    """``lines`` as one text again, to compare with what was fitted (spaces aside)."""
    return "".join("".join(lines).split())
