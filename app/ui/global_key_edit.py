"""The settings field that records the global talk key (off by default).

Click it, then press the key or mouse button: Right Ctrl alone, a function key,
Pause, Scroll Lock, Insert, Menu, Print or a mouse side button are taken; Caps
Lock, letters, Space and the rest are refused with ``HotkeyRefused``'s reason in the
interface's language (the rules live in :mod:`app.hotkey.keys`, the words in
:mod:`app.ui.hotkey_text`). "Off" clears it. On Linux the key is
named from the X keysym Qt reports (``nativeVirtualKey``), which tells Right Ctrl
from Left Ctrl.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from app.hotkey import HotkeyRefused, name_from_x11_keysym
from app.ui.global_key import check_global_key
from app.ui.hotkey_text import global_key_label, hotkey_text
from app.ui.key_field import KeyRecorderField
from app.ui.talk_key import is_right_ctrl

_QT_KEYS: dict[Qt.Key, str] = {
    Qt.Key.Key_Alt: "LeftAlt", Qt.Key.Key_AltGr: "RightAlt", Qt.Key.Key_Shift: "LeftShift",
    Qt.Key.Key_Meta: "LeftSuper", Qt.Key.Key_Super_L: "LeftSuper",
    Qt.Key.Key_Super_R: "RightSuper", Qt.Key.Key_Pause: "Pause",
    Qt.Key.Key_ScrollLock: "ScrollLock", Qt.Key.Key_Insert: "Insert", Qt.Key.Key_Menu: "Menu",
    Qt.Key.Key_Print: "Print", Qt.Key.Key_CapsLock: "CapsLock", Qt.Key.Key_NumLock: "NumLock",
}
_QT_BUTTONS: dict[Qt.MouseButton, str] = {
    Qt.MouseButton.BackButton: "Mouse4", Qt.MouseButton.ForwardButton: "Mouse5",
    Qt.MouseButton.MiddleButton: "MiddleButton", Qt.MouseButton.RightButton: "RightButton",
}


def key_event_name(event: QKeyEvent) -> str:
    """The hotkey name of a key press (may be one ``check_global_key`` refuses)."""
    if sys.platform.startswith("linux") and event.nativeVirtualKey():
        name = name_from_x11_keysym(event.nativeVirtualKey())
        if name:
            return name
    key = Qt.Key(event.key())
    if key == Qt.Key.Key_Control:
        return "RightCtrl" if is_right_ctrl(event) else "LeftCtrl"
    if Qt.Key.Key_F1.value <= key.value <= Qt.Key.Key_F24.value:
        return f"F{key.value - Qt.Key.Key_F1.value + 1}"
    if key in _QT_KEYS:
        return _QT_KEYS[key]
    text = QKeySequence(key.value).toString(QKeySequence.SequenceFormat.PortableText)
    return text or event.text() or "?"


class GlobalTalkKeyEdit(QWidget):
    """Emits ``key_changed(name)`` ("" = off), ``refused(reason)`` and ``cancelled`` (a
    recording ended with Escape: no refusal stands).

    ``reason`` is worded in the interface's language; while a refusal stands (no key
    taken or set, no recording cancelled since), a language change emits it again,
    re-worded.
    """

    key_changed = Signal(str)
    refused = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.refusal: HotkeyRefused | None = None  # the standing refusal, if any
        self.off = QPushButton(self)  # (before the field, which enables it)
        self.field = _Recorder(self)
        self.off.clicked.connect(lambda: self.field.accept_name(""))
        self.field.cancelled.connect(self._on_cancelled)
        QWidget.setTabOrder(self.field, self.off)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.off)
        self.setFocusProxy(self.field)
        self._retranslate()

    def key_name(self) -> str:
        return self.field.name

    def set_key_name(self, name: str) -> None:
        self.field.set_name(name)

    def offer(self, name: str) -> bool:
        """What recording ``name`` does (tests, and the two event handlers)."""
        return self.field.offer(name)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
            if self.refusal is not None:
                self.refused.emit(hotkey_text(self.refusal))
        super().changeEvent(event)

    def _on_cancelled(self) -> None:
        self.refusal = None
        self.cancelled.emit()

    def _retranslate(self) -> None:
        self.off.setText(self.tr("Turn off"))
        self.off.setToolTip(self.tr("No global talk key: the talk key works only while the "
                                    "Interphone window has focus"))


class _Recorder(KeyRecorderField):
    def __init__(self, owner: GlobalTalkKeyEdit) -> None:
        super().__init__(owner)
        self.owner = owner
        self.name = ""
        self._show()

    def set_name(self, name: str) -> None:
        try:
            self.name = check_global_key(name) if name else ""
        except HotkeyRefused:
            self.name = ""
        self.recording = False
        self.owner.refusal = None
        self._show()

    def offer(self, name: str) -> bool:
        try:
            canonical = check_global_key(name)
        except HotkeyRefused as exc:
            self.owner.refusal = exc
            self.owner.refused.emit(hotkey_text(exc))
            return False
        self.accept_name(canonical)
        return True

    def accept_name(self, name: str) -> None:
        self.name = name
        self._recorded()
        self.owner.refusal = None
        self._show()
        self.owner.key_changed.emit(name)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.start_recording()
        elif self.recording:
            self.offer(_QT_BUTTONS.get(button, "MiddleButton"))
        event.accept()

    def _record_key(self, event: QKeyEvent) -> None:
        self.offer(key_event_name(event))

    def record_name(self, name: str) -> None:
        self.offer(name)

    def _show(self) -> None:
        if self.recording:
            self.setText("")
            self.setPlaceholderText(self.tr("Press a key or mouse side button…"))
        else:
            self.setText(global_key_label(self.name) if self.name else self.tr("Off"))
        self.owner.off.setEnabled(bool(self.name))  # nothing to turn off when off
        self.setToolTip(self.tr("Talks while another program has the focus. Click, then "
                                "press Right Ctrl, a function key or a mouse side button "
                                "(Escape cancels)"))
