"""The main window follows the server through the presenter, and talk intents reach the server.

Real server on 127.0.0.1, real clients, the clocked (virtual) audio device.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QApplication
from test_ui_support import OPS, close_session, holder, open_session, run, start_server, until

from app.client import FloorBusy, InterphoneClient
from app.server import Directory, InterphoneServer
from app.ui.floor_widgets import ReplayItem
from app.ui.talk_button import format_length
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


def key(window, kind: QEvent.Type, auto_repeat: bool = False) -> None:
    """Send a Space key event where the platform does: the window's platform window (Qt
    hands it to the focused widget)."""
    target = window.windowHandle()
    event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", auto_repeat)
    QApplication.sendEvent(target, event)


def press(window, auto_repeat: bool = False) -> None:
    key(window, QEvent.Type.KeyPress, auto_repeat)


def release(window, auto_repeat: bool = False) -> None:
    key(window, QEvent.Type.KeyRelease, auto_repeat)


def test_list_shows_the_roster_and_the_joined_interphone(qloop, ui) -> None:
    rows = {row.id: row for row in ui.presenter.rows()}
    assert {"group_58", "group_1", "discuss_12"} <= set(rows)
    assert any(row.startswith("chat_") for row in rows)
    ops = ui.window.interphones.row(OPS)
    assert ops is not None and ops.joined and ops.member_count == 1 and ops.name == "Ops"
    assert ui.window.panel.interphone_id == OPS
    assert ui.window.panel.talk_button.state is TalkState.IDLE
    assert "Ops" in ui.window.windowTitle()


def test_views_follow_a_second_client_joining_and_speaking(qloop, ui) -> None:
    async def scenario() -> None:
        alice = await ui.other("alice")
        panel, window = ui.window.panel, ui.window
        # shown by their roster names ("Alice"), not by uid
        await until(lambda: any("Alice" in t for t in panel.member_texts()), what="alice listed")
        await until(lambda: window.interphones.row(OPS).member_count == 2)
        assert await alice.talk_start()
        await until(lambda: window.interphones.row(OPS).speaker == "alice", what="speaker")
        await until(lambda: panel.talk_button.state is TalkState.BUSY)
        assert "Alice is speaking" in panel.speaking.text()
        assert any("Alice" in t and "speaking" in t for t in panel.member_texts())
        assert window.windowTitle().startswith("Alice is speaking")
        assert panel.talk_button.texts()[1] == "Alice is speaking"
        await alice.talk_stop()
        await until(lambda: panel.talk_button.state is TalkState.IDLE, what="idle again")
        assert "Alice" in panel.last_spoke.text()
        await alice.leave()
        await until(lambda: window.interphones.row(OPS).member_count == 1)
        assert not any("alice" in t for t in panel.member_texts())

    run(qloop, scenario())


def test_other_interphones_show_count_and_speaker(qloop, ui) -> None:
    async def scenario() -> None:
        carol = await ui.other("carol", "discuss_12")
        rows = ui.window.interphones
        await until(lambda: rows.row("discuss_12").member_count == 1, what="night shift live")
        assert await carol.talk_start()
        await until(lambda: rows.row("discuss_12").speaker == "carol", what="carol speaking")
        await carol.leave()
        await until(lambda: rows.row("discuss_12").member_count == 0, what="ended")

    run(qloop, scenario())


def test_space_press_and_release_drive_the_floor(qloop, ui, server) -> None:
    async def scenario() -> None:
        window = ui.window
        press(window)
        await until(lambda: holder(server) == "me", what="floor granted at the server")
        await until(lambda: window.panel.talk_button.state is TalkState.TALKING)
        await until(lambda: ui.client.stats.tx_packets > 5, what="audio sent")
        for _ in range(5):  # held key: auto-repeat pairs change nothing
            release(window, auto_repeat=True)
            press(window, auto_repeat=True)
        await asyncio.sleep(0.3)
        assert holder(server) == "me"
        release(window)
        await until(lambda: holder(server) == "", what="floor released at the server")
        await until(lambda: window.panel.talk_button.state is TalkState.IDLE)

    run(qloop, scenario())


def test_release_delay_keeps_sending_after_the_key_is_released(qloop, ui, server,
                                                               settings) -> None:
    settings.release_delay_ms = 1000  # the most offered: a busy machine cannot outrun it

    async def scenario() -> None:
        press(ui.window)
        await until(lambda: holder(server) == "me")
        # the grant reached the app too: a key released before that cancels the request
        await until(lambda: ui.window.panel.talk_button.state is TalkState.TALKING)
        release(ui.window)
        await asyncio.sleep(0.2)
        assert holder(server) == "me", "released before the release delay"
        await until(lambda: holder(server) == "", timeout=6.0)

    run(qloop, scenario())


def test_focus_loss_releases_the_talk_key(qloop, ui, server) -> None:
    async def scenario() -> None:
        window = ui.window
        press(window)
        await until(lambda: holder(server) == "me")
        QApplication.sendEvent(window.windowHandle(), QFocusEvent(  # another window active
            QEvent.Type.FocusOut, Qt.FocusReason.ActiveWindowFocusReason))
        await until(lambda: holder(server) == "", what="released on deactivation")
        press(window)
        await until(lambda: holder(server) == "me")
        window.hide()  # e.g. minimised to the tray
        await until(lambda: holder(server) == "", what="released on hide")

    run(qloop, scenario())


def test_space_in_the_filter_box_types_instead_of_talking(qloop, ui, server) -> None:
    async def scenario() -> None:
        ui.window.interphones.filter.setFocus()
        target = ui.window.interphones.filter
        QApplication.sendEvent(ui.window.windowHandle(), QKeyEvent(  # to the focused box
            QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " "))
        # A talk press starts the presenter's turn at once (Qt delivers the key event and
        # the press signal synchronously): no turn now means no floor request, ever.
        assert not ui.presenter.talk_in_progress
        assert holder(server) == ""
        assert target.text() == " "

    run(qloop, scenario())


def test_talk_button_follows_grant_busy_and_revoke(qloop, settings) -> None:
    short = start_server(qloop, max_talk=1.0)

    async def scenario() -> None:
        session = await open_session(short, settings)
        try:
            button = session.window.panel.talk_button
            alice = await session.other("alice")
            assert await alice.talk_start()
            await until(lambda: button.state is TalkState.BUSY, what="busy")
            session.presenter.press_talk()
            await until(lambda: not session.presenter.talk_in_progress, what="refused")
            assert session.client.model.floor_holder == "alice"
            assert button.state is TalkState.BUSY
            session.presenter.release_talk()
            await alice.talk_stop()
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            session.presenter.press_talk()
            await until(lambda: button.state is TalkState.TALKING, what="granted")
            assert holder(short) == "me"
            # still held: the server revokes the grant after max_talk (1 s)
            await until(lambda: button.state is not TalkState.TALKING, timeout=10.0,
                        what="revoked")
            assert holder(short) == ""
            assert button.state is TalkState.IDLE
            try:
                await alice.talk_start()
            except FloorBusy:  # pragma: no cover - our stale grant would make this fail
                raise AssertionError("the floor stayed with us after the revocation") from None
            session.presenter.release_talk()
        finally:
            await close_session(session)

    try:
        run(qloop, scenario(), timeout=20)
    finally:
        run(qloop, short.stop())


def test_talk_button_mouse_press_and_release(qloop, ui, server, qtbot) -> None:
    async def scenario() -> None:
        button = ui.window.panel.talk_button
        center = button.rect().center()
        qtbot.mousePress(button, Qt.MouseButton.LeftButton, pos=center)
        await until(lambda: holder(server) == "me")
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton, pos=center)
        await until(lambda: holder(server) == "")

    run(qloop, scenario())


def test_incoming_call_raises_a_banner_and_answering_joins(qloop, ui) -> None:
    async def scenario() -> None:
        await ui.other("bob", "chat_bob:me")
        banner = ui.window.banner
        await until(lambda: banner.isVisible(), what="banner")
        assert "Bob" in banner.text.text()  # the roster name, not the uid
        banner.answer.click()
        await until(lambda: str(ui.client.model.joined) == "chat_bob:me", what="joined the call")
        assert not banner.isVisible()

    run(qloop, scenario())


def test_status_bar_shows_reconnecting_and_recovers(qloop, settings) -> None:
    first = start_server(qloop)
    port = first.port

    async def scenario() -> None:
        session = await open_session(first, settings)
        window = session.window
        second = None
        try:
            assert window.link_text() == "Connected as me"
            await first.stop()
            await until(lambda: "reconnecting" in window.link_text(), what="reconnecting shown")
            await until(lambda: "attempt" in window.link_text(), what="attempts counted")
            assert window.panel.talk_button.state is TalkState.OFFLINE
            second = start_again(port)
            await second.start()
            await until(lambda: window.link_text() == "Connected as me", timeout=10,
                        what="reconnected")
            await until(lambda: str(session.client.model.joined) == OPS, what="re-joined")
            await until(lambda: window.panel.talk_button.state is TalkState.IDLE)
        finally:
            await close_session(session)
            if second is not None:
                await second.stop()

    run(qloop, scenario(), timeout=25)


def test_a_speaker_who_stopped_while_we_were_offline_ends_when_we_lost_the_link(
        qloop, settings) -> None:
    """Alice spoke when the server went away; back online, "Last spoke: Alice at" gave
    the time we were reconnected (when we learnt she no longer spoke), not the last time
    she was heard."""
    first = start_server(qloop)
    port = first.port

    async def scenario() -> None:
        session = await open_session(first, settings)
        panel = session.window.panel
        second = None
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()
            await until(lambda: panel.speaking.text().startswith("Alice is speaking"),
                        what="alice speaking")
            lost = time.time()
            await first.stop()
            await until(lambda: "reconnecting" in session.window.link_text(),
                        what="reconnecting")
            await asyncio.sleep(2.2)  # the clock moves on while we are offline
            second = start_again(port)
            await second.start()
            await until(lambda: session.window.link_text() == "Connected as me", timeout=10,
                        what="reconnected")
            await until(lambda: "Last spoke: Alice at " in panel.last_spoke.text(),
                        what="alice's end shown")
            # "at <start> (<length>)": the start and length of her turn, which ended then
            at, length = panel.last_spoke.text().rsplit(" ", 2)[-2:]
            minutes, seconds = length.strip("()").split(":")
            shown = time.mktime(time.strptime(time.strftime("%Y-%m-%d ", time.localtime(lost))
                                              + at, "%Y-%m-%d %H:%M:%S"))
            ended = shown + int(minutes) * 60 + int(seconds)
            assert abs(ended - lost) <= 1.5, (at, length, time.strftime(
                "%H:%M:%S", time.localtime(lost)))
        finally:
            await close_session(session)
            if second is not None:
                await second.stop()

    run(qloop, scenario(), timeout=25)


def start_again(port: int) -> InterphoneServer:
    return InterphoneServer(Directory.demo(), host="127.0.0.1", port=port)


def as_in_the_replay_list(who: str, item: ReplayItem) -> str:
    """The "Last spoke" line of the transmission the replay list shows as ``item``."""
    return f"Last spoke: {who} at {item.at} ({format_length(item.duration)})"


def tone_frames(count: int) -> list[bytes]:
    """``count`` 20 ms Opus frames of a tone."""
    import numpy as np

    from app.audio.codec import OpusEncoder

    t = np.arange(960 * count) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with OpusEncoder(20) as encoder:
        return [encoder.encode(tone[i * 960:(i + 1) * 960]) for i in range(count)]


def test_last_spoke_and_the_replay_list_tell_a_transmission_alike(qloop, ui) -> None:
    """"Last spoke: Alice at 14:02:31" (when she stopped) beside the replay row "Alice
    14:02:29 (0:02)" (when she started, and how long) read as two transmissions."""
    frames = tone_frames(110)  # 2.2 s: its start and its end are different seconds

    async def scenario() -> None:
        alice = await ui.other("alice")
        panel, presenter = ui.window.panel, ui.presenter
        assert await alice.talk_start()
        for frame in frames:
            alice.send_audio(frame)
            await asyncio.sleep(0.02)
        await alice.talk_stop()
        await until(lambda: panel.talk_button.state is TalkState.IDLE, what="idle again")
        await until(lambda: len(presenter.replay_items(OPS)) == 1
                    and not presenter.replay_items(OPS)[0].receiving, what="stored")
        await asyncio.sleep(1.2)  # its last packets are in (the list shows it again)
        item = presenter.replay_items(OPS)[0]
        assert panel.replay.items()[0] == item
        assert panel.last_spoke.text() == as_in_the_replay_list("Alice", item)
        said = panel.last_spoke.text()
        presenter.replay.forget(OPS)  # as 10 minutes on: the list no longer holds it
        presenter.select(OPS)
        assert panel.replay.items() == [] and panel.last_spoke.text() == said
        await alice.leave()

    run(qloop, scenario())


