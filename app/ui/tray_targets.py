"""The tray menu's "Talk target" submenu: the joined interphones, the talk target checked;
choosing one makes it the talk target (as the window's Talk here does)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from app.ui.menu_text import as_menu_text
from app.ui.view_types import InterphoneRow


class TalkTargetMenu(QMenu):
    """Emits ``chosen(id)`` when the user picks an interphone that is not the talk target."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        self._shown: list[tuple[str, str, bool]] = []  # (id, name, talk target), in order

    def set_rows(self, rows: list[InterphoneRow]) -> None:
        """The joined ones of ``rows`` (in that order) as entries. Only a change rebuilds
        them: a StatusNotifierItem host is sent the whole menu again at each change."""
        shown = [(row.id, row.name, row.talk_target) for row in rows if row.joined]
        if shown == self._shown:
            return
        self._shown = shown
        for action in self.actions():
            self._group.removeAction(action)
            self.removeAction(action)
            action.deleteLater()
        for interphone_id, name, target in shown:
            action = QAction(as_menu_text(name), self)
            action.setCheckable(True)
            action.setChecked(target)
            action.setData(interphone_id)
            action.triggered.connect(lambda _checked=False, key=interphone_id: self._pick(key))
            self._group.addAction(action)
            self.addAction(action)

    def _pick(self, interphone_id: str) -> None:
        if not any(key == interphone_id and target for key, _, target in self._shown):
            self.chosen.emit(interphone_id)
        # the check stays on the talk target until the change comes back as rows
        for action, (_, _, target) in zip(self.actions(), self._shown, strict=True):
            action.setChecked(target)
