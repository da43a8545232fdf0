"""The floor in the GUI: one request per physical press whatever auto-repeat does, the
queue place, the talk-limit warnings, the cut-off reason and the floor cues."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from test_ui_support import OPS, UiSession, close_session, holder, open_session, run, until

from app.audio.codec import OpusEncoder
from app.client import InterphoneClient
from app.client.turn import EndReason
from app.protocol import InterphoneId
from app.ui.audio_link import _TONES, TURN_TONES, Tone
from app.ui.floor_text import end_reason_text, queue_text
from app.ui.floor_widgets import EmergencyBanner
from app.ui.presenter_speakers import REPLAY_SETTLE_MS
from app.ui.talk_button import _COLOURS, WARNING_COLOURS, TalkButton, format_length, format_seconds
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


def space(window, kind: QEvent.Type) -> None:
    """A Space key event without Qt's auto-repeat flag, as most X servers send them."""
    target = window.windowHandle()  # Qt hands the keys to the focused widget
    QApplication.sendEvent(target, QKeyEvent(kind, Qt.Key.Key_Space,
                                             Qt.KeyboardModifier.NoModifier, " ", False))


def confirm_raise(window) -> None:
    """Answer "Raise emergency" to the confirmation the emergency action asks."""
    box = window.emergency_confirm
    assert box is not None and box.isVisible()
    raise_button = next(b for b in box.buttons()
                        if box.buttonRole(b) is QMessageBox.ButtonRole.AcceptRole)
    raise_button.click()


def test_a_held_key_while_busy_makes_exactly_one_request(qloop, ui) -> None:
    async def scenario() -> None:
        alice = await ui.other("alice")
        assert await alice.talk_start()
        button = ui.window.panel.talk_button
        await until(lambda: button.state is TalkState.BUSY, what="busy")
        requests = []
        original = ui.client.talk_start

        async def counted(**kw: bool) -> bool:
            requests.append(time.monotonic())
            return await original(**kw)

        ui.client.talk_start = counted  # type: ignore[method-assign]
        space(ui.window, QEvent.Type.KeyPress)
        for _ in range(30):  # 0.9 s of X11 auto-repeat: release/press pairs, no flag
            await asyncio.sleep(0.03)
            space(ui.window, QEvent.Type.KeyRelease)
            space(ui.window, QEvent.Type.KeyPress)
        await until(lambda: ui.presenter.turn.phase.value == "busy", what="refused")
        assert len(requests) == 1
        space(ui.window, QEvent.Type.KeyRelease)
        await until(lambda: ui.presenter.turn.phase.value == "idle", what="released")
        await alice.talk_stop()
        # a fresh press after the release asks again, once
        await until(lambda: button.state is TalkState.IDLE, what="idle")
        space(ui.window, QEvent.Type.KeyPress)
        await until(lambda: button.state is TalkState.TALKING, what="granted")
        assert len(requests) == 2
        space(ui.window, QEvent.Type.KeyRelease)
        await until(lambda: ui.presenter.turn.phase.value == "idle", timeout=5.0)

    run(qloop, scenario())


def test_talk_limit_warnings_change_the_colour(qtbot) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    now = time.monotonic()
    button.set_state(TalkState.TALKING, deadline=now + 30, max_talk=60)
    assert (button.warning_level(), button.colour()) == (0, _COLOURS[TalkState.TALKING])
    button.set_state(TalkState.TALKING, deadline=now + 9, max_talk=60)
    assert (button.warning_level(), button.colour()) == (10, WARNING_COLOURS[10])
    button.set_state(TalkState.TALKING, deadline=now + 2.5, max_talk=60)
    assert (button.warning_level(), button.colour()) == (3, WARNING_COLOURS[3])
    button.set_state(TalkState.BUSY, holder="Alice")
    assert button.warning_level() == 0


