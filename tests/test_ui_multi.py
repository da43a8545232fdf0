"""Several joined interphones in the window, and presence/calls (pytest-qt, real server).

The presenter's logic: the talk target marker, selection that never drops the
talk target, per-interphone volume and mute reaching the mixer, the activity
cue/highlight/notification, contacts' status and the call banner.
"""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from test_ui_presenter import press, release, start_again
from test_ui_support import (
    OPS,
    UiSession,
    close_session,
    holder,
    open_session,
    run,
    start_server,
    until,
)

from app.client import InterphoneClient, RequestTimeout
from app.client.call_resume import RESUME_S
from app.protocol import InterphoneId
from app.protocol.presence import PresenceChanged
from app.ui.audio_link import Tone, open_audio
from app.ui.interphone_list import SUBTITLE_ROLE
from app.ui.interphone_mix import format_mix, parse_mix
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter
from app.ui.presenter_calls import HANG_UP_GRACE_S
from app.ui.view_types import TalkState
from app.ui.window_notices import ACTIVITY_QUIET_S

pytest_plugins = ["test_ui_support"]

NIGHT = "discuss_12"


def member_count(client: InterphoneClient, interphone: str) -> int:
    info = client.model.interphone(interphone)
    return 0 if info is None else info.member_count


def tones_of(session: UiSession) -> list[Tone]:
    """Record the cues the presenter plays from now on."""
    played: list[Tone] = []
    session.presenter._tone = played.append  # type: ignore[method-assign]
    return played


def test_a_click_on_join_to_talk_joins_the_interphone_shown(qloop, server, settings,
                                                            qtbot) -> None:
    """The big button read "Join to talk" and a click on it did nothing: only the small
    Join button by the title joined."""
    async def scenario() -> None:
        session = await open_session(server, settings, join=None)
        window = session.window
        try:
            button = window.panel.talk_button
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().center())
            await asyncio.sleep(0.1)
            assert session.client.joined_ids == ()  # nothing shown: nothing to join
            window.interphones.select(OPS)
            await until(lambda: window.panel.interphone_id == OPS, what="ops shown")
            assert button.state is TalkState.NOT_JOINED
            assert button.texts() == ("Join to talk", "")
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().center())
            await until(lambda: session.client.talk_target == InterphoneId.parse(OPS),
                        what="ops joined")
            await until(lambda: button.state is TalkState.IDLE, what="hold to talk")
        finally:
            await close_session(session)

    run(qloop, scenario())


def test_after_leave_the_members_shown_are_the_ones_still_in(qloop, ui) -> None:
    """Leave on the interphone shown: its header said "Group · 1 member" while the list
    under it still read "me (you)" and "Alice", as when we were in."""
    async def scenario() -> None:
        panel = ui.window.panel
        await ui.other("alice")
        await until(lambda: panel.member_texts() == ["me (you)", "Alice"], what="both in")
        ui.presenter.leave(OPS)
        await until(lambda: not ui.client.model.is_joined(InterphoneId.parse(OPS)),
                    what="left")
        assert panel.interphone_id == OPS
        await until(lambda: panel.member_texts() == ["Alice"], what="only alice listed")
        assert panel.members_title.text() == "Members (1)"

    run(qloop, scenario())


def test_leaving_the_talk_target_says_which_one_takes_over(qloop, ui) -> None:
    """Leave on the talk target: the most recently joined other one became the talk
    target and the window showed it, but nothing said the talk key now talks there."""
    async def scenario() -> None:
        window = ui.window
        ui.presenter.join(NIGHT)
        await until(lambda: str(ui.client.talk_target) == NIGHT, what="night the target")
        ui.presenter.talk_here(OPS)
        await until(lambda: window.interphones.row(OPS).talk_target, what="ops the target")
        window.statusBar().clearMessage()
        ui.presenter.leave(OPS)
        await until(lambda: str(ui.client.talk_target) == NIGHT, what="night takes over")
        await until(lambda: window.statusBar().currentMessage(), what="something said")
        assert window.statusBar().currentMessage() == "Left Ops: now talking into Night shift"
        assert window.panel.interphone_id == NIGHT
        # the last one left: no talk target, nothing takes over
        window.statusBar().clearMessage()
        ui.presenter.leave(NIGHT)
        await until(lambda: ui.client.talk_target is None, what="night left")
        await asyncio.sleep(0.1)
        assert "talking into" not in window.statusBar().currentMessage()

    run(qloop, scenario())


