"""Shared fixtures of the UI tests (``pytest_plugins = ["test_ui_support"]``; no tests here).

The tests are plain (synchronous) functions: each gets a fresh loop of the kind
the app runs (:class:`app.ui.qt_loop.QtLoop`, qasync's) over the one QApplication of
pytest-qt and runs coroutines on it with :func:`run`, so Qt events and asyncio callbacks
are processed together, as in the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from waiting import free_port, wait_until

from app.client import InterphoneClient
from app.protocol import InterphoneId
from app.server import Directory, InterphoneServer, ServerSettings
from app.ui.audio_link import EngineAudio, open_audio
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter
from app.ui.qt_loop import QtLoop, drain
from app.ui.settings import Settings, TokenStore
from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import SignInFlow

if TYPE_CHECKING:
    from app.ui.runtime import Runtime

T = TypeVar("T")

until = wait_until  # the UI tests' name for the suite's one polling helper
OPS = "group_58"
ROOT = Path(__file__).resolve().parent.parent


def on_a_640x480_screen(tmp_path: Path, script: str) -> Any:
    """What ``script`` (Python, in a process of its own started in the repository) prints as
    JSON on its last line, run with Qt's offscreen platform on one 640x480 screen."""
    return on_a_screen(tmp_path, script, 640, 480)


def on_a_screen(tmp_path: Path, script: str, width: int, height: int) -> Any:
    """What ``script`` prints as JSON on its last line (see :func:`on_a_640x480_screen`),
    on one screen of ``width``×``height``."""
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{
        "name": "small", "x": 0, "y": 0, "width": width, "height": height,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


async def sign_in_submitted(dialog: SignInDialog, flow: SignInFlow, address: str,
                            uid: str = "me", token: str = "secret", *, remember: bool = False,
                            tls: bool | None = None) -> asyncio.Future[Any]:
    """``flow`` running, its dialog filled in as a user would (``tls``: the box ticked or
    not; None: left as it is) and OK clicked: the flow's task, whose result is the
    signed-in client, or None once the dialog is cancelled."""
    task = asyncio.ensure_future(flow.run())
    await until(dialog.isVisible, what="dialog shown")
    dialog.set_values(address, uid, token, remember)
    if tls is not None:
        dialog.tls.setChecked(tls)
    dialog.ok.click()
    return task


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run ``coro`` on the app's loop (Qt events included) with a timeout."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def remembered(settings: Settings, port: int) -> None:
    """``settings`` that sign in with "remember me" to 127.0.0.1:``port``."""
    settings.server_address = f"127.0.0.1:{port}"
    settings.uid, settings.token, settings.remember = "me", "secret", True


def remembered_start(qapp: QApplication, settings: Settings, switcher: LanguageSwitcher,
                     monkeypatch: pytest.MonkeyPatch, *, background: bool = True,
                     tray: Callable[[], bool] = lambda: True) -> tuple[Runtime, int]:
    """A runtime that signs in with "remember me" to a port nothing listens on yet (the
    port: a test may start a server there), on a desktop whose tray is there as ``tray``
    says (Qt's ``isSystemTrayAvailable``; always)."""
    from app.ui.runtime import Options, Runtime

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(tray))
    port = free_port()
    remembered(settings, port)
    return Runtime(qapp, Options(simulate_audio=True, background=background), settings,
                   switcher), port


@contextlib.asynccontextmanager
async def running_app(runtime: Runtime) -> AsyncIterator[Runtime]:
    """``runtime`` run on the loop until it is ready; quit at the end of the block, and then
    its exit code must be 0 (after a failure in the block it is quit only)."""
    main = asyncio.ensure_future(runtime.run())
    try:
        await asyncio.wait_for(runtime.ready.wait(), 10)
        yield runtime
    finally:
        runtime.quit()
    assert await asyncio.wait_for(main, 10) == 0


async def sign_out(runtime: Runtime) -> None:
    """Sign out from the window, until the sign-in dialog shows again."""
    assert runtime.window is not None
    runtime.window.sign_out_action.trigger()
    await until(lambda: runtime.sign_in_dialog is not None
                and runtime.sign_in_dialog.isVisible(), what="sign-in dialog again")


