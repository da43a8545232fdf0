"""The banner of an incoming call (extension presence) at the top of the main window."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.ui.assets import icon
from app.ui.font_scaled import font_scaled

ICON_PX = 28  # the ringing phone, at the default font


class IncomingCallBanner(QFrame):
    """"X is calling you" with Answer / Dismiss; emits ``answered(id)`` / ``dismissed(id)``."""

    answered = Signal(str)
    dismissed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("incomingCall")
        # its own text colour with its own light background: a dark theme's light text
        # was unreadable on it
        self.setStyleSheet("#incomingCall { background: #fff3e0; border: 1px solid #ffb74d;"
                           " border-radius: 6px; } #incomingCall QLabel { color: #3e2723; }")
        self._id = ""
        self._caller = ""
        self.icon = QLabel(self)
        self._show_icon()
        self.text = QLabel(self)
        self.text.setWordWrap(True)  # a narrow window: two lines, the caller still named
        self.answer = QPushButton(icon("join"), "", self)
        self.dismiss = QPushButton(self)
        self.answer.clicked.connect(lambda: self.answered.emit(self._id))
        self.dismiss.clicked.connect(lambda: self.dismissed.emit(self._id))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.answer)
        layout.addWidget(self.dismiss)
        self.hide()
        self.retranslate()

    def show_call(self, interphone_id: str, caller: str) -> None:
        self._id, self._caller = interphone_id, caller
        self.retranslate()
        self.show()

    @property
    def interphone_id(self) -> str:
        """The ringing interphone while the banner is up, also in a hidden window (not
        ``isVisible()``: the end of a call that rang while the window was in the tray left
        its banner, whose Answer then joined a chat the caller had left)."""
        return "" if self.isHidden() else self._id

    @property
    def caller(self) -> str:
        """Who calls while the banner is up (``""`` else)."""
        return "" if self.isHidden() else self._caller

    def _show_icon(self) -> None:
        size = font_scaled(self, ICON_PX)
        self.icon.setPixmap(icon("call").pixmap(size, size))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        elif event.type() == QEvent.Type.FontChange:
            self._show_icon()
        super().changeEvent(event)

    def retranslate(self) -> None:
        # the name is text, not markup: "R&D <night>" lost "<night>" and ate the "&"
        self.text.setText(self.tr("<b>%1</b> is calling you").replace(
            "%1", html.escape(self._caller, quote=False)))
        self.answer.setText(self.tr("Answer"))
        self.dismiss.setText(self.tr("Dismiss"))
        # a screen reader reaching a button by Tab hears whose call it takes
        self.answer.setAccessibleDescription(
            self.tr("Answer the call from %1").replace("%1", self._caller))
        self.dismiss.setAccessibleDescription(
            self.tr("Dismiss the call from %1").replace("%1", self._caller))