def test_join_adds_and_marks_the_talk_target(qloop, ui) -> None:
    async def scenario() -> None:
        ui.presenter.join(NIGHT)
        rows = ui.window.interphones
        await until(lambda: len(ui.client.joined_ids) == 2, what="two joined")
        await until(lambda: rows.row(NIGHT).talk_target, what="new one is the target")
        assert rows.row(OPS).joined and not rows.row(OPS).talk_target
        ui.window.interphones.select(OPS)  # look at Ops: its controls offer "Talk here"
        mix = ui.window.panel.mix
        assert mix.isVisible() and mix.talk_here.isVisible()
        mix.talk_here.click()
        await until(lambda: rows.row(OPS).talk_target, what="Ops is the target again")
        assert not rows.row(NIGHT).talk_target and rows.row(NIGHT).joined
        assert not mix.talk_here.isVisible()

    run(qloop, scenario())


def test_selecting_another_row_never_drops_the_talk_target(qloop, ui, server) -> None:
    async def scenario() -> None:
        ui.window.interphones.select(NIGHT)  # only looking at another interphone
        assert str(ui.client.talk_target) == OPS
        button = ui.window.panel.talk_button
        assert button.state is TalkState.IDLE  # the talk key still talks into Ops
        assert "Ops" in " ".join(button.texts())
        ui.presenter.press_talk()
        await until(lambda: holder(server) == "me", what="granted in Ops")
        ui.presenter.release_talk()
        await until(lambda: holder(server) == "", what="released")

    run(qloop, scenario())


def test_per_interphone_volume_and_mute_reach_the_mixer(qloop, ui) -> None:
    async def scenario() -> None:
        ui.window.interphones.select(OPS)
        mix = ui.window.panel.mix
        mixer = ui.audio.engine.mixer
        mix.volume.setValue(40)
        assert mixer._interphone_gain[OPS] == 0.4
        mix.mute.setChecked(True)
        assert mixer._interphone_gain[OPS] == 0.0 and not mix.volume.isEnabled()
        mix.mute.setChecked(False)
        assert mixer._interphone_gain[OPS] == 0.4

    run(qloop, scenario())


def test_interphone_volumes_and_mutes_are_remembered(qloop, ui, settings) -> None:
    ui.presenter.set_interphone_volume(OPS, 40)
    ui.presenter.set_interphone_muted("chat_alice:me", True)
    stored = ({OPS: 40, "chat_alice:me": 100}, {"chat_alice:me"})
    assert parse_mix(settings.interphone_mix) == stored
    again = Presenter(MainWindow(), ui.client, ui.audio, settings)
    assert (again.interphone_volume, again.interphone_muted) == stored
    run(qloop, again.close())


@pytest.mark.parametrize(("text", "volumes", "muted"), [
    ("", {}, set()),
    ("group_58=40,0;chat_a:b=100,1", {"group_58": 40, "chat_a:b": 100}, {"chat_a:b"}),
    ("group_58=x,0;=5,1;discuss_12=999,0", {"discuss_12": 150}, set()),
])
def test_mix_setting_format(text: str, volumes: dict[str, int], muted: set[str]) -> None:
    assert parse_mix(text) == (volumes, muted)
    assert parse_mix(format_mix(volumes, muted)) == (
        {k: v for k, v in volumes.items() if v != 100 or k in muted}, muted)


def test_audio_of_a_listened_interphone_is_mixed_under_its_own_id(qloop, ui) -> None:
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        carol = await ui.other("carol", NIGHT)
        assert await carol.talk_start()
        carol.send_audio(b"\xf8\xff\xfe")
        mixer = ui.audio.engine.mixer
        await until(lambda: any(NIGHT in key for key in mixer.talkers()), what="carol mixed")
        await carol.talk_stop()

    run(qloop, scenario())


def test_activity_outside_the_talk_target_cues_highlights_and_notifies(qloop, ui) -> None:
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        carol = await ui.other("carol", NIGHT)
        played = tones_of(ui)
        noticed: list[tuple[str, str, str]] = []
        ui.window.activity_noticed.connect(lambda *args: noticed.append(args))
        assert await carol.talk_start()
        rows = ui.window.interphones
        await until(lambda: rows.row(NIGHT).active, what="highlight")
        assert played == [Tone.ACTIVITY]
        assert noticed == [(NIGHT, "Night shift", "Carol")]
        assert not rows.row(OPS).active  # the talk target's speaker is shown as before
        await carol.talk_stop()
        await until(lambda: not rows.row(NIGHT).active, what="highlight off")
        ui.presenter.set_interphone_muted(NIGHT, True)  # a muted interphone makes no cue
        assert await carol.talk_start()
        await until(lambda: rows.row(NIGHT).active, what="highlight again")
        assert played == [Tone.ACTIVITY]

    run(qloop, scenario())