def test_last_spoke_gives_your_own_transmission_s_start_and_length(qloop, ui, server) -> None:
    """Your own transmissions (none in the replay list) are told the same way: when you
    started, and for how long."""
    async def scenario() -> None:
        window, panel = ui.window, ui.window.panel
        window.activateWindow()
        started = time.time()
        press(window)
        await until(lambda: holder(server) == "me", what="talking")
        await asyncio.sleep(2.2)
        release(window)
        await until(lambda: holder(server) == "" and panel.last_spoke.text() != "",
                    what="released")
        text = panel.last_spoke.text()
        assert text.startswith("Last spoke: you at "), text
        at, length = text.rsplit(" ", 2)[-2:]
        shown = time.mktime(time.strptime(time.strftime("%Y-%m-%d ", time.localtime(started))
                                          + at, "%Y-%m-%d %H:%M:%S"))
        assert abs(shown - started) <= 2.0, (at, started)
        # held 2.2 s after the grant, then the release delay and the server's answer
        assert length in ("(0:02)", "(0:03)", "(0:04)"), text

    run(qloop, scenario())


def test_a_speaker_already_speaking_when_first_seen_gets_no_start_time(
        qloop, server, settings) -> None:
    """Carol had been speaking in Night shift for a while when we signed in; Alice joining
    there then made her speaking line count from that join ("Carol is speaking · 0:00")
    and, once she stopped, "Last spoke: Carol at" gave that moment as her start."""
    night = "discuss_12"

    async def scenario() -> None:
        carol = InterphoneClient("127.0.0.1", server.port, "carol", "x", reconnect=False)
        await carol.connect()
        session = None
        try:
            await carol.join(night)
            assert await carol.talk_start()
            await asyncio.sleep(2.2)
            session = await open_session(server, settings)
            panel = session.window.panel
            session.presenter.select(night)
            await until(lambda: panel.speaking.text().startswith("Carol is speaking"),
                        what="carol speaking")
            alice = await session.other("alice", night)
            await until(lambda: session.window.interphones.row(night).member_count == 2,
                        what="alice in")
            await asyncio.sleep(0.6)
            assert panel.speaking.text() == "Carol is speaking"  # since when: not known
            await carol.talk_stop()
            await until(lambda: panel.last_spoke.text().startswith("Last spoke: Carol"),
                        what="carol's end")
            ended = time.time()
            text = panel.last_spoke.text()
            assert text.startswith("Last spoke: Carol, until "), text
            at = text.rsplit(" ", 1)[-1]
            shown = time.mktime(time.strptime(time.strftime("%Y-%m-%d ", time.localtime(ended))
                                              + at, "%Y-%m-%d %H:%M:%S"))
            assert abs(shown - ended) <= 1.5, (at, ended)
            await alice.leave()
        finally:
            if session is not None:
                await close_session(session)
            await carol.close()

    run(qloop, scenario(), timeout=25)


