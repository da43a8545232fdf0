"""A team's working day with the desktop app (user testing): a call that rings, a directory
reloaded while everyone is signed in. What the window shows follows what is true, also
after other news has come and gone.

Real server on 127.0.0.1, real clients, the clocked (virtual) audio device.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from test_ui_support import UiSession, close_session, open_session, run, until

from app.client import CallState
from app.client.asked_features import asked_features
from app.protocol import InterphoneId
from app.server import InterphoneServer
from app.ui.interphone_list import SUBTITLE_ROLE

pytest_plugins = ["test_ui_support"]

APP = asked_features(tls=False, presence=True)  # what the app asks for
ALICE = str(InterphoneId.chat("me", "alice"))


def subtitle(ui: UiSession, name: str) -> str:
    (item,) = ui.window.interphones.tree.findItems(
        name, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)
    return str(item.data(0, SUBTITLE_ROLE))


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