def test_activity_cue_sounds_once_for_a_conversation_not_at_each_turn(qloop, ui) -> None:
    """A dispatcher scanning busy interphones heard the activity cue at each turn in each
    of them (several a minute over the one talked in), while the screen reader and the
    tray said it once for a conversation."""
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        carol = await ui.other("carol", NIGHT)
        alice = await ui.other("alice", NIGHT)
        played = tones_of(ui)
        rows = ui.window.interphones
        for speaker in (carol, alice, carol):  # turns one right after another
            assert await speaker.talk_start()
            await until(lambda: rows.row(NIGHT).active, what="highlight")
            await speaker.talk_stop()
            await until(lambda: not rows.row(NIGHT).active, what="highlight off")
        assert played == [Tone.ACTIVITY]
        # the conversation began 30 s ago or more: the next one is cued again
        ui.presenter._activity_cued[NIGHT] -= ACTIVITY_QUIET_S
        assert await alice.talk_start()
        await until(lambda: rows.row(NIGHT).active, what="highlight again")
        assert played == [Tone.ACTIVITY, Tone.ACTIVITY]
        await alice.talk_stop()

    run(qloop, scenario())


def test_activity_clears_when_its_interphone_is_made_the_talk_target_mid_speech(
        qloop, ui) -> None:
    """Talk here while someone spoke in another joined interphone: the end of that speech
    came as the talk target's, and the row (and the tray's badge) kept the activity
    highlight for good."""
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        carol = await ui.other("carol", NIGHT)
        assert await carol.talk_start()
        rows = ui.window.interphones
        await until(lambda: rows.row(NIGHT).active, what="highlight")
        ui.presenter.talk_here(NIGHT)
        await until(lambda: rows.row(NIGHT).talk_target, what="Night the talk target")
        assert not rows.row(NIGHT).active  # its speaker is the talk target's now
        await carol.talk_stop()
        await until(lambda: not ui.client.model.speaker, what="carol stopped")
        assert not rows.row(NIGHT).active
        assert ui.window._activity == []  # the tray: nobody speaks elsewhere

    run(qloop, scenario())


def test_speech_left_behind_in_the_old_talk_target_is_activity_until_it_ends(
        qloop, ui) -> None:
    """Talk here elsewhere while someone spoke in the talk target: that interphone, now
    only listened to, showed no activity (no highlight, nothing in the tray) although
    the speech went on in it."""
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        alice = await ui.other("alice", OPS)
        assert await alice.talk_start()
        rows = ui.window.interphones
        await until(lambda: ui.client.model.speaker == "alice", what="alice speaks in Ops")
        ui.presenter.talk_here(NIGHT)
        await until(lambda: rows.row(NIGHT).talk_target, what="Night the talk target")
        await until(lambda: rows.row(OPS).active, what="Ops: activity elsewhere")
        assert ui.window._activity == [("Ops", "Alice")]
        await alice.talk_stop()
        await until(lambda: not rows.row(OPS).active, what="cleared when alice stops")
        assert ui.window._activity == []

    run(qloop, scenario())


async def presence_session(server, settings) -> UiSession:
    client = InterphoneClient("127.0.0.1", server.port, "me", "x", features=("presence",))
    await client.connect()
    audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
    window = MainWindow()
    presenter = Presenter(window, client, audio, settings)
    window.show()
    return UiSession(window, presenter, client, audio, [])


