"""The left pane: every group, discussion and contact of the roster, with a filter box.

Live interphones show their member count and current speaker. The view keeps
items by interphone id, so :meth:`InterphoneList.set_rows` can be called on
every change without losing the selection or the scroll position. While the
pointer is over the list the order is kept (a row that becomes live is not
moved under the mouse, so a double-click hits what the user aimed at); it is
re-sorted when the pointer leaves. A join made at the list (the pointer over it or
the focus in it; :meth:`InterphoneList.hold_order`) keeps the order the same way
until the pointer leaves the list or the focus leaves it: the row just joined does
not jump away from under the keyboard either.

The section headers (Groups, Discussions, Contacts) are titles only: the arrow
keys step over them and a click on one changes nothing. With nothing selected, Down
selects the first row and Up the last.

Ctrl+F (the platform's Find key) goes to the filter box, its text selected.
The filter box leads to the results: Down or Enter select the first match and
move the focus to the list, Escape clears the filter (in the list too: every row
comes back, the selection stays).
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.interphone_panel import member_count_text
from app.ui.interphone_row_paint import ROW_ROLE, STALE_ROLE, SUBTITLE_ROLE, RowDelegate
from app.ui.view_types import InterphoneRow, RowKind

_SECTION_ORDER = (RowKind.GROUP, RowKind.DISCUSS, RowKind.CHAT)


def _children(section: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for index in range(section.childCount())
            if (child := section.child(index)) is not None]


class _Item(QTreeWidgetItem):
    """Sorts sections in a fixed order and rows live-first, then by name."""

    def __init__(self, sort_key: tuple[int, int, str]) -> None:
        super().__init__()
        self.sort_key = sort_key
        self.row: InterphoneRow | None = None  # (its ROW_ROLE, read without a call into Qt)

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        return self.sort_key < getattr(other, "sort_key", (0, 0, ""))


class _Tree(QTreeWidget):
    """The list's tree: the current row is never a section header (the keys step over
    them, a click on one does nothing), so the selection is never dropped on one."""

    _BACKWARD = (QAbstractItemView.CursorAction.MoveUp,
                 QAbstractItemView.CursorAction.MovePrevious,
                 QAbstractItemView.CursorAction.MovePageUp,
                 QAbstractItemView.CursorAction.MoveEnd)
    _SIDEWAYS = (QAbstractItemView.CursorAction.MoveLeft,
                 QAbstractItemView.CursorAction.MoveRight)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and not self.selectedIndexes() \
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            # nothing selected: the current row (made current unseen when the list took
            # the focus) is not where the user is: Down selects the first row, Up the last
            edge = self._edge_row(first=event.key() == Qt.Key.Key_Down)
            if edge.isValid():
                self.setCurrentIndex(edge)
                event.accept()
                return
        super().keyPressEvent(event)

    def moveCursor(self, action: QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        index = super().moveCursor(action, modifiers)
        if not index.isValid() or index.data(ROW_ROLE) is not None:
            return index
        if action in self._SIDEWAYS:  # Left goes to the parent: the header
            return self.currentIndex()
        steps = (self.indexAbove, self.indexBelow) if action in self._BACKWARD \
            else (self.indexBelow, self.indexAbove)
        for step in steps:  # on in the same direction; at an end, back to the nearest row
            found = step(index)
            while found.isValid() and found.data(ROW_ROLE) is None:
                found = step(found)
            if found.isValid():
                return found
        return self.currentIndex()

    def _edge_row(self, *, first: bool) -> QModelIndex:
        """The first (last) row shown, not a header; invalid when none is."""
        rows = [child for index in range(self.topLevelItemCount())
                if (section := self.topLevelItem(index)) is not None and not section.isHidden()
                for child in _children(section) if not child.isHidden()]
        if not rows:
            return QModelIndex()
        return self.indexFromItem(rows[0] if first else rows[-1])

    def _on_header(self, event: QMouseEvent) -> bool:
        index = self.indexAt(event.position().toPoint())
        return index.isValid() and index.data(ROW_ROLE) is None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._on_header(event):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._on_header(event):  # (it folded the section away, with no way to tell)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)


class InterphoneList(QWidget):
    """Emits ``selected(id)`` ("" when nothing is selected) and ``join_requested(id)``."""

    selected = Signal(str)
    join_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.installEventFilter(self)
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(0)
        self.tree.setItemDelegate(RowDelegate(self.tree))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(False)
        self.tree.setSortingEnabled(False)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.itemActivated.connect(self._on_activated)
        # a filter that matches nothing says so, where the rows would be (the list was
        # left blank, as if the roster were empty)
        self.no_match = QLabel(self.tree.viewport())
        self.no_match.setWordWrap(True)
        self.no_match.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.no_match.hide()
        self._sections: dict[RowKind, _Item] = {}
        for rank, kind in enumerate(_SECTION_ORDER):
            section = _Item((rank, 0, ""))
            section.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = section.font(0)
            font.setBold(True)
            section.setFont(0, font)
            self.tree.addTopLevelItem(section)
            section.setExpanded(True)
            self._sections[kind] = section
        self._items: dict[str, _Item] = {}
        self._pointer_inside = False
        self._held = False  # a join: the order is kept until the user leaves the list
        self._sort_pending = False
        self._names: dict[str, str] = {}
        self._me = ""  # our uid: a row where we speak says "you"
        self._announced = ""  # the selection last emitted
        self._offline = False
        self._unsorted: set[RowKind] = set()  # sections with rows changed since sorted
        self.tree.viewport().installEventFilter(self)
        self.tree.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)
        self.retranslate()

    # --- setters -----------------------------------------------------------------------------
    def set_rows(self, rows: list[InterphoneRow]) -> bool:
        """Show exactly ``rows`` (added, updated in place, or removed by id); False when
        they were shown already. Only the rows that changed are filled in again, and only
        their sections sorted again: a list of a thousand contacts is set again at each
        change of one (a presence, a member count)."""
        wanted = {row.id: row for row in rows}
        changed = False
        for gone in set(self._items) - set(wanted):
            changed = True
            item = self._items.pop(gone)
            if item.isSelected():  # nothing selected, rather than the row Qt moves to
                self.tree.setCurrentIndex(QModelIndex())
                self.tree.clearSelection()
            parent = item.parent()
            if parent is not None:
                parent.removeChild(item)
        for row in rows:
            known = self._items.get(row.id)
            if known is None or known.row is None or known.row.kind is not row.kind:
                if known is not None and (parent := known.parent()) is not None:
                    parent.removeChild(known)
                known = _Item((-1, 0, ""))  # (sorted once filled)
                self._sections[row.kind].addChild(known)
                self._items[row.id] = known
            elif known.row == row:
                continue  # (a thousand contacts: a presence change redraws one row, not all)
            self._refill(known, row)
            changed = True
        if not changed:
            return False
        self._sort_when_free()
        self._apply_filter(self.filter.text())
        return True

    def update_rows(self, rows: list[InterphoneRow]) -> bool:
        """Show ``rows`` again, each in place of the row of its id shown already (same
        kind, same name: the filter's matches stay); the other rows are not looked at.
        False when they were shown already. What an event about one interphone changes
        (a join, a member count, a speaker) costs as much with a thousand contacts."""
        changed = False
        for row in rows:
            item = self._items[row.id]
            if item.row == row:
                continue
            self._refill(item, row)
            changed = True
        if not changed:
            return False
        self._sort_when_free()
        return True

    def _refill(self, item: _Item, row: InterphoneRow) -> None:
        """``item`` shows ``row`` now; its section is sorted again if its place changed."""
        key = item.sort_key
        self._fill(item, row)
        if item.sort_key != key:
            self._unsorted.add(row.kind)

    def _sort_when_free(self) -> None:
        """Sort now, or once the pointer left the list and no join holds the order."""
        if self._pointer_inside or self._held:
            self._sort_pending = True
        else:
            self._sort()

    def hold_order(self) -> None:
        """The user joins the selected row: if the user is at the list (the pointer over
        it, or the focus in it), keep the order (the row stays where it is) until the
        pointer leaves the list or the focus leaves it."""
        self._held = self._held or self._pointer_inside or self.tree.hasFocus()

    def order(self) -> list[str]:
        """Row ids in display order (sections in order, rows as shown)."""
        return [row.id for row in self.rows()]

    def rows(self) -> list[InterphoneRow]:
        """The rows in display order."""
        return [child.row if isinstance(child, _Item) and child.row is not None
                else child.data(0, ROW_ROLE)
                for section in self._sections.values() for child in _children(section)]

    def joined_rows(self) -> list[InterphoneRow]:
        """The joined rows in display order (the tray's menu lists them at each change of
        the rows: read without going through a thousand contacts)."""
        rank = {kind: number for number, kind in enumerate(_SECTION_ORDER)}
        joined = sorted((rank[row.kind], self._sections[row.kind].indexOfChild(item), row)
                        for item in self._items.values()
                        if (row := item.row) is not None and row.joined)
        return [row for _, _, row in joined]

    def set_offline(self, offline: bool) -> None:
        """Offline: who speaks and how many are in is unknown; rows say so, greyed."""
        if offline != self._offline:
            self._offline = offline
            for item in self._items.values():
                self._fill(item, item.data(0, ROW_ROLE))

    def set_me(self, uid: str) -> None:
        """Our uid: a row where we speak says "you are speaking", not the uid."""
        self._me = uid
        for item in self._items.values():
            self._describe(item, item.data(0, ROW_ROLE))

    def set_names(self, names: dict[str, str]) -> None:
        """Display names by uid, for the speakers shown in the rows."""
        self._names = dict(names)
        for item in self._items.values():
            self._describe(item, item.data(0, ROW_ROLE))

    def select(self, interphone_id: str) -> None:
        item = self._items.get(interphone_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    def row(self, interphone_id: str) -> InterphoneRow | None:
        item = self._items.get(interphone_id)
        return None if item is None else item.data(0, ROW_ROLE)

    def visible_ids(self) -> list[str]:
        return [key for key, item in self._items.items() if not item.isHidden()]

    def selected_id(self) -> str:
        items = self.tree.selectedItems()
        row = items[0].data(0, ROW_ROLE) if items else None
        return row.id if row is not None else ""

    # --- internals ---------------------------------------------------------------------------
    def _sort(self) -> None:
        """Sort the sections whose rows changed since they were last sorted."""
        self._sort_pending = False
        for kind in self._unsorted:
            self._sections[kind].sortChildren(0, Qt.SortOrder.AscendingOrder)
        self._unsorted.clear()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self.tree.viewport():
            if kind == QEvent.Type.Resize:
                self._place_no_match()
            elif kind == QEvent.Type.Enter:
                self._pointer_inside = True
            elif kind == QEvent.Type.Leave:
                self._pointer_inside = self._held = False
                if self._sort_pending:
                    self._sort()
        elif watched is self.tree and kind == QEvent.Type.FocusOut and self._held:
            self._held = False
            if self._sort_pending and not self._pointer_inside:
                self._sort()
        elif (watched is self.tree and kind == QEvent.Type.KeyPress and self.filter.text()
              and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            self.filter.clear()  # every row back, the one selected still selected, in view
            if (current := self.tree.currentItem()) is not None:
                self.tree.scrollToItem(current)
            return True
        elif watched is self.filter and kind == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            return self._on_filter_key(event.key())
        return False

    def _on_filter_key(self, key: int) -> bool:
        if key == Qt.Key.Key_Escape and self.filter.text():
            self.filter.clear()
            return True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            visible = self._visible_items()
            if not visible:
                return key == Qt.Key.Key_Down
            current = self.tree.currentItem()
            target = current if current in visible else visible[0]
            self.tree.setCurrentItem(target)
            self.tree.setFocus(Qt.FocusReason.TabFocusReason)
            return True
        return False

    def _visible_items(self) -> list[QTreeWidgetItem]:
        return [child for section in self._sections.values() if not section.isHidden()
                for child in _children(section) if not child.isHidden()]

    def _fill(self, item: _Item, row: InterphoneRow) -> None:
        item.sort_key = (0 if row.live else 1, 0 if row.joined else 1, row.name.casefold())
        item.row = row
        # one change told to the view, not one per role: each made it measure the row
        # again (the delegate's sizeHint) and ask for its repaint
        model = self.tree.model()
        blocked = model.blockSignals(True)
        try:
            item.setData(0, ROW_ROLE, row)
            item.setData(0, STALE_ROLE, self._offline)
            item.setText(0, row.name)
            self._describe(item, row)
        finally:
            model.blockSignals(blocked)
        item.emitDataChanged()

    def _describe(self, item: QTreeWidgetItem, row: InterphoneRow) -> None:
        """The second line, the tooltip and the accessible description (they say
        "Muted" when it is). The description starts with the row's kind, which the eye
        takes from the section's heading: a screen reader going down the rows reads no
        heading of the row's (it heard "Ops, Talk target · 3 members", a group or a
        discussion?)."""
        subtitle = self._subtitle(row)
        item.setData(0, SUBTITLE_ROLE, subtitle)
        tip = self._with_detail(row.name, row.id)
        if row.muted:
            tip += "\n" + self.tr("Muted")
        item.setToolTip(0, tip)
        item.setData(0, Qt.ItemDataRole.AccessibleDescriptionRole,
                     f"{self._kind_name(row.kind)} · {subtitle}")

    def _kind_name(self, kind: RowKind) -> str:
        return {RowKind.GROUP: self.tr("Group"), RowKind.DISCUSS: self.tr("Discussion"),
                RowKind.CHAT: self.tr("One-to-one call")}[kind]

    def _subtitle(self, row: InterphoneRow) -> str:
        parts: list[str] = []
        if self._offline:
            return self.tr("Offline") + (" · " + self.tr("Muted") if row.muted else "")
        if row.talk_target:
            parts.append(self.tr("Talk target"))
        elif row.joined:
            parts.append(self.tr("Listening"))
        if row.calling:
            parts.append(self.tr("calling…"))
        if row.muted:
            parts.append(self.tr("Muted"))
        if row.online is not None and not row.live:
            parts.append(self.tr("Online") if row.online else self.tr("Offline"))
        if row.speaker and row.speaker == self._me:
            parts.append(self.tr("you are speaking"))
        elif row.speaker:
            speaker = self._names.get(row.speaker) or row.speaker
            parts.append(self.tr("%1 speaking").replace("%1", speaker))
        if row.live:
            parts.append(member_count_text(row.member_count))
        else:
            parts.append(self.tr("Not active"))
        return " · ".join(parts)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        matches = 0
        for kind, section in self._sections.items():
            shown = 0
            for child in _children(section):
                row: InterphoneRow = child.data(0, ROW_ROLE)
                match = not needle or needle in row.name.casefold() or needle in row.id.casefold()
                if child.isHidden() == match:
                    child.setHidden(not match)
                shown += match
            matches += shown
            section.setHidden(section.childCount() == 0 or (bool(needle) and shown == 0))
            # the count follows the filter: "Groups (2 of 3)" while two of three show
            total = section.childCount()
            count = (self.tr("%1 of %2").replace("%1", str(shown)).replace("%2", str(total))
                     if needle and shown < total else str(total))
            section.setText(0, self._with_detail(self._section_title(kind), count))
        self.no_match.setText(self.tr("No group, discussion or contact matches “%1”")
                              .replace("%1", text.strip()))
        self.no_match.setVisible(bool(needle) and matches == 0)
        self._place_no_match()
        if self.selected_id() != self._announced:  # a row selected while hidden shows again
            self._on_selection()

    def _place_no_match(self) -> None:
        margin = 8
        width = max(self.tree.viewport().width() - 2 * margin, 0)
        self.no_match.setGeometry(margin, margin, width, self.no_match.heightForWidth(width))

    def _with_detail(self, text: str, detail: str) -> str:
        """``text (detail)``, in the language's own brackets."""
        return self.tr("%1 (%2)").replace("%1", text).replace("%2", detail)

    def _section_title(self, kind: RowKind) -> str:
        return {RowKind.GROUP: self.tr("Groups"), RowKind.DISCUSS: self.tr("Discussions"),
                RowKind.CHAT: self.tr("Contacts")}[kind]

    def _on_selection(self) -> None:
        self._announced = self.selected_id()
        self.selected.emit(self._announced)

    def _on_activated(self, item: QTreeWidgetItem, column: int) -> None:
        row = item.data(0, ROW_ROLE)
        if row is not None:
            self.join_requested.emit(row.id)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def focus_filter(self) -> None:
        """Ctrl+F (the platform's Find key): the filter box, its text selected to retype."""
        self.filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter.selectAll()

    def retranslate(self) -> None:
        self.filter.setPlaceholderText(self.tr("Filter by name…"))
        self.filter.setToolTip(self.tr("Filter the list by name (%1)").replace(
            "%1", QKeySequence(QKeySequence.StandardKey.Find).toString(
                QKeySequence.SequenceFormat.NativeText)))
        self.filter.setAccessibleName(self.tr("Filter"))
        self.tree.setAccessibleName(self.tr("Interphones"))
        for item in self._items.values():
            self._describe(item, item.data(0, ROW_ROLE))
        self._apply_filter(self.filter.text())
