"""The sign-in dialog takes a list of servers (nodes of one deployment), as the CLI's
``--server H:P,H:P``: tried in order, remembered in the settings as typed."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from test_ui_support import run, sign_in_submitted, until
from waiting import free_port

from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import Credentials, SignInFlow, format_servers

pytest_plugins = ["test_ui_support"]


def test_credentials_read_a_list_as_the_cli_does() -> None:
    credentials = Credentials.from_servers("a.example:9401, [::1]:9402,b.example", "me", "t")
    assert (credentials.host, credentials.port) == ("a.example", 9401)
    assert credentials.fallbacks == (("::1", 9402), ("b.example", 9400))
    client = credentials.client()
    assert client.servers == [("a.example", 9401), ("::1", 9402), ("b.example", 9400)]
    assert format_servers(client.servers) == "a.example:9401, [::1]:9402, b.example:9400"


def test_a_list_signs_in_through_the_first_server_that_answers_and_is_remembered(
        qloop, qtbot, server, settings) -> None:
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings, connect_timeout=2.0)
    down = free_port()
    typed = f"127.0.0.1:{down}, 127.0.0.1:{server.port}"

    async def scenario() -> None:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible, what="dialog shown")
        dialog.address.clear()
        qtbot.keyClicks(dialog.address, typed)
        qtbot.keyClicks(dialog.uid, "me")
        qtbot.keyClicks(dialog.token, "secret")
        dialog.remember.setChecked(True)
        qtbot.keyClick(dialog.token, Qt.Key.Key_Return)
        client = await asyncio.wait_for(task, 10)
        try:
            assert client is not None and client.connected
            assert client.port == server.port  # the first one is down
            assert client.servers == [("127.0.0.1", down), ("127.0.0.1", server.port)]
        finally:
            await client.close()

    run(qloop, scenario())
    assert settings.server_address == typed
    assert settings.token == "secret"
    # the next sign-in shows the list again
    again = SignInDialog()
    qtbot.addWidget(again)
    second = SignInFlow(again, settings)

    async def reopen() -> None:
        task = asyncio.ensure_future(second.run())
        await until(again.isVisible, what="dialog shown again")
        assert again.address.text() == typed
        again.reject()
        assert await task is None

    run(qloop, reopen())


def test_a_malformed_entry_of_the_list_is_caught_before_connecting(qloop, qtbot,
                                                                  settings) -> None:
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, "127.0.0.1:9400, other:port")
        assert dialog.error.isVisible() and "host:port" in dialog.error.text()
        assert not dialog.progress.isVisible()
        dialog.reject()
        assert await task is None

    run(qloop, scenario())
    assert settings.uid == ""
