"""A talk latched by a press: a screen reader's "press" action on the talk button (what
Orca's "activate" does) could not hold it, and only clicked it, which did nothing. It now
starts talking until the next press, ends with the turn however the turn ends (the talk
limit, pre-emption, the connection lost, the interphone left, the window hidden, signing
out), and says so; the setting "press to start and stop" latches every source."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAccessible, QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from test_ui_accessibility import announcements
from test_ui_floor import FLOOR, space
from test_ui_support import (
    OPS,
    UiSession,
    close_session,
    holder,
    open_session,
    run,
    sign_out,
    signed_in_at_start,
    start_server,
    until,
)

from app.client.turn import TurnPhase
from app.server import InterphoneServer
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]

STARTED = ("Talking. Press again to stop.", False)
STOPPED = ("Stopped talking.", False)


def key(window: QWidget, code: Qt.Key) -> None:
    """A key pressed and released in ``window`` (to its focused widget)."""
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        QApplication.sendEvent(window.windowHandle(), QKeyEvent(
            kind, code, Qt.KeyboardModifier.NoModifier, "\r", False))


def press_action(button: QWidget) -> None:
    """The screen reader's "press" (AT-SPI's action, QAccessibleActionInterface's)."""
    interface = QAccessible.queryAccessibleInterface(button)
    assert interface is not None
    actions = interface.actionInterface()
    assert actions is not None and actions.pressAction() in actions.actionNames()
    actions.doAction(actions.pressAction())


def spoken(button: QWidget) -> tuple[str, str]:
    """The button's accessible name and description, as a screen reader reads them."""
    interface = QAccessible.queryAccessibleInterface(button)
    assert interface is not None
    return (interface.text(QAccessible.Text.Name),
            interface.text(QAccessible.Text.Description))


async def latched_talking(session: UiSession, server: InterphoneServer) -> None:
    """A press action from idle, until the floor is ours."""
    button = session.window.panel.talk_button
    await until(lambda: button.state is TalkState.IDLE, what="joined")
    press_action(button)
    await until(lambda: button.state is TalkState.TALKING, what="talking (latched)")
    assert holder(server) == "me" and session.window.talk_intents.latched


async def ended_cleanly(session: UiSession, server: InterphoneServer,
                        said: list[tuple[str, bool]]) -> None:
    """The latch gone, the floor free, the turn machine idle (not waiting for a key to
    go up that nobody holds), "Stopped talking." said, the button's name as before."""
    button = session.window.panel.talk_button
    await until(lambda: not session.window.talk_intents.latched, what="unlatched")
    await until(lambda: holder(server) == "", what="the floor free at the server")
    await until(lambda: session.presenter.turn.phase is TurnPhase.IDLE  # (after debounce)
                and not session.presenter.talk_in_progress, what="the turn over")
    assert not session.window.talk_intents.held
    assert not session.presenter._transmitting
    assert STOPPED in said, said
    assert spoken(button)[0] == "Push to talk"


def test_a_press_action_talks_until_the_next_one_and_says_so(qloop, ui, server) -> None:
    async def scenario() -> None:
        window, button = ui.window, ui.window.panel.talk_button
        said = announcements(window)
        await until(lambda: button.state is TalkState.IDLE, what="joined")
        name, description = spoken(button)
        assert name == "Push to talk"
        assert description.endswith("Press to talk until you press again."), description
        await latched_talking(ui, server)
        await asyncio.sleep(0.5)  # the click is long over: still talking
        assert button.state is TalkState.TALKING and holder(server) == "me"
        assert spoken(button) == ("Stop talking", "Talking. Press again to stop.")
        assert said.count(STARTED) == 1 and ("Talk", False) not in said, said
        press_action(button)
        await ended_cleanly(ui, server, said)
        assert said.count(STOPPED) == 1, said
        # the talk key still talks while held, as before
        space(window, QEvent.Type.KeyPress)
        await until(lambda: holder(server) == "me", what="talking (Space)")
        assert not window.talk_intents.latched
        space(window, QEvent.Type.KeyRelease)
        await until(lambda: holder(server) == "", what="released (Space)")

    run(qloop, scenario(), timeout=20)


def test_the_floor_granted_to_a_latch_is_said_without_tones_too(qloop, ui, server) -> None:
    """Without tones the grant was the one word "Talk": a latch says how to stop instead."""
    async def scenario() -> None:
        ui.presenter.settings.tones = False
        said = announcements(ui.window)
        await latched_talking(ui, server)
        assert said.count(STARTED) == 1 and ("Talk", False) not in said, said
        press_action(ui.window.panel.talk_button)
        await ended_cleanly(ui, server, said)

    run(qloop, scenario(), timeout=20)