def test_queue_place_is_shown(qtbot) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    button.set_state(TalkState.QUEUED, detail="1")
    assert button.texts() == ("Waiting", "You're next")
    button.set_state(TalkState.QUEUED, detail="3")
    assert button.texts() == ("Waiting", queue_text(3)) and "3" in queue_text(3)


def test_cut_off_messages_name_the_reason(qapp) -> None:
    texts = {reason: end_reason_text(reason) for reason in EndReason if reason.value}
    assert "time limit" in texts[EndReason.TIME_LIMIT]
    assert "shutting down" in texts[EndReason.SHUTDOWN]
    assert "Bob" in end_reason_text(EndReason.PREEMPTED, "Bob")
    assert len(set(texts.values())) == len(texts)  # each reason says something different


def test_every_turn_cue_exists_and_the_floor_cues_are_distinct() -> None:
    assert set(TURN_TONES.values()) <= set(_TONES)
    rendered = {tone: _TONES[tone]() for tone in Tone}
    for tone, cue in rendered.items():
        assert cue.dtype == np.float32 and cue.size > 0 and np.abs(cue).max() > 0.05, tone
    shapes = {(cue.size, round(float(np.abs(np.fft.rfft(cue)).argmax()))) for cue in
              rendered.values()}
    assert len(shapes) == len(rendered)


def opus_frames(count: int) -> list[bytes]:
    t = np.arange(960 * count) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        return [encoder.encode(tone[i * 960:(i + 1) * 960]) for i in range(count)]


def test_replay_lists_newest_first_marks_unheard_and_plays(qloop, ui) -> None:
    async def scenario() -> None:
        presenter, replay = ui.presenter, ui.window.panel.replay
        alice = await ui.other("alice")
        presenter.select("discuss_12")  # looking elsewhere while alice talks in Ops
        for round_ in range(2):
            assert await alice.talk_start()
            for frame in opus_frames(15):
                alice.send_audio(frame)
                await asyncio.sleep(0.02)
            await alice.talk_stop()
            await until(lambda r=round_: len(presenter.replay_items(OPS)) == r + 1,
                        what="stored")
        presenter.select(OPS)
        items = presenter.replay_items(OPS)
        assert len(items) == 2 and items[0].number > items[1].number  # newest first
        assert not items[0].heard and not items[1].heard
        texts = replay.item_texts()
        assert all(text.startswith("● Alice") for text in texts)
        assert "2 unheard" in replay.title.text()
        replay.play_button(1).click()  # the older one
        assert presenter.replaying
        await until(lambda: not presenter.replaying, what="replay finished")
        items = presenter.replay_items(OPS)
        assert (items[0].heard, items[1].heard) == (False, True)
        assert replay.item_texts()[1].startswith("Alice")
        ui.window.replay_last_requested.emit()  # the "replay last" key
        assert presenter.replaying
        assert presenter.replay_items(OPS)[0].heard

    run(qloop, scenario(), timeout=20)


@pytest.mark.parametrize("selected_is_target", [True, False])
def test_replay_entry_is_complete_once_the_speaker_stops(qloop, ui,
                                                         selected_is_target: bool) -> None:
    """Watching an interphone while alice speaks there and stops: the list shows her
    transmission with its whole length and a play button that works, without waiting for
    the next transmission to refresh it (it stayed "(0:00)" and greyed)."""
    async def scenario() -> None:
        presenter, replay = ui.presenter, ui.window.panel.replay
        where = OPS
        if not selected_is_target:  # a second joined interphone that is not the talk target
            where = "group_1"
            await ui.client.join(where)
            presenter.talk_here(OPS)
            await until(lambda: str(ui.client.model.talk_target) == OPS, what="target")
        alice = await ui.other("alice", join=where)
        presenter.select(where)
        assert await alice.talk_start()
        for frame in opus_frames(75):  # 1.5 s
            alice.send_audio(frame)
            await asyncio.sleep(0.02)
        await until(lambda: len(replay.item_texts()) == 1, what="listed while receiving")
        assert not replay.play_button(0).isEnabled()  # still receiving
        await alice.talk_stop()
        await until(lambda: replay.play_button(0).isEnabled(), what="play enabled")
        await until(lambda: replay.items()[0].duration >= 1.0, what="its length")
        await asyncio.sleep(REPLAY_SETTLE_MS / 1000 + 0.2)  # the late-packet refresh
        duration = replay.items()[0].duration
        assert duration >= 1.4  # the last packets counted too
        assert len(replay.item_texts()) == 1
        assert replay.item_texts()[0].endswith(f"({format_length(duration)})")
        assert format_length(duration) in ("0:01", "0:02")  # (1.5 s: to the nearest second)

    run(qloop, scenario(), timeout=20)


