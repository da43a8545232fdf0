"""The settings dialog: devices (with a rescan), codec, talk key and release delay, tones,
language, the microphone test and a speaker test sound."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.assets import icon
from app.ui.contrast import text_style
from app.ui.global_key_edit import GlobalTalkKeyEdit
from app.ui.i18n import font_covers, language_name
from app.ui.level_meter import LevelMeter
from app.ui.settings import (
    BITRATE_CHOICES,
    FRAME_MS_CHOICES,
    HOLD,
    LANGUAGES,
    RELEASE_DELAY_RANGE_MS,
    TALK_MODES,
    TOGGLE,
)
from app.ui.talk_key_edit import TalkKeyEdit
from app.ui.view_types import DeviceChoice, Preferences
from app.ui.window_geometry import keep_on_screen

MIN_CONTENT_WIDTH = 420


def _select_data(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(max(index, 0))


class SettingsDialog(QDialog):
    """Emits ``applied(Preferences)`` on OK/Apply, ``mic_test_toggled(bool)``,
    ``speaker_test_requested`` and ``refresh_requested`` (rescan the devices)."""

    applied = Signal(object)
    mic_test_toggled = Signal(bool)
    speaker_test_requested = Signal()
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None,
                 has_font: Callable[[str], bool] = font_covers) -> None:
        super().__init__(parent)
        self._has_font = has_font  # whether a language's own name can be shown
        self.setWindowIcon(icon("settings"))
        self.tabs = QTabWidget(self)

        # audio tab
        self.input_device = QComboBox(self)
        self.output_device = QComboBox(self)
        # (Tab follows the order of creation: the fields are made in the order they read)
        self.speaker_test = QPushButton(icon("speaker"), "", self)
        self.speaker_test.clicked.connect(self.speaker_test_requested)
        # it reads "Playing…" while the test sound plays (pressed, it gave no sign of it)
        self._speaker_test_end = QTimer(self)
        self._speaker_test_end.setSingleShot(True)
        self._speaker_test_end.timeout.connect(self.speaker_test_ended)
        self.refresh = QPushButton(self)
        self.refresh.clicked.connect(self.refresh_requested)
        self.speaker_note = QLabel(self)  # why the tests are silent (speaker muted or at 0)
        self.speaker_note.setWordWrap(True)
        self.speaker_note.setStyleSheet(text_style("#c62828", self))
        self.speaker_note.hide()
        self._speaker_silent = ""
        self._simulated = False
        self.device_problem = QLabel(self)
        self.device_problem.setWordWrap(True)
        self.device_problem.setStyleSheet(text_style("#c62828", self))
        self.device_problem.hide()
        # no sound card in use: the lists said "System default" and the tests were silent,
        # with nothing here to say why
        self.simulated_note = QLabel(self)
        self.simulated_note.setWordWrap(True)
        self.simulated_note.setStyleSheet(text_style("#607d8b", self))
        self.simulated_note.hide()
        self.bitrate = QComboBox(self)
        for bitrate in BITRATE_CHOICES:
            self.bitrate.addItem(f"{bitrate // 1000} kbit/s", bitrate)
        self.frame_ms = QComboBox(self)
        for frame_ms in FRAME_MS_CHOICES:
            self.frame_ms.addItem(f"{frame_ms} ms", frame_ms)
        self.tones = QCheckBox(self)
        self.mic_group = QGroupBox(self)
        self.mic_test = QPushButton(icon("mic"), "", self)
        self.mic_test.setCheckable(True)
        self.mic_test.toggled.connect(self._on_mic_test)
        self.mic_meter = LevelMeter(self)
        self.mic_hint = QLabel(self)
        self.mic_hint.setWordWrap(True)
        self.mic_hint.setStyleSheet(text_style("#607d8b", self))
        mic_row = QHBoxLayout()
        mic_row.addWidget(self.mic_test)
        mic_row.addWidget(self.mic_meter, 1)
        mic_layout = QVBoxLayout(self.mic_group)
        mic_layout.addLayout(mic_row)
        mic_layout.addWidget(self.mic_hint)
        self.labels: dict[str, QLabel] = {}
        self._fields: dict[str, QWidget] = {}
        audio = QWidget(self)
        self.audio_form = QFormLayout(audio)
        self._row(self.audio_form, "input", self.input_device)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_device, 1)
        output_row.addWidget(self.speaker_test)
        output_field = QWidget(self)
        output_field.setLayout(output_row)
        output_row.setContentsMargins(0, 0, 0, 0)
        self._row(self.audio_form, "output", output_field)
        self.labels["output"].setBuddy(self.output_device)
        self._fields["output"] = self.output_device
        self.audio_form.addRow(self.speaker_note)
        self.audio_form.addRow(self.refresh)
        self.audio_form.addRow(self.device_problem)
        self.audio_form.addRow(self.simulated_note)
        self._row(self.audio_form, "bitrate", self.bitrate)
        self._row(self.audio_form, "frame", self.frame_ms)
        self.audio_form.addRow(self.tones)
        self.audio_form.addRow(self.mic_group)

        # talking tab
        self.talk_key_problem = QLabel(self)
        self.talk_key_problem.setWordWrap(True)
        self.talk_key_problem.setStyleSheet(text_style("#c62828", self))
        self.talk_key_problem.hide()
        self.talk_mode = QComboBox(self)  # (first: Tab follows the order of creation)
        for mode in TALK_MODES:
            self.talk_mode.addItem("", mode)
        self.talk_mode.currentIndexChanged.connect(lambda _index: self._show_talk_hint())
        self.talk_key = TalkKeyEdit(self)
        self.talk_key.refused.connect(self._on_key_refused)
        self.talk_key.key_changed.connect(lambda _text: self.talk_key_problem.hide())
        self.talk_key.cancelled.connect(self.talk_key_problem.hide)
        self.global_key_problem = QLabel(self)
        self.global_key_problem.setWordWrap(True)
        self.global_key_problem.setStyleSheet(text_style("#c62828", self))
        self.global_key_problem.hide()
        self.global_key = GlobalTalkKeyEdit(self)
        self.global_key.refused.connect(self._on_global_key_refused)
        self.global_key.key_changed.connect(lambda _name: self.global_key_problem.hide())
        self.global_key.cancelled.connect(self.global_key_problem.hide)
        self.release_delay = QSpinBox(self)
        self.release_delay.setRange(*RELEASE_DELAY_RANGE_MS)
        self.release_delay.setSingleStep(50)
        self.global_key_status = QLabel(self)
        self.global_key_status.setWordWrap(True)
        self.global_key_status.setStyleSheet(text_style("#607d8b", self))
        self.global_key_status.hide()  # until told (empty, it left a blank row in the tab)
        self.talk_hint = QLabel(self)
        self.talk_hint.setWordWrap(True)
        self.talk_hint.setStyleSheet(text_style("#607d8b", self))
        talking = QWidget(self)
        self.talk_form = QFormLayout(talking)
        self._row(self.talk_form, "mode", self.talk_mode)
        self._row(self.talk_form, "key", self.talk_key)
        self.talk_form.addRow(self.talk_key_problem)
        self._row(self.talk_form, "global", self.global_key)
        self.talk_form.addRow(self.global_key_problem)
        self.talk_form.addRow(self.global_key_status)
        self._row(self.talk_form, "delay", self.release_delay)
        self.talk_form.addRow(self.talk_hint)

        # interface tab
        self.language = QComboBox(self)
        for language in LANGUAGES:
            self.language.addItem("", language)
        interface = QWidget(self)
        self.interface_form = QFormLayout(interface)
        self._row(self.interface_form, "language", self.language)
        self.language_note = QLabel(self)
        self.language_note.setWordWrap(True)
        self.language_note.setStyleSheet(text_style("#c62828", self))
        self.language_note.hide()
        self.interface_form.addRow(self.language_note)
        self.close_to_tray = QCheckBox(self)
        self.start_at_login = QCheckBox(self)
        self.interface_form.addRow(self.close_to_tray)
        self.tray_note = QLabel(self)
        self.tray_note.setWordWrap(True)
        self.tray_note.setStyleSheet(text_style("#607d8b", self))
        self.tray_note.hide()
        self.interface_form.addRow(self.tray_note)
        self.interface_form.addRow(self.start_at_login)

        # each page scrolls: at a large font (20 pt) its widest line (a check box's, which
        # does not wrap) made the dialog wider than an 800×600 screen, OK and Cancel off it
        self.pages: list[QScrollArea] = []
        for page in (audio, talking, interface):
            scroller = QScrollArea(self)
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            scroller.setWidget(page)
            page.setAutoFillBackground(False)
            scroller.viewport().setAutoFillBackground(False)
            self.pages.append(scroller)
            self.tabs.addTab(scroller, "")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply, self)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        apply_button.clicked.connect(self._apply)
        layout = QVBoxLayout(self)
        # the floor on the width is the layout's (a strut), not the dialog's: an explicit
        # minimum on the dialog kept it from growing to fit longer texts after a live
        # language switch (English after Chinese cut the tray option short)
        layout.addStrut(MIN_CONTENT_WIDTH)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        self.finished.connect(lambda _result: self.mic_test.setChecked(False))
        self.retranslate()

    def _row(self, form: QFormLayout, name: str, field: QWidget) -> None:
        """A labelled row of ``form``, its field named by the label for a screen reader
        too (see :meth:`retranslate`)."""
        label = QLabel(self)
        label.setBuddy(field)
        self.labels[name] = label
        self._fields[name] = field
        form.addRow(label, field)

    # --- setters -----------------------------------------------------------------------------
    def set_devices(self, inputs: list[DeviceChoice], outputs: list[DeviceChoice]) -> None:
        for combo, devices in ((self.input_device, inputs), (self.output_device, outputs)):
            current = combo.currentData()
            combo.clear()
            combo.addItem(self.tr("System default"), "")
            for device in devices:
                combo.addItem(device.label, device.key)
            _select_data(combo, current if current is not None else "")

    def set_preferences(self, prefs: Preferences) -> None:
        _select_data(self.input_device, prefs.input_device)
        _select_data(self.output_device, prefs.output_device)
        _select_data(self.bitrate, prefs.bitrate)
        _select_data(self.frame_ms, prefs.frame_ms)
        self.tones.setChecked(prefs.tones)
        self.talk_key.set_key_text(prefs.talk_key)
        _select_data(self.talk_mode, prefs.talk_mode)
        self.talk_key_problem.hide()
        self.release_delay.setValue(prefs.release_delay_ms)
        _select_data(self.language, prefs.language)
        self.global_key.set_key_name(prefs.global_talk_key)
        self.global_key_problem.hide()
        self.close_to_tray.setChecked(prefs.close_to_tray)
        self.start_at_login.setChecked(prefs.start_at_login)

    def set_global_key_status(self, text: str) -> None:
        """Whether the global talk key works now, or why not ("" hides)."""
        self.global_key_status.setText(text)
        self.global_key_status.setVisible(bool(text))

    def set_tray_available(self, available: bool) -> None:
        """Without a system tray, closing the window quits: the box is off and disabled."""
        self.close_to_tray.setEnabled(available)
        if not available:
            self.close_to_tray.setChecked(False)
        self._show_tray_note()

    def _show_tray_note(self) -> None:
        """Why the tray option is off and greyed out: a line under it."""
        self.tray_note.setText(self.tr("This desktop has no system tray: closing the "
                                       "window quits Interphone."))
        self.tray_note.setVisible(not self.close_to_tray.isEnabled())

    def set_device_problem(self, text: str) -> None:
        """A lost or failing device ("" clears)."""
        self.device_problem.setText(text)
        self.device_problem.setVisible(bool(text))

    def set_simulated(self, simulated: bool) -> None:
        """Whether the audio is simulated (no sound card in use): said under the lists."""
        self._simulated = simulated
        self._show_simulated_note()

    def _show_simulated_note(self) -> None:
        self.simulated_note.setText(self.tr(
            "No sound card is in use: the audio is simulated, so nothing is played or "
            "recorded. Connect one, then refresh the device lists."))
        self.simulated_note.setVisible(self._simulated)

    def speaker_test_playing(self, ms: int) -> None:
        """The test sound plays for ``ms``: the button says so until then."""
        self._speaker_test_end.start(ms)
        self._show_speaker_test()

    def speaker_test_ended(self) -> None:
        """The test sound ended (or could not play): the button reads as before."""
        self._speaker_test_end.stop()
        self._show_speaker_test()

    def speaker_test_failed(self, text: str) -> None:
        """The test sound could not play: ``text`` says why, in red under the lists."""
        self.speaker_test_ended()
        self.set_device_problem(text)

    def _show_speaker_test(self) -> None:
        button = self.speaker_test
        playing = self._speaker_test_end.isActive()
        if not playing:  # (the width of the longer text: the row does not jump)
            button.setText(self.tr("Playing…"))
            width = button.sizeHint().width()
            button.setText(self.tr("&Play a test sound"))
            button.setMinimumWidth(max(width, button.sizeHint().width()))
        else:
            button.setText(self.tr("Playing…"))

    def set_speaker_silent(self, why: str) -> None:
        """The main window's speaker is off, so the test sound and the microphone test are
        silent: ``"muted"``, ``"volume"`` (at 0) or ``""`` (it plays)."""
        self._speaker_silent = why
        self._show_speaker_note()

    def _show_speaker_note(self) -> None:
        texts = {"muted": self.tr("The speaker is muted in the main window: unmute it to hear "
                                  "the test sound and the microphone test."),
                 "volume": self.tr("The speaker volume in the main window is at 0: turn it up "
                                   "to hear the test sound and the microphone test.")}
        self.speaker_note.setText(texts.get(self._speaker_silent, ""))
        self.speaker_note.setVisible(self._speaker_silent in texts)

    def set_language_note(self, text: str) -> None:
        """Why the chosen language is not shown (no font for it); "" clears."""
        self.language_note.setText(text)
        self.language_note.setVisible(bool(text))

    def set_mic_level(self, level: float) -> None:
        self.mic_meter.set_level(level)

    def preferences(self) -> Preferences:
        key = self.talk_key.key_text()
        return Preferences(
            input_device=str(self.input_device.currentData() or ""),
            output_device=str(self.output_device.currentData() or ""),
            bitrate=int(self.bitrate.currentData()),
            frame_ms=int(self.frame_ms.currentData()),
            tones=self.tones.isChecked(),
            talk_key=key or "Space",
            talk_mode=str(self.talk_mode.currentData() or HOLD),
            release_delay_ms=self.release_delay.value(),
            language=str(self.language.currentData()),
            global_talk_key=self.global_key.key_name(),
            close_to_tray=self.close_to_tray.isChecked() or not self.close_to_tray.isEnabled(),
            start_at_login=self.start_at_login.isChecked(),
        )

    # --- internals ---------------------------------------------------------------------------
    def _apply(self) -> None:
        self.applied.emit(self.preferences())

    def _ok(self) -> None:
        self._apply()
        self.accept()

    def _on_mic_test(self, on: bool) -> None:
        self.mic_test.setText(self.tr("Stop the test") if on else self.tr("Test the microphone"))
        if not on:
            self.mic_meter.reset()
        self.mic_test_toggled.emit(on)

    def _on_global_key_refused(self, reason: str) -> None:
        self.global_key_problem.setText(reason)
        self.global_key_problem.show()

    def _on_key_refused(self, reason: str) -> None:
        self.talk_key_problem.setText(reason)
        self.talk_key_problem.show()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_wrapped_texts()

    def _fit_wrapped_texts(self) -> None:
        """As wide as its widest page and tall enough for every wrapped line at that width,
        as far as the screen has room. Qt opens a window at most 2/3 of the screen high (and
        wide), then at least its minimum, which counts a wrapped label as one line: on a
        640×480 screen the microphone test's hint ran over the button above it. At a large
        font the dialog asked for more than the screen (943 pixels wide on an 800×600 one,
        OK and Cancel off it): it is kept on the screen, its pages scrolling."""
        current = self.tabs.currentWidget()
        if not isinstance(current, QScrollArea):
            return
        screen = self.screen()
        room = screen.availableGeometry() if screen is not None else None
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        # (the scroll area's size, not its viewport's: a scroll bar shown while the dialog
        # is still short goes once it is tall enough)
        width = max(self.width(), self.width() - current.width()
                    + max(form.totalMinimumSize().width()
                          for form in (self.audio_form, self.talk_form, self.interface_form)))
        if room is not None:
            width = max(min(width, room.width() - extra_w), self.minimumWidth())
        if width != self.width():
            self.resize(width, self.height())
            layout = self.layout()
            if layout is not None:
                layout.activate()  # (the pages' viewports at the new width)
        # the height its pages need at that width (Qt's first pick went by their size
        # hints, which count no wrapped line: some more, some less)
        chrome = self.height() - current.height()
        heights = [form.totalHeightForWidth(current.width())
                   for form in (self.audio_form, self.talk_form, self.interface_form)]
        needed = chrome + max(heights) if max(heights) > 0 else self.height()
        if room is not None:
            needed = max(min(needed, room.height() - extra_h), self.minimumHeight())
        if needed != self.height():
            self.resize(self.width(), needed)
        keep_on_screen(self)  # grown or clamped: back inside the screen

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Interphone settings"))
        self.tabs.setTabText(0, self.tr("Audio"))
        self.tabs.setTabText(1, self.tr("Talking"))
        self.tabs.setTabText(2, self.tr("Interface"))
        texts = {"input": self.tr("&Microphone:"), "output": self.tr("&Speaker:"),
                 "bitrate": self.tr("Opus &bitrate:"), "frame": self.tr("&Frame duration:"),
                 "key": self.tr("Talk &key:"), "delay": self.tr("&Release delay:"),
                 "mode": self.tr("&Talk:"),
                 "global": self.tr("&Global talk key:"),
                 "language": self.tr("&Language:")}
        for name, label in self.labels.items():
            label.setText(texts[name])
            # what takes the focus is named too: the global key's field sits inside its
            # row's widget, where a screen reader did not find the label
            field = self._fields[name]
            (field.focusProxy() or field).setAccessibleName(
                texts[name].replace("&", "").rstrip(":："))
        if self.input_device.count():
            self.input_device.setItemText(0, self.tr("System default"))
            self.output_device.setItemText(0, self.tr("System default"))
        self.refresh.setText(self.tr("&Refresh the device lists"))
        self.refresh.setToolTip(self.tr("Look again for microphones and speakers, e.g. one "
                                        "plugged in after the app started"))
        self._show_speaker_test()
        self.tones.setText(self.tr("Play &tones (talk permit, busy, end, incoming call)"))
        self.mic_group.setTitle(self.tr("Microphone test"))
        self._on_mic_test_text()
        self.mic_hint.setText(self.tr("While the test runs you hear yourself; speak and watch "
                                      "the meter."))
        self.release_delay.setSuffix(self.tr(" ms"))
        self.close_to_tray.setText(self.tr("&Closing the window keeps Interphone running in "
                                           "the system tray"))
        self.start_at_login.setText(self.tr("&Start Interphone when I log in"))
        self._show_tray_note()
        self._show_speaker_note()
        self._show_simulated_note()
        for index, text in enumerate((self.tr("Hold the key or button to talk"),
                                      self.tr("Press to start talking, press again to stop"))):
            self.talk_mode.setItemText(index, text)
        self._show_talk_hint()
        names = {"system": self.tr("System default"), "en": "English"}
        for index in range(self.language.count()):
            language = str(self.language.itemData(index))
            self.language.setItemText(index, names.get(language)
                                      or language_name(language, self._has_font))

    def _show_talk_hint(self) -> None:
        if self.talk_mode.currentData() == TOGGLE:
            self.talk_hint.setText(self.tr(
                "Press the talk key (or the talk button) once to start talking while the "
                "Interphone window has focus, and again to stop. The talk limit, losing the "
                "floor or hiding the window stops it too."))
        else:
            self.talk_hint.setText(self.tr(
                "Hold the talk key while the Interphone window has focus. The release delay "
                "keeps sending a moment after you let go, so the last syllable is not cut."))

    def _on_mic_test_text(self) -> None:
        self.mic_test.setText(self.tr("Stop the test") if self.mic_test.isChecked()
                              else self.tr("Test the microphone"))
