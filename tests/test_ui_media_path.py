"""UDP blocked on the way while signed in: the window says audio does not get through
(the status bar's link and one message), and says so again when it gets through."""

from __future__ import annotations

import asyncio

from test_client_media_path import Firewall
from test_ui_support import OPS, close_session, open_session, run, start_server, until

pytest_plugins = ["test_ui_support"]


def test_the_window_says_audio_is_blocked_and_when_it_gets_through(qloop, settings) -> None:
    server = start_server(qloop, keepalive=1)

    async def scenario() -> None:
        firewall = Firewall(("127.0.0.1", server.port))
        session = await open_session(server, settings, join=None,
                                     media_addr=await firewall.start())
        window = session.window
        messages: list[str] = []
        window.statusBar().messageChanged.connect(
            lambda text: messages.append(text) if text else None)
        try:
            assert "no audio" not in window.link_label.text()
            joining = asyncio.ensure_future(session.client.join(OPS))
            await until(lambda: "no audio: UDP blocked" in window.link_label.text(),
                        timeout=10, what="the link's detail")
            assert any(text.startswith("No audio either way") for text in messages)
            assert "no audio" in window.link_label.accessibleName()  # a screen reader too
            await joining
            firewall.blocking = False
            await until(lambda: "no audio" not in window.link_label.text(), timeout=8,
                        what="the detail gone")
            assert "Audio gets through to the server again" in messages
            assert sum(text.startswith("No audio either way")
                       for text in messages) == 1  # said once
        finally:
            firewall.close()
            await close_session(session)

    try:
        run(qloop, scenario(), timeout=30)
    finally:
        run(qloop, server.stop())
