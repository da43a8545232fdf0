"""Return and Enter press the focused button, as Space does (Qt does so only in dialogs)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QWidget


class ReturnClicksButtons(QObject):
    """Return / Enter press the focused button (as Space does), outside dialogs too."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(watched, QAbstractButton):
            assert isinstance(event, QKeyEvent)
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and watched.isEnabled() \
                    and not event.isAutoRepeat():
                watched.animateClick()
                return True
        return False

    def watch(self, root: QWidget) -> None:
        for button in root.findChildren(QAbstractButton):
            button.removeEventFilter(self)
            button.installEventFilter(self)
