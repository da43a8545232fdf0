"""Command line, Qt platform choice, the QApplication and the asyncio loop (``qt_loop``).

``interphone``            sign in to a server
``interphone --demo``     loopback demo: embedded server, bots, no sign-in
``interphone --version``  print the version
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from app import __version__

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interphone",
                                     description="Interphone push-to-talk desktop app.")
    parser.add_argument("--demo", action="store_true",
                        help="run the loopback demo: embedded server and bot members")
    parser.add_argument("--quit-after", type=_seconds, metavar="SECONDS",
                        help="quit after this many seconds (tests, screenshots)")
    parser.add_argument("--screenshot", type=Path, metavar="PATH",
                        help="save a PNG of the window shown (the main window, or the "
                             "sign-in) just before quitting (quits after 4 s unless "
                             "--quit-after is given)")
    parser.add_argument("--size", metavar="WxH", help="window size, e.g. 1280x800")
    parser.add_argument("--language", choices=("system", "en", "zh_CN"),
                        help="interface language for this run (default: the setting)")
    parser.add_argument("--simulated-audio", action="store_true",
                        help="use the virtual (clocked) audio device even if there is a sound card")
    parser.add_argument("--settings", type=Path, metavar="INI",
                        help="keep settings in this INI file instead of the user's settings")
    parser.add_argument("--global-talk-key", metavar="KEY",
                        help="for this run, hold KEY to talk while another program has the "
                             "focus (e.g. RightCtrl, F9, Mouse4; \"\" for none)")
    parser.add_argument("--background", action="store_true",
                        help="start in the system tray without showing the window "
                             "(used by start at login)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _seconds(text: str) -> float:
    """``--quit-after``: a number of seconds, 0 or more (Qt took -1 as "at once")."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds >= 0:  # (NaN too)
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, not {text}")
    return seconds


def parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (int(width) and int(height)):
        raise argparse.ArgumentTypeError(f"bad size {text!r}, expected WxH")
    return int(width), int(height)


def choose_platform(environ: dict[str, str] | os._Environ[str] = os.environ,
                    platform: str = sys.platform) -> str | None:
    """"offscreen" when Linux has no display to show a window on (and none was asked for)."""
    if platform.startswith("linux") and not environ.get("QT_QPA_PLATFORM") \
            and not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return "offscreen"
    return None


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        size = parse_size(args.size)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    platform = choose_platform()
    if platform is not None:
        if not args.demo and args.quit_after is None and args.screenshot is None:
            print("interphone: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), "
                  "so the sign-in window cannot be shown. Run it in a desktop session, or try "
                  "the loopback demo: interphone --demo --screenshot demo.png", file=sys.stderr)
            return 2
        print("interphone: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set); "
              "running with Qt's offscreen platform, so no window will be visible. "
              "Use --screenshot PATH to see it, or run it in a desktop session.",
              file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = platform

    from PySide6.QtCore import QSettings, QSize
    from PySide6.QtWidgets import QApplication

    from app.ui.assets import icon
    from app.ui.font_style import FontScaledStyle
    from app.ui.gui_thread_gc import GuiThreadCollector
    from app.ui.i18n import LanguageSwitcher
    from app.ui.qt_loop import QtLoop, drain
    from app.ui.runtime import Options, Runtime
    from app.ui.settings import Settings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Interphone")
    app.setOrganizationName("Interphone")
    app.setDesktopFileName("interphone")
    app.setWindowIcon(icon("app"))
    app.setQuitOnLastWindowClosed(False)
    app.setStyle(FontScaledStyle())  # (the desktop's style, its indicators at the font's size)
    store = QSettings(str(args.settings), QSettings.Format.IniFormat) if args.settings else None
    settings = Settings(store)
    switcher = LanguageSwitcher(app)
    switcher.apply(args.language or settings.language)
    quit_after = args.quit_after
    if args.screenshot is not None and quit_after is None:
        quit_after = 4.0
    options = Options(demo=args.demo, quit_after=quit_after, screenshot=args.screenshot,
                      size=QSize(*size) if size else None, simulate_audio=args.simulated_audio,
                      global_talk_key=args.global_talk_key, background=args.background,
                      settings_file=args.settings)

    collector = GuiThreadCollector(app)
    collector.start()
    loop = QtLoop(app)
    asyncio.set_event_loop(loop)
    runtime = Runtime(app, options, settings, switcher)
    # Ctrl-C, and SIGTERM (the session manager at logout, `kill`), quit as Quit does: the
    # window's geometry and the settings are written, the interphones left
    ending = (signal.SIGINT, signal.SIGTERM)
    for number in ending:
        signal.signal(number, lambda *_: loop.call_soon_threadsafe(runtime.quit))
    try:
        return loop.run_until_complete(runtime.run())
    finally:
        for number in ending:
            signal.signal(number, signal.SIG_DFL)
        drain(loop)
        loop.close()
        asyncio.set_event_loop(None)
        collector.stop()
