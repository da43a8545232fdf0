"""A transmission heard when the window's connection drops and comes back (a node's
restart) while its speaker goes on: the replay list shows it receiving again, not
complete with the length it had at the drop (pytest-qt, real server)."""

from __future__ import annotations

import asyncio

from test_ui_presenter import tone_frames
from test_ui_support import OPS, close_session, open_session, run, start_server, until

from app.client import ConnectionState

pytest_plugins = ["test_ui_support"]


def test_a_transmission_going_on_after_a_reconnect_is_receiving_again(qloop,
                                                                      settings) -> None:
    server = start_server(qloop)
    frames = tone_frames(400)  # 8 s: alice speaks on well past the reconnect

    async def scenario() -> None:
        session = await open_session(server, settings)
        replay, client = session.window.panel.replay, session.client
        talking: asyncio.Task[None] | None = None
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()

            async def speak() -> None:
                for frame in frames:
                    alice.send_audio(frame)
                    await asyncio.sleep(0.02)

            talking = asyncio.ensure_future(speak())
            await until(lambda: replay.items() != [] and replay.items()[0].receiving,
                        what="receiving")
            conn = client._conn
            assert conn is not None
            conn._transport.abort()  # the window's link drops (its node restarts)
            await until(lambda: client.model.connection is ConnectionState.RECONNECTING,
                        what="the drop seen")
            await until(lambda: client.connected, timeout=10.0, what="back")
            await until(lambda: replay.items()[0].receiving, timeout=5.0,
                        what="receiving again while alice speaks on")
            assert not talking.done()  # (alice still speaks: nothing ended it)
            await talking
            await alice.talk_stop()
            await until(lambda: not session.presenter.replay_items(OPS)[0].receiving,
                        what="complete at her end")
        finally:
            if talking is not None:
                talking.cancel()
            await close_session(session)
            await server.stop()

    run(qloop, scenario(), timeout=40)
