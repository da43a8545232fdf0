"""What a screen reader makes of the window: the talk button is a button whose pressed
state is the floor, no two controls share a name, and what is announced is worth the
interruption (not one line per turn elsewhere, nothing spoken into the microphone)."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget
from test_ui_accessibility import accessible, announcements, controls
from test_ui_floor import space
from test_ui_support import OPS, run, until

from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]
EVERYONE = "group_1"  # (joined besides Ops, the talk target)


def speaks(ui) -> bool:
    """Someone speaks in Everyone, as "me" knows it."""
    info = ui.client.model.interphone(EVERYONE)
    return info is not None and bool(info.speaker)


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


def test_the_floor_granted_is_the_permit_tones_and_one_word_without_it(
        qloop, ui) -> None:
    """"You have the floor: talk now" was said as the user began to talk: a screen reader
    speaking through the speakers was heard in the microphone, over the first words. The
    permit tone says it; only where no tone is heard is one short word said."""
    async def scenario() -> None:
        window, button = ui.window, ui.window.panel.talk_button
        said = announcements(window)
        await until(lambda: button.state is TalkState.IDLE, what="joined")
        for tones, expected in ((True, []), (False, [("Talk", False)])):
            ui.presenter.settings.tones = tones
            said.clear()
            window.talk_pressed.emit()
            await until(lambda: button.state is TalkState.TALKING, what="talking")
            window.talk_released.emit()
            await until(lambda: button.state is TalkState.IDLE, what="released")
            assert said == expected, tones
        # a muted speaker silences the tone too: the word instead
        ui.presenter.settings.tones = True
        ui.presenter.settings.muted = True
        said.clear()
        window.talk_pressed.emit()
        await until(lambda: button.state is TalkState.TALKING, what="talking (muted)")
        window.talk_released.emit()
        await until(lambda: button.state is TalkState.IDLE, what="released (muted)")
        assert said == [("Talk", False)]

    run(qloop, scenario(), timeout=20)


def test_someone_speaking_in_another_interphone_is_said_once_for_a_conversation(
        qloop, ui, monkeypatch) -> None:
    """Each turn in an interphone listened to on the side was said ("Bob is speaking in
    Everyone", "Carol is speaking in Everyone", …), over what was said in the one talked
    in. A conversation there is said once, as the desktop notifications say it; a quiet
    spell ends it. One the user muted is not said."""
    import app.ui.announcer as announcer_module
    import app.ui.window_notices as notices_module

    monkeypatch.setattr(announcer_module, "REPEAT_S", 0.0)  # (not what keeps it quiet)
    window = ui.window
    said = announcements(window)

    def activity_said() -> list[str]:
        return [text for text, _ in said if " is speaking in " in text]

    async def scenario() -> None:
        await ui.client.join(EVERYONE, target=False)
        await until(lambda: str(ui.client.model.talk_target) == OPS
                    and EVERYONE in {str(i) for i in ui.client.model.joined_ids},
                    what="in both")
        bob = await ui.other("bob", join=EVERYONE)
        carol = await ui.other("carol", join=EVERYONE)
        for other in (bob, carol, bob):  # one conversation: three turns
            assert await other.talk_start()
            await until(lambda o=other: f"{o.uid.title()} is speaking in"
                        in window.statusBar().currentMessage(), what="shown")
            await other.talk_stop()
            await until(lambda: not speaks(ui), what="stopped")
        assert len(activity_said()) == 1 and activity_said()[0].startswith("Bob is speaking")
        # after a quiet spell, the next turn is a new conversation: said again
        monkeypatch.setattr(notices_module, "ACTIVITY_QUIET_S", 0.0)
        assert await carol.talk_start()
        await until(lambda: len(activity_said()) == 2, what="said again")
        await carol.talk_stop()
        await until(lambda: not speaks(ui), what="carol stopped")
        # an interphone the user muted is not said at all (shown, as its row shows it)
        ui.presenter.set_interphone_muted(EVERYONE, True)
        assert await bob.talk_start()
        await until(lambda: "Bob is speaking in" in window.statusBar().currentMessage(),
                    what="shown while muted")
        await bob.talk_stop()
        assert len(activity_said()) == 2

    run(qloop, scenario(), timeout=20)
