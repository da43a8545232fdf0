"""What the window shows in the tray: the icon for the talk state (with its badges, one of
them for a server that cannot reach its database) and the tooltip that says the same in
words; only a change goes to the tray, and tells the tray's menu (``tray_state_changed``)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, SignalInstance
from PySide6.QtWidgets import QSystemTrayIcon

from app.ui.audio_bar import AudioBar
from app.ui.floor_widgets import EmergencyBanner
from app.ui.tray_icon import tray_icon
from app.ui.view_types import LinkState, TalkState
from app.ui.window_notices import WindowNotices

_TRAY_ICONS = {TalkState.TALKING: "tray-talking", TalkState.BUSY: "tray-busy",
               TalkState.OFFLINE: "tray-offline"}


class WindowTray(WindowNotices):
    """The tray's picture of :class:`~app.ui.main_window.MainWindow` (its base: the state
    below is the window's)."""

    audio_bar: AudioBar
    emergency: EmergencyBanner
    tray_state_changed: SignalInstance
    _talk_state: TalkState
    _link: tuple[LinkState, str]
    _activity: list[tuple[str, str]]
    _tray_shown: tuple[QSystemTrayIcon, int, str] | None

    def link_text(self) -> str:
        raise NotImplementedError

    def show_tray_state(self) -> None:
        """The tray icon and its tooltip from the talk state, the speaker's mute, who
        speaks elsewhere, a call ringing and an emergency raised (the icon shows the states
        apart, the tooltip says them). Only a change goes to the tray: a StatusNotifierItem
        tray host is sent each new icon (all its sizes) and tooltip over D-Bus, and the
        window asks again at each talk, floor and link event."""
        tray = self.tray
        if tray is None:
            return
        muted = self.audio_bar.mute.isChecked()
        state = self._talk_state
        activity = self._activity if state is not TalkState.OFFLINE else []
        caller = self.banner.caller
        # (green "idle" alone said all was well while every press would be refused)
        picture = tray_icon(_TRAY_ICONS.get(state, "tray-idle"), muted=muted,
                            activity=bool(activity), ringing=bool(caller),
                            degraded=self._link[0] is LinkState.DEGRADED)
        lines = [self.windowTitle(), self.link_text()]
        if not self.emergency.isHidden():  # (its alert sounds: the tray says why)
            lines.append(self.emergency.text.text())
        if caller:
            lines.append(QCoreApplication.translate("MainWindow", "%1 is calling you")
                         .replace("%1", caller))
        speaking = QCoreApplication.translate("MainWindow", "%1 is speaking in %2")
        lines += [speaking.replace("%1", speaker).replace("%2", name)
                  for name, speaker in activity]
        if muted:
            lines.append(QCoreApplication.translate("MainWindow", "Speaker muted"))
        tooltip = "\n".join(lines)
        shown = self._tray_shown
        if shown is None or shown[0] is not tray or shown[1] != picture.cacheKey():
            tray.setIcon(picture)
        if shown is None or shown[0] is not tray or shown[2] != tooltip:
            tray.setToolTip(tooltip)
        self._tray_shown = (tray, picture.cacheKey(), tooltip)
        if shown != self._tray_shown:
            self.tray_state_changed.emit()