def test_offline_the_window_title_no_longer_says_who_speaks(qloop, settings) -> None:
    """Alice spoke when the server went away: the window title (and the tray's tooltip,
    which begins with it) went on saying "Alice is speaking — Ops" while the panel said
    who speaks is unknown offline."""
    first = start_server(qloop)

    async def scenario() -> None:
        session = await open_session(first, settings)
        window = session.window
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()
            await until(lambda: window.windowTitle().startswith("Alice is speaking — Ops"),
                        what="alice in the title")
            await first.stop()
            await until(lambda: "reconnecting" in window.link_text(), what="reconnecting")
            assert window.windowTitle() == "Ops — Interphone"
            assert window.panel.speaking.text() == "Offline: who is speaking is unknown"
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=25)


def test_a_transmission_cut_by_a_lost_link_can_be_replayed_offline(qloop, settings) -> None:
    """Alice was speaking when the server went away: her transmission stayed "receiving"
    in the replay list, its play button disabled, for as long as we were offline."""
    first = start_server(qloop)
    frames = tone_frames(60)

    async def scenario() -> None:
        session = await open_session(first, settings)
        replay = session.window.panel.replay
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()
            for frame in frames:
                alice.send_audio(frame)
                await asyncio.sleep(0.02)
            await until(lambda: replay.items() != [] and replay.items()[0].receiving,
                        what="receiving")
            await first.stop()
            await until(lambda: "reconnecting" in session.window.link_text(),
                        what="reconnecting")
            await until(lambda: not replay.items()[0].receiving, what="complete")
            assert replay.play_button(0).isEnabled()
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=25)