def test_a_latched_talk_ends_at_the_talk_limit(qloop, settings) -> None:
    """Revoked at the limit, the machine waited for the key to go up (a held talk lets
    go of it): a latch lets go at once, and the next press talks again."""
    short = start_server(qloop, max_talk=1.0)

    async def scenario() -> None:
        session = await open_session(short, settings)
        try:
            said = announcements(session.window)
            await latched_talking(session, short)
            await ended_cleanly(session, short, said)
            await latched_talking(session, short)  # (not stuck)
            await ended_cleanly(session, short, said)
        finally:
            await close_session(session)

    try:
        run(qloop, scenario(), timeout=20)
    finally:
        run(qloop, short.stop())


def test_a_latched_talk_ends_when_pre_empted(qloop, server, settings) -> None:
    async def scenario() -> None:
        session = await open_session(server, settings, features=FLOOR)
        try:
            alice = await session.other("alice", features=FLOOR)
            said = announcements(session.window)
            await latched_talking(session, server)
            assert await alice.talk_start(emergency=True)  # takes the floor from us
            await until(lambda: holder(server) == "alice", what="pre-empted")
            await until(lambda: not session.window.talk_intents.latched, what="unlatched")
            await until(lambda: session.presenter.turn.phase is TurnPhase.IDLE, what="idle")
            assert STOPPED in said and not session.presenter._transmitting
            await alice.cancel_emergency()
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=20)


Ending = Callable[[UiSession, InterphoneServer], Awaitable[None]]


async def _leave(session: UiSession, server: InterphoneServer) -> None:
    session.presenter.leave(OPS)


async def _hide(session: UiSession, server: InterphoneServer) -> None:
    session.window.hide()


async def _lose_the_server(session: UiSession, server: InterphoneServer) -> None:
    await server.stop()


@pytest.mark.parametrize("end", [_leave, _hide, _lose_the_server],
                         ids=["left", "hidden", "disconnected"])
def test_a_latched_talk_ends_as_a_held_one_does(qloop, ui, server, end: Ending) -> None:
    async def scenario() -> None:
        said = announcements(ui.window)
        await latched_talking(ui, server)
        await end(ui, server)
        await until(lambda: not ui.window.talk_intents.latched, what="unlatched")
        await until(lambda: ui.presenter.turn.phase is TurnPhase.IDLE
                    and not ui.presenter.talk_in_progress, what="the turn over")
        assert not ui.window.talk_intents.held and not ui.presenter._transmitting
        assert STOPPED in said, said
        await until(lambda: holder(server) == "", what="the floor free at the server")

    run(qloop, scenario(), timeout=20)


def test_a_press_action_refused_leaves_nothing_latched(qloop, ui, server) -> None:
    """Someone speaks (no line to wait in): the request is refused, and the latch goes
    with it (a second press would have asked again instead of stopping)."""
    async def scenario() -> None:
        button = ui.window.panel.talk_button
        alice = await ui.other("alice")
        assert await alice.talk_start()
        await until(lambda: button.state is TalkState.BUSY, what="busy")
        asked = ui.presenter.talk.requests
        press_action(button)  # (the click comes a moment later: an animated one)
        await until(lambda: ui.presenter.talk.requests > asked, what="asked for the floor")
        await until(lambda: not ui.presenter.talk_in_progress and
                    not ui.window.talk_intents.latched, what="refused")
        assert holder(server) == "alice" and not ui.window.talk_intents.held
        await until(lambda: ui.presenter.turn.phase is TurnPhase.IDLE, what="idle")
        await alice.talk_stop()
        await latched_talking(ui, server)  # free again: a press talks
        press_action(button)
        await until(lambda: holder(server) == "", what="stopped")

    run(qloop, scenario(), timeout=20)


def test_in_press_to_start_and_stop_mode_every_source_latches(qloop, server, settings,
                                                              qtbot) -> None:
    """The setting "press to start and stop" (as Zello's toggle mode): the talk key and
    the button start talking at a press and stop at the next; a release does nothing."""
    settings.talk_mode = "toggle"

    async def scenario() -> None:
        session = await open_session(server, settings)
        try:
            window, button = session.window, session.window.panel.talk_button
            said = announcements(window)
            await until(lambda: button.state is TalkState.IDLE, what="joined")
            assert window.talk_intents.toggle_mode
            assert button.texts() == ("Press to talk", "or press Space")
            assert button.toolTip() == ("Press to start talking, press again to stop "
                                        "(or press Space)")
            space(window, QEvent.Type.KeyPress)
            space(window, QEvent.Type.KeyRelease)
            await until(lambda: button.state is TalkState.TALKING, what="talking (Space)")
            await asyncio.sleep(0.4)  # (past the release delay a hold would have)
            assert holder(server) == "me" and window.talk_intents.latched
            space(window, QEvent.Type.KeyPress)
            space(window, QEvent.Type.KeyRelease)
            await ended_cleanly(session, server, said)
            centre = button.rect().center()
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=centre)
            await until(lambda: button.state is TalkState.TALKING, what="talking (mouse)")
            await asyncio.sleep(0.4)
            assert holder(server) == "me"
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=centre)
            await ended_cleanly(session, server, said)
            window.talk_intents.set_toggle_mode(False)  # back to holding
            assert button.texts()[0] == "Hold to talk"
            space(window, QEvent.Type.KeyPress)
            await until(lambda: holder(server) == "me", what="talking (held)")
            space(window, QEvent.Type.KeyRelease)
            await until(lambda: holder(server) == "", what="released")
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=20)


