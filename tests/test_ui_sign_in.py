"""The sign-in dialog against a real server: problems are shown, success signs in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings, Qt
from test_ui_support import (
    run,
    sign_in_submitted,
    sign_out,
    signed_in_at_start,
    start_server,
    until,
)
from waiting import free_port

from app.client import InterphoneClient
from app.protocol.limits import DEFAULT_PORT
from app.server import InterphoneServer
from app.ui.settings import Settings, TokenStore
from app.ui.sign_in import SignInDialog, parse_address
from app.ui.sign_in_flow import SignInFlow
from app.ui.view_types import TalkState

pytest_plugins = ["test_ui_support"]


async def signed_in(dialog: SignInDialog, flow: SignInFlow, address: str,
                    remember: bool) -> InterphoneClient | None:
    """The flow run, its dialog filled in ("me", "secret") and OK clicked: what it returns."""
    task = await sign_in_submitted(dialog, flow, address, remember=remember)
    return await asyncio.wait_for(task, 5)


def test_the_dialog_reads_addresses_as_the_cli_does() -> None:
    assert parse_address("[::1]") == ("::1", DEFAULT_PORT)
    with pytest.raises(ValueError):
        parse_address(":9400")  # the dialog has no implied host


def test_wrong_port_shows_unreachable(qloop, settings) -> None:
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=2.0)
    port = free_port()

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{port}")
        await until(dialog.error.isVisible, what="error shown")
        assert "Cannot reach the server" in dialog.error.text()
        assert f"127.0.0.1:{port}" in dialog.error.text()
        assert dialog.ok.isEnabled() and dialog.address.isEnabled()
        assert not task.done()
        dialog.reject()
        assert await task is None

    run(qloop, scenario())
    assert settings.uid == ""  # nothing remembered from a failed attempt


@pytest.fixture
def token_server(qloop) -> Iterator[InterphoneServer]:
    """A server of the demo directory in token mode: it has no tokens, so it refuses every
    sign-in."""
    server = start_server(qloop, auth="token")
    yield server
    run(qloop, server.stop())


def test_token_mode_refusal_is_explained(qloop, token_server, settings) -> None:
    server = token_server
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{server.port}", "alice", "wrong")
        await until(dialog.error.isVisible, what="error shown")
        # the sentence alone: the server's own words ("login refused") added nothing but an
        # English "Details" line under a Chinese sentence
        assert dialog.error.text() == "The server refused the sign-in: wrong user name or token."
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


def test_malformed_address_and_missing_token_are_caught_before_connecting(qloop,
                                                                        settings) -> None:
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, "host:port")
        assert "host:port" in dialog.error.text() and dialog.error.isVisible()
        dialog.address.setText("127.0.0.1:9")
        dialog.token.clear()
        dialog.ok.click()
        assert "token" in dialog.error.text()
        assert not dialog.progress.isVisible()
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


@pytest.mark.parametrize("uid", ["alice smith", "127.0.0.1:9400", "ali/ce", "a" * 65])
def test_a_user_name_the_protocol_refuses_is_explained_before_connecting(
        qloop, token_server, settings, qtbot, uid: str) -> None:
    """A user name with a space, or the server's address typed into it: the server
    refused it and the dialog showed its words in English ("Details: bad uid
    '127.0.0.1:9400' in <login>") under "wrong user name or token"."""
    server = token_server
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        task = await sign_in_submitted(dialog, flow, f"127.0.0.1:{server.port}", uid, "pw")
        await until(dialog.error.isVisible, what="error shown")
        assert dialog.error.text() == ("A user name is 1 to 64 letters, digits, dots, "
                                       "underscores, hyphens or @, without spaces.")
        assert dialog.uid.hasFocus() and dialog.uid.selectedText() == uid
        assert not dialog.progress.isVisible()
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


@pytest.mark.parametrize("remember", [True, False])
def test_success_returns_a_connected_client_and_remembers(qloop, server, settings,
                                                          remember: bool) -> None:
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        client = await signed_in(dialog, flow, f"127.0.0.1:{server.port}", remember)
        try:
            assert client is not None and client.connected
            assert client.model.uid == "me" and client.model.roster
            assert not dialog.isVisible()
        finally:
            await client.close()

    run(qloop, scenario())
    assert settings.server_address == f"127.0.0.1:{server.port}"
    assert settings.uid == "me"
    assert settings.remember is remember
    assert settings.token == ("secret" if remember else "")


def test_app_signs_in_signs_out_and_quits_from_the_sign_in_dialog(qloop, server, settings,
                                                                  qapp) -> None:
    async def scenario() -> None:
        async with signed_in_at_start(qapp, settings, server.port) as runtime:
            # "remember me" signs in at start, without the dialog (issue 14)
            assert runtime.sign_in_dialog is None and runtime.auto_signed_in
            window = runtime.window
            assert window.link_text() == "Connected as Me"  # the directory's name for "me"
            assert window.panel.talk_button.state is TalkState.NOT_JOINED
            await sign_out(runtime)
            assert runtime.window is None and runtime.client is None
            # signing out forgets the remembered token (issue 14)
            assert runtime.sign_in_dialog.token.text() == ""
            assert settings.token == "" and not settings.remember

    run(qloop, scenario())


def test_enter_after_a_failed_sign_in_tries_again(qloop, settings, qtbot) -> None:
    """Issue 14: the focus sat on Cancel after a failure, so Enter closed the app."""
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings, connect_timeout=2.0)
    port = free_port()

    async def scenario() -> None:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible, what="dialog shown")
        dialog.activateWindow()
        dialog.set_values(f"127.0.0.1:{port}", "me", "secret", False)
        dialog.token.setFocus()
        qtbot.keyClick(dialog.token, Qt.Key.Key_Return)
        await until(dialog.error.isVisible, what="first failure shown")
        assert dialog.focusWidget() is not dialog.cancel
        attempts: list[str] = []
        dialog.sign_in_requested.connect(lambda *args: attempts.append(args[2]))
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
        assert attempts == ["me"]  # Enter signed in again
        assert not task.done()  # and did not cancel
        await until(lambda: dialog.ok.isEnabled(), what="second attempt over")
        dialog.reject()
        assert await task is None

    run(qloop, scenario())


