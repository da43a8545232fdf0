"""Issue 14: the app in the background, through its tray icon (real Qt, offscreen, a real
server on 127.0.0.1). What a user does with a real tray host: clicks on the icon and on
its messages, opens the menu while the window is hidden, talks with the global key,
reconnects and quits."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QIcon, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from test_ui_desktop import remembered_runtime, started
from test_ui_multi import member_count
from test_ui_support import OPS, UiSession, close_session, open_session, run, until

from app.client import InterphoneClient
from app.protocol.presence import PRESENCE
from app.ui.assets import icon
from app.ui.tray import TrayController
from app.ui.window_notices import UNTIL_SEEN_TRAY_MS

if TYPE_CHECKING:
    from app.server import InterphoneServer
    from app.ui.main_window import MainWindow
    from app.ui.runtime import Runtime
    from app.ui.settings import Settings

pytest_plugins = ["test_ui_support"]

EVERYONE = "group_1"
Reason = QSystemTrayIcon.ActivationReason


class RecordingTray(TrayController):
    """A tray as where a tray host runs; its messages are recorded (title, text) with
    their timeouts, and how many times the one shown was taken away (an empty message)."""

    def __init__(self, window: MainWindow, settings: Settings) -> None:
        super().__init__(window, settings, available=True)
        self.messages: list[tuple[str, str]] = []
        self.timeouts: list[int] = []
        self.taken_away = 0
        self.icon.show()  # (offscreen has no tray host: shown regardless)
        self.icon.showMessage = self._record  # type: ignore[method-assign,assignment]

    def _record(self, title: str, text: str, _icon: object, timeout_ms: int) -> None:
        if not title and not text:
            self.taken_away += 1
            return
        self.messages.append((title, text))
        self.timeouts.append(timeout_ms)


@pytest.fixture
def tray(ui: UiSession, settings: Settings) -> Iterator[RecordingTray]:
    controller = RecordingTray(ui.window, settings)
    yield controller
    controller.close()


FLOOR = ("emergency", "floor-queue", "priority")


@pytest.fixture
def floor_ui(qloop: asyncio.AbstractEventLoop, server: InterphoneServer,
             settings: Settings) -> Iterator[UiSession]:
    """A session that asks for the floor extensions (emergencies among them)."""
    session = run(qloop, open_session(server, settings, features=FLOOR))
    yield session
    run(qloop, close_session(session))


@pytest.fixture
def floor_tray(floor_ui: UiSession, settings: Settings) -> Iterator[RecordingTray]:
    controller = RecordingTray(floor_ui.window, settings)
    yield controller
    controller.close()


class TrayHost:
    """The panel that hosts tray icons, up or not as a test says (``up``): what Qt's
    ``isSystemTrayAvailable`` answers; ``check_ms``, how often the tray checks it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, up: bool,
                 check_ms: int | None = None) -> None:
        import app.ui.tray as tray_module

        self.up = up
        monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable",
                            staticmethod(lambda: self.up))
        if check_ms is not None:
            monkeypatch.setattr(tray_module, "TRAY_CHECK_MS", check_ms)


async def hidden_and_reconnecting(runtime: Runtime, server: InterphoneServer, attempts: int
                                  ) -> tuple[asyncio.Future[int], InterphoneClient,
                                             MainWindow, TrayController]:
    """``runtime`` started and connected, its window hidden in the tray, then its server
    stopped: returns once the client has tried ``attempts`` reconnects (the runtime's
    ``run()``, the client, the window, the tray)."""
    main, client = await started(runtime)
    window, tray = runtime.window, runtime.tray
    assert window is not None and tray is not None
    await until(lambda: window.link_text().startswith("Connected as"), what="connected")
    window.hide()
    await server.stop()
    await until(lambda: client.stats.reconnect_attempts >= attempts, timeout=10,
                what="reconnecting")
    return main, client, window, tray


def picture(of: QIcon) -> QImage:
    """What a tray host shows of an icon (22 px, as in most panels)."""
    return of.pixmap(22, 22).toImage()


def joined_everyone_too(qloop: Any, ui: UiSession) -> None:
    """"me" in Everyone (listening) and Ops (the talk target)."""
    async def scenario() -> None:
        await ui.client.join(EVERYONE, target=False)
        await until(lambda: ui.window.interphones.row(EVERYONE) is not None
                    and str(ui.client.model.talk_target) == OPS, what="in both")

    run(qloop, scenario())


