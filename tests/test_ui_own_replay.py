"""The replay list keeps the user's own talks, named "You" (你), playable, never "new"."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication
from test_ui_support import OPS, holder, run, until

from app.ui.floor_widgets import ReplayItem, ReplayList
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


def test_the_replay_list_shows_an_own_talk_as_you_and_plays_it(qloop, ui, server) -> None:
    async def scenario() -> None:
        presenter, panel = ui.presenter, ui.window.panel
        replay = panel.replay
        presenter.press_talk()
        await until(lambda: holder(server) == "me", what="talking")
        await until(lambda: ui.client.stats.tx_packets >= 25, what="half a second sent")
        await until(lambda: len(replay.items()) == 1, what="listed while talking")
        assert replay.items()[0].receiving and not replay.play_button(0).isEnabled()
        presenter.release_talk()
        await until(lambda: holder(server) == "" and panel.talk_button.state is TalkState.IDLE,
                    what="released")
        await until(lambda: not replay.items()[0].receiving, what="complete")
        [item] = replay.items()
        assert item.own and item.heard and item.duration >= 0.5
        assert replay.item_texts()[0].startswith("You  ")
        assert replay.title.text() == "Replay"  # nothing unheard
        assert [t.frame_count for t in presenter.replay.transmissions(OPS, time.monotonic())] == [
            ui.client.stats.tx_packets]
        assert replay.play_button(0).isEnabled()
        replay.play_button(0).click()
        assert presenter.replaying
        await until(lambda: not presenter.replaying, timeout=10, what="played")

    run(qloop, scenario(), timeout=25)


def test_an_own_talk_is_named_in_the_language_shown(qtbot) -> None:
    from app.ui.i18n import LanguageSwitcher

    replay = ReplayList()
    qtbot.addWidget(replay)
    replay.set_items([ReplayItem(2, "Me Myself", "14:02:19", 3.0, True, own=True),
                      ReplayItem(1, "Alice", "14:01:00", 2.0, True)])
    assert [text.split("  ")[0] for text in replay.item_texts()] == ["You", "Alice"]
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)
    switcher.apply("zh_CN")
    try:
        assert [text.split("  ")[0] for text in replay.item_texts()] == ["你", "Alice"]
        row = replay.list.itemWidget(replay.list.item(0))  # (once the change reached it)
        qtbot.waitUntil(lambda: row.name.full_text == "你", timeout=5000)
    finally:
        switcher.apply("en")
