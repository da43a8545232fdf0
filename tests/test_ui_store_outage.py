"""The desktop app while its server cannot reach its database (a cluster node with Redis
stopped, or hung): the status bar says the server is degraded, not "Connected as"; a Join the user
clicks is joined once the database is back, a talk is refused in those words (not "The
server had a fault"), and the status clears by itself. The wording in both languages."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest
from outage_ui import open_node, outage_noticed, signed_in_window, started_node
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QFont, QFontMetricsF, QImage
from PySide6.QtWidgets import QSystemTrayIcon
from test_ui_floor import space
from test_ui_support import OPS, close_session, remembered_start, run, until

from app.client import InterphoneClient, LoginRefused
from app.client.errors import StoreUnavailable
from app.client.failures import Failure, FailureKind
from app.server.replica import UNAVAILABLE
from app.ui.elided_note import ElidedStatusBar
from app.ui.failure_text import error_text, failure_text
from app.ui.fit_lines import fit_lines
from app.ui.floor_text import refusal_text
from app.ui.i18n import LanguageSwitcher
from app.ui.main_window import MainWindow
from app.ui.presenter_link import store_wait_text
from app.ui.sign_in import SignInDialog
from app.ui.sign_in_flow import sign_in_problem
from app.ui.tray import TrayController
from app.ui.tray_icon import tray_icon
from app.ui.view_types import LinkState, TalkState
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
)

pytest_plugins = ["test_ui_support"]

NIGHT = "discuss_12"
CJK = re.compile("[\u4e00-\u9fff]")


@pytest.fixture
def switcher(qapp: QCoreApplication) -> Iterator[LanguageSwitcher]:
    languages = LanguageSwitcher(qapp, has_font=lambda language: True)
    yield languages
    languages.apply("en")


def test_the_refusal_is_worded_as_the_database_out_of_reach_in_both_languages(
        switcher: LanguageSwitcher) -> None:
    refusal = StoreUnavailable(500, UNAVAILABLE, request="JoinRequest")
    english = error_text(refusal)
    assert english == "The server cannot reach its database; try again in a moment."
    assert "fault" not in english
    assert failure_text(Failure(FailureKind.STORE_UNAVAILABLE)) == english
    assert refusal_text(500, UNAVAILABLE) == ("The server cannot reach its database; try "
                                              "again in a moment")
    window = MainWindow()
    try:
        window.set_link(LinkState.DEGRADED)
        degraded = window.link_text()
        assert "cannot reach its database" in degraded, degraded
        switcher.apply("zh_CN")
        window.set_link(LinkState.DEGRADED)
        for text in (error_text(refusal), refusal_text(500, UNAVAILABLE), window.link_text()):
            assert CJK.search(text) and "database" not in text, text
        switcher.apply("en")
        window.set_link(LinkState.DEGRADED)
        assert window.link_text() == degraded
    finally:
        window.close()
        window.deleteLater()


@pytest.mark.parametrize("how", ["stopped", "paused"])
def test_a_store_outage_is_shown_and_a_join_clicked_meanwhile_is_done_once_it_is_back(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture, how: str) -> None:
    """``paused``: Redis hangs (SIGSTOP, as on a slow disk or a network that drops
    packets) and the join is clicked at once: the node refuses it in time for the client
    to hear why (not "no answer"), and all clears on SIGCONT."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)

    async def scenario() -> None:
        ui = await signed_in_window(server.port, settings, store_probe=(0.3, 1.0))
        window, client = ui.window, ui.client
        tray = TrayController(window, settings, available=True)
        try:
            await client.join(OPS)
            button = window.panel.talk_button
            await until(lambda: button.state is TalkState.IDLE, what="idle")
            assert window.link_text().startswith("Connected as")
            if how == "stopped":
                redis_server.stop()
                await outage_noticed(caplog)
            else:
                await client.members(OPS)  # (what came before read: a quiet link)
                redis_server.pause()  # (the node does not know yet: its append hangs)

            ui.presenter.join(NIGHT)
            await until(lambda: window.link_state is LinkState.DEGRADED, timeout=10,
                        what="degraded")
            assert "cannot reach its database" in window.link_text()
            tray.refresh()
            for said in (tray.icon.toolTip(), tray.status_action.text()):
                assert "Connected as me, but the server cannot reach its database" in said
            assert tray.target_action.isEnabled()  # (still connected: a target may be chosen)
            await until(lambda: "will be joined once"
                        in window.statusBar().currentMessage(), what="the join waits")
            assert "fault" not in window.statusBar().currentMessage()

            space(window, QEvent.Type.KeyPress)
            await until(lambda: button.state is TalkState.DENIED, timeout=10, what="refused")
            assert button.texts()[1] == ("The server cannot reach its database; try again "
                                         "in a moment")
            space(window, QEvent.Type.KeyRelease)

            if how == "stopped":
                redis_server.start()
            else:
                redis_server.resume()
            await until(lambda: window.link_state is LinkState.CONNECTED, timeout=20,
                        what="the database back")
            assert window.link_text().startswith("Connected as")
            tray.refresh()
            assert "database" not in tray.icon.toolTip() + tray.status_action.text()
            await until(lambda: client.model.is_joined(NIGHT), timeout=10,
                        what="the join done")
        finally:
            tray.close()
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=60)
    finally:
        run(qloop, server.stop())