@contextlib.asynccontextmanager
async def signed_in_at_start(qapp: QApplication, settings: Settings,
                             port: int) -> AsyncIterator[Runtime]:
    """The app run with "remember me" to 127.0.0.1:``port``, once it has signed in; at the
    end of the block it is signed out (if it is not yet), its sign-in dialog cancelled, and
    then its exit code must be 0 (after a failure in the block it is quit only)."""
    from app.ui.runtime import Options, Runtime

    remembered(settings, port)
    runtime = Runtime(qapp, Options(simulate_audio=True), settings, LanguageSwitcher(qapp))
    main = asyncio.ensure_future(runtime.run())
    try:
        await asyncio.wait_for(runtime.ready.wait(), 5)
        yield runtime
        if runtime.window is not None:
            await sign_out(runtime)
        assert runtime.sign_in_dialog is not None
        runtime.sign_in_dialog.reject()
    finally:
        if not main.done():
            runtime.quit()
    assert await asyncio.wait_for(main, 5) == 0


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[QtLoop]:
    qapp.setQuitOnLastWindowClosed(False)  # as in the app: closing a window must not stop the loop
    loop = QtLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    drain(loop)
    loop.close()
    asyncio.set_event_loop(None)
    del loop
    # Qt objects left in reference cycles must die here, on the GUI thread: a collection
    # that happens later on an audio thread would destroy them from the wrong thread.
    gc.collect()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings in a temporary file; tokens in a 0600 file beside it (never the user's keyring)."""
    return Settings(QSettings(str(tmp_path / "interphone.ini"), QSettings.Format.IniFormat),
                    TokenStore(tmp_path / "interphone.token", None))


def start_server(loop: asyncio.AbstractEventLoop, *, tls: ssl.SSLContext | None = None,
                 **overrides: Any) -> InterphoneServer:
    """A started server of the demo directory on 127.0.0.1 (open sign-in unless
    ``overrides`` say otherwise; ``tls``: its TLS context)."""
    directory = Directory.demo()
    server_settings = ServerSettings(**{"auth": "open", **overrides})
    server = InterphoneServer(directory, host="127.0.0.1", port=0, settings=server_settings,
                              tls=tls)
    run(loop, server.start())
    return server


@pytest.fixture
def server(qloop: QtLoop) -> Iterator[InterphoneServer]:
    server = start_server(qloop)
    yield server
    run(qloop, server.stop())


def holder(server: InterphoneServer, interphone: str = OPS) -> str:
    """Who holds the floor of ``interphone`` at the server (``""``: nobody)."""
    record = server.state.interphone(InterphoneId.parse(interphone))
    return record.holder if record is not None else ""


@dataclass
class UiSession:
    """A signed-in "me" with the main window, its presenter and simulated audio."""

    window: MainWindow
    presenter: Presenter
    client: InterphoneClient
    audio: EngineAudio
    others: list[InterphoneClient]

    async def other(self, uid: str, join: str | None = OPS,
                    features: tuple[str, ...] = ()) -> InterphoneClient:
        client = InterphoneClient("127.0.0.1", self.client.port, uid, "x", reconnect=False,
                                  features=features)
        self.others.append(client)
        await client.connect()
        if join is not None:
            await client.join(join)
        return client


async def open_session(server: InterphoneServer, settings: Settings,
                       join: str | None = OPS, features: tuple[str, ...] = (),
                       media_addr: tuple[str, int] | None = None) -> UiSession:
    client = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=True,
                              features=features, media_addr=media_addr)
    await client.connect()
    audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
    window = MainWindow()
    presenter = Presenter(window, client, audio, settings)
    window.resize(1000, 700)
    window.show()
    if join is not None:
        await client.join(join)
    return UiSession(window, presenter, client, audio, [])


async def close_session(session: UiSession) -> None:
    await session.presenter.close()
    for other in session.others:
        await other.close()
    await session.client.close()
    session.audio.close()
    session.window.talk_key.detach()
    session.window.close()
    session.window.deleteLater()


@pytest.fixture
def ui(qloop: QtLoop, server: InterphoneServer,
       settings: Settings) -> Iterator[UiSession]:
    session = run(qloop, open_session(server, settings))
    yield session
    run(qloop, close_session(session))
