"""Defects users reported in the desktop app: a refusal for a server fault or a budget
worded as a refusal of permission, a stale "Not connected" line after a reconnect, news
going from the status bar, section counts ignoring the filter, the reception line lagging
a speaker's end."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from audio_helpers import speech_like
from PySide6.QtCore import QEvent
from test_faults import ServerProcess, config_text
from test_ui_floor import space
from test_ui_removed import NIGHT, without_me_in_ops
from test_ui_support import (
    OPS,
    UiSession,
    close_session,
    open_session,
    run,
    start_server,
    until,
)
from waiting import free_port

from app.client import ConnectionState, InterphoneClient, ModelEvent, SpeakerChanged
from app.headless.talker import transmit_pcm
from app.server import Directory, InterphoneServer, ServerSettings
from app.server.directory import Circle
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter
from app.ui.view_types import RowKind, TalkState
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    node_store,
    redis_server,
)

pytest_plugins = ["test_ui_support"]


def test_a_floor_request_refused_by_the_budget_is_not_called_a_permission_refusal(
        qloop, settings) -> None:
    """A 429 (the floor budget, ``floor_burst``) or a 500 (the shared store unavailable)
    said "Denied — You may not talk here": only a 403 is a refusal of permission."""
    server = start_server(qloop, floor_burst=1, floor_rate=0.01)

    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            button = ui.window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            space(ui.window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.TALKING, what="granted")
            space(ui.window, QEvent.Type.KeyRelease)
            await until(lambda: ui.presenter.turn.phase.value == "idle", timeout=5.0,
                        what="released")
            space(ui.window, QEvent.Type.KeyPress)  # beyond the budget: 429
            await until(lambda: button.state is TalkState.DENIED, what="refused")
            assert button.texts() == ("Try again", "Too many requests; try again in a moment")
            space(ui.window, QEvent.Type.KeyRelease)
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_a_floor_request_refused_for_the_store_unavailable_says_so(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """A node of a cluster with Redis stopped answers speak on with 500 "store
    unavailable": the talk button said "Denied — You may not talk here"."""
    caplog.set_level(logging.INFO)
    server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0,
                              settings=ServerSettings(auth="open"),
                              store=node_store(redis_server.url, "first"))
    run(qloop, server.start())

    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            button = ui.window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            redis_server.stop()
            await until(lambda: any("store unreachable" in r.getMessage()
                                    for r in caplog.records), timeout=10, what="the outage")
            space(ui.window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.DENIED, timeout=10, what="refused")
            title, detail = button.texts()
            assert title == "Try again" and "may not talk" not in detail
            assert detail == "The server cannot reach its database; try again in a moment"
            space(ui.window, QEvent.Type.KeyRelease)
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=40)
    finally:
        run(qloop, server.stop())


def test_refusal_words_name_what_the_refusal_is(qapp) -> None:
    from app.ui.floor_text import refusal_text
    assert refusal_text(403, "not a member") == "You may not talk here"
    assert refusal_text(429) == "Too many requests; try again in a moment"
    assert refusal_text(500, "store unavailable") == (
        "The server cannot reach its database; try again in a moment")
    assert refusal_text(500, "disk full") == "The server could not take your request: disk full"
    assert "may not talk" not in refusal_text(503)
    assert "404" in refusal_text(404, "not joined")


def test_not_connected_is_no_longer_said_once_connected_again(
        qloop, settings, tmp_path: Path) -> None:
    """The server process killed while Space is held: each auto-repeated press said "Not
    connected — can't talk now", and that line stayed for seconds after the reconnect,
    beside "Connected as ...". Once connected again it goes."""
    config = tmp_path / "server.toml"
    config.write_text(config_text())
    port = free_port()
    offline = "Not connected — can't talk now"

    async def scenario() -> None:
        server = ServerProcess(config, port)
        client = InterphoneClient("127.0.0.1", port, "u0", "pw-u0", backoff=(0.1, 0.5),
                                  request_timeout=3.0)
        ui: UiSession | None = None
        try:
            await server.ready()
            await client.connect()
            audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
            window = MainWindow()
            ui = UiSession(window, Presenter(window, client, audio, settings), client, audio,
                           [])
            window.show()
            await client.join("group_g0")
            button = window.panel.talk_button
            bar = window.statusBar()
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            space(window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.TALKING, what="talking")
            server.kill()
            await until(lambda: client.model.connection is not ConnectionState.CONNECTED,
                        timeout=10, what="the server gone")
            server = ServerProcess(config, port)
            restarted = asyncio.ensure_future(server.ready())
            # the key stays held: X11's auto-repeat sends release/press pairs
            while client.model.connection is not ConnectionState.CONNECTED:
                space(window, QEvent.Type.KeyRelease)
                space(window, QEvent.Type.KeyPress)
                await asyncio.sleep(0.03)
            await restarted
            assert bar.currentMessage() != offline
            await asyncio.sleep(0.3)
            assert bar.currentMessage() != offline
            space(window, QEvent.Type.KeyRelease)
        finally:
            if ui is not None:
                await close_session(ui)
            else:
                await client.close()
            server.kill()

    run(qloop, scenario(), timeout=60)


