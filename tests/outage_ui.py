"""What the desktop tests of a server that cannot reach its database share: a cluster node
on its own Redis, "me" signed in with the main window over it, and the wait for the node
to notice that its Redis is gone."""

from __future__ import annotations

from typing import Any

import pytest
from test_ui_support import UiSession, run, until

from app.client import InterphoneClient
from app.server import Directory, InterphoneServer, ServerSettings
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter
from app.ui.settings import Settings
from tests.redis_fixtures import node_store


def open_node(redis_url: str, name: str = "first", port: int = 0) -> InterphoneServer:
    """A node of the demo directory, open auth, on the Redis at ``redis_url`` (not started)."""
    return InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                            settings=ServerSettings(auth="open"),
                            store=node_store(redis_url, name))


def started_node(qloop: Any, redis_url: str, port: int = 0) -> InterphoneServer:
    """:func:`open_node`, started on ``qloop``."""
    server = open_node(redis_url, port=port)
    run(qloop, server.start())
    return server


async def signed_in_window(port: int, settings: Settings,
                           size: tuple[int, int] | None = (1000, 700),
                           **client_options: Any) -> UiSession:
    """"me" signed in to the server at ``port`` with the main window shown (at ``size``;
    None: its own) and simulated audio; ``client_options`` go to the client."""
    client = InterphoneClient("127.0.0.1", port, "me", "x", **client_options)
    await client.connect()
    audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
    window = MainWindow()
    ui = UiSession(window, Presenter(window, client, audio, settings), client, audio, [])
    if size is not None:
        window.resize(*size)
    window.show()
    return ui


async def outage_noticed(caplog: pytest.LogCaptureFixture) -> None:
    """The node has logged that its store is unreachable."""
    await until(lambda: any("store unreachable" in record.getMessage()
                            for record in caplog.records), timeout=10, what="the outage")