def test_your_talk_cut_by_a_dead_link_counts_until_the_link_last_carried_it(
        qloop, settings) -> None:
    """The talker's own "Last spoke" counted the whole time the key was held, some 10 s
    past the moment the link died (the others heard only until then): it ends at the last
    answered check while talking, and says the talk was cut off."""
    from test_client_talking_link import DarkeningProxy

    server = start_server(qloop)

    async def scenario() -> None:
        proxy = DarkeningProxy(server.port)
        port = await proxy.start()
        session = await open_session(SimpleNamespace(port=port), settings)  # type: ignore[arg-type]
        window, panel = session.window, session.window.panel
        try:
            window.activateWindow()
            press(window)
            await until(lambda: holder(server) == "me", what="talking")
            before = proxy.pings
            await until(lambda: proxy.pings > before, timeout=10, what="a check answered")
            await asyncio.sleep(0.5)
            proxy.dark = True  # the key still held
            await until(lambda: "reconnecting" in window.link_text(), timeout=30,
                        what="the dead link noticed")
            await until(lambda: panel.last_spoke.text().startswith("Last spoke: you at "),
                        what="the talk told")
            text = panel.last_spoke.text()
            assert text.endswith(", cut off)"), text
            length = text.rsplit("(", 1)[1].split(",")[0]
            minutes, seconds = length.split(":")
            # held about 3 s before the link died, and 10 s more until the loss was noticed
            assert (int(minutes), int(seconds)) <= (0, 5), text
            release(window)
        finally:
            await close_session(session)
            await proxy.close()
            await server.stop()

    run(qloop, scenario(), timeout=60)
