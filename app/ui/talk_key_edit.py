"""The settings field that records the talk key: one key or mouse button, checked.

Click the field (or Tab into it and press Return), then press the key or mouse
button to use. It records Right Ctrl on its own and the middle, back and forward
mouse buttons, which a QKeySequenceEdit cannot; it refuses Caps Lock, letters
and digits, saying why (:func:`app.ui.talk_key.refusal`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from app.ui.talk_key import (
    RIGHT_CTRL,
    is_right_ctrl,
    mouse_button_text,
    parse_talk_key,
    refusal,
    talk_key_label,
)


class TalkKeyEdit(QLineEdit):
    """Emits ``key_changed(text)`` for an accepted key and ``refused(reason)`` otherwise."""

    key_changed = Signal(str)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._text = "Space"
        self._recording = False
        # a key was just recorded here: Return then confirms the dialog (OK) instead of
        # recording again (the next Return became the talk key)
        self._just_recorded = False
        self._show()

    def key_text(self) -> str:
        return self._text

    def set_key_text(self, text: str) -> None:
        spec = parse_talk_key(text)
        self._text = text if (spec.key is not None or spec.mouse is not None) else "Space"
        self._recording = False
        self._show()

    @property
    def recording(self) -> bool:
        return self._recording

    def start_recording(self) -> None:
        self._recording = True
        self._just_recorded = False
        self._show()

    # --- events ------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._recording and button != Qt.MouseButton.LeftButton:
            text = mouse_button_text(button)
            if text:
                self._accept(text)
            else:
                self.refused.emit(self.tr("This mouse button cannot be the talk key; use the "
                                          "middle, back or forward button."))
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.start_recording()
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if not self._recording:
            confirms = self._just_recorded and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            if not confirms and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
                self.start_recording()
                event.accept()
                return
            super().keyPressEvent(event)
            return
        if event.isAutoRepeat():
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self._recording = False
            self._show()
            event.accept()
            return
        if key == Qt.Key.Key_Control:
            if is_right_ctrl(event) or not (event.nativeScanCode() or event.nativeVirtualKey()):
                self._accept(RIGHT_CTRL)
            else:
                self.refused.emit(self.tr("Left Ctrl is used for shortcuts; use Right Ctrl."))
            event.accept()
            return
        reason = refusal(key)
        if reason:
            self.refused.emit(reason)
        else:
            self._accept(QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText))
        event.accept()

    def focusInEvent(self, event: QFocusEvent) -> None:
        self._just_recorded = False
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._just_recorded = False
        if self._recording:
            self._recording = False
            self._show()
        super().focusOutEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._show()
        super().changeEvent(event)

    # --- internals ---------------------------------------------------------------------------
    def _accept(self, text: str) -> None:
        self._text = text
        self._recording = False
        self._just_recorded = True
        self._show()
        self.key_changed.emit(text)

    def _show(self) -> None:
        if self._recording:
            self.setText("")
            self.setPlaceholderText(self.tr("Press a key or mouse button…"))
        else:
            self.setText(talk_key_label(self._text))
        self.setToolTip(self.tr("Click, then press the key or mouse button to hold for "
                                "talking (Escape cancels)"))
