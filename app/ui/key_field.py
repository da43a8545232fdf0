"""What the two key-recording fields share (the talk key's and the global talk key's).

A read-only field that records a key: a click, or Return, Enter or Space, starts
recording; Escape cancels; a focus change ends it. Right after a key was recorded
here, Return or Enter confirms the dialog (OK) instead of recording again (otherwise
the next Return became the key); focusing in or out, or recording again, forgets that.

The global talk key never reaches a field as a key event where it is grabbed (X11: the
grab takes it from the focused window); :func:`recording_field` finds the field that
records now, and ``record_name`` hands it the key by name instead of talking with it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

_CONFIRM_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_START_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)


class KeyRecorderField(QLineEdit):
    """Subclasses show themselves (``_show``), record a key pressed while recording
    (``_record_key``) and call ``_recorded`` when they take one. Emits ``cancelled``
    when Escape ends a recording (a refusal said during it no longer stands)."""

    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.recording = False
        self.just_recorded = False

    def start_recording(self) -> None:
        self.recording = True
        self.just_recorded = False
        self._show()

    def _recorded(self) -> None:
        """A key was taken: recording ends, and Return now confirms the dialog."""
        self.recording = False
        self.just_recorded = True

    def _show(self) -> None:
        raise NotImplementedError

    def _record_key(self, event: QKeyEvent) -> None:
        raise NotImplementedError

    def record_name(self, name: str) -> None:
        """Record the key called ``name`` (a canonical global talk key name: ``RightCtrl``,
        ``F9``, ``Mouse4``), pressed while this field records but grabbed elsewhere."""
        raise NotImplementedError

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if not self.recording:
            confirms = self.just_recorded and key in _CONFIRM_KEYS
            if not confirms and key in _START_KEYS:
                self.start_recording()
                event.accept()
                return
            super().keyPressEvent(event)
            return
        if not event.isAutoRepeat():
            if key == Qt.Key.Key_Escape:
                self.recording = False
                self._show()
                self.cancelled.emit()
            else:
                self._record_key(event)
        event.accept()

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.just_recorded = False
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.just_recorded = False
        if self.recording:
            self.recording = False
            self._show()
        super().focusOutEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._show()
        super().changeEvent(event)


def recording_field() -> KeyRecorderField | None:
    """The key field of this application that has the focus and records a key, if any."""
    widget = QApplication.focusWidget()
    if isinstance(widget, KeyRecorderField) and widget.recording:
        return widget
    return None
