"""The settings field that records the talk key: one key or mouse button, checked.

Click the field (or Tab into it and press Return), then press the key or mouse
button to use. It records Right Ctrl on its own and the middle, back and forward
mouse buttons, which a QKeySequenceEdit cannot; it refuses Caps Lock, letters
and digits, saying why (:func:`app.ui.talk_key.refusal`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QWidget

from app.ui.key_field import KeyRecorderField
from app.ui.talk_key import (
    RIGHT_CTRL,
    is_right_ctrl,
    mouse_button_text,
    parse_talk_key,
    refusal,
    talk_key_label,
)

# global talk key names (app.hotkey) that are talk keys under another name
_GLOBAL_NAMES = {"RightCtrl": RIGHT_CTRL, "MiddleButton": "Mouse:Middle", "Mouse4": "Mouse:Back",
                 "Mouse5": "Mouse:Forward"}


class TalkKeyEdit(KeyRecorderField):
    """Emits ``key_changed(text)`` for an accepted key and ``refused(reason)`` otherwise."""

    key_changed = Signal(str)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = "Space"
        self._show()

    def key_text(self) -> str:
        return self._text

    def set_key_text(self, text: str) -> None:
        spec = parse_talk_key(text)
        self._text = text if (spec.key is not None or spec.mouse is not None) else "Space"
        self.recording = False
        self._show()

    # --- events ------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self.recording and button != Qt.MouseButton.LeftButton:
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

    # --- internals ---------------------------------------------------------------------------
    def _record_key(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Control:
            if is_right_ctrl(event) or not (event.nativeScanCode() or event.nativeVirtualKey()):
                self._accept(RIGHT_CTRL)
            else:
                self.refused.emit(self.tr("Left Ctrl is used for shortcuts; use Right Ctrl."))
            return
        reason = refusal(key)
        if reason:
            self.refused.emit(reason)
        else:
            self._accept(QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText))

    def record_name(self, name: str) -> None:
        if name == "LeftCtrl":
            self.refused.emit(self.tr("Left Ctrl is used for shortcuts; use Right Ctrl."))
            return
        text = _GLOBAL_NAMES.get(name)
        if text is None and name.startswith(("Mouse", "Button")):
            self.refused.emit(self.tr("This mouse button cannot be the talk key; use the "
                                      "middle, back or forward button."))
            return
        if text is None:  # F1-F24, Pause, ScrollLock, Insert, Menu, Print: Qt's names too
            sequence = QKeySequence.fromString(name, QKeySequence.SequenceFormat.PortableText)
            key = sequence[0].key() if sequence.count() else Qt.Key.Key_unknown  # type: ignore[index]
            reason = refusal(key)
            if reason:  # Alt, Shift or Super alone: not a talk key here
                self.refused.emit(reason)
                return
            text = QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)
        self._accept(text)

    def _accept(self, text: str) -> None:
        self._text = text
        self._recorded()
        self._show()
        self.key_changed.emit(text)

    def _show(self) -> None:
        if self.recording:
            self.setText("")
            self.setPlaceholderText(self.tr("Press a key or mouse button…"))
        else:
            self.setText(talk_key_label(self._text))
        self.setToolTip(self.tr("Click, then press the key or mouse button to hold for "
                                "talking (Escape cancels)"))
