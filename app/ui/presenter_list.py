"""The presenter's interphone list: its rows made from the model, all of them again when
rows may come or go (the roster, presence, the link), else only those an event changed
(a thousand contacts' rows made again at each join blocked the loop for seconds).

A mixin of :class:`~app.ui.presenter.Presenter` over
:class:`~app.ui.presenter_core.PresenterCore`.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QTimer

from app.protocol import AttachType, InterphoneId
from app.ui.presenter_core import PresenterCore
from app.ui.presenter_rows import interphone_row, listed_rows
from app.ui.view_types import InterphoneRow


class PresenterList(PresenterCore):
    """The list's rows, shown whole or in part."""

    _rows_shown: dict[str, InterphoneRow]  # id -> the row the list shows
    _rows_unlisted: set[str]  # the shown rows that are not the roster's (chats outside it)
    _presence_shown: QTimer  # single shot: the presence changes shown together
    _presence_changed: set[str]  # the chats of the contacts changed since it started
    _removal_said: set[str]  # interphones whose removal the status bar said

    def rows(self) -> list[InterphoneRow]:
        """Every roster entry, plus live chats with people outside the roster."""
        return self._listed_rows()[0]

    def _listed_rows(self) -> tuple[list[InterphoneRow], int]:
        """:meth:`rows`, and how many of them are the roster's (the first ones)."""
        rows, listed = listed_rows(self.model, self._active, self.interphone_muted)
        # (names of rows gone stay: "You were removed from Ops" after Ops left the roster)
        self._names.update((row.id, row.name) for row in rows)
        return rows, listed


    def _show_presence(self) -> None:
        changed, self._presence_changed = self._presence_changed, set()
        self._show_rows_of(*changed)
        self._show_selected()

    def _show_rows(self) -> None:
        """Every row again (the roster, the contacts' presence, the link changed)."""
        self._presence_shown.stop()  # (shown now with the rest)
        self._presence_changed.clear()
        selected = self._selected
        self.window.interphones.set_offline(not self._online())
        rows, listed = self._listed_rows()
        self._rows_shown = {row.id: row for row in rows}
        self._rows_unlisted = {row.id for row in rows[listed:]}
        self.window.set_rows(rows)
        self._show_activity()
        said, self._removal_said = self._removal_said, {
            key for key in self._removal_said if self.window.interphones.row(key) is not None}
        if selected and self.window.interphones.row(selected) is None:
            if self._selected == selected:  # the list selected nothing else instead
                self.select("")
            # no longer in the roster: the server's directory changed (a removal from it
            # said so already: "You were removed from Ops" stays)
            if selected not in said and InterphoneId.parse(selected).kind is not AttachType.CHAT:
                self.window.show_message(QCoreApplication.translate(
                    "Presenter", "%1 is no longer available to you").replace(
                    "%1", self._names.get(selected, selected)), 8000)

    def _show_rows_of(self, *keys: str) -> None:
        """The rows of ``keys`` again (an event about those interphones), and those marked
        talk target, joined, active or muted, shown or now (a join, a leave, someone
        speaking elsewhere changes those marks); the other rows stay as they are. Every
        row again when a row may come or go (a chat outside the roster)."""
        shown, model = self._rows_shown, self.model
        marked = {key for key, row in shown.items()
                  if row.talk_target or row.joined or row.active or row.muted}
        marked.update(str(interphone) for interphone in model.joined_ids)
        marked.update(self._active)
        marked.update(key for key in self.interphone_muted if key in shown)
        marked.update(keys)
        if any(key not in shown or (key in self._rows_unlisted
                                    and model.interphone(InterphoneId.parse(key)) is None)
               for key in marked):
            self._show_rows()
            return
        rows = [interphone_row(model, shown[key], self._active, self.interphone_muted)
                for key in marked]
        changed = [row for row in rows if row != shown[row.id]]
        shown.update((row.id, row) for row in changed)
        self.window.update_rows(changed)
        self._show_activity()

    def _show_activity(self) -> None:
        """Who speaks elsewhere (the rows show it; the tray's icon and tooltip too)."""
        self.window.set_activity([(self._names.get(key, key), self.window.display_name(uid))
                                  for key, uid in self._active.items()])
