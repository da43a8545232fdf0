"""Screenshots of the main window in the demo, the settings as they open and the sign-in
dialog (run under Xvfb):

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/capture_main.py

Writes into docs/screenshots/: the window at 1280×800 and 800×600 while Alice speaks in
Ops (Busy, "Last spoke" giving her previous turn's start and length) and while the user
talks (the countdown ring), the settings dialog as it opens, the sign-in dialog that
cannot reach its server, in English and Simplified Chinese; the window on a dark
desktop theme (the Fusion style on a dark palette) at 1280×800, in English; the
window at a large desktop font (18 pt, the app's style) at 1280×800 while Bob calls, in
English; and the replay list holding the user's own talk ("You") beside Alice's, at
1280×800.

Parts of it can be taken alone, named after the command (all when none is):
``window`` (busy, talking, the settings), ``sign-in``, ``dark``, ``large-font``,
``own-replay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shots import (  # noqa: E402
    chosen_parts,
    in_each_language,
    qt_session,
    running,
    save,
    scratch_settings,
    sign_in_dialog,
    until,
)

from app.demo import DemoTimings  # noqa: E402
from app.ui.font_style import FontScaledStyle  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.runtime import Options  # noqa: E402
from app.ui.view_types import TalkState  # noqa: E402

SIZES = (QSize(1280, 800), QSize(800, 600))
DEFAULT_PORT = 9400  # the sign-in dialog's default (Settings.server_address)


def unreachable() -> str:
    """The default server address if nothing listens there (as on a fresh machine), else
    a free port's."""
    try:
        socket.create_connection(("127.0.0.1", DEFAULT_PORT), timeout=0.5).close()
    except OSError:
        return f"127.0.0.1:{DEFAULT_PORT}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def demo_options(size: QSize) -> Options:
    timings = DemoTimings(alice_every=3.0, carol_every=3.5, bob_calls_after=None)
    return Options(demo=True, simulate_audio=True, size=size, demo_timings=timings)


async def alice_speaking_again(window: MainWindow) -> None:
    """Until Alice speaks in Ops after a turn of hers "Last spoke" tells."""
    button, panel = window.panel.talk_button, window.panel
    await until(lambda: button.state is TalkState.BUSY and panel.last_spoke.text() != ""
                and panel.last_spoke.isVisible(), 30)


async def talking(window: MainWindow) -> None:
    """The user holds the talk button (after a turn of Alice's) until the floor is theirs."""
    button = window.panel.talk_button
    await until(lambda: button.state is TalkState.IDLE and window.panel.last_spoke.text(), 30)
    button.talk_pressed.emit()
    await until(lambda: button.state is TalkState.TALKING, 10)


async def release(window: MainWindow) -> None:
    button = window.panel.talk_button
    button.talk_released.emit()
    await until(lambda: button.state is not TalkState.TALKING, 10)


async def capture(app: QApplication, language: str, folder: Path) -> None:
    for size in SIZES:
        label = f"{size.width()}x{size.height()}"
        options = demo_options(size)
        settings = scratch_settings(folder, f"{language}-{label}")
        async with running(app, language, options, settings) as runtime:
            await asyncio.wait_for(runtime.ready.wait(), 15)
            window = runtime.window
            assert window is not None
            await alice_speaking_again(window)
            await asyncio.sleep(0.6)
            save(window, f"main-busy-{label}-{language}.png")
            await talking(window)
            await asyncio.sleep(2.2)
            save(window, f"main-talking-{label}-{language}.png")
            await release(window)
            if size == SIZES[0] and runtime.preferences is not None:
                dialog = runtime.preferences.open()
                dialog.tabs.setCurrentIndex(0)
                await asyncio.sleep(0.3)
                save(dialog, f"settings-{language}.png")
                dialog.reject()


async def capture_sign_in(app: QApplication, language: str, folder: Path) -> None:
    options = Options(simulate_audio=True, size=SIZES[0])
    async with running(app, language, options,
                       scratch_settings(folder, f"{language}-sign-in")) as runtime:
        dialog = await sign_in_dialog(runtime)
        dialog.set_values(unreachable(), "alice", "pw-alice", False)
        dialog.ok.click()
        await until(lambda: dialog.error.isVisible() and dialog.error.text() != ""
                    and dialog.ok.isEnabled(), 15)
        await asyncio.sleep(0.3)
        save(dialog, f"sign-in-{language}.png")