def test_the_talk_mode_is_a_setting_applied_at_once(qloop, server, settings, qapp) -> None:
    async def scenario() -> None:
        async with signed_in_at_start(qapp, settings, server.port) as runtime:
            window = runtime.window
            assert window is not None and runtime.preferences is not None
            assert not window.talk_intents.toggle_mode
            dialog = runtime.preferences.open()
            assert dialog.talk_mode.currentData() == "hold"
            assert dialog.labels["mode"].buddy() is dialog.talk_mode
            dialog.talk_mode.setCurrentIndex(dialog.talk_mode.findData("toggle"))
            assert "again to stop" in dialog.talk_hint.text()
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
            assert settings.talk_mode == "toggle" and window.talk_intents.toggle_mode
            dialog = runtime.preferences.open()
            assert dialog.talk_mode.currentData() == "toggle"
            dialog.talk_mode.setCurrentIndex(dialog.talk_mode.findData("hold"))
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
            assert settings.talk_mode == "hold" and not window.talk_intents.toggle_mode

    run(qloop, scenario(), timeout=20)


def test_tab_reaches_the_talk_button_where_return_latches_and_space_still_holds(
        qloop, ui, server, qtbot) -> None:
    """The button took no focus: a keyboard or screen-reader user who moves by Tab never
    reached it, and its press action with it. Tab reaches it now, Return
    there latches as the press action does, and Space held there talks while held, as
    anywhere in the window (the focused button does not take the talk key)."""
    async def scenario() -> None:
        window, button = ui.window, ui.window.panel.talk_button
        said = announcements(window)
        await until(lambda: button.state is TalkState.IDLE, what="joined")
        chain, widget = [], window.interphones.filter.nextInFocusChain()
        while widget is not window.interphones.filter and len(chain) < 2000:
            chain.append(widget)
            widget = widget.nextInFocusChain()
        assert button in chain and button.focusPolicy() == Qt.FocusPolicy.TabFocus
        button.setFocus(Qt.FocusReason.TabFocusReason)
        await until(lambda: window.focusWidget() is button, what="the talk button focused")
        space(window, QEvent.Type.KeyPress)
        await until(lambda: holder(server) == "me", what="talking (Space held)")
        assert not window.talk_intents.latched
        space(window, QEvent.Type.KeyRelease)
        await until(lambda: holder(server) == "", what="released (Space)")
        key(window, Qt.Key.Key_Return)
        await until(lambda: holder(server) == "me", what="talking (Return)")
        assert window.talk_intents.latched
        await asyncio.sleep(0.4)
        assert holder(server) == "me"
        key(window, Qt.Key.Key_Return)
        await ended_cleanly(ui, server, said)

    run(qloop, scenario(), timeout=20)


def test_signing_out_ends_a_latched_talk(qloop, server, settings, qapp) -> None:
    async def scenario() -> None:
        async with signed_in_at_start(qapp, settings, server.port) as runtime:
            window, presenter = runtime.window, runtime.presenter
            assert window is not None and presenter is not None
            presenter.join(OPS)
            button = window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="joined")
            press_action(button)
            await until(lambda: holder(server) == "me", what="talking (latched)")
            await sign_out(runtime)
            assert holder(server) == "" and not window.talk_intents.latched
            assert not window.talk_intents.held

    run(qloop, scenario(), timeout=20)


def test_any_press_stops_a_latched_talk_and_its_release_does_nothing(qloop, ui, server,
                                                                     qtbot) -> None:
    """A talk latched by the screen reader's press: a click on the button (which the
    screen reader names "Stop talking") or Space stops it; their release does nothing
    more. Before, both were one more holder of a talk the latch held on."""
    async def scenario() -> None:
        window, button = ui.window, ui.window.panel.talk_button
        said = announcements(window)
        centre = button.rect().center()
        await latched_talking(ui, server)
        qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=centre)
        await ended_cleanly(ui, server, said)
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=centre)
        await asyncio.sleep(0.3)
        assert holder(server) == "" and not window.talk_intents.held
        await latched_talking(ui, server)
        space(window, QEvent.Type.KeyPress)
        await ended_cleanly(ui, server, said)
        space(window, QEvent.Type.KeyRelease)
        await asyncio.sleep(0.3)
        assert holder(server) == "" and not window.talk_intents.held
        # and a held click talks as before
        qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=centre)
        await until(lambda: holder(server) == "me", what="talking (held click)")
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=centre)
        await until(lambda: holder(server) == "", what="released (click)")

    run(qloop, scenario(), timeout=30)
