"""Screenshots of several joined interphones and of a ringing call (issue 14, items 3 and 5):

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/capture_multi.py

Writes into docs/screenshots/: the demo window joined to Ops (the talk target,
blue bar) and Night shift (listened to, highlighted while Carol speaks there),
with the selected row's Talk here / volume / mute controls, and the banner of
an incoming call (extension presence), in English and Simplified Chinese.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shots import save, scratch_settings, until  # noqa: E402

from app.demo import DemoTimings  # noqa: E402
from app.ui.i18n import LanguageSwitcher  # noqa: E402
from app.ui.runtime import Options, Runtime  # noqa: E402

NIGHT = "discuss_12"




async def capture(app: QApplication, language: str, folder: Path) -> None:
    switcher = LanguageSwitcher(app)
    switcher.apply(language)
    settings = scratch_settings(folder, language)
    timings = DemoTimings(alice_every=4.0, carol_every=2.0, bob_calls_after=6.0)
    runtime = Runtime(app, Options(demo=True, simulate_audio=True, size=QSize(1280, 800),
                                   demo_timings=timings), settings, switcher)
    main = asyncio.ensure_future(runtime.run())
    try:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window, client = runtime.window, runtime.client
        assert window is not None and client is not None
        await client.join(NIGHT, target=False)
        rows = window.interphones
        rows.select(NIGHT)
        window.panel.mix.volume.setValue(70)
        await until(lambda: (row := rows.row(NIGHT)) is not None and row.active, 15.0)
        await asyncio.sleep(0.3)
        save(window, f"main-scan-list-1280x800-{language}.png")
        await until(lambda: window.banner.isVisible(), 20)
        await asyncio.sleep(0.2)
        save(window, f"main-incoming-call-1280x800-{language}.png")
    finally:
        runtime.quit()
        await asyncio.wait_for(main, 15)
        switcher.apply("en")


def main() -> int:
    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder, loop:
        for language in ("en", "zh_CN"):
            loop.run_until_complete(capture(app, language, Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
