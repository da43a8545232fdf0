"""The settings dialog's controller: fills it, runs the microphone test, applies changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.hotkey import HotkeyRefused
from app.ui.audio_link import EngineAudio, Tone, tone_ms
from app.ui.failure_text import device_problem_text
from app.ui.global_key import check_global_key
from app.ui.i18n import LanguageSwitcher
from app.ui.settings import Settings
from app.ui.settings_dialog import SettingsDialog
from app.ui.view_types import Preferences

logger = logging.getLogger(__name__)

AUDIO_FIELDS = ("input_device", "output_device", "bitrate", "frame_ms")


def preferences_of(settings: Settings) -> Preferences:
    return Preferences(
        input_device=settings.input_device, output_device=settings.output_device,
        bitrate=settings.bitrate, frame_ms=settings.frame_ms, tones=settings.tones,
        talk_key=settings.talk_key, talk_mode=settings.talk_mode,
        release_delay_ms=settings.release_delay_ms,
        language=settings.language, global_talk_key=settings.global_talk_key,
        close_to_tray=settings.close_to_tray, start_at_login=settings.start_at_login)


def store_preferences(settings: Settings, prefs: Preferences) -> list[str]:
    """Write ``prefs``; returns the names of the fields that changed."""
    changed = []
    for name in Preferences.__slots__:
        value = getattr(prefs, name)
        if getattr(settings, name) != value:
            setattr(settings, name, value)
            changed.append(name)
    settings.sync()
    return changed


def canonical_global_key(name: str) -> str:
    """``name`` as the global key field shows it: ``rctrl`` is ``RightCtrl``, a refused
    name (``CapsLock``) is none, as in the field."""
    try:
        return check_global_key(name) if name.strip() else ""
    except HotkeyRefused:
        return ""


class PreferencesController(QObject):
    """Opens the settings dialog and applies what the user chose.

    ``audio`` returns the current audio (it is replaced when devices or codec
    settings change); ``restart_audio`` is called with no argument then;
    ``set_talk_key`` receives a new talk key.

    ``global_key_for_run`` returns the global talk key the command line set for this run
    while it is in effect (None: the setting's is). The dialog then shows that key, the
    one in effect; a change of it there (another key, or none) is stored as the setting
    and reported as a change of ``global_talk_key`` (so it replaces the command line's at
    once), even when the new key is the setting's already; left as it is, the setting is
    not touched.
    """

    def __init__(self, parent: QWidget, settings: Settings, switcher: LanguageSwitcher,
                 audio: Callable[[], EngineAudio | None], restart_audio: Callable[[], None],
                 set_talk_key: Callable[[str], None],
                 on_changed: Callable[[list[str]], None] | None = None,
                 global_key_for_run: Callable[[], str | None] = lambda: None) -> None:
        super().__init__(parent)
        self._global_key_for_run = global_key_for_run
        self._parent = parent
        self.settings = settings
        self.switcher = switcher
        self._audio = audio
        self._restart_audio = restart_audio
        self._set_talk_key = set_talk_key
        self._on_changed = on_changed  # every apply's changed field names (global key, tray…)
        self.dialog: SettingsDialog | None = None
        self._meter = QTimer(self)
        self._meter.setInterval(50)
        self._meter.timeout.connect(self._show_mic_level)

    def open(self) -> SettingsDialog:
        if self.dialog is None:
            self.dialog = SettingsDialog(self._parent)
            self.dialog.applied.connect(self.apply)
            self.dialog.mic_test_toggled.connect(self._mic_test)
            self.dialog.speaker_test_requested.connect(self.play_test_sound)
            self.dialog.refresh_requested.connect(self.refresh_devices)
        self._list_devices()  # devices plugged in since the last time appear
        prefs = preferences_of(self.settings)
        for_run = self._global_key_for_run()
        if for_run is not None:  # the key in effect, not the setting's
            prefs = replace(prefs, global_talk_key=canonical_global_key(for_run))
        self.dialog.set_preferences(prefs)
        # why the interface is not in the language asked for (a setting or --language)
        self.dialog.set_language_note(self.switcher.note)
        self._show_speaker_silent()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def refresh_devices(self) -> None:
        """Rescan; after a device failure, reopen the audio (it may be back)."""
        audio = self._audio()
        if audio is not None and audio.device_error is not None:
            self._restart_audio()
        self._list_devices()

    def show_device_problem(self, text: str) -> None:
        if self.dialog is not None:
            if text:  # (a test sound that was playing stopped with the device)
                self.dialog.speaker_test_ended()
            self.dialog.set_device_problem(text)

    def _show_speaker_silent(self) -> None:
        """Whether the main window's speaker mute or volume silences the tests (the dialog
        is not modal: they may change while it is open, so each test looks again)."""
        if self.dialog is not None:
            self.dialog.set_speaker_silent("muted" if self.settings.muted
                                           else "volume" if self.settings.volume <= 0 else "")

    def play_test_sound(self) -> None:
        """Play the test sound; the dialog says that it plays, or that it could not."""
        self._show_speaker_silent()
        audio, dialog = self._audio(), self.dialog
        if audio is None:
            if dialog is not None:
                dialog.speaker_test_failed(self.tr("The test sound could not play: no audio "
                                                   "device is open."))
            return
        before = audio.device_error
        audio.play_tone(Tone.INCOMING_CALL)  # (the output starts here: a failure is said at once)
        failure = audio.device_error
        if dialog is None:
            return
        if failure is not None and failure is not before:
            logger.warning("the test sound could not play: %s", failure)
            dialog.speaker_test_failed(self.tr("The test sound could not play: %1")
                                       .replace("%1", device_problem_text(failure)))
        else:
            dialog.speaker_test_playing(tone_ms(Tone.INCOMING_CALL))

    def _list_devices(self) -> None:
        if self.dialog is None:
            return
        audio = self._audio()
        inputs, outputs = audio.devices() if audio is not None else ([], [])
        self.dialog.set_devices(inputs, outputs)
        self.dialog.set_simulated(audio is not None and audio.simulated)
        self._show_device_problem()

    def _show_device_problem(self) -> None:
        """The current audio's failure, in the interface's language ("" while it works)."""
        audio = self._audio()
        if self.dialog is not None:
            self.dialog.set_device_problem(
                device_problem_text(audio.device_error)
                if audio is not None and audio.device_error is not None else "")

    def apply(self, prefs: Preferences) -> None:
        for_run = self._global_key_for_run()
        replaces_run_key = False
        if for_run is not None:
            if prefs.global_talk_key == canonical_global_key(for_run):
                # left as the command line set it: the setting stays as it was
                prefs = replace(prefs, global_talk_key=self.settings.global_talk_key)
            else:
                replaces_run_key = True
        changed = store_preferences(self.settings, prefs)
        if replaces_run_key and "global_talk_key" not in changed:
            changed.append("global_talk_key")
        logger.info("settings changed: %s", ", ".join(changed) or "nothing")
        if "language" in changed:
            self.switcher.apply(prefs.language)
            if self.dialog is not None:
                self.dialog.set_language_note(self.switcher.note)
            self._show_device_problem()  # worded in the new language
        if "talk_key" in changed:
            self._set_talk_key(prefs.talk_key)
        if any(name in changed for name in AUDIO_FIELDS):
            self._restart_audio()
        if changed and self._on_changed is not None:
            self._on_changed(changed)

    def _mic_test(self, on: bool) -> None:
        self._show_speaker_silent()
        audio = self._audio()
        if audio is not None:
            audio.set_monitor(on)
        if on:
            self._meter.start()
        else:
            self._meter.stop()

    def _show_mic_level(self) -> None:
        audio = self._audio()
        if audio is not None and self.dialog is not None:
            self.dialog.set_mic_level(audio.levels()[0])
