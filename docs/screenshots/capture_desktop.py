"""Screenshots of the background states (issue 14 items 1 and 2), run under Xvfb:

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/capture_desktop.py

Xvfb has no system tray, so the tray is shown as this app draws it: the icon of each
state (idle, talking, receiving, offline, and idle with the warning badge of a server
that cannot reach its database) on a panel-coloured strip at 22 and 48 px,
and the tray menu itself (a real QMenu grab, texts as the app fills them). Also: the
status bar with "Global talk key: Right Ctrl" (the X11 grab is real under Xvfb), and
the settings' Talking and Interface tabs with the new fields, and both again with the key
given by --global-talk-key (said to be for this run), in English and Chinese.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shots import (  # noqa: E402
    in_each_language,
    qt_session,
    running,
    save,
    scratch_settings,
    until,
)

from app.demo import DemoTimings  # noqa: E402
from app.ui.runtime import Options  # noqa: E402
from app.ui.view_types import LinkState, TalkState  # noqa: E402

STATES = ((TalkState.IDLE, LinkState.CONNECTED, "idle"),
          (TalkState.TALKING, LinkState.CONNECTED, "talking"),
          (TalkState.BUSY, LinkState.CONNECTED, "receiving"),
          (TalkState.OFFLINE, LinkState.OFFLINE, "offline"),
          # signed in, the server's database out of reach: idle with the warning badge
          (TalkState.IDLE, LinkState.DEGRADED, "database unreachable"))




def grab(widget: QWidget, name: str) -> None:
    save(widget.grab(), name)


def tray_states(current_icon) -> QPixmap:  # type: ignore[no-untyped-def]
    """The states side by side, as a dark panel shows them, with the real icon the main
    window set for each state and link (``current_icon(state, link)``)."""
    width, height = len(STATES) * 150, 140
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor("#ffffff"))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setPointSize(10)
    painter.setFont(font)
    for index, (state, link, label) in enumerate(STATES):
        x = index * 150
        painter.fillRect(x + 10, 10, 130, 34, QColor("#2b2b2b"))  # a panel
        tray_icon = current_icon(state, link)
        painter.drawPixmap(x + 20, 16, tray_icon.pixmap(22, 22))
        painter.drawPixmap(x + 51, 50, tray_icon.pixmap(48, 48))
        painter.setPen(QColor("#202020"))
        painter.drawText(x + 5, 100, 140, 36, Qt.AlignmentFlag.AlignHCenter
                         | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, label)
    painter.end()
    return pixmap


async def capture(app: QApplication, language: str, folder: Path) -> None:
    settings = scratch_settings(folder, language)
    settings.global_talk_key = "RightCtrl"
    timings = DemoTimings(alice_every=30.0, carol_every=30.0, bob_calls_after=None)
    options = Options(demo=True, simulate_audio=True, size=QSize(1000, 640),
                      demo_timings=timings)
    async with running(app, language, options, settings) as runtime:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window, tray = runtime.window, runtime.tray
        await until(lambda: runtime.global_key.status != "")
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        await asyncio.sleep(0.5)
        suffix = "en" if language == "en" else "zh_CN"
        grab(window, f"main-global-key-{suffix}.png")

        def icon_for(state: TalkState, link: LinkState):  # type: ignore[no-untyped-def]
            window.set_link(link)
            window.set_talk_state(state)
            return tray.icon.icon()

        if language == "en":
            save(tray_states(icon_for), "tray-states.png")
        window.set_link(LinkState.CONNECTED)
        window.set_talk_state(TalkState.IDLE)
        tray.refresh()
        tray.menu.adjustSize()
        grab(tray.menu, f"tray-menu-{suffix}.png")
        dialog = runtime.preferences.open()
        runtime._open_settings()
        dialog.tabs.setCurrentIndex(1)
        dialog.adjustSize()
        await asyncio.sleep(0.3)
        grab(dialog, f"settings-global-key-{suffix}.png")
        dialog.global_key.offer("CapsLock")
        await asyncio.sleep(0.1)
        grab(dialog, f"settings-global-key-refused-{suffix}.png")
        dialog.tabs.setCurrentIndex(2)
        await asyncio.sleep(0.2)
        grab(dialog, f"settings-background-{suffix}.png")
        dialog.reject()


async def capture_command_line(app: QApplication, language: str, folder: Path) -> None:
    """``--global-talk-key RightCtrl`` (no key saved): the status bar and the Talking tab
    say the key is for this run, from the command line."""
    timings = DemoTimings(alice_every=30.0, carol_every=30.0, bob_calls_after=None)
    options = Options(demo=True, simulate_audio=True, size=QSize(1000, 640),
                      demo_timings=timings, global_talk_key="RightCtrl")
    settings = scratch_settings(folder, f"{language}-command-line")
    async with running(app, language, options, settings) as runtime:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window = runtime.window
        await until(lambda: runtime.global_key.status != "")
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        await asyncio.sleep(0.5)
        grab(window, f"main-global-key-command-line-{language}.png")
        dialog = runtime.preferences.open()
        runtime._open_settings()
        dialog.tabs.setCurrentIndex(1)
        dialog.adjustSize()
        await asyncio.sleep(0.3)
        grab(dialog, f"settings-global-key-command-line-{language}.png")
        dialog.reject()


def main() -> int:
    with qt_session() as (app, loop, folder):
        in_each_language(loop, lambda language: capture(app, language, folder))
        in_each_language(loop, lambda language: capture_command_line(app, language, folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
