"""The strip under the window: input and output level meters, output volume and mute."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from app.ui.assets import icon_on
from app.ui.contrast import window_colour
from app.ui.focus_ring import show_focus_ring
from app.ui.font_scaled import font_scaled
from app.ui.level_meter import LevelMeter

METER_ICON_PX = 18  # the microphone and speaker beside the meters, at the default font
MUTE_ICON_PX = 16  # the mute button's (the style's small icon size)


class AudioBar(QWidget):
    """Meters and output controls; emits ``volume_changed`` (0..100) and ``mute_toggled``."""

    volume_changed = Signal(int)
    mute_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_label = QLabel(self)
        self.input_meter = LevelMeter(self)
        self.output_label = QLabel(self)
        self.output_meter = LevelMeter(self)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setMaximumWidth(160)
        self.volume.setMinimumWidth(70)
        self.volume.valueChanged.connect(self.volume_changed)
        self.mute = QToolButton(self)
        self.mute.setCheckable(True)
        self.mute.setAutoRaise(True)
        self.mute.toggled.connect(self._on_mute)
        show_focus_ring(self.volume, self.mute)  # (the style's focus was faint)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.input_label)
        layout.addWidget(self.input_meter, 2)
        layout.addSpacing(16)
        layout.addWidget(self.output_label)
        layout.addWidget(self.output_meter, 2)
        layout.addSpacing(8)
        layout.addWidget(self.volume, 1)
        layout.addWidget(self.mute)
        self.set_muted(False)
        self._show_icons()
        self.retranslate()

    # --- setters -----------------------------------------------------------------------------
    def set_levels(self, input_level: float, output_level: float) -> None:
        self.input_meter.set_level(input_level)
        self.output_meter.set_level(output_level)

    def reset_levels(self) -> None:
        """Both meters back to silence, peak markers included (the streams stopped: no
        level follows to let a marker decay)."""
        self.input_meter.reset()
        self.output_meter.reset()

    def set_volume(self, percent: int) -> None:
        self.volume.blockSignals(True)
        self.volume.setValue(percent)
        self.volume.blockSignals(False)

    def set_muted(self, muted: bool) -> None:
        self.mute.blockSignals(True)
        self.mute.setChecked(muted)
        self.mute.blockSignals(False)
        self._show_mute(muted)

    # --- internals ---------------------------------------------------------------------------
    def _on_mute(self, muted: bool) -> None:
        self._show_mute(muted)
        self.mute_toggled.emit(muted)

    def _show_mute(self, muted: bool) -> None:
        self.mute.setIcon(icon_on("mute" if muted else "speaker", window_colour(self)))
        self.output_meter.setEnabled(not muted)

    def _show_icons(self) -> None:
        """The icons in colours that read on the window's (a dark theme's too)."""
        background, size = window_colour(self), font_scaled(self, METER_ICON_PX)
        self.input_label.setPixmap(icon_on("mic", background).pixmap(size, size))
        self.output_label.setPixmap(icon_on("speaker", background).pixmap(size, size))
        mute = font_scaled(self, MUTE_ICON_PX)
        self.mute.setIconSize(QSize(mute, mute))
        self._show_mute(self.mute.isChecked())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        elif event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._show_icons()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.input_meter.setToolTip(self.tr("Microphone level"))
        self.input_label.setToolTip(self.tr("Microphone level"))
        self.output_meter.setToolTip(self.tr("Speaker level"))
        self.input_meter.setAccessibleName(self.tr("Microphone level"))
        self.output_meter.setAccessibleName(self.tr("Speaker level"))
        self.output_label.setToolTip(self.tr("Speaker level"))
        self.volume.setToolTip(self.tr("Output volume"))
        self.volume.setAccessibleName(self.tr("Output volume"))
        self.mute.setToolTip(self.tr("Mute the speaker"))
        self.mute.setAccessibleName(self.tr("Mute the speaker"))  # (not "Mute": the
        # interphone's own mute, beside its title, is "Mute <its name>")