def test_emergency_banner_names_the_raiser_and_offers_cancel(qtbot) -> None:
    banner = EmergencyBanner()
    qtbot.addWidget(banner)
    assert banner.isHidden() and banner.interphone_id == ""
    banner.show_emergency("group_58", "Alice", can_cancel=False)
    assert "EMERGENCY" in banner.text.text() and "Alice" in banner.text.text()
    assert banner.cancel.isHidden()
    banner.show_emergency("group_58", "Alice", can_cancel=True)
    with qtbot.waitSignal(banner.cancel_requested) as signal:
        banner.cancel.click()
    assert signal.args == ["group_58"]
    banner.clear()
    assert banner.isHidden()


FLOOR = ("emergency", "floor-queue", "priority")

Scenario = Callable[[UiSession, InterphoneClient], Awaitable[None]]


def with_alice(qloop, server, settings, scenario: Scenario, timeout: float = 20) -> None:
    """Run ``scenario(session, alice)``: our window in Ops with the floor extensions, and
    alice there too (with them as well); everything is closed after, whatever happened."""
    async def run_it() -> None:
        session = await open_session(server, settings, features=FLOOR)
        try:
            await scenario(session, await session.other("alice", features=FLOOR))
        finally:
            await close_session(session)

    run(qloop, run_it(), timeout=timeout)


def test_queue_place_your_turn_and_emergency_banner(qloop, server, settings) -> None:
    async def scenario(session: UiSession, alice: InterphoneClient) -> None:
        window, presenter = session.window, session.presenter
        button = window.panel.talk_button
        assert await alice.talk_start()
        await until(lambda: button.state is TalkState.BUSY, what="busy")
        presenter.press_talk()  # held: waits in line
        await until(lambda: button.state is TalkState.QUEUED, what="queued")
        assert button.texts() == ("Waiting", "You're next")
        line = server.state.interphones[InterphoneId.parse(OPS)].floor
        assert line.queue == ("me",)
        presenter.release_talk()  # letting go leaves the line
        await until(lambda: line.queue == (), what="left the line")
        await until(lambda: button.state is TalkState.BUSY, what="busy again")
        presenter.press_talk()
        await until(lambda: button.state is TalkState.QUEUED, what="queued again")
        await alice.talk_stop()
        await until(lambda: button.state is TalkState.TALKING, what="our turn")
        assert holder(server) == "me"
        # alice raises an emergency: she pre-empts us; the banner names her
        assert await alice.talk_start(emergency=True)
        await until(lambda: window.emergency.interphone_id == OPS, what="banner")
        assert "alice" in window.emergency.text.text().lower()
        assert window.emergency.cancel.isHidden()  # neither the raiser nor a dispatcher
        assert presenter._alarm.isActive()  # the alert repeats until the cancel
        await until(lambda: presenter.turn.phase.value == "revoked", what="cut off")
        presenter.release_talk()
        await alice.cancel_emergency()
        await until(lambda: window.emergency.interphone_id == "", what="banner gone")
        assert not presenter._alarm.isActive()
        await alice.talk_stop()
        # raised from the menu: the raiser may cancel it from the banner
        assert window.emergency_action.isEnabled()
        window.emergency_action.trigger()
        confirm_raise(window)
        await until(lambda: window.emergency.interphone_id == OPS, what="own banner")
        assert window.emergency.text.text() == "EMERGENCY raised by you"  # not our uid
        assert not window.emergency.cancel.isHidden()
        window.emergency.cancel.click()
        await until(lambda: window.emergency.interphone_id == "", what="own cancelled")
        records = [(r.action.value, r.by) for r in server.state.emergency_log[
            InterphoneId.parse(OPS)]]
        assert records[-2:] == [("raise", "me"), ("cancel", "me")]

    with_alice(qloop, server, settings, scenario)


