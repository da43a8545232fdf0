"""The server restarted (killed and started again, or a node given up): the app
reconnects and joins again on its own, and says that it did."""

from __future__ import annotations

from test_ui_support import OPS, run, until

from app.client import InterphoneClient
from app.server import Directory, InterphoneServer, ServerSettings
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter
from app.ui.view_types import LinkState, TalkState

pytest_plugins = ["test_ui_support"]


def test_a_reconnection_after_a_server_restart_is_said(qloop, settings) -> None:
    """After "Connection lost, reconnecting… (attempt 6)" the link went back to
    "Connected as Alice" with nothing said: glanced at later, the app showed no sign that
    it had been cut off and was back. The status bar says it reconnected (a screen
    reader hears it), and the interphone is joined again."""
    first = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0,
                             settings=ServerSettings(auth="open"))
    run(qloop, first.start())
    servers = [first]
    client = InterphoneClient("127.0.0.1", first.port, "me", "x", backoff=(0.2, 1.0))

    async def scenario() -> None:
        await client.connect()
        audio = open_audio(client.send_audio, frame_ms=20, bitrate=24000, simulate=True)
        window = MainWindow()
        presenter = Presenter(window, client, audio, settings)
        said: list[str] = []
        window.announcer.announced.connect(lambda text, _urgent: said.append(text))
        status = window.statusBar()
        try:
            await client.join(OPS)
            await until(lambda: window.panel.talk_button.state is TalkState.IDLE,
                        what="joined")
            assert not status.currentMessage()
            port = first.port
            await first.stop()
            await until(lambda: window.link_state is LinkState.RECONNECTING, timeout=15,
                        what="reconnecting")
            again = InterphoneServer(Directory.demo(), host="127.0.0.1", port=port,
                                     settings=ServerSettings(auth="open"))
            servers.append(again)
            await again.start()
            await until(lambda: window.link_state is LinkState.CONNECTED, timeout=15,
                        what="connected again")
            assert status.currentMessage() == "Reconnected to the server"
            assert "Reconnected to the server" in said
            await until(lambda: client.model.is_joined(OPS), timeout=10, what="joined again")
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