def test_a_click_on_the_activity_message_shows_the_window_on_that_interphone(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    window = ui.window
    joined_everyone_too(qloop, ui)
    window.hide()
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    assert tray.messages == [("Interphone", "Bob is speaking in Everyone")]
    tray.icon.messageClicked.emit()
    assert window.isVisible()
    run(qloop, until(lambda: window.panel.interphone_id == EVERYONE, what="Everyone shown"))


@pytest.mark.parametrize("opens", ["activity", "hint"])
def test_a_click_on_the_icon_while_a_message_shows_opens_the_window(
        qloop, ui: UiSession, tray: RecordingTray, opens: str) -> None:
    """With the tray's own message up (no notification daemon), a click on the icon did
    nothing visible: the XEmbed tray tells that click as the message's click and then as
    the icon's, so the window shown on the message's interphone was hidden again at once
    (and came back later on that interphone instead of the one it showed)."""
    window = ui.window
    joined_everyone_too(qloop, ui)
    window.hide()
    if opens == "activity":
        window.notify_activity(EVERYONE, "Everyone", "Bob")
    else:
        window.tray_message("Interphone is still running", "…", "app", 10000, key="hint",
                            opens=None)
    assert tray.messages
    # what Qt's XEmbed tray icon does on a left click while its message is shown
    tray.icon.messageClicked.emit()
    tray.icon.activated.emit(Reason.Trigger)
    assert window.isVisible()
    if opens == "activity":
        run(qloop, until(lambda: window.panel.interphone_id == EVERYONE,
                         what="Everyone shown"))
    run(qloop, asyncio.sleep(0.05))
    tray.icon.activated.emit(Reason.Trigger)  # the next click hides it, as always
    assert not window.isVisible()


def test_a_conversation_in_another_interphone_is_one_message(
        qloop, ui: UiSession, tray: RecordingTray, monkeypatch) -> None:
    """Each turn in a non-target interphone was a tray message of its own: a back and forth
    there while the window was hidden made a flood of notifications. One for a
    conversation; the next after a quiet spell, and each interphone has its own."""
    import app.ui.window_notices as notices_module

    window = ui.window
    joined_everyone_too(qloop, ui)
    window.hide()
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    window.notify_activity(EVERYONE, "Everyone", "Carol")
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    assert tray.messages == [("Interphone", "Bob is speaking in Everyone")]
    window.notify_activity("group_9", "Night", "Dan")
    assert tray.messages[1:] == [("Interphone", "Dan is speaking in Night")]
    monkeypatch.setattr(notices_module, "ACTIVITY_QUIET_S", 0.0)  # a quiet spell
    window.notify_activity(EVERYONE, "Everyone", "Carol")
    assert tray.messages[2:] == [("Interphone", "Carol is speaking in Everyone")]


def test_a_muted_interphone_makes_no_desktop_notification(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """A dispatcher scanning busy interphones muted one to hear the others: with the window
    hidden, each conversation there still popped up "Bob is speaking in Everyone", while
    its cue and the screen reader kept quiet for it."""
    window = ui.window
    joined_everyone_too(qloop, ui)
    window.hide()
    window.notify_activity(EVERYONE, "Everyone", "Bob", muted=True)
    assert tray.messages == []
    window.notify_activity("group_9", "Night", "Dan")  # one not muted: said as before
    assert tray.messages == [("Interphone", "Dan is speaking in Night")]


def test_without_a_session_bus_the_tray_says_the_messages(
        qloop, ui: UiSession, tray: RecordingTray, tmp_path) -> None:
    """No desktop notification daemon to be reached: no hang, no error, the tray's own
    messages."""
    from app.ui.desktop_notifications import CALL_TIMEOUT_S, DesktopNotifications

    notifications = DesktopNotifications(bus=f"unix:path={tmp_path / 'no-bus'}")

    async def start() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        started = await notifications.start()
        return started, loop.time() - began

    started, took = run(qloop, start())
    assert not started and not notifications.available and took < CALL_TIMEOUT_S
    window = ui.window
    window.notifications = notifications
    window.hide()
    window.notify_incoming_call("chat_bob:me", "Bob")
    assert tray.messages == [("Incoming call", "Bob is calling you")]
    run(qloop, notifications.close())


def test_a_click_on_the_call_message_shows_the_window_with_the_call(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    window = ui.window
    window.hide()
    window.notify_incoming_call("chat_bob:me", "Bob")
    assert tray.messages == [("Incoming call", "Bob is calling you")]
    tray.icon.messageClicked.emit()
    assert window.isVisible() and window.banner.isVisibleTo(window)


def test_a_call_that_ends_while_the_window_is_hidden_takes_its_banner_away(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    window = ui.window
    window.hide()
    window.notify_incoming_call("chat_bob:me", "Bob")
    window.clear_incoming_call("chat_bob:me")  # bob gave up (or answered elsewhere)
    tray.toggle_window()
    assert window.isVisible() and not window.banner.isVisible()


def test_a_click_on_the_still_running_message_leaves_the_window_hidden(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    window = ui.window
    window.notify_incoming_call("chat_bob:me", "Bob")  # an earlier message
    window.close()  # to the tray: "Interphone is still running"
    assert not window.isVisible() and tray.settings.tray_hint_shown
    tray.icon.messageClicked.emit()
    assert not window.isVisible()  # the user just closed it


def test_a_call_missed_while_hidden_stays_in_the_tray_until_clicked(
        qloop, server: InterphoneServer, settings: Settings) -> None:
    """Its "Missed call from Bob" was said in the hidden window's status bar only, and the
    call's own message had gone after 8 s: back at the desk, nothing said it."""
    ui = run(qloop, open_session(server, settings, join=None, features=(PRESENCE,)))
    window = ui.window
    tray = RecordingTray(window, settings)
    chat = "chat_bob:me"
    try:
        async def scenario() -> None:
            bob = await ui.other("bob", join=None, features=(PRESENCE,))
            window.hide()
            await bob.call("me")
            await until(lambda: len(tray.messages) == 1, what="ringing")
            await bob.leave(chat)  # bob gives up
            await until(lambda: len(tray.messages) == 2, what="missed")

        run(qloop, scenario())
        assert tray.messages[1] == ("Missed call", "Missed call from Bob")
        assert tray.timeouts[1] == 0  # until clicked
        tray.icon.messageClicked.emit()
        assert window.isVisible()
        run(qloop, until(lambda: window.panel.interphone_id == chat, what="the chat shown"))
        assert not window.banner.isVisible()  # it no longer rings
    finally:
        tray.close()
        run(qloop, close_session(ui))


def test_an_emergency_raised_while_hidden_is_a_tray_message(
        qloop, floor_ui: UiSession, floor_tray: RecordingTray) -> None:
    """The alert sounded every 2.5 s, the banner was in the hidden window, and nothing in
    the tray said what it was."""
    ui, window, tray = floor_ui, floor_ui.window, floor_tray

    async def scenario() -> None:
        bob = await ui.other("bob", features=FLOOR)
        window.hide()
        await bob.raise_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == OPS, what="raised")
        await bob.cancel_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == "", what="cancelled")
        await ui.client.raise_emergency(OPS)  # ours: no message about it
        await until(lambda: window.emergency.interphone_id == OPS, what="ours")

    run(qloop, scenario())
    assert tray.messages == [("Emergency", "EMERGENCY in Ops raised by Bob")]
    window.interphones.select("discuss_12")
    tray.icon.messageClicked.emit()
    assert window.isVisible()
    run(qloop, until(lambda: window.panel.interphone_id == OPS, what="Ops shown"))


def test_an_emergency_in_an_interphone_listened_to_alerts_too(
        qloop, floor_ui: UiSession, floor_tray: RecordingTray) -> None:
    """Joined to Ops (the talk target) and listening to Everyone, hidden in the tray: an
    emergency raised in Everyone gave no banner, no alert and no message (only the
    selected interphone and the talk target were looked at), and neither did one in Ops
    once the user made another interphone the talk target."""
    ui, window, tray = floor_ui, floor_ui.window, floor_tray

    async def scenario() -> None:
        await ui.client.join(EVERYONE, target=False)
        await until(lambda: ui.client.model.is_joined(EVERYONE), what="listening")
        bob = await ui.other("bob", join=EVERYONE, features=FLOOR)
        window.hide()
        await bob.raise_emergency(EVERYONE)
        await until(lambda: window.emergency.interphone_id == EVERYONE, what="raised",
                    timeout=3)
        assert window.emergency.text.text() == "EMERGENCY in Everyone raised by Bob"
        await until(lambda: tray.messages != [], what="a message")
        await bob.cancel_emergency(EVERYONE)
        await until(lambda: window.emergency.interphone_id == "", what="cancelled")
        assert "EMERGENCY" not in tray.icon.toolTip()

    run(qloop, scenario())
    assert tray.messages == [("Emergency", "EMERGENCY in Everyone raised by Bob")]


def test_the_tray_tooltip_says_an_emergency_is_raised(
        qloop, floor_ui: UiSession, floor_tray: RecordingTray) -> None:
    """Hours in the tray with an emergency raised: its alert sounded every 2.5 s and the
    message had gone, but the icon's tooltip said nothing of it."""
    ui, window, tray = floor_ui, floor_ui.window, floor_tray

    async def scenario() -> None:
        bob = await ui.other("bob", features=FLOOR)
        window.hide()
        await bob.raise_emergency(OPS)
        await until(lambda: "EMERGENCY raised by Bob" in tray.icon.toolTip(),
                    what="said in the tooltip", timeout=3)
        assert tray.icon.toolTip().splitlines()[:3] == [
            "Ops — Interphone", "Connected as me", "EMERGENCY raised by Bob"]
        await bob.cancel_emergency(OPS)
        await until(lambda: "EMERGENCY" not in tray.icon.toolTip(), what="gone",
                    timeout=3)

    run(qloop, scenario())


def test_signed_in_elsewhere_leaves_the_window_on_the_interphone_it_showed(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """In Ops, Everyone and Night (the talk target, on screen), hidden in the tray, signed
    in elsewhere: the window came back on Ops. Dropping every interphone made each of the
    others the talk target for a moment, and the selection followed each in turn."""
    window, presenter = ui.window, ui.presenter

    async def scenario() -> None:
        await ui.client.join(EVERYONE, target=False)
        await ui.client.join("discuss_12")
        await until(lambda: str(ui.client.model.talk_target) == "discuss_12", what="target")
        assert window.panel.interphone_id == "discuss_12"
        window.hide()
        elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x", reconnect=False)
        ui.others.append(elsewhere)
        await elsewhere.connect()
        await until(lambda: window.reconnect_button.isVisibleTo(window), what="kicked")

    run(qloop, scenario())
    tray.toggle_window()  # a click on the icon
    assert window.isVisible()
    assert window.panel.interphone_id == "discuss_12"
    assert window.interphones.selected_id() == "discuss_12"
    assert presenter._selected == "discuss_12"


def test_signed_in_elsewhere_while_hidden_is_a_tray_message(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """The session ended for good (Reconnect offered) with only the icon turning grey: a
    user away from the window was no longer reachable without knowing it."""
    window = ui.window
    window.hide()
    elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x", reconnect=False)
    ui.others.append(elsewhere)
    run(qloop, elsewhere.connect())
    run(qloop, until(lambda: tray.messages != [], what="a message"))
    assert tray.messages == [("Interphone", "Offline (signed in elsewhere)")]
    assert tray.timeouts == [UNTIL_SEEN_TRAY_MS]  # (or until the window is seen)
    tray.icon.messageClicked.emit()
    assert window.isVisible() and window.reconnect_button.isVisible()


class Balloon:
    """The tray icon's own message as Qt draws it without a notification daemon: one at a
    time (a new one replaces it), gone after its timeout, when clicked, or when an empty
    message is shown. Every ``showMessage`` of every tray icon comes here."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.said: list[tuple[str, str, int]] = []  # every message shown (title, text, ms)
        self._shown: tuple[str, str] | None = None
        self._until = 0.0
        balloon = self

        def show(_icon: QSystemTrayIcon, title: str, text: str, _picture: object,
                 timeout_ms: int = 10000) -> None:
            balloon.said.append((title, text, timeout_ms))
            empty = not title and not text
            balloon._shown = None if empty else (title, text)
            balloon._until = (time.monotonic() + timeout_ms / 1000 if timeout_ms > 0
                              else float("inf"))

        monkeypatch.setattr(QSystemTrayIcon, "showMessage", show)

    @property
    def shown(self) -> tuple[str, str] | None:
        """What is on screen now."""
        return self._shown if time.monotonic() < self._until else None

    def click(self, tray: TrayController) -> None:
        self._shown = None
        tray.icon.messageClicked.emit()


@pytest.mark.parametrize("minimized", [False, True])
def test_signed_in_elsewhere_while_hidden_goes_when_the_window_is_shown(
        qloop, ui: UiSession, settings: Settings, monkeypatch, minimized: bool) -> None:
    """Without a notification daemon, the tray's "Offline (signed in elsewhere)" stayed
    on top of everything until clicked, also after the user had opened the window from
    the icon (or the task bar, minimized)."""
    balloon = Balloon(monkeypatch)
    tray = TrayController(ui.window, settings, available=True)
    try:
        tray.icon.show()
        window = ui.window
        if minimized:
            window.showMinimized()
            run(qloop, until(window.isMinimized, what="minimized"))
        else:
            window.hide()
        elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x", reconnect=False)
        ui.others.append(elsewhere)
        run(qloop, elsewhere.connect())
        run(qloop, until(lambda: balloon.shown is not None, what="a message"))
        assert balloon.said == [("Interphone", "Offline (signed in elsewhere)",
                                 UNTIL_SEEN_TRAY_MS)]  # not 0: until clicked
        if minimized:
            window.showNormal()
        else:
            tray.toggle_window()  # a click on the icon, not on the message
        run(qloop, until(lambda: window.isVisible() and not window.isMinimized(),
                         what="shown"))
        run(qloop, until(lambda: balloon.shown is None, what="the message gone"))
        assert len(balloon.said) == 2  # one message taken away, nothing else said
    finally:
        tray.close()


def test_signed_in_elsewhere_twice_is_one_message_and_goes_when_signed_in_again(
        qloop, server, settings, qapp: QApplication, monkeypatch) -> None:
    """Hidden in the tray, without a notification daemon: "Offline (signed in elsewhere)"
    stayed on screen after Reconnect from the tray menu had signed in again, until
    clicked; signed in elsewhere again, the new one came on top of a stale one."""
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    balloon = Balloon(monkeypatch)
    runtime = remembered_runtime(server, settings, qapp, OPS)
    offline = ("Interphone", "Offline (signed in elsewhere)")

    async def kicked() -> None:
        elsewhere = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
        await elsewhere.connect()
        await until(lambda: balloon.shown == offline, what="said offline")
        await elsewhere.close()

    async def scenario() -> int:
        main, _client = await started(runtime)
        window, tray = runtime.window, runtime.tray
        assert window is not None and tray is not None
        await until(lambda: window.link_text().startswith("Connected as"), what="connected")
        window.close()  # to the tray
        assert not window.isVisible()
        balloon.said.clear()  # (the "still running" hint)
        await kicked()
        tray.refresh()
        tray.reconnect_action.trigger()  # from the tray menu: the window stays hidden
        await until(lambda: runtime.window is not window and runtime.window is not None
                    and runtime.window.link_text().startswith("Connected as"),
                    what="signed in again")
        assert balloon.shown is None  # no longer true
        again = runtime.window
        assert again is not None and not again.isVisible()
        await kicked()  # signed in elsewhere again: one message
        assert [said[:2] for said in balloon.said if said[0]] == [offline, offline]
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=30) == 0
    assert balloon.shown is None  # quit: the app's messages went with it


@pytest.mark.parametrize("answer", [True, False])
def test_a_call_taken_from_the_tray_menu_takes_its_message_away(
        qloop, server: InterphoneServer, settings: Settings, monkeypatch,
        answer: bool) -> None:
    """Without a notification daemon, "Bob is calling you" stayed on screen for its 8 s
    after the call was answered or dismissed from the tray's menu."""
    balloon = Balloon(monkeypatch)
    ui = run(qloop, open_session(server, settings, join=None, features=(PRESENCE,)))
    window = ui.window
    tray = TrayController(window, settings, available=True)
    try:
        tray.icon.show()
        window.hide()

        async def ring() -> None:
            bob = await ui.other("bob", join=None, features=(PRESENCE,))
            await bob.call("me")
            await until(lambda: balloon.shown == ("Incoming call", "Bob is calling you"),
                        what="ringing")

        run(qloop, ring())
        tray.refresh()
        (tray.answer_action if answer else tray.dismiss_action).trigger()
        run(qloop, until(lambda: balloon.shown is None, what="the message gone"))
        assert not window.isVisible()
    finally:
        tray.close()
        run(qloop, close_session(ui))


def test_activity_in_another_interphone_is_a_tray_message_while_minimized(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """Minimized, the window's status bar cannot be seen either."""
    window = ui.window
    joined_everyone_too(qloop, ui)
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    assert tray.messages == []  # the status bar says it
    window.showMinimized()
    run(qloop, until(window.isMinimized, what="minimized"))
    window.notify_activity(EVERYONE, "Everyone", "Bob")
    assert tray.messages == [("Interphone", "Bob is speaking in Everyone")]
    tray.icon.messageClicked.emit()
    assert window.isVisible() and not window.isMinimized()


def test_a_double_click_on_the_icon_shows_the_window(qloop, ui: UiSession,
                                                     tray: RecordingTray) -> None:
    """A double click comes as a click (Trigger), then DoubleClick: it toggled twice, so the
    hidden window flashed up and went away again."""
    window = ui.window
    window.hide()
    tray.icon.activated.emit(Reason.Trigger)
    tray.icon.activated.emit(Reason.DoubleClick)
    assert window.isVisible()
    tray.icon.activated.emit(Reason.Trigger)  # a single click still hides it
    assert not window.isVisible()


class SlotErrors:
    """Exceptions raised in Qt slots (PySide hands them to ``sys.excepthook``)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def __call__(self, kind: type[BaseException], value: BaseException,
                 traceback: TracebackType | None) -> None:
        self.errors.append(value)


def test_the_tray_menu_says_the_current_reconnect_attempt_while_the_window_is_hidden(
        qloop, server, settings, qapp: QApplication) -> None:
    """The window's clock (which counts "reconnecting (attempt n)") waits while it is hidden:
    the menu said the state of when the window was closed."""
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client, _window, tray = await hidden_and_reconnecting(runtime, server, 2)

        def menu_says_the_attempt() -> bool:
            tray.refresh()
            attempt = client.stats.reconnect_attempts + 1
            return tray.status_action.text().endswith(f"(attempt {attempt})")

        await until(menu_says_the_attempt, what="the menu says the current attempt")
        assert tray.status_action.text().startswith("Connection lost, reconnecting")
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_the_global_key_holds_the_window_of_the_current_session_only(
        qloop, server, settings, qapp: QApplication, monkeypatch) -> None:
    """After a reconnect the key went on pressing the ended session's deleted window too
    (RuntimeError at each press), and so did the release that closing the key sends at
    quit while it is held."""
    errors = SlotErrors()
    monkeypatch.setattr(sys, "excepthook", errors)
    runtime = remembered_runtime(server, settings, qapp, OPS)
    presses: list[bool] = []

    async def scenario() -> int:
        main, client = await started(runtime)
        await until(lambda: str(client.model.joined) == OPS, what="joined")
        runtime.reconnect()
        await until(lambda: runtime.client is not None and runtime.client is not client
                    and str(runtime.client.model.joined) == OPS and runtime.window is not None,
                    what="a new session")
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # old window
        window: MainWindow | None = runtime.window
        assert window is not None
        window.talk_pressed.connect(lambda: presses.append(True))
        runtime.global_key.pressed.emit()
        assert presses == [True] and errors.errors == []
        runtime.quit()  # with the key held
        code = await asyncio.wait_for(main, 5)
        runtime.global_key.released.emit()  # as closing a held key does
        assert errors.errors == []
        return code

    assert run(qloop, scenario(), timeout=20) == 0


def test_a_window_opened_after_a_background_start_stays_open_across_reconnect(
        qloop, server, settings, qapp: QApplication, monkeypatch) -> None:
    """Started at login (--background), the user opened the window from the tray; after
    "signed in elsewhere" a click on Reconnect made the window vanish into the tray
    (each new session's window followed --background). A window hidden in the tray
    stays there across Reconnect (from the tray menu)."""
    from app.ui.runtime import Options

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    runtime = remembered_runtime(server, settings, qapp, OPS,
                                 Options(simulate_audio=True, background=True))

    async def new_session(old: MainWindow) -> MainWindow:
        runtime.reconnect()
        await until(lambda: runtime.window is not None and runtime.window is not old
                    and runtime.client is not None and runtime.client.connected,
                    what="a new session")
        window = runtime.window
        assert window is not None
        return window

    async def scenario() -> int:
        main, _client = await started(runtime)
        window = runtime.window
        assert window is not None and runtime.tray is not None
        assert not window.isVisible()  # the background start
        runtime.tray.toggle_window()  # a click on the icon
        assert window.isVisible()
        window = await new_session(window)
        assert window.isVisible()
        window.close()  # to the tray
        assert not window.isVisible()
        window = await new_session(window)
        assert not window.isVisible()
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_a_tray_host_that_comes_up_after_the_app_is_used(qloop, ui: UiSession, settings,
                                                          monkeypatch) -> None:
    """Started at login before the panel: the icon was shown only if a tray existed at
    start, and closing the window quit for the rest of the session."""
    host = TrayHost(monkeypatch, up=False)
    window = ui.window
    tray = TrayController(window, settings)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    try:
        assert tray.icon.isVisible()  # Qt docks it when a tray host comes up
        assert not tray.available
        host.up = True  # the panel starts
        assert tray.available
        window.close()
        assert not window.isVisible() and quits == []  # hidden to the tray
        tray.toggle_window()
        host.up = False  # the panel went away: closing quits (else no way back)
        window.close()
        assert quits == [True]
    finally:
        tray.close()


@pytest.mark.parametrize("hidden_by", ["close", "menu"])
def test_the_window_shows_again_when_the_tray_goes_away_while_it_is_hidden(
        qloop, ui: UiSession, settings, monkeypatch, hidden_by: str) -> None:
    """The panel quit (or crashed and did not come back) while the window was hidden in
    the tray: with no icon to click, the window stayed out of reach until the app was
    killed. It shows again; a panel back within a check keeps it hidden."""
    host = TrayHost(monkeypatch, up=True, check_ms=50)
    window = ui.window
    tray = TrayController(window, settings)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))

    async def scenario() -> None:
        if hidden_by == "close":
            window.close()
        else:
            tray.toggle_window()  # "Hide Interphone" in the menu, a click on the icon
        assert not window.isVisible()
        host.up = False  # the panel restarts...
        await asyncio.sleep(0.06)
        host.up = True  # ... and is back
        await asyncio.sleep(0.3)
        assert not window.isVisible()
        host.up = False  # the panel goes away for good
        await until(window.isVisible, what="the window shown", timeout=2)
        assert quits == []

    try:
        run(qloop, scenario())
    finally:
        tray.close()


def test_a_background_start_shows_the_window_when_the_tray_goes_away(
        qloop, server, settings, qapp: QApplication, monkeypatch) -> None:
    """Started at login into the tray; the panel went away before the user opened it."""
    from app.ui.runtime import Options

    host = TrayHost(monkeypatch, up=True, check_ms=50)
    runtime = remembered_runtime(server, settings, qapp, OPS,
                                 Options(simulate_audio=True, background=True))

    async def scenario() -> int:
        main, _client = await started(runtime)
        window = runtime.window
        assert window is not None and not window.isVisible()
        await asyncio.sleep(0.3)
        assert not window.isVisible()
        host.up = False
        await until(window.isVisible, what="the window shown", timeout=2)
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


class CountingTrayIcon(QSystemTrayIcon):
    """Counts what the window sends to the tray (a StatusNotifierItem host gets each
    over D-Bus)."""

    def __init__(self) -> None:
        super().__init__()
        self.icons = 0
        self.tooltips = 0

    def setIcon(self, picture: QIcon) -> None:
        self.icons += 1
        super().setIcon(picture)

    def setToolTip(self, tip: str) -> None:
        self.tooltips += 1
        super().setToolTip(tip)


def test_only_a_change_of_the_tray_state_goes_to_the_tray(qloop, ui: UiSession) -> None:
    """Every talk, floor and link event sent the tray the same icon and tooltip again:
    a StatusNotifierItem host got six NewIcon and NewToolTip signals (and fetched every
    size of the icon each time) for one turn in another interphone."""
    window = ui.window
    counting = CountingTrayIcon()
    window.tray = counting
    try:
        window.show_tray_state()
        window.show_tray_state()
        window.show_tray_state()
        assert (counting.icons, counting.tooltips) == (1, 1)
        window.audio_bar.mute.click()  # the muted badge and "Speaker muted"
        assert (counting.icons, counting.tooltips) == (2, 2)
        window.show_tray_state()
        assert (counting.icons, counting.tooltips) == (2, 2)
    finally:
        window.tray = None
        counting.deleteLater()


@pytest.mark.parametrize("tray_comes_up", [False, True])
def test_a_background_start_before_the_panel_waits_a_moment_for_the_tray(
        qloop, server, settings, qapp: QApplication, monkeypatch, tray_comes_up: bool) -> None:
    """Started at login, signed in before the panel was up: the window showed at once on
    each login, the panel coming up a moment later. It now stays in the tray if one comes
    up within a few seconds, and shows if none does."""
    from app.ui.runtime import Options

    host = TrayHost(monkeypatch, up=False, check_ms=200)
    runtime = remembered_runtime(server, settings, qapp, OPS,
                                 Options(simulate_audio=True, background=True))

    async def scenario() -> int:
        main, _client = await started(runtime)
        window = runtime.window
        assert window is not None and not window.isVisible()
        if tray_comes_up:
            await asyncio.sleep(0.1)
            host.up = True  # the panel is up
            await asyncio.sleep(1.0)
            assert not window.isVisible()
        else:
            await until(window.isVisible, what="the window shown", timeout=2)
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_the_tray_icon_starts_with_the_state_the_window_had(qloop, ui: UiSession,
                                                            tray: RecordingTray) -> None:
    """The tray is made after the presenter showed the talk state: the icon stayed the grey
    "offline" one, online and joined, until the state next changed."""
    assert picture(tray.icon.icon()) == picture(icon("tray-idle"))
    assert tray.icon.toolTip() == "Ops — Interphone\nConnected as me"


def test_the_tray_icon_shows_someone_speaking_elsewhere_and_the_mute(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """Someone speaking in a joined interphone that is not the talk target, or the speaker
    muted, left the icon as it was: in the panel nothing told these states apart."""
    window = ui.window
    joined_everyone_too(qloop, ui)
    window.hide()
    idle, idle_tip = picture(tray.icon.icon()), tray.icon.toolTip()
    assert idle == picture(icon("tray-idle"))

    async def scenario() -> QImage:
        bob = await ui.other("bob", join=EVERYONE)
        assert await bob.talk_start()
        await until(lambda: "Bob is speaking in Everyone" in tray.icon.toolTip(),
                    what="the tooltip says who speaks where")
        receiving = picture(tray.icon.icon())
        await bob.talk_stop()
        await until(lambda: tray.icon.toolTip() == idle_tip, what="quiet again")
        return receiving

    receiving = run(qloop, scenario())
    assert receiving not in (idle, picture(icon("tray-busy")))  # not the talk target's
    assert picture(tray.icon.icon()) == idle
    tray.mute_action.trigger()  # from the tray's menu
    muted = picture(tray.icon.icon())
    assert muted not in (idle, receiving)
    assert tray.icon.toolTip() == f"{idle_tip}\nSpeaker muted"
    window.audio_bar.mute.click()  # unmuted from the window's bar
    assert picture(tray.icon.icon()) == idle and tray.icon.toolTip() == idle_tip


def test_the_tray_menu_quit_shows_no_shortcut(qloop, ui: UiSession,
                                              tray: RecordingTray) -> None:
    """It showed the window's "Ctrl+Q", a key that does nothing in a tray menu."""
    quits: list[bool] = []
    ui.window.quit_requested.connect(lambda: quits.append(True))
    # as on desktops where Quit is Ctrl+Q (the offscreen platform gives it no key)
    ui.window.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
    assert [a.text() for a in tray.menu.actions() if not a.shortcut().isEmpty()] == []
    assert "&Quit" in [a.text() for a in tray.menu.actions()]
    tray.quit_action.trigger()
    assert quits == [True]


def test_the_tray_menu_after_signed_in_elsewhere_says_offline_and_reconnects(
        qloop, ui: UiSession, tray: RecordingTray) -> None:
    """It said "Talk target: none (join an interphone)", as if joining were what was
    missing, and reconnecting needed the window."""
    window = ui.window
    tray.refresh()
    assert not tray.reconnect_action.isVisible()
    window.hide()
    elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x", reconnect=False)
    ui.others.append(elsewhere)
    run(qloop, elsewhere.connect())
    run(qloop, until(lambda: tray.messages != [], what="signed out here"))
    tray.refresh()
    assert tray.status_action.text() == "Offline (signed in elsewhere)"
    assert tray.target_action.text() == "Talk target: none (offline)"
    asked: list[bool] = []
    window.reconnect_requested.connect(lambda: asked.append(True))
    assert tray.reconnect_action.isVisible()
    tray.reconnect_action.trigger()
    assert asked == [True]


def test_the_tooltip_follows_the_reconnect_attempts_while_the_window_is_hidden(
        qloop, server, settings, qapp: QApplication) -> None:
    """The tooltip kept the attempt of when the window was hidden: only the window's clock
    counted the attempts, and it waits while the window is hidden."""
    runtime = remembered_runtime(server, settings, qapp, OPS)

    async def scenario() -> int:
        main, client, window, tray = await hidden_and_reconnecting(runtime, server, 3)
        await until(lambda: f"(attempt {client.stats.reconnect_attempts + 1})"
                    in tray.icon.toolTip(), what="the tooltip says the current attempt")
        assert not window.panel.ticker.running  # no clock while hidden
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_the_tray_icon_shows_a_call_ringing_until_it_ends(
        qloop, server: InterphoneServer, settings: Settings) -> None:
    """A call's tray message goes after 8 s while the call rings on: after that nothing in
    the panel said that someone was calling."""
    ui = run(qloop, open_session(server, settings, join=None, features=(PRESENCE,)))
    window = ui.window
    tray = RecordingTray(window, settings)
    try:
        window.hide()
        before, tip = picture(tray.icon.icon()), tray.icon.toolTip()

        async def scenario() -> QImage:
            bob = await ui.other("bob", join=None, features=(PRESENCE,))
            await bob.call("me")
            await until(lambda: tray.messages != [], what="ringing")
            ringing = picture(tray.icon.icon())
            assert tray.icon.toolTip() == f"{tip}\nBob is calling you"
            await bob.leave("chat_bob:me")  # bob gives up
            await until(lambda: tray.icon.toolTip() == tip, what="no longer ringing")
            return ringing

        assert run(qloop, scenario()) != before
        assert picture(tray.icon.icon()) == before
    finally:
        tray.close()
        run(qloop, close_session(ui))


@pytest.mark.parametrize("answer", [True, False], ids=["answer", "dismiss"])
def test_a_call_ringing_while_hidden_is_answered_or_dismissed_from_the_tray_menu(
        qloop, server: InterphoneServer, settings: Settings, answer: bool) -> None:
    """Hours in the tray: a call rang with nothing in the tray's menu to take it, only
    Show, and then the banner in the window."""
    ui = run(qloop, open_session(server, settings, join=None, features=(PRESENCE,)))
    window = ui.window
    tray = RecordingTray(window, settings)
    chat = "chat_bob:me"
    try:
        tray.refresh()
        assert not tray.answer_action.isVisible() and not tray.dismiss_action.isVisible()
        window.hide()

        async def ring() -> InterphoneClient:
            bob = await ui.other("bob", join=None, features=(PRESENCE,))
            await bob.call("me")
            await until(lambda: window.banner.caller, what="ringing")
            return bob

        bob = run(qloop, ring())
        tray.refresh()  # as when the menu opens
        assert tray.answer_action.isVisible() and tray.answer_action.text() == "Answer Bob"
        assert tray.dismiss_action.isVisible()
        (tray.answer_action if answer else tray.dismiss_action).trigger()
        if answer:
            run(qloop, until(lambda: ui.client.model.is_joined(chat)
                             and str(ui.client.talk_target) == chat, what="in the call"))
            run(qloop, until(lambda: member_count(bob, chat) == 2, what="bob hears us"))
        else:
            run(qloop, until(lambda: not window.banner.caller, what="dismissed"))
            assert not ui.client.model.is_joined(chat)
        assert not window.isVisible()  # taken or dismissed without the window
        tray.refresh()
        assert not tray.answer_action.isVisible()
    finally:
        tray.close()
        run(qloop, close_session(ui))


def test_the_tray_menu_has_its_entries_before_it_opens(
        qloop, server: InterphoneServer, settings: Settings) -> None:
    """XFCE's panel (a StatusNotifierItem host) sizes the menu from the entries it knows as
    it opens it: "Answer Bob" and "Dismiss the call", which appeared only as the menu
    opened, were cut off behind a scroll arrow, and left a blank once the call had ended.
    The entries follow the call (and Reconnect the link) without the menu opening."""
    ui = run(qloop, open_session(server, settings, join=None, features=(PRESENCE,)))
    window = ui.window
    tray = RecordingTray(window, settings)
    try:
        window.hide()

        async def scenario() -> None:
            bob = await ui.other("bob", join=None, features=(PRESENCE,))
            await bob.call("me")
            await until(lambda: window.banner.caller, what="ringing")
            assert tray.answer_action.isVisible() and tray.answer_action.text() == "Answer Bob"
            assert tray.dismiss_action.isVisible()
            await bob.leave("chat_bob:me")  # bob gives up
            await until(lambda: not window.banner.caller, what="no longer ringing")
            assert not tray.answer_action.isVisible() and not tray.dismiss_action.isVisible()
            elsewhere = InterphoneClient("127.0.0.1", ui.client.port, "me", "x",
                                         reconnect=False)
            ui.others.append(elsewhere)
            await elsewhere.connect()
            await until(lambda: not window.reconnect_button.isHidden(), what="signed out here")
            assert tray.reconnect_action.isVisible()
            assert tray.status_action.text() == "Offline (signed in elsewhere)"

        run(qloop, scenario())
    finally:
        tray.close()
        run(qloop, close_session(ui))
