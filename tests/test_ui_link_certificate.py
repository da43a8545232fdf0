"""Reconnecting to a list of nodes of which one presents another certificate than the one
the app pinned (a node given a new certificate, the others not yet): the status bar says
so while the attempts go on, and takes it back once the link is up (real TLS servers)."""

from __future__ import annotations

from pathlib import Path

from test_ui_sign_in_tls import tls_server
from test_ui_support import run, until

from app.client import InterphoneClient
from app.client.asked_features import asked_features
from app.client.trust import TrustPolicy, client_context
from app.server import Directory, InterphoneServer, ServerSettings
from app.server.tls import TlsOptions, load_server_context
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter

pytest_plugins = ["test_ui_support"]


def test_a_node_with_another_certificate_is_said_while_reconnecting(
        qloop, settings, tmp_path: Path) -> None:
    first, fingerprint = tls_server(qloop, tmp_path / "first")
    other, _ = tls_server(qloop, tmp_path / "other")  # another self-signed certificate
    client = InterphoneClient("127.0.0.1", first.port, "me", "x", backoff=(0.05, 0.2),
                              ssl=client_context(TrustPolicy(pin=fingerprint)),
                              features=asked_features(tls=True),
                              fallbacks=[("127.0.0.1", other.port)])
    servers = [first, other]

    async def scenario() -> None:
        await client.connect()
        audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
        window = MainWindow()
        presenter = Presenter(window, client, audio, settings)
        status = window.statusBar()
        try:
            await until(lambda: "Connected" in window.link_label.text(), what="connected")
            port = first.port
            await first.stop()  # the node restarts; the other presents another certificate
            said = f"Encrypted connection to 127.0.0.1:{other.port}: the certificate is not " \
                   "the one you accepted"
            await until(lambda: status.currentMessage().startswith(said), timeout=15.0,
                        what="the refused certificate said")
            assert "reconnecting" in window.link_label.text()
            # the node is back with the certificate accepted: the link is, the words go
            context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path / "first"))
            again = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                     settings=ServerSettings(auth="open"), tls=context)
            servers.append(again)
            await again.start()
            await until(lambda: "Connected" in window.link_label.text(), timeout=15.0,
                        what="connected again")
            assert not status.currentMessage().startswith(said)
        finally:
            await presenter.close()
            audio.close()
            window.talk_key.detach()
            window.close()
            window.deleteLater()
            await client.close()
            for server in servers:
                await server.stop()

    run(qloop, scenario(), timeout=60.0)
