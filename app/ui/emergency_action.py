"""The window menu's emergency action: raise one in the talk target (after a question:
it alerts the whole group), or cancel the one up there when this user may, with its text,
tooltip and enabled state following what the presenter says.

Its texts keep the ``MainWindow`` translation context they had in the window.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from app.ui.menu_text import as_menu_text

translate = QCoreApplication.translate


class EmergencyAction(QObject):
    """Owns :attr:`action` (added to a menu by the window) and the raise confirmation."""

    requested = Signal()
    """The raise was confirmed."""
    cancel_requested = Signal()
    """The action while it cancels the emergency up in the talk target."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self.action = QAction("", window)
        self.action.triggered.connect(self._triggered)
        self.action.setEnabled(False)
        # (offered, who raised the one up here, may we cancel it)
        self._here: tuple[bool, str, bool] = (False, "", False)
        self._where = ""  # the talk target's name while another row is shown
        self._target = ""  # the talk target's name (the confirmation names it)
        self.confirm_box: QMessageBox | None = None  # "Raise the emergency in X?"

    def set_state(self, offered: bool, raised_by: str = "", can_cancel: bool = False,
                  where: str = "", target: str = "") -> None:
        """See :meth:`MainWindow.set_emergency_action
        <app.ui.main_window.MainWindow.set_emergency_action>`."""
        self._here = (offered, raised_by, can_cancel)
        self._where = where
        self._target = target
        self.show()

    def show(self) -> None:
        """The action's text, tooltip and enabled state (again after a language change)."""
        offered, raised_by, can_cancel = self._here
        where = self._where
        cancels = offered and bool(raised_by) and can_cancel
        self.action.setEnabled(offered and (not raised_by or can_cancel))
        if where:
            text = (translate("MainWindow", "Cancel the &emergency in %1") if cancels else
                    translate("MainWindow", "Raise an &emergency in %1")).replace(
                "%1", as_menu_text(where))
        else:
            text = (translate("MainWindow", "Cancel the &emergency here") if cancels else
                    translate("MainWindow", "Raise an &emergency here"))
        self.action.setText(text)
        tip = ""
        if offered and raised_by and not cancels:
            tip = (translate("MainWindow", "An emergency is already raised in %1 by %2")
                   .replace("%1", where).replace("%2", raised_by) if where else
                   translate("MainWindow", "An emergency is already raised here by %1")
                   .replace("%1", raised_by))
        self.action.setToolTip(tip or self.action.iconText())  # (the text, unmarked)
        self.action.setStatusTip(tip)

    def _triggered(self) -> None:
        _offered, raised_by, can_cancel = self._here
        if raised_by:
            if can_cancel:
                self.cancel_requested.emit()
        else:
            self.confirm()

    def confirm(self) -> QMessageBox:
        """Ask before raising an emergency (it alarms the whole group): "Raise the
        emergency in Ops?", Cancel the default so that Enter does not raise it."""
        if self.confirm_box is not None:
            self.confirm_box.close()
        target = self._target or self._where
        question = (translate("MainWindow", "Raise the emergency in %1?").replace("%1", target)
                    if target else translate("MainWindow", "Raise the emergency here?"))
        box = QMessageBox(QMessageBox.Icon.Warning, translate("MainWindow", "Raise an emergency"),
                          question, QMessageBox.StandardButton.Cancel, self._window)
        box.setInformativeText(
            translate("MainWindow", "Everyone in it is alerted until it is cancelled."))
        raise_button = box.addButton(translate("MainWindow", "Raise emergency"),
                                     QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered() -> None:
            if self.confirm_box is box:
                self.confirm_box = None
            if box.clickedButton() is raise_button:
                self.requested.emit()

        box.finished.connect(answered)
        self.confirm_box = box
        box.open()  # window-modal, without a nested event loop
        return box