def test_contacts_show_online_and_a_declined_call_tells_the_caller(qloop, server,
                                                                   settings) -> None:
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        rows = session.window.interphones
        assert rows.row("chat_alice:me").online is False
        alice = InterphoneClient("127.0.0.1", server.port, "alice", "x", features=("presence",))
        session.others.append(alice)
        await alice.connect()
        await until(lambda: rows.row("chat_alice:me").online, what="alice online")
        played = tones_of(session)
        await alice.call("me")
        banner = session.window.banner
        await until(lambda: banner.isVisible(), what="ringing banner")
        assert played == [Tone.INCOMING_CALL] and "Alice" in banner.text.text()
        assert session.presenter._ringing.isActive()  # rings on until answered or declined
        session.presenter._ring_again()
        assert played == [Tone.INCOMING_CALL] * 2
        banner.dismiss.click()  # declining tells the caller
        await until(lambda: str(alice.model.outgoing_call("chat_alice:me")) == "declined",
                    what="alice told")
        assert not session.client.model.is_joined("chat_alice:me")
        assert not session.presenter._ringing.isActive()

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_contacts_coming_online_together_refresh_the_list_once(qloop, server,
                                                               settings) -> None:
    # 9 a.m.: a thousand contacts signing in made as many refreshes of the whole list
    # (each ~0.05 s of the GUI thread with 1,000 rows), the window stalling for seconds
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        window = session.window
        calls: list[tuple[str, int]] = []
        shown, updated = window.set_rows, window.update_rows
        window.set_rows = lambda rows: (calls.append(("all", len(rows))),  # type: ignore
                                        shown(rows))
        window.update_rows = lambda rows: (calls.append(("some", len(rows))),  # type: ignore
                                           updated(rows))
        contacts = ("alice", "bob", "carol", "echo")
        for uid in contacts:  # as the client applies each notice read from the server
            session.client.model.apply_body(PresenceChanged(uid, True))
        assert calls == []  # shown together, a moment later
        await until(lambda: all(window.interphones.row(f"chat_{uid}:me").online
                                for uid in contacts), what="every contact online")
        # their rows alone (every row made again at each refresh: some 50 ms with a
        # thousand contacts, four times a second while an organisation signs in)
        assert calls == [("some", 4)]

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_calling_a_contact_shows_ringing_then_answered(qloop, server, settings) -> None:
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        # (Call is offered once the row shows bob online)
        await until(lambda: session.window.interphones.row("chat_bob:me").online,
                    what="bob online")
        session.presenter.join("chat_bob:me")  # "Call" on the contact's row
        status = session.window.statusBar()
        await until(lambda: "Calling Bob" in status.currentMessage(), what="ringing shown")
        await until(lambda: bob.model.incoming_calls, what="bob rings")
        await bob.join("chat_bob:me")
        await until(lambda: "Bob answered" in status.currentMessage(), what="answered shown")

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))
        QApplication.processEvents()


