"""Push-to-talk with a key or mouse button held while a window has focus.

The talk key is stored as text: a QKeySequence portable name (``Space``,
``F12``), ``RightCtrl``, or a mouse button (``Mouse:Middle``, ``Mouse:Back``,
``Mouse:Forward``). :func:`refusal` says why a key cannot be the talk key
(Caps Lock toggles, letters and digits are needed for typing).

An event filter on the window's platform window (its ``QWindow``, where the window
system's key and mouse events arrive before Qt hands them to the focused widget)
watches the talk key for one window: key auto-repeat is ignored, the key is left to
text fields when it is printable, Space is left to a focused button (so Space presses
it, as everywhere), and a held key is released when the window loses focus or is
deactivated (a release that happens elsewhere would never reach us); the talk button is
the exception (it keeps the key: held there it talks, as elsewhere in the window). Not an
application-wide filter: that one would call Python for every event of the
application (each timer, update request and paint: some 50 a second while audio
plays, ~60-100 us each), for the few key events that matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent, QWindow
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QKeySequenceEdit,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.ui.talk_button import TalkButton

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QKeySequenceEdit)
_BUTTON_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Select)
RIGHT_CTRL = "RightCtrl"
_MOUSE_NAMES: dict[str, Qt.MouseButton] = {
    "Mouse:Middle": Qt.MouseButton.MiddleButton,
    "Mouse:Back": Qt.MouseButton.BackButton,
    "Mouse:Forward": Qt.MouseButton.ForwardButton,
}
# Right Ctrl as the platforms report it: X11/Wayland keycode 105 (evdev 97 + 8), Windows
# extended scan code 0x11D; X11 keysym Control_R, Windows VK_RCONTROL, macOS kVK_RightControl.
_RIGHT_CTRL_SCAN_CODES = frozenset({105, 0x11D})
_RIGHT_CTRL_VIRTUAL_KEYS = frozenset({0xFFE4, 0xA3, 62})


@dataclass(frozen=True, slots=True)
class TalkKeySpec:
    """A parsed talk key: a keyboard key (``right_side`` for Right Ctrl) or a mouse button."""

    key: Qt.Key | None = Qt.Key.Key_Space
    right_side: bool = False
    mouse: Qt.MouseButton | None = None

    def matches_key(self, event: QKeyEvent) -> bool:
        if self.key is None or event.key() != self.key:
            return False
        if not self.right_side:
            return True
        scan, virtual = event.nativeScanCode(), event.nativeVirtualKey()
        if not scan and not virtual:
            return True  # the platform does not tell the sides apart (offscreen)
        return scan in _RIGHT_CTRL_SCAN_CODES or virtual in _RIGHT_CTRL_VIRTUAL_KEYS


def parse_talk_key(text: str) -> TalkKeySpec:
    """The talk key of a stored text; Space when the text names no usable key."""
    if text == RIGHT_CTRL:
        return TalkKeySpec(Qt.Key.Key_Control, right_side=True)
    if text in _MOUSE_NAMES:
        return TalkKeySpec(None, mouse=_MOUSE_NAMES[text])
    sequence = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
    if sequence.count() == 0:
        return TalkKeySpec()
    key = sequence[0].key()  # type: ignore[index]  # QKeySequence[i]: missing in the stubs
    return TalkKeySpec() if refusal(key) else TalkKeySpec(key)


def key_from_text(text: str) -> Qt.Key:
    """The keyboard key of a talk-key text (Space when it is a mouse button or unusable)."""
    return parse_talk_key(text).key or Qt.Key.Key_Space


def mouse_button_text(button: Qt.MouseButton) -> str:
    """The stored text of a mouse button, ``""`` when it cannot be the talk key."""
    return next((name for name, value in _MOUSE_NAMES.items() if value == button), "")


def is_right_ctrl(event: QKeyEvent) -> bool:
    return TalkKeySpec(Qt.Key.Key_Control, right_side=True).matches_key(event) and bool(
        event.nativeScanCode() or event.nativeVirtualKey())


def refusal(key: Qt.Key | int) -> str:
    """Why ``key`` cannot be the talk key (translated), ``""`` when it can."""
    code = int(key)
    if code == int(Qt.Key.Key_CapsLock):
        return QCoreApplication.translate(
            "TalkKey", "Caps Lock switches capitals on and off; it cannot be held to talk.")
    if int(Qt.Key.Key_0) <= code <= int(Qt.Key.Key_9) \
            or int(Qt.Key.Key_A) <= code <= int(Qt.Key.Key_Z):
        return QCoreApplication.translate(
            "TalkKey", "Letters and digits are needed for typing; choose another key.")
    if code in (int(Qt.Key.Key_Shift), int(Qt.Key.Key_Alt), int(Qt.Key.Key_Meta),
                int(Qt.Key.Key_AltGr), int(Qt.Key.Key_unknown), 0):
        return QCoreApplication.translate(
            "TalkKey", "This key is used with other keys; choose another key.")
    return ""


def talk_key_label(text: str) -> str:
    """How the talk key is shown to the user (translated, same in every view)."""
    if text == RIGHT_CTRL:
        return QCoreApplication.translate("TalkKey", "Right Ctrl")
    names = {"Mouse:Middle": QCoreApplication.translate("TalkKey", "Middle mouse button"),
             "Mouse:Back": QCoreApplication.translate("TalkKey", "Back mouse button"),
             "Mouse:Forward": QCoreApplication.translate("TalkKey", "Forward mouse button")}
    if text in names:
        return names[text]
    key = key_from_text(text)
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)


class TalkKey(QObject):
    """Emits ``pressed`` / ``released`` for the talk key held in ``window``."""

    pressed = Signal()
    released = Signal()

    def __init__(self, window: QWidget, key_text: str = "Space") -> None:
        super().__init__(window)
        self._window = window
        self._spec = parse_talk_key(key_text)
        self._held = False
        window.create()  # its platform window now (else at the first show), to filter it
        handle = window.windowHandle()
        assert handle is not None
        self._handle: QWindow | None = handle
        handle.installEventFilter(self)
        handle.destroyed.connect(self._on_handle_gone)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._on_focus_changed)
        app.applicationStateChanged.connect(self._on_app_state)

    def set_key(self, key_text: str) -> None:
        self.release()
        self._spec = parse_talk_key(key_text)

    @property
    def key(self) -> Qt.Key:
        return self._spec.key or Qt.Key.Key_Space

    @property
    def spec(self) -> TalkKeySpec:
        return self._spec

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        """Let go of a held key (focus lost, window hidden, talk disabled)."""
        if self._held:
            self._held = False
            self.released.emit()

    @property
    def window_handle(self) -> QWindow | None:
        """The platform window whose events are watched (where key events arrive)."""
        return self._handle

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.removeEventFilter(self)
            self._handle = None
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.disconnect(self._on_focus_changed)
            app.applicationStateChanged.disconnect(self._on_app_state)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.FocusOut, QEvent.Type.WindowDeactivate):
            self.release()  # the window is no longer the active one
            return False
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            return self._on_mouse(event)
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        if not self._spec.matches_key(event):
            return False
        focus = QApplication.focusWidget()
        if self._printable() and isinstance(focus, _TEXT_INPUTS):
            return False
        if self._spec.key in _BUTTON_KEYS and isinstance(focus, QAbstractButton) \
                and not isinstance(focus, TalkButton):
            return False  # Space (or Return) presses the focused button
        if event.isAutoRepeat():
            return True
        self._hold(kind == QEvent.Type.KeyPress)
        return True

    def _on_mouse(self, event: QEvent) -> bool:
        assert isinstance(event, QMouseEvent)
        if self._spec.mouse is None or event.button() != self._spec.mouse:
            return False
        self._hold(event.type() == QEvent.Type.MouseButtonPress)
        return True

    def _hold(self, down: bool) -> None:
        if down and not self._held:
            self._held = True
            self.pressed.emit()
        elif not down:
            self.release()

    def _on_handle_gone(self) -> None:
        self.release()
        self._handle = None

    def _printable(self) -> bool:
        return self._spec.key is not None and int(self._spec.key) < 0x01000000

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is None or new.window() is not self._window:
            self.release()

    def _on_app_state(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.release()