def test_reconnect_after_signing_in_elsewhere_starts_a_new_session(qloop, server, settings,
                                                                   qapp) -> None:
    from app.client import InterphoneClient
    from app.ui.i18n import LanguageSwitcher
    from app.ui.runtime import Options, Runtime

    settings.server_address = f"127.0.0.1:{server.port}"
    settings.uid = "me"
    runtime = Runtime(qapp, Options(simulate_audio=True), settings, LanguageSwitcher(qapp))

    async def scenario() -> int:
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.sign_in_dialog is not None
                    and runtime.sign_in_dialog.isVisible(), what="sign-in dialog")
        runtime.sign_in_dialog.token.setText("secret")
        runtime.sign_in_dialog.ok.click()
        await asyncio.wait_for(runtime.ready.wait(), 5)
        first = runtime.window
        elsewhere = InterphoneClient("127.0.0.1", server.port, "me", "secret", reconnect=False)
        await elsewhere.connect()  # this session is kicked
        try:
            await until(lambda: first.reconnect_button.isVisibleTo(first), what="offered")
            runtime.ready.clear()
            first.reconnect_button.click()
            await asyncio.wait_for(runtime.ready.wait(), 5)
            assert runtime.window is not first
            await until(lambda: runtime.window.link_text() == "Connected as Me",
                        what="connected again")
            assert not runtime.window.reconnect_button.isVisibleTo(runtime.window)
        finally:
            await elsewhere.close()
        runtime.quit()
        return await asyncio.wait_for(main, 5)

    assert run(qloop, scenario(), timeout=20) == 0


def test_remember_me_without_a_keyring_where_the_token_file_cannot_be_written(
        qloop, server, tmp_path, caplog) -> None:
    """No keyring, and the token file beside settings in a directory that cannot be written
    (``--settings`` there): the sign-in succeeded at the server, then writing the token
    raised and the dialog stayed open, busy for ever."""
    (tmp_path / "not-a-directory").write_text("")
    ini = tmp_path / "not-a-directory" / "s.ini"
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(ini.with_suffix(".token"), None))
    dialog = SignInDialog()
    flow = SignInFlow(dialog, settings)

    async def scenario() -> None:
        client = await signed_in(dialog, flow, f"127.0.0.1:{server.port}", remember=True)
        try:
            assert client is not None and client.connected
            assert not dialog.isVisible()
        finally:
            await client.close()

    with caplog.at_level("WARNING", logger="app.ui.settings"):
        run(qloop, scenario())
    assert settings.token == "secret"  # for this run
    assert any("remembered token" in r.getMessage() and "cannot be written" in r.getMessage()
               for r in caplog.records), caplog.text


@pytest.mark.parametrize(("unwritable", "keyring_there"),
                         [("settings", False), ("settings", True), ("token file", False)])
def test_the_dialog_says_remember_me_lasts_this_run_only_where_nothing_can_be_kept(
        qloop, tmp_path, qtbot, keyring_there: bool, unwritable: str) -> None:
    """``--settings`` in a directory that cannot be written: the dialog said "a remembered
    token is kept in <the token file>, readable by you only", a file that could not be
    made, and with a keyring the settings that would name the account were lost at exit
    all the same. It now says that "remember me" lasts until Interphone quits."""
    from test_ui_defects import MemoryKeyring

    if unwritable == "settings":
        (tmp_path / "not-a-directory").write_text("")
        ini = tmp_path / "not-a-directory" / "s.ini"
        token_file = ini.with_suffix(".token")
        unwritable_file = ini
    else:  # (with a keyring no token file is used)
        ini = tmp_path / "s.ini"
        token_file = tmp_path / "s.token"
        token_file.mkdir()  # (not a file: cannot be written, even by root)
        unwritable_file = token_file
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat),
                        TokenStore(token_file, MemoryKeyring() if keyring_there else None))
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    flow = SignInFlow(dialog, settings)

    async def opened() -> str:
        task = asyncio.ensure_future(flow.run())
        await until(dialog.isVisible)
        dialog.remember.setChecked(True)  # (the note is of "remember me": shown when ticked)
        shown = dialog.storage_note.text() if dialog.storage_note.isVisibleTo(dialog) else ""
        dialog.reject()
        await task
        return shown

    note = run(qloop, opened())
    assert note == (f"{unwritable_file} cannot be written: “Remember me on this computer” "
                    "lasts only until Interphone quits; the next start asks you to sign in "
                    "again.")


def test_a_token_file_that_can_be_made_is_said_to_keep_the_token(tmp_path) -> None:
    assert TokenStore(tmp_path / "new" / "deeper" / "s.token", None).file_writable
    (tmp_path / "s.token").write_text("")
    assert TokenStore(tmp_path / "s.token", None).file_writable