def test_emergency_action_cannot_raise_a_second_emergency_and_cancels_our_own(
        qloop, server, settings) -> None:
    """"Raise an emergency here" stayed enabled while an emergency was up in the talk
    target (a second raise changes nothing at the server)."""
    async def scenario(session: UiSession, alice: InterphoneClient) -> None:
        window = session.window
        action = window.emergency_action
        assert action.isEnabled() and action.text() == "Raise an &emergency here"
        await alice.raise_emergency(OPS)
        await until(lambda: not action.isEnabled(), what="disabled while alice's is up")
        assert action.text() == "Raise an &emergency here"
        assert action.toolTip() == "An emergency is already raised here by Alice"
        await alice.cancel_emergency(OPS)
        await until(lambda: action.isEnabled(), what="enabled again after the cancel")
        assert action.toolTip() == "Raise an emergency here"
        action.trigger()
        confirm_raise(window)  # ours: the action now cancels it
        await until(lambda: action.text() == "Cancel the &emergency here", what="ours")
        assert action.isEnabled()
        action.trigger()
        await until(lambda: action.text() == "Raise an &emergency here", what="cancelled")
        assert action.isEnabled()
        records = [(r.action.value, r.by) for r in server.state.emergency_log[
            InterphoneId.parse(OPS)]]
        assert records == [("raise", "alice"), ("cancel", "alice"), ("raise", "me"),
                           ("cancel", "me")]

    with_alice(qloop, server, settings, scenario)


def test_emergency_in_the_talk_target_names_it_over_another_panel(qloop, server,
                                                                  settings) -> None:
    """With another interphone on screen, the banner read "EMERGENCY raised by Alice" over
    its panel and the menu offered "Raise an emergency here": both were about the talk
    target, not the interphone shown. They now name it."""
    async def scenario(session: UiSession, alice: InterphoneClient) -> None:
        window = session.window
        action = window.emergency_action
        await alice.raise_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == OPS, what="banner")
        assert window.emergency.text.text() == "EMERGENCY raised by Alice"
        assert action.toolTip() == "An emergency is already raised here by Alice"
        window.interphones.select("discuss_12")  # look at Night: Ops stays the target
        await until(lambda: window.panel.interphone_id == "discuss_12", what="night")
        assert window.emergency.text.text() == "EMERGENCY in Ops raised by Alice"
        assert action.text() == "Raise an &emergency in Ops"
        assert action.toolTip() == "An emergency is already raised in Ops by Alice"
        await alice.cancel_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == "", what="cancelled")
        assert action.toolTip() == "Raise an emergency in Ops"
        window.interphones.select(OPS)
        await until(lambda: window.panel.interphone_id == OPS, what="ops")
        assert action.text() == "Raise an &emergency here"

    with_alice(qloop, server, settings, scenario)


def test_time_left_rounds_up_so_elapsed_plus_left_is_the_limit(qtbot) -> None:
    button = TalkButton()
    qtbot.addWidget(button)
    now = time.monotonic()
    button.set_state(TalkState.TALKING, deadline=now + 9.5, max_talk=60)
    assert button.texts() == ("Talking", "0:10 left")  # 50.5 s elapsed shows as 0:50
    button.set_state(TalkState.TALKING, deadline=now + 0.4, max_talk=60)
    assert button.texts()[1] == "0:01 left"


