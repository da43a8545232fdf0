"""``--quit-after`` and ``--screenshot`` end the app whatever it shows, the sign-in too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from test_ui_support import run, start_server

from app.ui.i18n import LanguageSwitcher
from app.ui.runtime import Options, Runtime

pytest_plugins = ["test_ui_support"]

ROOT = Path(__file__).resolve().parent.parent


def test_quit_after_ends_the_sign_in_and_the_screenshot_shows_it(tmp_path) -> None:
    """Not signed in (nothing remembered), ``interphone --screenshot PATH`` (or
    ``--quit-after``) waited in the sign-in dialog for ever: the timer only started with
    the main window. Without a display it ran offscreen, where nobody could sign in."""
    shot = tmp_path / "sign-in.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # no display at all: the app picks offscreen itself
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app", "--quit-after", "1", "--screenshot", str(shot),
         "--simulated-audio", "--language", "en", "--settings", str(tmp_path / "s.ini")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 20
    assert shot.exists() and shot.stat().st_size > 2_000


@pytest.mark.timeout(30)
def test_quit_while_a_remembered_sign_in_connects_quits_once_it_has(qloop, qapp, settings,
                                                                    tmp_path) -> None:
    """Quit (the --quit-after timer) while "remember me" is still connecting: the session
    that then starts ends at once instead of waiting for a Quit that was already asked."""
    server = start_server(qloop)
    settings.server_address = f"127.0.0.1:{server.port}"
    settings.uid = "alice"
    settings.remember = True
    settings.token = "pw-alice"
    runtime = Runtime(qapp, Options(simulate_audio=True), settings, LanguageSwitcher(qapp))

    async def scenario() -> int:
        QTimer.singleShot(0, runtime.quit)  # before the connection is up
        return await asyncio.wait_for(runtime.run(), 15)

    try:
        assert run(qloop, scenario(), timeout=20) == 0
    finally:
        run(qloop, server.stop())


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_termination_signal_ends_the_app_as_quit_does(tmp_path, signal_name: str) -> None:
    """Logging out (the session manager sends SIGTERM) killed the app on the spot: the
    window's size and place and the session's last settings were never written, so each
    login started with the first-run window again. SIGTERM now quits as Quit (and Ctrl-C)
    do."""
    import signal

    ini = tmp_path / "s.ini"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen(
        [sys.executable, "-m", "app", "--demo", "--simulated-audio", "--language", "en",
         "--settings", str(ini), "-v"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stderr is not None
        for line in app.stderr:  # until the window is up and settled
            if "objects frozen out of later full collections" in line:
                break
        app.send_signal(getattr(signal, signal_name))
        _rest, _ = app.communicate(timeout=20)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0
    assert "geometry=" in ini.read_text()