def test_a_sign_in_while_the_store_is_away_is_not_called_wrong_credentials(
        qloop, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """The login refused with 500 "store unavailable" said "The server refused the
    sign-in: wrong user name or token."."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)

    async def sign_in() -> BaseException:
        redis_server.stop()
        await outage_noticed(caplog)
        client = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
        try:
            await client.connect()
        except LoginRefused as exc:
            return exc
        finally:
            await client.close()
        raise AssertionError("signed in while the store was away")

    try:
        refused = run(qloop, sign_in(), timeout=30)
    finally:
        run(qloop, server.stop())
    assert isinstance(refused, LoginRefused)
    dialog = SignInDialog()
    try:
        dialog.set_problem(*sign_in_problem(refused))
        text = dialog.problem_text()
        assert "The server cannot reach its database; try again in a moment." in text, text
        assert "wrong user name" not in text, text
    finally:
        dialog.close()
        dialog.deleteLater()


def test_the_join_waiting_for_the_database_is_not_still_promised_after_a_reconnection(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """The node restarted while a clicked join waited for its database: the client drops
    that join with the connection, and the status bar kept saying "Night shift will be
    joined as soon as it is back" under "Connected as me", for good."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)
    port = server.port
    servers = [server]

    async def scenario() -> None:
        ui = await signed_in_window(port, settings, size=(1280, 800),
                                    store_probe=(0.3, 1.0))
        window, client = ui.window, ui.client
        try:
            await client.join(OPS)
            redis_server.stop()
            await outage_noticed(caplog)
            ui.presenter.join(NIGHT)
            await until(lambda: "will be joined once"
                        in window.statusBar().currentMessage(), timeout=10,
                        what="the join waits")
            await servers[0].stop()  # (the join waiting is dropped with the connection)
            await until(lambda: window.link_state is LinkState.RECONNECTING, timeout=10,
                        what="reconnecting")
            redis_server.start()
            node = open_node(redis_server.url, "again", port=port)
            servers.append(node)
            await node.start()
            await until(lambda: window.link_state is LinkState.CONNECTED, timeout=30,
                        what="reconnected")
            assert not client.model.is_joined(NIGHT)
            assert "will be joined" not in window.statusBar().currentMessage()
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=60)
    finally:
        for node in servers:
            run(qloop, node.stop())


def test_the_tray_icon_shows_the_server_degraded_and_no_longer_once_it_is_back(
        qloop) -> None:
    """The tray's icon stayed the green "idle" one while the server could not reach its
    database (only its tooltip said so): with the window hidden nothing showed that
    every press would be refused."""
    window = MainWindow()
    icon = QSystemTrayIcon()
    window.tray = icon
    try:
        def shown() -> QImage:
            return icon.icon().pixmap(32, 32).toImage()

        idle = tray_icon("tray-idle").pixmap(32, 32).toImage()
        window.set_link(LinkState.CONNECTED)
        assert shown() == idle
        window.set_link(LinkState.DEGRADED)
        assert shown() != idle
        assert shown() == tray_icon("tray-idle", degraded=True).pixmap(32, 32).toImage()
        window.set_link(LinkState.CONNECTED)
        assert shown() == idle
    finally:
        window.tray = None
        icon.deleteLater()
        window.close()
        window.deleteLater()


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_join_waiting_for_the_database_is_read_whole_beside_the_degraded_status(
        switcher: LanguageSwitcher, language: str) -> None:
    """At 1000 px the message was cut ("... Night shift will be joined as soon as it is
    b…"): it began by saying again what the degraded status beside it says."""
    switcher.apply(language)
    window = MainWindow()
    try:
        window.resize(1000, 700)
        window.show()
        window.set_me("alice")
        window.set_link(LinkState.DEGRADED)
        window.show_message(store_wait_text("Night shift"), 0)
        QCoreApplication.processEvents()
        bar = window.statusBar()
        assert isinstance(bar, ElidedStatusBar)
        assert "Night shift" in bar.currentMessage()
        assert bar.shown_message() == bar.currentMessage()
    finally:
        window.close()
        window.deleteLater()


