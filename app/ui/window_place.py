"""Where the main window opens: the size asked for, else where it was left (while that
still lies on a screen), else fitted to the screen."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize

from app.ui.main_window import MainWindow


def place_window(window: MainWindow, size: QSize | None, saved: str) -> None:
    """``size``: the command line's; ``saved``: the geometry saved at the last quit (hex,
    empty if none)."""
    if size is not None:
        window.resize(size)
        return
    if saved and window.restoreGeometry(QByteArray.fromHex(saved.encode())):
        screen = window.screen()
        if screen is None or screen.availableGeometry().contains(window.geometry()):
            return
    window.fit_to_screen()
