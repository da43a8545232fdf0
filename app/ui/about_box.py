"""The About box: the app's name, version and what it is for."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app import __version__
from app.ui.assets import icon


def show_about(parent: QWidget) -> QMessageBox:
    """The About box over ``parent``, shown (it deletes itself when closed)."""
    box = QMessageBox(QMessageBox.Icon.NoIcon,
                      QCoreApplication.translate("MainWindow", "About Interphone"),
                      QCoreApplication.translate(
                          "MainWindow", "<b>Interphone</b> %1<br>Push-to-talk for groups, "
                          "discussions and one-to-one calls.").replace("%1", __version__),
                      QMessageBox.StandardButton.Close, parent)
    box.setIconPixmap(icon("app").pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box
