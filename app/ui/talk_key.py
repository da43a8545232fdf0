"""Push-to-talk with a keyboard key held while a window has focus.

An application-wide event filter watches the talk key for one window: key
auto-repeat is ignored, the key is left to text fields when it is printable,
and a held key is released when the window loses focus or is deactivated (a
release that happens elsewhere would never reach us).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QKeySequenceEdit,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QKeySequenceEdit)


def key_from_text(text: str) -> Qt.Key:
    """The first key of a portable key-sequence text (``Space``, ``F12``…), Space if none."""
    sequence = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
    if sequence.count() == 0:
        return Qt.Key.Key_Space
    return sequence[0].key()


class TalkKey(QObject):
    """Emits ``pressed`` / ``released`` for the talk key held in ``window``."""

    pressed = Signal()
    released = Signal()

    def __init__(self, window: QWidget, key_text: str = "Space") -> None:
        super().__init__(window)
        self._window = window
        self._key = key_from_text(key_text)
        self._held = False
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.installEventFilter(self)
        app.focusChanged.connect(self._on_focus_changed)
        app.applicationStateChanged.connect(self._on_app_state)

    def set_key(self, key_text: str) -> None:
        self.release()
        self._key = key_from_text(key_text)

    @property
    def key(self) -> Qt.Key:
        return self._key

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        """Let go of a held key (focus lost, window hidden, talk disabled)."""
        if self._held:
            self._held = False
            self.released.emit()

    def detach(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
            app.focusChanged.disconnect(self._on_focus_changed)
            app.applicationStateChanged.disconnect(self._on_app_state)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.WindowDeactivate and watched is self._window:
            self.release()
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() != self._key or not self._for_window(watched):
            return False
        if self._printable() and isinstance(QApplication.focusWidget(), _TEXT_INPUTS):
            return False
        if event.isAutoRepeat():
            return True
        if kind == QEvent.Type.KeyPress and not self._held:
            self._held = True
            self.pressed.emit()
        elif kind == QEvent.Type.KeyRelease:
            self.release()
        return True

    def _for_window(self, watched: QObject) -> bool:
        return isinstance(watched, QWidget) and watched.window() is self._window

    def _printable(self) -> bool:
        return int(self._key) < 0x01000000

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is None or new.window() is not self._window:
            self.release()

    def _on_app_state(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.release()
