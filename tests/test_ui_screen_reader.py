"""What a screen reader makes of the window: the talk button is a button whose pressed
state is the floor, no two controls share a name, and what is announced is worth the
interruption (not one line per turn elsewhere, nothing spoken into the microphone)."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget
from test_ui_accessibility import accessible, controls
from test_ui_floor import space
from test_ui_support import OPS, run, until

from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


def pressed(widget: QWidget) -> bool:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return bool(interface.state().pressed)


def test_the_talk_button_is_a_push_button_pressed_while_talking(qloop, ui, qtbot) -> None:
    """It had a name and a description but the role of a generic element: a screen
    reader did not say "button", nor "pressed" while the floor was ours."""
    async def scenario() -> None:
        window, button = ui.window, ui.window.panel.talk_button
        interface = QAccessible.queryAccessibleInterface(button)
        assert interface is not None
        assert interface.role() is QAccessible.Role.Button
        assert interface.text(QAccessible.Text.Name) == "Push to talk"
        await until(lambda: button.state is TalkState.IDLE, what="joined")
        assert not pressed(button)
        space(window, QEvent.Type.KeyPress)  # the talk key: pressed while talking
        await until(lambda: button.state is TalkState.TALKING, what="talking")
        assert pressed(button)
        space(window, QEvent.Type.KeyRelease)
        await until(lambda: button.state is TalkState.IDLE, what="released")
        assert not pressed(button)
        # the mouse: pressed and held on the disc, as before
        centre = QPointF(button.rect().center())
        qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=centre.toPoint())
        await until(lambda: button.state is TalkState.TALKING, what="talking (mouse)")
        assert button.held and pressed(button)
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=centre.toPoint())
        await until(lambda: button.state is TalkState.IDLE, what="released (mouse)")
        assert not button.held and not pressed(button)
        # the screen reader's "press" action while it offers to join: joins
        await ui.client.leave()
        await until(lambda: button.state is TalkState.NOT_JOINED, what="left")
        actions = interface.actionInterface()
        assert actions is not None and actions.pressAction() in actions.actionNames()
        actions.doAction(actions.pressAction())
        await until(lambda: str(ui.client.model.joined) == OPS, what="joined again")
        await until(lambda: button.state is TalkState.IDLE, what="idle again")
        assert not pressed(button)

    run(qloop, scenario(), timeout=20)


def test_no_two_controls_share_a_name_and_each_mute_says_what_it_silences(
        qloop, ui) -> None:
    """The interphone's own Mute and the speaker's Mute (the audio bar's) were both read
    out as "Mute": a screen reader's list of buttons gave two alike."""
    async def scenario() -> None:
        window = ui.window
        mix = window.panel.mix
        await until(lambda: mix.isVisible(), what="the joined interphone's controls")
        QApplication.processEvents()
        names = Counter(accessible(widget) for widget in controls(window))
        assert [name for name, count in names.items() if count > 1] == []
        row_name = window.interphones.row(OPS).name
        assert accessible(mix.mute) == f"Mute {row_name}"
        assert accessible(window.audio_bar.mute) == "Mute the speaker"
        mix.mute.click()  # as its face, its name says what a press does now
        assert accessible(mix.mute) == f"Unmute {row_name}"
        mix.mute.click()
        assert accessible(mix.mute) == f"Mute {row_name}"

    run(qloop, scenario(), timeout=20)