def test_a_background_start_waits_in_the_tray_while_the_server_cannot_reach_its_database(
        qloop, qapp, settings, switcher: LanguageSwitcher, monkeypatch,
        redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """Started at login while the node could not reach its Redis, "remember me" was
    refused "store unavailable" and the sign-in dialog popped up on the desktop, as for a
    refused token, though the same login would pass a moment later: it now waits in the
    tray, retrying, saying why, and signs in once the database is back."""
    caplog.set_level(logging.INFO)
    runtime, port = remembered_start(qapp, settings, switcher, monkeypatch)
    server = started_node(qloop, redis_server.url, port=port)

    async def scenario() -> int:
        redis_server.stop()
        await outage_noticed(caplog)
        main = asyncio.ensure_future(runtime.run())
        await until(lambda: runtime.offline_tray is not None
                    or runtime.sign_in_dialog is not None, timeout=15, what="a start")
        assert runtime.sign_in_dialog is None
        tray = runtime.offline_tray
        assert tray is not None
        await until(lambda: "cannot reach its database" in tray.icon.toolTip(), timeout=10,
                    what="why, in the tray")
        redis_server.start()
        await asyncio.wait_for(runtime.ready.wait(), 30)
        window = runtime.window
        assert window is not None and not window.isVisible()  # still in the tray
        assert runtime.client is not None and runtime.client.connected
        assert runtime.sign_in_dialog is None
        runtime.quit()
        return await asyncio.wait_for(main, 10)

    try:
        assert run(qloop, scenario(), timeout=60) == 0
    finally:
        run(qloop, server.stop())


class DroppingLink:
    """A TCP relay to a server whose connections a test drops (a network blip) while the
    server stays up."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def drop(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.server_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def test_reconnecting_to_a_node_that_cannot_reach_its_database_says_so(
        qloop, settings, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """The connection dropped while the node could not reach its Redis: each login of the
    reconnection was refused "store unavailable" and the status bar said only
    "Connection lost, reconnecting… (attempt 4)", as if the server could not be reached."""
    caplog.set_level(logging.INFO)
    server = started_node(qloop, redis_server.url)
    link = DroppingLink(server.port)
    run(qloop, link.start())

    async def scenario() -> None:
        ui = await signed_in_window(link.port, settings, size=None, backoff=(0.1, 0.5))
        window, client = ui.window, ui.client
        try:
            await client.join(OPS)
            redis_server.stop()
            await outage_noticed(caplog)
            link.drop()
            await until(lambda: window.link_state is LinkState.RECONNECTING
                        and "cannot reach its database" in window.link_text(), timeout=20,
                        what="reconnecting, and why")
            assert window.link_text().startswith("Connection lost, reconnecting…")
            redis_server.start()
            await until(lambda: window.link_state is LinkState.CONNECTED, timeout=30,
                        what="reconnected")
            assert "database" not in window.link_text()
        finally:
            await close_session(ui)

    try:
        run(qloop, scenario(), timeout=60)
    finally:
        run(qloop, link.close())
        run(qloop, server.stop())


def test_the_refusal_on_the_talk_button_is_wrapped_whole_in_chinese(
        switcher: LanguageSwitcher) -> None:
    """The disc wrapped its text at spaces only: in Chinese the refusal, one "word", was
    cut on its first line ("服务器暂时无法连接其数…") where English took three lines."""
    switcher.apply("zh_CN")
    text = refusal_text(500, UNAVAILABLE)
    assert CJK.search(text) and " " not in text
    window = MainWindow()
    try:
        window.resize(1000, 700)
        window.show()
        QCoreApplication.processEvents()
        lines = window.panel.talk_button.detail_lines(text)
        # (several lines with a CJK font; one where none is installed, its glyphs narrower)
        assert not any("…" in line for line in lines), lines
        assert "".join(lines) == text
    finally:
        window.close()
        window.deleteLater()
    font = QFont()
    metrics = QFontMetricsF(font)
    lines = fit_lines(text, metrics, metrics.horizontalAdvance(text) / 2.5, 3)
    assert len(lines) == 3 and "".join(lines) == text, lines
    assert not lines[-1].startswith(("，", "。")) and not lines[1].startswith(("，", "。"))
    cut = fit_lines(text, metrics, metrics.horizontalAdvance(text) / 2.5, 2)
    assert len(cut) == 2 and cut[-1].endswith("…"), cut