def test_time_talked_and_time_left_add_up_to_the_limit_while_talking(qloop, ui) -> None:
    """The speaking line's elapsed time counts from when the model saw us speak, the talk
    button's time left counted from when the presenter handled the grant a moment later:
    "You are speaking · 0:03" beside "0:58 left" of 60 s. Both now count from one start."""
    async def scenario() -> None:
        window, model = ui.window, ui.client.model
        model._clock = lambda: time.monotonic() - 0.3  # the grant seen 0.3 s before handled
        space(window, QEvent.Type.KeyPress)
        button = window.panel.talk_button
        await until(lambda: button.state is TalkState.TALKING, what="talking")
        since = model.speaker_since
        assert since is not None and model.speaker == "me" and model.max_talk == 60
        for whole in range(4):
            for part in (0.01, 0.1, 0.2, 0.29, 0.31, 0.5, 0.9, 0.99):
                now = since + whole + part
                window.panel._show_speaking(now)
                talked = window.panel.speaking.text().rsplit("· ", 1)[1]
                left = button.texts(now)[1].removesuffix(" left")
                assert (talked, left) == (format_seconds(whole),
                                          format_seconds(60 - whole)), part
        space(window, QEvent.Type.KeyRelease)
        await until(lambda: ui.presenter.turn.phase.value == "idle", timeout=5.0)

    run(qloop, scenario())


def test_silence_stops_the_alarm_for_this_user_only_and_offline_stops_it(
        qloop, server, settings) -> None:
    """The emergency alarm repeated until the raiser or a dispatcher cancelled, and went on
    while offline: Silence on the banner stops it here (the banner stays, a new emergency
    alarms again); offline it stops, and it resumes on reconnecting if still raised."""
    async def scenario(session: UiSession, alice: InterphoneClient) -> None:
        window, presenter = session.window, session.presenter
        played: list[Tone] = []
        presenter._tone = played.append  # type: ignore[method-assign]
        bob = await session.other("bob", features=FLOOR)
        await alice.raise_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == OPS, what="banner")
        assert presenter._alarm.isActive() and played == [Tone.EMERGENCY]
        assert window.emergency.silence.isVisibleTo(window)
        window.emergency.silence.click()
        assert not presenter._alarm.isActive()
        assert window.emergency.interphone_id == OPS  # the banner stays
        assert not window.emergency.silence.isVisibleTo(window)
        await asyncio.sleep(0.3)
        assert server.state.interphones[InterphoneId.parse(OPS)].floor.emergency_by == "alice"
        # offline the alarm is quiet; reconnected, a silenced one stays silenced
        session.client._backoff = (1.0, 1.0)
        session.client._conn._transport.abort()
        await until(lambda: not presenter._online(), what="offline")
        await until(lambda: presenter._online(), what="reconnected", timeout=5)
        await asyncio.sleep(0.3)
        assert not presenter._alarm.isActive() and played == [Tone.EMERGENCY]
        # a new emergency alarms again
        await alice.cancel_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == "", what="cancelled")
        await bob.raise_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == OPS, what="bob's")
        assert presenter._alarm.isActive() and len(played) == 2
        assert window.emergency.silence.isVisibleTo(window)
        # offline: quiet; reconnected with the emergency still up: it alarms again
        session.client._conn._transport.abort()
        await until(lambda: not presenter._online(), what="offline again")
        assert not presenter._alarm.isActive()
        assert window.emergency.interphone_id == OPS
        await until(lambda: presenter._online(), what="reconnected", timeout=5)
        await until(lambda: presenter._alarm.isActive(), what="alarm resumed")
        assert len(played) == 3

    with_alice(qloop, server, settings, scenario, timeout=25)


