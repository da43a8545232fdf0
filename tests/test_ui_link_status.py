"""The status bar says whether the connection is encrypted and, with a list of servers,
which node answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from test_ui_sign_in_tls import tls_server
from test_ui_support import run, until
from waiting import free_port

from app.client import InterphoneClient
from app.client.asked_features import asked_features
from app.client.trust import TrustPolicy, client_context
from app.server import InterphoneServer
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter

pytest_plugins = ["test_ui_support"]


def _status_of(qloop, settings, client: InterphoneClient,
               then: Callable[[], object] | None = None) -> str:
    """The status line once connected (and after ``then``, e.g. a language switch)."""
    async def scenario() -> str:
        await client.connect()
        audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
        window = MainWindow()
        presenter = Presenter(window, client, audio, settings)
        try:
            await until(lambda: "Connected" in window.link_label.text(), what="connected")
            if then is not None:
                then()
            return window.link_label.accessibleName()
        finally:
            await presenter.close()
            audio.close()
            window.talk_key.detach()
            window.close()
            window.deleteLater()

    return run(qloop, scenario())


def test_a_plain_connection_to_one_server_says_only_who(qloop, settings,
                                                       server: InterphoneServer) -> None:
    client = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False)
    assert _status_of(qloop, settings, client) == "Connected as me"


def test_a_list_names_the_node_that_answered(qloop, settings, server: InterphoneServer) -> None:
    down = free_port()
    client = InterphoneClient("127.0.0.1", down, "me", "x", reconnect=False,
                              fallbacks=[("127.0.0.1", server.port)])
    status = _status_of(qloop, settings, client)
    assert f"127.0.0.1:{server.port}" in status and "encrypted" not in status


def test_tls_is_said(qloop, settings, tmp_path: Path) -> None:
    server, fingerprint = tls_server(qloop, tmp_path)
    context = client_context(TrustPolicy(pin=fingerprint))
    client = InterphoneClient("127.0.0.1", server.port, "me", "x", reconnect=False, ssl=context,
                              features=asked_features(tls=True))
    try:
        assert "encrypted" in _status_of(qloop, settings, client)
    finally:
        run(qloop, server.stop())


def test_the_chinese_status_has_full_width_brackets_and_comma(qloop, settings,
                                                              tmp_path: Path) -> None:
    """"Connected as me (encrypted, node)" is worded as a whole, so Chinese gets its own
    punctuation, and worded again on a language switch (the detail too)."""
    from PySide6.QtCore import QCoreApplication

    from app.ui.i18n import LanguageSwitcher

    server, fingerprint = tls_server(qloop, tmp_path)
    context = client_context(TrustPolicy(pin=fingerprint))
    client = InterphoneClient("127.0.0.1", free_port(), "me", "x", reconnect=False,
                              ssl=context, features=asked_features(tls=True),
                              fallbacks=[("127.0.0.1", server.port)])
    node = f"127.0.0.1:{server.port}"
    switcher = LanguageSwitcher(QCoreApplication.instance(), has_font=lambda language: True)

    def switched(language: str) -> str:
        switcher.apply(language)
        QCoreApplication.processEvents()  # (the LanguageChange event is posted)
        return ""

    try:
        status = _status_of(qloop, settings, client, lambda: switched("zh_CN"))
        assert status == f"已连接：Me（已加密，{node}）", status  # (the directory's name)
    finally:
        switcher.apply("en")
        run(qloop, server.stop())