def test_the_removal_line_stays_until_replaced_or_no_longer_true(
        qloop, server: InterphoneServer, settings) -> None:
    """"You were removed from Ops" went after 8 s (the status bar's timeout), unread by
    whoever was away, although the status bar keeps it (docs/deploy.md). It now stays
    until another message replaces it, and goes when we are in Ops again."""
    async def scenario() -> None:
        ui = await open_session(server, settings, join=NIGHT)
        try:
            window = ui.window
            bar = window.statusBar()
            await ui.client.join(OPS, target=False)
            server.replace_directory(without_me_in_ops())
            await until(lambda: bar.currentMessage() == "You were removed from Ops",
                        what="the removal said")
            await asyncio.sleep(9.0)  # the 8 s it lasted, and more
            assert bar.currentMessage() == "You were removed from Ops"
            server.replace_directory(Directory.demo())
            await ui.client.join(OPS, target=False)
            await until(lambda: bar.currentMessage() != "You were removed from Ops",
                        what="no longer true: withdrawn")
        finally:
            await close_session(ui)

    run(qloop, scenario(), timeout=40)


def test_section_counts_follow_the_filter(qloop, settings) -> None:
    """Ctrl+F "yard": two groups of three showed under "Groups (3)"."""
    demo = Directory.demo()
    groups = {**demo.groups,
              "70": Circle("70", "North yard", frozenset({"me", "alice"})),
              "71": Circle("71", "South yard", frozenset({"me", "bob"}))}
    groups.pop("1")
    directory = Directory(demo.users, groups, demo.discussions, demo.settings)
    server = InterphoneServer(directory, host="127.0.0.1", port=0,
                              settings=ServerSettings(auth="open"))
    run(qloop, server.start())

    async def scenario() -> None:
        ui = await open_session(server, settings)
        try:
            view = ui.window.interphones
            groups = view._sections[RowKind.GROUP]
            await until(lambda: groups.text(0) == "Groups (3)", what="three groups")
            ui.window.find_shortcut.activated.emit()
            view.filter.setText("yard")
            assert sorted(view.visible_ids()) == ["group_70", "group_71"]
            assert groups.text(0) == "Groups (2 of 3)"
            view.filter.clear()
            assert groups.text(0) == "Groups (3)"
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario())
    finally:
        run(qloop, server.stop())


def test_the_reception_line_goes_as_the_speaker_stops(qloop, ui) -> None:
    """The talk target's speaker stopped: the reception line stayed up to a second more,
    until the view's next tick. It now goes with the speaker's change."""
    async def scenario() -> None:
        panel = ui.window.panel
        alice = await ui.other("alice")
        assert await alice.talk_start()
        talking = asyncio.ensure_future(transmit_pcm(alice, speech_like(6.0, seed=4)))
        try:
            await until(lambda: panel.reception.isVisible(), timeout=5,
                        what="the reception line")
            seen: list[bool] = []

            def on_event(event: ModelEvent) -> None:  # told after the presenter
                if isinstance(event, SpeakerChanged) and not event.uid:
                    seen.append(panel.reception.isVisible())

            unsubscribe = ui.client.model.subscribe(on_event)
            try:
                talking.cancel()
                await alice.talk_stop()
                await until(lambda: bool(seen), what="the speaker's end")
            finally:
                unsubscribe()
            assert seen == [False]
        finally:
            talking.cancel()

    run(qloop, scenario(), timeout=30)
