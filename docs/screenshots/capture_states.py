"""Screenshots of the states added for issue 14 (run under Xvfb, or offscreen):

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/capture_states.py

Writes into docs/screenshots/: the busy press refused, the Reconnect offer after
"signed in elsewhere" with stale state greyed, the settings (talk key field,
test sound, refresh), the About box and a 640×480 window, in English and
Simplified Chinese.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QListWidget, QMessageBox

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

from app.client import InterphoneClient  # noqa: E402
from app.demo import DEMO_TOKEN, DemoTimings  # noqa: E402
from app.ui.runtime import Options  # noqa: E402
from app.ui.view_types import TalkState  # noqa: E402


def rows_fit(rows: QListWidget) -> bool:
    """Every row of ``rows`` (the replay list) within its width again after a resize."""
    width = rows.viewport().width()
    return all((row := rows.itemWidget(rows.item(index))) is None or row.width() <= width
               for index in range(rows.count()))


async def capture(app: QApplication, language: str, folder: Path) -> None:
    timings = DemoTimings(alice_every=2.5, carol_every=3.0, bob_calls_after=None)
    options = Options(demo=True, simulate_audio=True, size=QSize(1280, 800),
                      demo_timings=timings)
    async with running(app, language, options, scratch_settings(folder, language)) as runtime:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window = runtime.window
        assert window is not None
        button = window.panel.talk_button
        # (Alice's second turn: "Last spoke" tells her first)
        await until(lambda: button.state is TalkState.BUSY
                    and window.panel.last_spoke.text() != "", 30)
        await asyncio.sleep(0.3)
        button.show_refused()
        save(window, f"main-busy-refused-1280x800-{language}.png")
        dialog = runtime.preferences.open() if runtime.preferences else None
        if dialog is not None:
            dialog.tabs.setCurrentIndex(0)
            await asyncio.sleep(0.2)
            save(dialog, f"settings-audio-{language}.png")
            dialog.tabs.setCurrentIndex(1)
            dialog.talk_key.set_key_text("RightCtrl")
            await asyncio.sleep(0.2)
            save(dialog, f"settings-talk-key-{language}.png")
            dialog.reject()
        box = window.show_about()
        await asyncio.sleep(0.2)
        save(box, f"about-{language}.png")
        box.done(QMessageBox.StandardButton.Close)
        window.resize(640, 480)
        await until(lambda: rows_fit(window.panel.replay.list), 5)  # (they follow later)
        await asyncio.sleep(0.3)
        save(window, f"main-640x480-{language}.png")
        window.resize(1280, 800)
        assert runtime.world is not None
        elsewhere = InterphoneClient("127.0.0.1", runtime.world.port, "me", DEMO_TOKEN,
                                     reconnect=False)
        await elsewhere.connect()
        await until(lambda: window.reconnect_button.isVisible())
        window.join_requested.emit("discuss_12")
        await asyncio.sleep(0.3)
        save(window, f"main-signed-in-elsewhere-1280x800-{language}.png")
        await elsewhere.close()


def main() -> int:
    with qt_session() as (app, loop, folder):
        in_each_language(loop, lambda language: capture(app, language, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