def test_answering_a_ringing_call_from_the_banner_joins(qloop, server, settings) -> None:
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        carol = InterphoneClient("127.0.0.1", server.port, "carol", "x", features=("presence",))
        session.others.append(carol)
        await carol.connect()
        await carol.call("me")
        banner = session.window.banner
        await until(lambda: banner.isVisible(), what="ringing banner")
        banner.answer.click()
        await until(lambda: str(carol.model.outgoing_call("chat_carol:me")) == "answered",
                    what="carol told")
        # carol hears "answered" when the server applies the join, which can be before
        # this client has read its own join response
        await until(lambda: session.client.model.is_joined("chat_carol:me"), what="joined")
        assert session.client.model.outgoing_call("chat_carol:me") is None  # joined, not called

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_a_declined_call_leaves_the_empty_chat_and_talks_where_it_did_before(
        qloop, server, settings) -> None:
    """After "Bob declined the call" the caller sat alone in the empty chat, its talk key
    talking into it."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client, rows = session.client, session.window.interphones
        await client.join(OPS)
        await client.join(NIGHT)
        await client.set_talk_target(OPS)  # Ops: the target, though Night was joined last
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: rows.row("chat_bob:me").online, what="bob online")
        session.presenter.join("chat_bob:me")
        await until(lambda: bob.model.incoming_calls, what="bob rings")
        assert str(client.talk_target) == "chat_bob:me"
        await bob.decline("chat_bob:me")
        await until(lambda: not client.model.is_joined("chat_bob:me"), what="chat left")
        await until(lambda: str(client.talk_target) == OPS, what="back to Ops")
        assert client.model.is_joined(NIGHT)  # the others stay joined
        assert rows.row(OPS).talk_target
        status = session.window.statusBar()
        await until(lambda: "left the empty chat" in status.currentMessage(), what="said")
        assert "Bob declined the call" in status.currentMessage()
        assert "Ops" in status.currentMessage()
        assert session.window.panel.talk_button.state is TalkState.IDLE

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


@pytest.mark.parametrize("answered_by_me", [True, False])
def test_a_call_the_other_party_hangs_up_is_left_and_the_talk_target_comes_back(
        qloop, server, settings, answered_by_me: bool) -> None:
    """After an answered call the other party pressed Leave: this side stayed alone in
    the chat, still its talk target (the talk key talked to nobody), and nothing said so."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client, rows = session.client, session.window.interphones
        await client.join(OPS)
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: rows.row("chat_bob:me").online, what="bob online")
        if answered_by_me:
            await bob.call("me")
            await until(lambda: session.window.banner.isVisible(), what="ringing banner")
            session.window.banner.answer.click()
        else:
            session.presenter.join("chat_bob:me")  # "Call" on the contact's row
            await until(lambda: bob.model.incoming_calls, what="bob rings")
            await bob.join("chat_bob:me")
        await until(lambda: str(client.talk_target) == "chat_bob:me"
                    and member_count(client, "chat_bob:me") == 2, what="in the call")
        await bob.leave("chat_bob:me")  # bob hangs up, and stays online
        await until(lambda: not client.model.is_joined("chat_bob:me"), what="chat left")
        await until(lambda: str(client.talk_target) == OPS, what="back to Ops")
        status = session.window.statusBar()
        await until(lambda: "Bob left the call" in status.currentMessage(), what="said")
        assert "Ops" in status.currentMessage()

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "ringing"])
def test_hanging_up_our_call_talks_into_the_interphone_of_before_the_call_again(
        qloop, server, settings, answered: bool) -> None:
    """Leave on an answered call (the talk target): the talk target went to the most
    recently joined interphone, not back to the one talked into before the call, as it
    does when the other party hangs up, and nothing said where the talk key talked now."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client, window = session.client, session.window
        await client.join(OPS)
        await client.join(NIGHT)  # the most recently joined
        session.presenter.talk_here(OPS)  # talked into before the call
        await until(lambda: str(client.talk_target) == OPS, what="ops the target")
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: window.interphones.row("chat_bob:me").online, what="bob online")
        session.presenter.join("chat_bob:me")  # "Call" on the contact's row
        await until(lambda: bob.model.incoming_calls, what="bob rings")
        if answered:
            await bob.join("chat_bob:me")
        await until(lambda: str(client.talk_target) == "chat_bob:me"
                    and member_count(client, "chat_bob:me") == 1 + answered, what="in the call")
        window.statusBar().clearMessage()
        session.presenter.leave("chat_bob:me")  # we hang up
        await until(lambda: not client.model.is_joined("chat_bob:me"), what="chat left")
        # (a ringing call also says "Call to Bob cancelled" as the server ends the ring,
        # before the leave is answered: the last word is where the talk key talks now)
        await until(lambda: window.statusBar().currentMessage()
                    == "Left Bob: now talking into Ops", what="where we talk now said")
        assert str(client.talk_target) == OPS
        assert window.panel.interphone_id == OPS

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_a_call_whose_other_party_goes_offline_stays_for_their_return(
        qloop, server, settings) -> None:
    """The other party's session ended (quit, or a lost network): they may come back and
    rejoin the chat, so this side stays in it; but the status bar went on saying "Bob
    answered" with nobody left to hear."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client, rows = session.client, session.window.interphones
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        await bob.connect()
        await until(lambda: rows.row("chat_bob:me").online, what="bob online")
        await bob.call("me")
        await until(lambda: session.window.banner.isVisible(), what="ringing banner")
        session.window.banner.answer.click()
        await until(lambda: member_count(client, "chat_bob:me") == 2, what="in the call")
        await bob.close()
        await until(lambda: rows.row("chat_bob:me").online is False, what="bob offline")
        status = session.window.statusBar()
        await until(lambda: "Bob is offline" in status.currentMessage(), what="said",
                    timeout=HANG_UP_GRACE_S + 5)
        assert client.model.is_joined("chat_bob:me")
        assert str(client.talk_target) == "chat_bob:me"

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_a_call_survives_a_server_restart_when_the_other_party_rejoins_late(
        qloop, settings) -> None:
    """Both sides of a call come back after a server restart, in any order: back first
    and alone in the chat, this side must not take the other party's late return
    (online, not in the chat yet) for a hang-up."""
    first = start_server(qloop)
    port = first.port

    async def scenario() -> None:
        client = InterphoneClient("127.0.0.1", port, "me", "x", features=("presence",),
                                  reconnect=True)
        await client.connect()
        audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
        window = MainWindow()
        presenter = Presenter(window, client, audio, settings)
        window.show()
        session = UiSession(window, presenter, client, audio, [])
        second = None
        try:
            bob = InterphoneClient("127.0.0.1", port, "bob", "x", features=("presence",))
            await bob.connect()
            await bob.call("me")
            await until(lambda: window.banner.isVisible(), what="ringing banner")
            window.banner.answer.click()
            await until(lambda: member_count(client, "chat_bob:me") == 2, what="in the call")
            await first.stop()  # both lose the link; bob's client does not reconnect
            await bob.close()
            await until(lambda: "reconnecting" in window.link_text(), what="reconnecting")
            second = start_again(port)
            await second.start()
            await until(lambda: window.link_text() == "Connected as me", timeout=10,
                        what="reconnected")
            await until(lambda: member_count(client, "chat_bob:me") == 1, what="back, alone")
            bob = InterphoneClient("127.0.0.1", port, "bob", "x", features=("presence",))
            session.others.append(bob)
            await bob.connect()  # online again, rejoining a moment later
            await asyncio.sleep(HANG_UP_GRACE_S + 0.5)
            await bob.join("chat_bob:me")
            await until(lambda: member_count(client, "chat_bob:me") == 2, what="together")
            assert client.model.is_joined("chat_bob:me")
            assert "left the call" not in window.statusBar().currentMessage()
        finally:
            await close_session(session)
            if second is not None:
                await second.stop()

    run(qloop, scenario(), timeout=30)


