"""Started in the background (at login) before the server can be reached: the tray icon
while "remember me" keeps trying to sign in.

The network is often not up yet when the desktop session starts. Instead of the sign-in
dialog popping up on the desktop, :class:`OfflineTray` shows the grey tray icon, its
tooltip and menu saying "Offline — retrying" (with the attempt and why the last one
failed), and offers "Sign in…" (the dialog, now) and "Quit". A click on the icon is
"Sign in…" too. The runtime owns the retry loop; this is only its view.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.client import ClientError
from app.client.errors import failure_of
from app.ui.assets import icon
from app.ui.failure_text import failure_text

logger = logging.getLogger(__name__)


def retrying_text(attempt: int) -> str:
    """The status line: "Offline — retrying", with the attempt from the second on."""
    if attempt > 1:
        return QCoreApplication.translate("OfflineTray", "Offline — retrying (attempt %1)") \
            .replace("%1", str(attempt))
    return QCoreApplication.translate("OfflineTray", "Offline — retrying")


class OfflineTray(QObject):
    """The tray icon and menu while the remembered sign-in waits for the server."""

    sign_in_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.attempt = 1
        self.failure: ClientError | None = None
        self.icon = QSystemTrayIcon(icon("tray-offline"), self)
        self.menu = QMenu()
        self.status_action = self.menu.addAction("")
        self.status_action.setEnabled(False)
        self.menu.addSeparator()
        self.sign_in_action = self.menu.addAction(icon("join"), "")
        self.sign_in_action.triggered.connect(self.sign_in_requested)
        self.quit_action = self.menu.addAction("")
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self._show()
        self.icon.show()  # (Qt docks it when a tray host comes up after us, as at login)

    def set_attempt(self, attempt: int, failure: ClientError | None) -> None:
        """The next attempt is ``attempt``; ``failure``: why the last one failed."""
        self.attempt, self.failure = attempt, failure
        self._show()

    @property
    def status(self) -> str:
        return self.status_action.text()

    def close(self) -> None:
        self.icon.hide()
        self.menu.deleteLater()
        self.deleteLater()

    def _show(self) -> None:
        status = retrying_text(self.attempt)
        self.status_action.setText(status)
        self.sign_in_action.setText(QCoreApplication.translate("OfflineTray", "&Sign in…"))
        self.quit_action.setText(QCoreApplication.translate("OfflineTray", "&Quit"))
        lines = [QCoreApplication.translate("OfflineTray", "Interphone"), status]
        if self.failure is not None:
            lines.append(failure_text(failure_of(self.failure)))
        self.icon.setToolTip("\n".join(lines))

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.sign_in_requested.emit()