def test_an_emergency_raised_again_while_offline_alarms_after_reconnecting(
        qloop, server, settings) -> None:
    """A silenced emergency cancelled and raised again by the same user while this user was
    offline stayed silenced after reconnecting (same interphone, same raiser): each raise
    now has its own id, and the new one alarms."""
    async def scenario(session: UiSession, alice: InterphoneClient) -> None:
        window, presenter = session.window, session.presenter
        played: list[Tone] = []
        presenter._tone = played.append  # type: ignore[method-assign]
        await alice.raise_emergency(OPS)
        await until(lambda: window.emergency.interphone_id == OPS, what="banner")
        first = session.client.model.interphone(OPS).emergency_id
        assert first and played == [Tone.EMERGENCY]
        window.emergency.silence.click()
        assert not presenter._alarm.isActive()
        session.client._backoff = (1.5, 1.5)  # offline long enough for the new raise
        session.client._conn._transport.abort()
        await until(lambda: not presenter._online(), what="offline")
        await alice.cancel_emergency(OPS)
        await alice.raise_emergency(OPS)
        assert presenter._emergency[1] == "alice" and not presenter._alarm.isActive()
        await until(lambda: presenter._online(), what="reconnected", timeout=6)
        await until(lambda: presenter._alarm.isActive(), what="the new emergency's alarm")
        info = session.client.model.interphone(OPS)
        assert info.emergency == "alice" and info.emergency_id not in ("", first)
        assert len(played) == 2 and window.emergency.silence.isVisibleTo(window)

    with_alice(qloop, server, settings, scenario, timeout=25)


def test_raising_from_the_menu_asks_first_and_enter_does_not_raise(qloop, server,
                                                                   settings) -> None:
    """"Raise an emergency here" raised it at once: a slip of the mouse alarmed the whole
    group. It now asks "Raise the emergency in Ops?", Cancel the default button."""
    async def scenario() -> None:
        session = await open_session(server, settings, features=FLOOR)
        try:
            window = session.window
            floor = server.state.interphones[InterphoneId.parse(OPS)].floor
            window.emergency_action.trigger()
            box = window.emergency_confirm
            assert box is not None and box.isVisible()
            assert box.text() == "Raise the emergency in Ops?"
            assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
            QApplication.sendEvent(box, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return,
                                                  Qt.KeyboardModifier.NoModifier))
            await until(lambda: not box.isVisible(), what="answered")
            await asyncio.sleep(0.3)
            assert floor.emergency_by == "" and window.emergency.interphone_id == ""
            window.interphones.select("discuss_12")  # the talk target stays Ops
            await until(lambda: window.panel.interphone_id == "discuss_12", what="night")
            window.emergency_action.trigger()
            box = window.emergency_confirm
            assert box is not None and box.text() == "Raise the emergency in Ops?"
            confirm_raise(window)
            await until(lambda: floor.emergency_by == "me", what="raised")
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=20)


def test_speaker_changes_where_one_looks_leave_nothing_behind(qloop, ui) -> None:
    """Each speaker change in the interphone shown schedules the replay list's late-packet
    refresh; a day of turns there left one weak reference (and its slot) per change behind
    (``QTimer.singleShot`` with a delay and a bound method keeps them in PySide 6.11)."""
    def weak_references_to_presenter() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects()
                   if type(o) is weakref.ReferenceType and o() is ui.presenter)

    async def scenario() -> None:
        alice = await ui.other("alice")
        ui.presenter.select(OPS)
        button = ui.window.panel.talk_button
        before = weak_references_to_presenter()
        for _ in range(12):
            assert await alice.talk_start()
            await until(lambda: button.state is TalkState.BUSY, what="alice speaks")
            await alice.talk_stop()
            await until(lambda: button.state is TalkState.IDLE, what="alice stopped")
        await asyncio.sleep(REPLAY_SETTLE_MS / 1000 + 0.2)  # the refreshes ran
        assert weak_references_to_presenter() - before < 4

    run(qloop, scenario(), timeout=40)