def test_a_call_to_someone_who_goes_offline_while_it_rings_is_left(qloop, server,
                                                                    settings) -> None:
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client = session.client
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        await bob.connect()
        await until(lambda: session.window.interphones.row("chat_bob:me").online,
                    what="bob online")
        session.presenter.join("chat_bob:me")
        await until(lambda: bob.model.incoming_calls, what="bob rings")
        await bob.close()  # (told once bob had time to come back: app.client.call_resume)
        await until(lambda: not client.model.is_joined("chat_bob:me"), what="chat left",
                    timeout=RESUME_S + 10)
        assert client.talk_target is None
        status = session.window.statusBar()
        await until(lambda: "left the empty chat" in status.currentMessage(), what="said")
        assert "Bob is offline" in status.currentMessage()
        assert server.state.interphone(InterphoneId.parse("chat_bob:me")) is None

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_call_is_disabled_for_a_contact_shown_offline(qloop, server, settings) -> None:
    """The Call button was enabled for a contact shown offline: the call joined an empty
    chat that could only fail."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        window, client = session.window, session.client
        join = window.panel.join_button
        window.interphones.select("chat_bob:me")
        assert window.panel.interphone_id == "chat_bob:me"
        assert join.text() == "Call" and not join.isEnabled()
        assert "Bob is offline" in join.toolTip()
        session.presenter.join("chat_bob:me")  # a double-click on the row: not called
        assert "Bob is offline" in window.statusBar().currentMessage()
        await asyncio.sleep(0.2)
        assert not client.model.is_joined("chat_bob:me")
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: join.isEnabled(), what="Call enabled once bob is online")
        assert join.text() == "Call" and "offline" not in join.toolTip()
        await bob.close()
        await until(lambda: not join.isEnabled(), what="disabled again")

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_a_call_whose_ring_fails_leaves_the_chat(qloop, server, settings) -> None:
    """The ring request failing (here: no answer from the server in time) left the caller
    in the chat it had joined to ring."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        client = session.client
        await client.join(OPS)
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: session.window.interphones.row("chat_bob:me").online,
                    what="bob online")

        async def ring_times_out(uid: str) -> None:
            await client.join(InterphoneId.chat("me", uid))
            raise RequestTimeout("CallRequest: no response within 5 s")

        client.call = ring_times_out  # type: ignore[assignment,method-assign]
        # in the chat for a few ms only (joined, the ring fails, left): seen as it happens,
        # a poll every 10 ms missed it
        joined: list[bool] = []
        client.model.subscribe(
            lambda _: joined.append(True) if client.model.is_joined("chat_bob:me") else None)
        session.presenter.join("chat_bob:me")
        await until(lambda: bool(joined), what="joined to ring")
        await until(lambda: not client.model.is_joined("chat_bob:me"), what="chat left")
        status = session.window.statusBar()
        await until(lambda: "left the empty chat" in status.currentMessage(), what="said")
        assert status.currentMessage().startswith("Call to Bob failed")
        assert str(client.talk_target) == OPS

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_a_muted_interphone_row_shows_it_is_muted(qloop, ui) -> None:
    """A muted interphone's row looked like any other in the list."""
    async def scenario() -> None:
        rows = ui.window.interphones
        rows.select(OPS)
        (item,) = rows.tree.findItems("Ops", Qt.MatchFlag.MatchExactly
                                      | Qt.MatchFlag.MatchRecursive)

        def shown() -> tuple[str, str, str]:
            return (str(item.data(0, SUBTITLE_ROLE)), item.toolTip(0),
                    str(item.data(0, Qt.ItemDataRole.AccessibleDescriptionRole)))

        def drawn() -> QImage:
            rows.tree.viewport().repaint()
            return rows.tree.viewport().grab(rows.tree.visualItemRect(item)).toImage()

        assert not any("Muted" in text for text in shown())
        plain = drawn()
        ui.window.panel.mix.mute.setChecked(True)  # the panel's Mute
        subtitle, tooltip, description = shown()
        assert subtitle.startswith("Talk target · Muted") and "Muted" in tooltip
        assert "Muted" in description
        assert drawn() != plain  # the muted-speaker glyph, the greyed name
        ui.window.panel.mix.mute.setChecked(False)
        assert not any("Muted" in text for text in shown())
        assert drawn() == plain

    run(qloop, scenario())


