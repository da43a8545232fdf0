"""How a row of the interphone list is drawn: its kind icon (with a contact's presence
dot), the talk target's bar, the name and a second line (members, speaker), the live badge
with the member count, a muted glyph, the activity tint and the keyboard focus outline."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.assets import icon, icon_contrast, icon_in
from app.ui.contrast import NON_TEXT_CONTRAST, readable, text_on
from app.ui.view_types import InterphoneRow

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the InterphoneRow of a row item
SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 2  # the translated second line
STALE_ROLE = Qt.ItemDataRole.UserRole + 3  # offline: the live state shown is out of date

ACTIVITY_TINT = QColor(255, 193, 7, 70)
"""The amber over a row where someone speaks in a joined interphone we only listen to."""

# made once: a row is painted at each change of it (a speaker, a count)
_GREY = QColor("#9e9e9e")
_WHITE = QColor("white")
_ONLINE = QColor("#2e7d32")
_SPEAKING = QColor("#c62828")
_TARGET_BAR = QColor("#1565c0")
_LINE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def _over(tint: QColor, background: QColor) -> QColor:
    """``tint`` (translucent) painted over ``background``."""
    alpha = tint.alphaF()
    return QColor.fromRgbF(*(tint_part * alpha + back * (1 - alpha) for tint_part, back in (
        (tint.redF(), background.redF()), (tint.greenF(), background.greenF()),
        (tint.blueF(), background.blueF()))))


KIND_ICON_PX = 24
"""The kind icon's size at an ordinary font (and its least)."""


def kind_icon_size(metrics: QFontMetrics) -> int:
    """The size of a row's kind icon: 24 px, or the font's line height where that is
    more (a large desktop font)."""
    return max(KIND_ICON_PX, metrics.height())


class RowDelegate(QStyledItemDelegate):
    """Two lines per row: the name, then members/speaker; a live badge on the right."""

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        if index.data(ROW_ROLE) is None:
            return QSize(base.width(), max(base.height(), 26))
        return QSize(base.width(), max(44, option.fontMetrics.height() * 2 + 14))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        row: InterphoneRow | None = index.data(ROW_ROLE)
        if row is None:
            super().paint(painter, option, index)
            return
        painter.save()
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                                option.widget)
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        background = option.palette.base().color()
        if row.active and not selected:  # activity in a joined interphone we only listen to
            painter.fillRect(rect, ACTIVITY_TINT)
            background = _over(ACTIVITY_TINT, background)
        stale = bool(index.data(STALE_ROLE))
        text_colour = option.palette.highlightedText().color() if selected \
            else option.palette.text().color()
        # on a selected row where the kind's own colours are under 3:1 on the highlight
        # (a dark theme's: 1.1:1 and 2.3:1, half the group icon gone; the default light
        # highlight's: 1.3:1 to 1.9:1) it is in the highlight's text colour
        faint = selected and icon_contrast(
            row.kind.value, option.palette.highlight().color()) < NON_TEXT_CONTRAST
        kind = icon_in(row.kind.value, text_colour) if faint else icon(row.kind.value)
        # as large as the font's line (24 px beside a large font's 27 px text was small)
        size = kind_icon_size(option.fontMetrics)
        kind_rect = QRect(rect.left() + 4, rect.top() + (rect.height() - size) // 2,
                          size, size)
        kind.paint(painter, kind_rect)
        if row.online is not None and not stale:  # a contact's presence (unknown offline)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(_WHITE)
            painter.setBrush(_ONLINE if row.online else _GREY)
            painter.drawEllipse(QRect(kind_rect.left() + size - 8, kind_rect.top() + size - 8,
                                      10, 10))
        if row.talk_target:  # the talk key talks here: a bar along the left edge
            painter.fillRect(QRect(rect.left(), rect.top() + 4, 3, rect.height() - 8),
                             _TARGET_BAR)
        badge_width = 0
        if row.live:  # as large as the font asks (a large-font desktop: over the name)
            count = str(row.member_count)
            width = max(34, option.fontMetrics.horizontalAdvance(count) + 16)
            height = max(20, option.fontMetrics.height() + 4)
            badge_width = width + 6
            badge = QRect(rect.right() - badge_width, rect.center().y() - height // 2,
                          width, height)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            fill = _GREY if stale else _SPEAKING if row.speaker else _ONLINE
            painter.setBrush(fill)
            painter.drawRoundedRect(badge, 10, 10)
            painter.setPen(text_on(fill))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, count)
        if row.muted:  # a muted-speaker glyph before the badge
            icon("mute").paint(painter, QRect(rect.right() - badge_width - 22,
                                              rect.top() + 14, 16, 16))
            badge_width += 22
        text_left = rect.left() + size + 10
        text_width = rect.width() - size - 14 - badge_width
        name_font = QFont(option.font)
        name_font.setBold(row.live or row.joined)
        painter.setFont(name_font)
        painter.setPen(_GREY if row.muted and not selected else text_colour)
        line = option.fontMetrics.height()
        name_rect = QRect(text_left, rect.top() + 5, text_width, line + 2)
        painter.drawText(name_rect, _LINE,
                         QFontMetrics(name_font).elidedText(  # bold: wider than plain
                             row.name, Qt.TextElideMode.ElideRight, text_width))
        painter.setFont(option.font)
        sub_colour = QColor(text_colour)
        if not selected:  # (on a dark theme's base too, and under the activity tint)
            sub_colour = _GREY if stale else readable(
                _SPEAKING if row.speaker else "#607d8b", background)
        painter.setPen(sub_colour)
        sub_rect = QRect(text_left, rect.top() + 7 + line, text_width, line + 2)
        subtitle = str(index.data(SUBTITLE_ROLE) or "")
        painter.drawText(sub_rect, _LINE,
                         option.fontMetrics.elidedText(subtitle, Qt.TextElideMode.ElideRight,
                                                       text_width))
        if option.state & QStyle.StateFlag.State_HasFocus:  # the list has the keyboard focus:
            # an outline round the current row (the style draws none for this delegate,
            # and a selected row looked the same whether Tab had reached the list or not)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(text_colour if selected else option.palette.highlight().color(),
                                2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.restore()
