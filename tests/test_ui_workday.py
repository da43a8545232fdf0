"""A team's working day with the desktop app (user testing): a call that rings, a directory
reloaded while everyone is signed in. What the window shows follows what is true, also
after other news has come and gone.

Real server on 127.0.0.1, real clients, the clocked (virtual) audio device.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt
from test_ui_support import OPS, UiSession, close_session, open_session, run, until

from app.audio.codec import OpusEncoder
from app.client import CallState, ConnectionState, FloorState
from app.client.asked_features import asked_features
from app.protocol import InterphoneId
from app.server import Directory, InterphoneServer, ServerSettings
from app.server.directory import Circle
from app.ui.interphone_list import SUBTITLE_ROLE

pytest_plugins = ["test_ui_support"]

APP = asked_features(tls=False, presence=True)  # what the app asks for
ALICE = str(InterphoneId.chat("me", "alice"))
NIGHT = "discuss_12"


def renamed(group: str, user: str) -> Directory:
    """The demo directory with Ops and alice renamed."""
    demo = Directory.demo()
    ops = demo.groups["58"]
    return Directory({**demo.users, "alice": replace(demo.users["alice"], name=user)},
                     {**demo.groups, "58": Circle(ops.id, group, ops.members)},
                     demo.discussions, demo.settings)


def subtitle(ui: UiSession, name: str) -> str:
    (item,) = ui.window.interphones.tree.findItems(
        name, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)
    return str(item.data(0, SUBTITLE_ROLE))



def tone_frames(count: int) -> list[bytes]:
    """``count`` 20 ms Opus frames of a 440 Hz tone."""
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(960 * count) / 48000)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        return [encoder.encode(tone[i * 960:(i + 1) * 960]) for i in range(count)]

def test_a_ringing_call_is_shown_until_answered_whatever_the_status_bar_says(
        qloop, server: InterphoneServer, settings) -> None:
    """The caller saw "Calling Alice…" only in the status bar, where the next message
    (someone speaking in another joined interphone) replaced it: for the rest of the
    30 s the window said "Nobody is speaking" as if nothing was going on."""
    async def scenario() -> None:
        ui = await open_session(server, settings, features=APP)
        try:
            window = ui.window
            alice = await ui.other("alice", join=None, features=APP)
            await until(lambda: ui.client.model.is_online("alice"), what="alice online")
            ui.presenter.join(ALICE)  # the contact's Call
            await until(lambda: ui.client.model.outgoing_call(ALICE) is CallState.RINGING,
                        what="ringing")
            await until(lambda: window.panel.interphone_id == ALICE, what="the call shown")
            window.show_message("Bob is speaking in Ops", 5000)  # the next news
            await until(lambda: window.panel.speaking.text() == "Calling Alice… no answer yet",
                        what="the panel says it rings")
            assert "calling…" in subtitle(ui, "Alice")
            await alice.join(ALICE)  # answered
            await until(lambda: window.panel.speaking.text() == "Nobody is speaking",
                        what="answered")
            assert "calling…" not in subtitle(ui, "Alice")
        finally:
            await close_session(ui)

    run(qloop, scenario())


def test_a_directory_reload_renames_everywhere_on_screen(
        qloop, server: InterphoneServer, settings) -> None:
    """After a reload renamed the talk target's group and a user, the list, the members and
    the contacts took the new names, but the talk button still said "Talks into Ops", the
    window's title "Ops — Interphone" and the replay list "Alice", until something else
    happened to redraw them."""
    frames = tone_frames(10)

    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            window, presenter = ui.window, ui.presenter
            alice = await ui.other("alice", join=OPS, features=APP)
            await ui.client.join(OPS)  # the talk target; Night shift is listened to
            presenter.select(OPS)
            assert await alice.talk_start()
            for frame in frames:
                alice.send_audio(frame)
                await asyncio.sleep(0.02)
            await alice.talk_stop()
            await until(lambda: [i.speaker for i in window.panel.replay.items()] == ["Alice"],
                        what="listed")
            presenter.select(NIGHT)
            await until(lambda: window.panel.talk_button.texts()[1] == "Talks into Ops",
                        what="the talk button names the target")
            presenter.select(OPS)
            assert window.windowTitle() == "Ops — Interphone"
            server.replace_directory(renamed("Ops centre", "Alice Smith"))
            await until(lambda: window.interphones.row(OPS) is not None
                        and window.interphones.row(OPS).name == "Ops centre", what="renamed")
            await until(lambda: window.panel.member_texts() == ["Alice Smith", "Me (you)"]
                        or window.panel.member_texts() == ["Me (you)", "Alice Smith"],
                        what="the members renamed")
            assert window.windowTitle() == "Ops centre — Interphone"
            assert [i.speaker for i in window.panel.replay.items()] == ["Alice Smith"]
            presenter.select(NIGHT)
            assert window.panel.talk_button.texts()[1] == "Talks into Ops centre"
            server.replace_directory(renamed("Ops", "Alice"))
            await until(lambda: window.panel.talk_button.texts()[1] == "Talks into Ops",
                        what="the talk button follows while shown")
        finally:
            await close_session(ui)

    run(qloop, scenario())


def test_what_a_muted_interphone_receives_stays_unheard_while_looked_at(
        qloop, server: InterphoneServer, settings) -> None:
    """A dispatcher muted a noisy yard and kept it on screen: what was said there was
    marked heard (no ●, out of "Replay (N unheard)") though not a sound of it was
    played. Unmuted, what comes next is heard again."""
    frames = tone_frames(5)

    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            window, presenter = ui.window, ui.presenter
            alice = await ui.other("alice", join=OPS, features=APP)
            await ui.client.join(OPS)
            await ui.client.set_talk_target(NIGHT)  # Ops is listened to
            presenter.select(OPS)
            window.panel.mix.mute.setChecked(True)  # the panel's Mute

            async def alice_talks(count: int) -> None:
                assert await alice.talk_start()
                for frame in frames:
                    alice.send_audio(frame)
                    await asyncio.sleep(0.02)
                await alice.talk_stop()
                await until(lambda: len(window.panel.replay.items()) == count
                            and not window.panel.replay.items()[0].receiving, what="stored")

            await alice_talks(1)
            assert [item.heard for item in window.panel.replay.items()] == [False]
            assert window.panel.replay.item_texts()[0].startswith("● Alice")
            window.panel.mix.mute.setChecked(False)
            await alice_talks(2)
            assert [item.heard for item in window.panel.replay.items()] == [True, False]
        finally:
            await close_session(ui)

    run(qloop, scenario())


def test_the_reception_line_shows_only_under_the_talk_target_s_speaker(
        qloop, server: InterphoneServer, settings) -> None:
    """The reception line (of the talk target's speaker) stayed on whatever interphone was
    shown: "Nobody is speaking" over "Reception: 0.0 % lost · jitter 5 ms" in a quiet
    interphone while someone spoke in the talk target."""
    frames = tone_frames(200)

    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            panel, presenter = ui.window.panel, ui.presenter
            alice = await ui.other("alice", join=OPS, features=APP)
            await ui.client.join(OPS)  # the talk target; Night shift is listened to
            presenter.select(OPS)
            assert await alice.talk_start()

            async def talk() -> None:
                for frame in frames:
                    alice.send_audio(frame)
                    await asyncio.sleep(0.02)

            talking = asyncio.ensure_future(talk())
            try:
                await until(lambda: panel.reception.text().startswith("Reception:")
                            and panel.reception.isVisibleTo(panel), what="reception shown")
                presenter.select(NIGHT)  # nobody speaks there
                await until(lambda: panel.speaking.text() == "Nobody is speaking",
                            what="Night shift shown")
                await until(lambda: not panel.reception.isVisibleTo(panel),
                            what="no reception line under it")
                await asyncio.sleep(1.5)  # (the line is brought up to date each second)
                assert not panel.reception.isVisibleTo(panel)
                presenter.select(OPS)
                await until(lambda: panel.reception.isVisibleTo(panel), what="back")
            finally:
                talking.cancel()
            await alice.talk_stop()
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=30)


def test_a_directory_reload_keeps_the_member_lists_of_the_interphones_listened_to(
        qloop, server: InterphoneServer, settings) -> None:
    """After a reload that changed the roster, the member list of a joined interphone other
    than the talk target read "Join to see who is in" for good: the roster was synced
    again, and the sync's counts replaced the lists the notifications keep."""
    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            window, presenter = ui.window, ui.presenter
            await ui.client.sync()  # as the app does once signed in
            await ui.other("alice", join=OPS, features=APP)
            await ui.client.join(OPS, target=False)  # listened to; Night shift the target
            presenter.select(OPS)
            await until(lambda: sorted(window.panel.member_texts()) == ["Alice", "Me (you)"],
                        what="Ops's members")
            presenter.select(NIGHT)
            server.replace_directory(renamed("Ops centre", "Alice Smith"))
            await until(lambda: window.interphones.row(OPS) is not None
                        and window.interphones.row(OPS).name == "Ops centre", what="renamed")
            await asyncio.sleep(0.5)  # (the roster's sync)
            presenter.select(OPS)
            await until(lambda: sorted(window.panel.member_texts())
                        == ["Alice Smith", "Me (you)"], what="Ops's members still known")
            info = ui.client.model.interphone(OPS)
            assert info is not None and info.members is not None
        finally:
            await close_session(ui)

    run(qloop, scenario())


def test_an_account_removed_by_a_reload_is_not_said_to_be_signed_in_elsewhere(
        qloop, settings) -> None:
    """A user the directory no longer lists was told "Offline (signed in elsewhere)" and
    "Press Reconnect to continue here", which could only be refused."""
    demo = Directory.demo()
    users = {uid: replace(user, token="x") for uid, user in demo.users.items()}
    directory = Directory(users, demo.groups, demo.discussions, demo.settings)
    server = InterphoneServer(directory, host="127.0.0.1", port=0,
                              settings=ServerSettings(auth="token"))
    run(qloop, server.start())

    async def scenario() -> None:
        ui = await open_session(server, settings, features=APP)
        try:
            window = ui.window
            without_me = Directory(
                {uid: user for uid, user in users.items() if uid != "me"},
                {key: replace(group, members=group.members - {"me"})
                 for key, group in demo.groups.items()},
                {key: replace(group, members=group.members - {"me"})
                 for key, group in demo.discussions.items()}, demo.settings)
            server.replace_directory(without_me)
            await until(lambda: ui.client.model.connection is ConnectionState.KICKED,
                        what="kicked")
            await until(lambda: "removed" in window.link_label.accessibleName(),
                        what="the link says why")
            assert window.link_label.accessibleName() == \
                "Offline (your account was removed from the server's directory)"
            ui.presenter.press_talk()  # what pressing talk says
            ui.presenter.release_talk()
            assert "elsewhere" not in window.statusBar().currentMessage()
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_someone_speaking_elsewhere_does_not_replace_the_status_bar_s_news(
        qloop, server: InterphoneServer, settings) -> None:
    """"Frank declined the call · you left the empty chat…" (or "Missed call from…", "You
    were removed from…") went within a second on a busy day: "Bot Two is speaking in
    South yard" replaced it. That line now waits for a free status bar (or replaces one
    of its own kind)."""
    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            window = ui.window
            bar = window.statusBar()
            alice = await ui.other("alice", join=OPS, features=APP)
            bob = await ui.other("bob", join=OPS, features=APP)
            await ui.client.join(OPS, target=False)  # listened to; Night shift the target
            window.show_message("Carol declined the call", 8000)
            assert await alice.talk_start()
            await until(lambda: window.interphones.row(OPS) is not None
                        and window.interphones.row(OPS).speaker == "alice", what="alice")
            await asyncio.sleep(0.3)
            assert bar.currentMessage() == "Carol declined the call"
            await alice.talk_stop()
            bar.clearMessage()
            assert await bob.talk_start()
            await until(lambda: bar.currentMessage() == "Bob is speaking in Ops",
                        what="said on a free status bar")
            await bob.talk_stop()
            assert await alice.talk_start()
            await until(lambda: bar.currentMessage() == "Alice is speaking in Ops",
                        what="one of its own kind replaced")
            await alice.talk_stop()
        finally:
            await close_session(ui)

    run(qloop, scenario())


def test_the_talk_button_names_the_talk_target_while_another_interphone_is_shown(
        qloop, server: InterphoneServer, settings) -> None:
    """Looking at South yard, where Bot Two spoke, the button read "Busy · Bot Three is
    speaking" (in the talk target, which it did not name); and waiting in line there at
    the third place it read "You're next" (the place was replaced by "Talks into…")."""
    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT, features=APP)
        try:
            button, presenter = ui.window.panel.talk_button, ui.presenter
            alice = await ui.other("alice", join=OPS, features=APP)
            bob = await ui.other("bob", join=OPS, features=APP)
            await ui.client.join(OPS)  # the talk target; Night shift is listened to
            presenter.select(NIGHT)
            assert await alice.talk_start()
            await until(lambda: button.texts() == ("Busy", "Alice is speaking in Ops"),
                        what="busy, and where")
            presenter.select(OPS)
            await until(lambda: button.texts() == ("Busy", "Alice is speaking"),
                        what="busy where shown")
            waiting = asyncio.ensure_future(bob.talk_start(queue=True))  # in line first
            await until(lambda: bob.model.floor is FloorState.QUEUED, what="bob in line")
            presenter.press_talk()  # second in line
            await until(lambda: button.texts() == ("Waiting", "Position 2 in line"),
                        what="in line")
            presenter.select(NIGHT)
            await until(lambda: button.texts() == ("Waiting", "Position 2 in line"),
                        what="the place kept while another interphone is shown")
            presenter.release_talk()
            await bob.talk_stop()
            await asyncio.wait([waiting], timeout=5)
        finally:
            await close_session(ui)

    run(qloop, scenario())