def test_the_big_button_offers_no_join_without_a_selection_and_calls_a_contact(
        qloop, server, settings, qtbot) -> None:
    """The big button read "Join to talk" with nothing selected, and for a contact where
    "Call" fits: it now says nothing is selected (and does nothing), and "Call" for a
    contact, disabled while the contact is offline as the Call button is."""
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        window = session.window
        button, panel = window.panel.talk_button, window.panel
        assert panel.interphone_id == "" and button.state is TalkState.NOT_JOINED
        assert button.texts() == ("Nothing selected", "Pick an interphone")
        window.interphones.select("chat_bob:me")
        await until(lambda: panel.interphone_id == "chat_bob:me", what="bob shown")
        assert not panel.join_button.isEnabled()  # bob is offline
        assert button.texts() == ("Call", "Bob is offline")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().center())
        await asyncio.sleep(0.2)
        assert session.client.model.outgoing_call("chat_bob:me") is None
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: panel.join_button.isEnabled(), what="bob online")
        assert button.texts() == ("Call", "")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().center())
        await until(lambda: bob.model.incoming_calls, what="bob rings")

    try:
        run(qloop, scenario())
    finally:
        run(qloop, close_session(session))


def test_the_talk_button_says_when_the_talk_target_is_muted(qloop, ui) -> None:
    """A muted interphone (the mute is remembered across restarts) made the talk target:
    the button read "Hold to talk" as ever, and nobody's reply was heard."""
    async def scenario() -> None:
        button = ui.window.panel.talk_button
        ui.window.interphones.select(OPS)
        ui.window.panel.mix.mute.click()  # the panel's Mute of Ops, the talk target
        assert OPS in ui.presenter.interphone_muted
        assert button.state is TalkState.IDLE
        assert "not hear" in button.texts()[1]
        ui.presenter.join(NIGHT)
        await until(lambda: str(ui.client.talk_target) == NIGHT, what="Night the target")
        ui.window.interphones.select(OPS)  # looking at Ops; the key talks into Night
        assert button.texts()[1] == "Talks into Night shift"
        ui.presenter.talk_here(OPS)
        await until(lambda: str(ui.client.talk_target) == OPS, what="Ops the target again")
        ui.window.interphones.select(NIGHT)
        assert button.texts()[1] == "Talks into Ops (muted)"
        ui.window.interphones.select(OPS)
        ui.window.panel.mix.mute.click()  # unmuted: the usual words again
        assert "not hear" not in button.texts()[1]

    run(qloop, scenario())


def test_talking_with_another_interphone_shown_says_where_it_goes(qloop, ui,
                                                                  server) -> None:
    """Space held while a scanned interphone was shown: the button said "Talking · 0:58
    left" under that interphone's name, and nothing said the words went into the talk
    target, another one."""
    async def scenario() -> None:
        button = ui.window.panel.talk_button
        await ui.client.join(NIGHT, target=False)
        ui.window.interphones.select(NIGHT)  # the key talks into Ops
        await until(lambda: button.texts()[1] == "Talks into Ops", what="idle: into Ops")
        press(ui.window)
        await until(lambda: button.state is TalkState.TALKING, what="talking")
        title, detail = button.texts()
        assert title == "Talking"
        assert detail.startswith("Into Ops · ") and detail.endswith(" left")
        ui.window.interphones.select(OPS)  # the talk target shown: the time alone
        await until(lambda: not button.texts()[1].startswith("Into"), what="Ops shown")
        assert button.texts()[1].endswith(" left")
        release(ui.window)
        await until(lambda: holder(server) == "", what="floor released")

    run(qloop, scenario())


def test_a_speech_going_on_at_the_join_shows_no_time_it_does_not_know(qloop, ui) -> None:
    """Joined while carol spoke: "Carol is speaking · 0:00" counted from the join, a
    time the client does not know (the server does not say when a speech began). The
    next speech, seen from its start, has its time again."""
    async def scenario() -> None:
        carol = await ui.other("carol", NIGHT)
        assert await carol.talk_start()
        await asyncio.sleep(1.2)
        await ui.client.join(NIGHT)
        ui.window.interphones.select(NIGHT)
        await until(lambda: ui.client.model.speaker == "carol", what="carol speaks")
        panel = ui.window.panel
        await until(lambda: "is speaking" in panel.speaking.text(), what="the line")
        assert panel.speaking.text() == "Carol is speaking"
        assert ui.client.model.speaker_since is None
        await carol.talk_stop()
        await until(lambda: not ui.client.model.speaker, what="carol stopped")
        assert await carol.talk_start()
        await until(lambda: "is speaking · 0:0" in panel.speaking.text(), what="timed")

    run(qloop, scenario())


