"""Names in menu entries and buttons."""

from __future__ import annotations


def as_menu_text(name: str) -> str:
    """``name`` (a user's, an interphone's) as a menu entry shows it: a menu reads "&" as
    the mark of a shortcut letter ("Talk target: R&D" read "Talk target: RD")."""
    return name.replace("&", "&&")
