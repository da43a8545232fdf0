"""A call ringing the window when its connection drops (pytest-qt, real server): the
server ends the ring with the session; the caller rings again once the window's client
is back (app.client.call_resume), so nothing says the call was missed, unless the caller
did not ring again (then it is said, later)."""

from __future__ import annotations

import pytest
from test_ui_multi import presence_session
from test_ui_support import close_session, run, until

from app.client import ConnectionState, InterphoneClient
from app.protocol import InterphoneId
from app.ui import presenter_calls

pytest_plugins = ["test_ui_support"]

CHAT = "chat_bob:me"


def dropped(session) -> None:  # type: ignore[no-untyped-def]
    """The window's connection drops (as a node's restart drops it): it reconnects."""
    conn = session.client._conn
    assert conn is not None
    conn._transport.abort()


def test_a_call_rung_again_after_a_drop_is_not_said_missed(qloop, server,
                                                           settings) -> None:
    session = run(qloop, presence_session(server, settings))
    said: list[str] = []
    session.window.statusBar().messageChanged.connect(said.append)

    async def scenario() -> None:
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        session.others.append(bob)
        await bob.connect()
        await until(lambda: session.window.interphones.row(CHAT).online, what="bob online")
        await bob.call("me")
        await until(lambda: session.window.banner.isVisible(), what="ringing banner")
        dropped(session)
        await until(lambda: session.client.model.connection is ConnectionState.RECONNECTING,
                    what="the drop seen")
        await until(lambda: session.client.connected
                    and InterphoneId.parse(CHAT) in session.client.model.incoming_calls,
                    timeout=20.0, what="rung again once back")
        await until(lambda: session.window.banner.isVisible(), what="the banner again")
        assert not [text for text in said if "Missed call" in text]

    try:
        run(qloop, scenario(), timeout=40.0)
    finally:
        run(qloop, close_session(session))


def test_a_call_cut_by_a_drop_and_not_rung_again_is_said_missed(
        qloop, server, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presenter_calls, "MISSED_AFTER_DROP_S", 0.5)
    session = run(qloop, presence_session(server, settings))

    async def scenario() -> None:
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", features=("presence",))
        await bob.connect()
        await until(lambda: session.window.interphones.row(CHAT).online, what="bob online")
        await bob.call("me")
        await until(lambda: session.window.banner.isVisible(), what="ringing banner")
        await bob.close()  # the caller gives up...
        dropped(session)  # ...as the window's connection drops
        await until(lambda: "Missed call from Bob"
                    in session.window.statusBar().currentMessage(),
                    timeout=20.0, what="said missed")
        assert not session.window.banner.isVisible()

    try:
        run(qloop, scenario(), timeout=40.0)
    finally:
        run(qloop, close_session(session))