def dark_palette() -> QPalette:
    """The colours of a dark desktop theme (Breeze Dark's, near enough)."""
    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, colour in ((role.Window, "#202326"), (role.WindowText, "#fcfcfc"),
                         (role.Base, "#141618"), (role.AlternateBase, "#1d1f22"),
                         (role.Text, "#fcfcfc"), (role.Button, "#292c30"),
                         (role.ButtonText, "#fcfcfc"), (role.Highlight, "#3daee9"),
                         (role.HighlightedText, "#fcfcfc"), (role.ToolTipBase, "#292c30"),
                         (role.ToolTipText, "#fcfcfc"), (role.PlaceholderText, "#a1a9b1"),
                         (role.Link, "#1d99f3"), (role.Light, "#40464c"),
                         (role.Midlight, "#33383c"), (role.Mid, "#2a2e32"),
                         (role.Dark, "#101112"), (role.Shadow, "#000000")):
        palette.setColor(name, QColor(colour))
    for name, colour in ((role.WindowText, "#6e7175"), (role.Text, "#6e7175"),
                         (role.ButtonText, "#6e7175")):
        palette.setColor(group.Disabled, name, QColor(colour))
    return palette


@contextlib.contextmanager
def dark(app: QApplication) -> Iterator[None]:
    """The Fusion style on a dark palette (a dark desktop theme) for the ``with``."""
    style, palette = app.style().name(), app.palette()
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    try:
        yield
    finally:
        app.setStyle(style)
        app.setPalette(palette)


async def capture_dark(app: QApplication, language: str, folder: Path) -> None:
    with dark(app):
        async with running(app, language, demo_options(SIZES[0]),
                           scratch_settings(folder, f"{language}-dark")) as runtime:
            await asyncio.wait_for(runtime.ready.wait(), 15)
            window = runtime.window
            assert window is not None
            await alice_speaking_again(window)
            await asyncio.sleep(0.6)
            save(window, f"main-dark-1280x800-{language}.png")


@contextlib.contextmanager
def large_font(app: QApplication) -> Iterator[None]:
    """An 18-point desktop font and the app's own style (as ``interphone`` sets it)."""
    style, font = app.style().name(), app.font()
    app.setStyle(FontScaledStyle())
    large = QFont(font)
    large.setPointSize(18)
    app.setFont(large)
    try:
        yield
    finally:
        app.setFont(font)
        app.setStyle(style)


async def capture_large_font(app: QApplication, language: str, folder: Path) -> None:
    timings = DemoTimings(alice_every=3.0, carol_every=3.5, bob_calls_after=None,
                          bob_calls_at=8.0)
    options = Options(demo=True, simulate_audio=True, size=SIZES[0], demo_timings=timings)
    with large_font(app):
        async with running(app, language, options,
                           scratch_settings(folder, f"{language}-large")) as runtime:
            await asyncio.wait_for(runtime.ready.wait(), 15)
            window = runtime.window
            assert window is not None
            await until(lambda: window.banner.isVisible()
                        and window.panel.replay.list.count() >= 2, 30)
            await alice_speaking_again(window)
            await asyncio.sleep(0.6)
            save(window, f"main-large-font-1280x800-{language}.png")


async def capture_own_replay(app: QApplication, language: str, folder: Path) -> None:
    """The user talks 2 s: the replay list shows it as "You", under Echo's playing it back."""
    options = demo_options(SIZES[0])
    async with running(app, language, options,
                       scratch_settings(folder, f"{language}-own-replay")) as runtime:
        await asyncio.wait_for(runtime.ready.wait(), 15)
        window = runtime.window
        assert window is not None
        await talking(window)
        await asyncio.sleep(2.0)
        await release(window)
        replay = window.panel.replay
        # the demo's Echo plays it back at once: its entry, above ours, complete too
        await until(lambda: len(items := replay.items()) >= 2 and items[1].own
                    and not items[0].own and not items[0].receiving, 20)
        await asyncio.sleep(0.6)
        save(window, f"main-own-replay-1280x800-{language}.png")


def main() -> int:
    parts = chosen_parts(__doc__, ("window", "sign-in", "dark", "large-font", "own-replay"))
    with qt_session() as (app, loop, folder):
        if "window" in parts:
            in_each_language(loop, lambda language: capture(app, language, folder))
        if "sign-in" in parts:
            in_each_language(loop, lambda language: capture_sign_in(app, language, folder))
        if "dark" in parts:
            loop.run_until_complete(capture_dark(app, "en", folder))
        if "large-font" in parts:
            loop.run_until_complete(capture_large_font(app, "en", folder))
        if "own-replay" in parts:
            in_each_language(loop, lambda language: capture_own_replay(app, language, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