def test_joining_one_more_group_makes_only_the_rows_it_changes(qloop, settings,
                                                                monkeypatch) -> None:
    # a user in 60 groups with ~1,000 contacts joining 9 of them one after the other: each
    # join (its response, the talk target's and the joined set's changes, the members'
    # notices) made every row again, three times and more, the loop blocked some 19 s
    from app.server import Directory, InterphoneServer, ServerSettings
    from app.ui import presenter_rows

    users = [f"user{n:03d}" for n in range(300)]
    lines = ['[server]', 'auth = "open"']
    for uid in users:
        lines += ["[[users]]", f'uid = "{uid}"', f'name = "Name {uid}"', 'token = "x"']
    for g in range(12):
        members = ", ".join(f'"{uid}"' for uid in users[:20])
        lines += ["[[groups]]", f'id = "g{g}"', f'name = "Group {g}"', f"members = [{members}]"]
    directory = Directory.from_toml_text("\n".join(lines))
    server = InterphoneServer(directory, host="127.0.0.1", port=0,
                              settings=ServerSettings(auth="open"))
    run(qloop, server.start())
    me = "user000"

    async def scenario() -> UiSession:
        client = InterphoneClient("127.0.0.1", server.port, me, "x",
                                  features=("presence", "roster"))
        await client.connect()
        audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
        window = MainWindow()
        session = UiSession(window, Presenter(window, client, audio, settings), client,
                            audio, [])
        window.show()
        return session

    session = run(qloop, scenario())
    made: list[str] = []
    make = presenter_rows._row

    def counted(model, interphone, *args):  # type: ignore[no-untyped-def]
        made.append(str(interphone))
        return make(model, interphone, *args)

    async def joins() -> None:
        rows = session.window.interphones
        assert len(session.presenter.rows()) == 12 + 299
        for n in range(4):  # (someone else in the next one: its notices come too)
            await session.other(users[n + 1], join=f"group_g{n + 1}")
        # (their presence shown: every row again, once)
        await until(lambda: all(rows.row(f"chat_{me}:{uid}").online for uid in users[1:5]),
                    what="the others online")
        for n in range(4):
            made.clear()
            session.presenter.join(f"group_g{n}")
            await until(lambda n=n: rows.row(f"group_g{n}").talk_target,  # type: ignore
                        what="joined and talk target")
            await until(lambda n=n: rows.row(f"group_g{n}").member_count >= 1,  # type: ignore
                        what="its count")
            await asyncio.sleep(0.3)  # whatever else the join brings
            # the rows of the joined ones (the talk target's mark moved), not the thousand
            assert len(made) <= 12 * (n + 1), (n, len(made))
            assert set(made) <= {f"group_g{k}" for k in range(n + 1)}
        assert {r.id for r in rows.rows() if r.joined} == {f"group_g{k}" for k in range(4)}
        assert rows.row("group_g3").talk_target and not rows.row("group_g2").talk_target

    monkeypatch.setattr(presenter_rows, "_row", counted)
    try:
        run(qloop, joins(), timeout=60)
    finally:
        run(qloop, close_session(session))
        run(qloop, server.stop())


def test_talkers_in_two_joined_interphones_list_their_replays_once(qloop, ui) -> None:
    # the replay list was made again at each packet while two joined interphones had a
    # talker each (their packets alternate): some 50 times a second a talker
    async def scenario() -> None:
        await ui.client.join(NIGHT, target=False)
        carol = await ui.other("carol", NIGHT)
        bob = await ui.other("bob", OPS)
        assert await carol.talk_start() and await bob.talk_start()
        # their talks told and the list shown again after (REPLAY_SETTLE_MS): a notice or
        # that timer coming after the first packets, as on a loaded machine, shows it too
        model = ui.client.model
        await until(lambda: model.speaker_of(NIGHT) == "carol" and model.speaker == "bob",
                    timeout=10, what="both talks told")
        await until(lambda: not ui.presenter._replay_settle.isActive(), timeout=10,
                    what="the list settled")
        received = ui.presenter.received
        carol.send_audio(b"\xf8\xff\xfe")
        bob.send_audio(b"\xf8\xff\xfe")
        await until(lambda: received["carol"] and received["bob"], what="both heard")
        shown: list[int] = []
        show = ui.presenter._show_replay
        ui.presenter._show_replay = lambda: (shown.append(1), show())  # type: ignore
        for _ in range(20):
            carol.send_audio(b"\xf8\xff\xfe")
            bob.send_audio(b"\xf8\xff\xfe")
            await asyncio.sleep(0.01)
        await until(lambda: received["carol"] == received["bob"] == 21, what="all heard")
        assert shown == []  # (both listed at their first packet)
        assert len(ui.presenter.replay_items(NIGHT)) == len(ui.presenter.replay_items(OPS)) == 1
        await carol.talk_stop()
        await bob.talk_stop()

    run(qloop, scenario())
