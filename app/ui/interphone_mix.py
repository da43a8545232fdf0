"""Controls of one joined interphone in the panel: make it the talk target, its volume, mute.

A client joined to several interphones (a radio's scan list) hears all of them
mixed; these set how loud the selected one is, or silence it, and move the
talk target there. The view emits intents only; the presenter applies them.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QToolButton, QWidget

from app.ui.assets import icon
from app.ui.focus_ring import show_focus_ring
from app.ui.view_types import InterphoneRow

MAX_PERCENT = 150


def parse_mix(text: str) -> tuple[dict[str, int], set[str]]:
    """The stored per-interphone volumes and mutes (``settings.interphone_mix``):
    ``id=percent,muted`` entries separated by ``;`` (muted ``1`` or ``0``); entries that
    do not read are skipped."""
    volumes: dict[str, int] = {}
    muted: set[str] = set()
    for entry in text.split(";"):
        interphone, _, value = entry.partition("=")
        percent, _, mute = value.partition(",")
        if not interphone or not percent.isdigit():
            continue
        volumes[interphone] = min(MAX_PERCENT, int(percent))
        if mute == "1":
            muted.add(interphone)
    return volumes, muted


def format_mix(volumes: dict[str, int], muted: set[str]) -> str:
    """The inverse of :func:`parse_mix` (interphones at 100 % and not muted are left out)."""
    entries = [f"{i}={volumes.get(i, 100)},{int(i in muted)}"
               for i in sorted(set(volumes) | muted)
               if volumes.get(i, 100) != 100 or i in muted]
    return ";".join(entries)


class InterphoneMixControls(QWidget):
    """Emits ``talk_here_requested(id)``, ``volume_changed(id, percent)`` and
    ``mute_toggled(id, muted)`` for the interphone shown (see :meth:`set_row`)."""

    talk_here_requested = Signal(str)
    volume_changed = Signal(str, int)
    mute_toggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: InterphoneRow | None = None
        self.talk_here = QPushButton(self)
        self.talk_here.setIcon(icon("join"))
        self.talk_here.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.talk_here.clicked.connect(self._on_talk_here)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, MAX_PERCENT)
        self.volume.setValue(100)
        self.volume.setFixedWidth(110)
        self.volume.valueChanged.connect(self._on_volume)
        self.mute = QToolButton(self)
        self.mute.setCheckable(True)
        self.mute.toggled.connect(self._on_mute)
        show_focus_ring(self.volume, self.mute)  # (the style's focus was faint)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.talk_here)
        layout.addWidget(self.volume)
        layout.addWidget(self.mute)
        self.retranslate()
        self.setVisible(False)

    def set_row(self, row: InterphoneRow | None, percent: int = 100,
                muted: bool = False) -> None:
        """Show the controls of ``row`` when it is joined (hidden otherwise)."""
        self._row = row
        joined = row is not None and row.joined
        self.setVisible(joined)
        if not joined:
            return
        assert row is not None
        self.talk_here.setVisible(not row.talk_target)
        for widget, value in ((self.volume, percent), (self.mute, muted)):
            widget.blockSignals(True)
            if isinstance(widget, QSlider):
                widget.setValue(int(value))
            else:
                widget.setChecked(bool(value))
            widget.blockSignals(False)
        self._show_mute()
        self._show_volume()

    def _show_volume(self) -> None:
        """The slider shows no number: its tooltip says the level (100 % is as sent)."""
        self.volume.setToolTip(self.tr("Volume of this interphone: %1 %").replace(
            "%1", str(self.volume.value())))

    def _on_talk_here(self) -> None:
        if self._row is not None:
            self.talk_here_requested.emit(self._row.id)

    def _on_volume(self, percent: int) -> None:
        self._show_volume()
        if self._row is not None:
            self.volume_changed.emit(self._row.id, percent)

    def _on_mute(self, muted: bool) -> None:
        self._show_mute()
        if self._row is not None:
            self.mute_toggled.emit(self._row.id, muted)

    def _show_mute(self) -> None:
        muted = self.mute.isChecked()
        texts = (self.tr("Mute"), self.tr("Unmute"))
        # as wide as its wider text: toggling it never moves the controls around it
        self.mute.setMinimumWidth(0)
        widths = []
        for text in texts:
            self.mute.setText(text)
            widths.append(self.mute.sizeHint().width())
        self.mute.setMinimumWidth(max(widths))
        self.mute.setText(texts[1] if muted else texts[0])
        # its name says which interphone (the speaker's mute, in the audio bar, is "Mute"
        # too on a screen reader's list of buttons), and, as its face does, what it does
        name = self._row.name if self._row is not None else ""
        self.mute.setAccessibleName(
            (self.tr("Unmute %1") if muted else self.tr("Mute %1")).replace("%1", name)
            if name else self.mute.text())
        self.volume.setEnabled(not muted)

    def widest_width(self) -> int:
        """The width these controls take with every one of them shown (Talk here too)."""
        layout = self.layout()
        spacing = max(layout.spacing(), 0) if layout is not None else 0
        return sum(max(widget.sizeHint().width(), widget.minimumWidth())
                   for widget in (self.talk_here, self.volume, self.mute)) + 2 * spacing

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.talk_here.setText(self.tr("Talk here"))
        self.talk_here.setToolTip(self.tr("Make this the interphone the talk key talks into"))
        self.volume.setAccessibleName(self.tr("Volume of this interphone"))
        self._show_volume()
        self.mute.setToolTip(self.tr("Silence this interphone (stay joined)"))
        self._show_mute()
