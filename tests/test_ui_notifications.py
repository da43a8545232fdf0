"""The tray's messages through a real notification daemon (dunst) on a private session bus
(dbus-daemon) and a virtual X server: what a user sees and clicks. The set-up installs
both (scripts/dev.sh); skipped where either is missing (tests/test_ui_tray.py covers the
messages through the tray and the fallback without a daemon)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ui_support import UiSession, run, until
from test_ui_tray import EVERYONE, RecordingTray, joined_everyone_too

from app.ui.desktop_notifications import CALL_TIMEOUT_S, DesktopNotifications

pytest_plugins = ["test_ui_support", "test_ui_tray"]

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    from tests.xvfb_fixtures import run_xvfb

    yield from run_xvfb()


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    """A session bus of its own, with no service to start on demand (no daemon but ours)."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian package dbus-daemon)")
    config = tmp_path / "bus.conf"
    socket = tmp_path / "bus"
    config.write_text(BUS_CONFIG.format(socket=socket))
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert daemon.poll() is None and time.monotonic() < deadline, "no bus"
            time.sleep(0.02)
        yield f"unix:path={socket}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class Dunst:
    """dunst on ``bus``, showing on ``display``; ``ctl`` runs dunstctl against it."""

    def __init__(self, bus: str, display: str) -> None:
        self.env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus, "DISPLAY": display}
        self.process = subprocess.Popen(["dunst"], env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.ctl("count", "displayed") is None:
            assert self.process.poll() is None and time.monotonic() < deadline, "no dunst"
            time.sleep(0.05)

    def ctl(self, *args: str) -> str | None:
        done = subprocess.run(["dunstctl", *args], env=self.env, capture_output=True,
                              text=True, timeout=10, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def displayed(self) -> int:
        return int(self.ctl("count", "displayed") or -1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def dunst(session_bus: str, x_display: str) -> Iterator[Dunst]:
    if shutil.which("dunst") is None or shutil.which("dunstctl") is None:
        pytest.skip("dunst is not installed (Debian package dunst)")
    daemon = Dunst(session_bus, x_display)
    yield daemon
    daemon.close()


@pytest.fixture
def notifications(qloop: Any, session_bus: str,
                  dunst: Dunst) -> Iterator[DesktopNotifications]:
    notifier = DesktopNotifications(bus=session_bus)
    assert run(qloop, notifier.start())
    assert notifier.available and notifier.actions
    yield notifier
    run(qloop, notifier.close())


async def displayed(dunst: Dunst, count: int) -> None:
    """Wait until dunst shows ``count`` notifications (dunstctl blocks: short calls)."""
    async def shown() -> bool:
        await asyncio.sleep(0.05)
        return dunst.displayed() == count
    deadline = asyncio.get_running_loop().time() + 5
    while not await shown():
        assert asyncio.get_running_loop().time() < deadline, f"{dunst.displayed()} shown"


def test_a_click_on_the_daemons_message_shows_the_window_on_that_interphone(
        qloop, ui: UiSession, tray: RecordingTray, dunst: Dunst,
        notifications: DesktopNotifications) -> None:
    """Qt's tray sent its messages to the daemon without an action: a click on one only
    closed it. Ours carry the default action; a click shows the window there."""
    window = ui.window
    window.notifications = notifications
    notifications.clicked.connect(tray.on_notification_clicked)
    joined_everyone_too(qloop, ui)
    window.hide()
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    assert tray.messages == []  # through the daemon, not the tray

    async def scenario() -> None:
        await displayed(dunst, 1)
        assert dunst.ctl("action", "0") is not None  # what a click on it does
        await until(window.isVisible, what="the window shown")
        await until(lambda: window.panel.interphone_id == EVERYONE, what="Everyone shown")

    run(qloop, scenario())


def test_the_daemon_shows_one_message_per_interphone_and_call(
        qloop, ui: UiSession, tray: RecordingTray, dunst: Dunst,
        notifications: DesktopNotifications, monkeypatch) -> None:
    import app.ui.window_notices as notices_module

    monkeypatch.setattr(notices_module, "ACTIVITY_QUIET_S", 0.0)  # each turn is news
    window = ui.window
    window.notifications = notifications
    joined_everyone_too(qloop, ui)
    window.hide()

    async def scenario() -> None:
        for speaker in ("Bob", "Carol", "Bob"):
            window.notify_activity(EVERYONE, "Everyone", speaker)
            await asyncio.sleep(0.2)
        await displayed(dunst, 1)  # replaced in place
        window.notify_incoming_call("chat_bob:me", "Bob")
        await displayed(dunst, 2)
        window.clear_incoming_call("chat_bob:me")  # bob gave up: its message goes
        await displayed(dunst, 1)

    run(qloop, scenario())
    assert tray.messages == []


def test_without_a_daemon_on_the_bus_the_tray_says_the_messages(
        qloop, ui: UiSession, tray: RecordingTray, session_bus: str) -> None:
    notifier = DesktopNotifications(bus=session_bus)

    async def start() -> tuple[bool, float]:
        began = asyncio.get_running_loop().time()
        started = await notifier.start()
        return started, asyncio.get_running_loop().time() - began

    started, took = run(qloop, start())
    assert not started and took < CALL_TIMEOUT_S
    window = ui.window
    window.notifications = notifier
    window.hide()
    window.notify_incoming_call("chat_bob:me", "Bob")
    assert tray.messages == [("Incoming call", "Bob is calling you")]
    run(qloop, notifier.close())


def test_a_daemon_that_goes_away_leaves_the_messages_to_the_tray(
        qloop, ui: UiSession, tray: RecordingTray, dunst: Dunst,
        notifications: DesktopNotifications) -> None:
    window = ui.window
    window.notifications = notifications
    window.hide()
    dunst.close()

    async def scenario() -> None:
        window.notify_incoming_call("chat_bob:me", "Bob")  # the daemon's: lost
        await until(lambda: not notifications.available, what="noticed", timeout=5)
        window.clear_incoming_call("chat_bob:me")
        window.notify_incoming_call("chat_bob:me", "Bob")

    run(qloop, scenario())
    assert tray.messages == [("Incoming call", "Bob is calling you")]


def test_a_daemon_that_starts_after_the_app_is_used(
        qloop, ui: UiSession, tray: RecordingTray, session_bus: str, x_display: str) -> None:
    """The desktop's shell (and its notification daemon) comes up after the apps of the
    login, or the daemon is restarted: the tray's messages until it is there, the daemon's
    from then on."""
    if shutil.which("dunst") is None or shutil.which("dunstctl") is None:
        pytest.skip("dunst is not installed (Debian package dunst)")
    notifier = DesktopNotifications(bus=session_bus)
    assert not run(qloop, notifier.start())
    window = ui.window
    window.notifications = notifier
    window.hide()
    window.notify_incoming_call("chat_bob:me", "Bob")
    assert tray.messages == [("Incoming call", "Bob is calling you")]
    window.clear_incoming_call("chat_bob:me")
    daemon = Dunst(session_bus, x_display)
    try:
        run(qloop, until(lambda: notifier.available, what="the daemon noticed", timeout=5))

        async def scenario() -> None:
            window.notify_incoming_call("chat_bob:me", "Bob")
            await displayed(daemon, 1)

        run(qloop, scenario())
        assert len(tray.messages) == 1
        daemon.close()
        run(qloop, until(lambda: not notifier.available, what="the daemon gone", timeout=5))
    finally:
        if daemon.process.poll() is None:
            daemon.close()
        run(qloop, notifier.close())


def test_the_daemon_s_signed_in_elsewhere_goes_when_the_window_is_shown(
        qloop, ui: UiSession, tray: RecordingTray, dunst: Dunst,
        notifications: DesktopNotifications) -> None:
    """"Offline (signed in elsewhere)" stayed on screen (no timeout) after the user had
    opened the window from the tray icon, where the Reconnect button says it."""
    from app.client import InterphoneClient

    window = ui.window
    window.notifications = notifications
    window.hide()

    async def scenario() -> None:
        elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x", reconnect=False)
        ui.others.append(elsewhere)
        await elsewhere.connect()
        await until(lambda: window.reconnect_button.isVisibleTo(window), what="kicked")
        await displayed(dunst, 1)
        tray.toggle_window()  # a click on the icon
        await displayed(dunst, 0)

    run(qloop, scenario())
    assert tray.messages == []


def test_the_messages_on_screen_go_when_the_app_quits(
        qloop, ui: UiSession, tray: RecordingTray, session_bus: str, dunst: Dunst) -> None:
    """A missed call stays until clicked (XFCE's xfce4-notifyd, dunst): after Quit it
    stayed on screen, with a "Show" that opened nothing."""
    notifier = DesktopNotifications(bus=session_bus)
    assert run(qloop, notifier.start())
    window = ui.window
    window.notifications = notifier
    window.hide()

    async def scenario() -> None:
        window.notify_missed_call("chat_bob:me", "Missed call from Bob")
        await displayed(dunst, 1)
        await notifier.close()  # (what the app's end does)
        await displayed(dunst, 0)

    run(qloop, scenario())
    assert tray.messages == []


def test_a_name_is_shown_as_written_by_a_daemon_that_reads_markup(
        qloop, ui: UiSession, tray: RecordingTray, dunst: Dunst,
        notifications: DesktopNotifications) -> None:
    """dunst reads a message's body as markup (as GNOME's does): a caller named
    "R&D <night>" showed as "R&D  is calling you"."""
    from PySide6.QtGui import QTextDocument

    window = ui.window
    window.notifications = notifications
    window.hide()
    window.notify_incoming_call("chat_rd:me", "R&D <night>")
    run(qloop, displayed(dunst, 1))
    assert dunst.ctl("close-all") is not None
    history = json.loads(dunst.ctl("history") or "{}")
    (shown,) = [entry["message"]["data"] for entry in history["data"][0]]
    rendered = QTextDocument()
    rendered.setHtml(shown.replace("\n", "<br>"))
    assert "R&D <night> is calling you" in rendered.toPlainText()
