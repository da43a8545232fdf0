"""The GUI and the ``feedback`` extension: the speaker banner shows what we hear (loss,
jitter, FEC), our reports reach the talker, and our own encoder follows our listeners.

Real server, real clients, a lossy UDP link (bench/impair.py), the clocked audio device.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from audio_helpers import speech_like
from test_ui_support import OPS, close_session, open_session, run, start_server, until

from app.audio.codec import packet_has_lbrr
from app.client import ConnectionState, InterphoneClient
from app.client.client import FEEDBACK
from app.headless.feedback import follow_feedback, start_reporting
from app.headless.mix_clock import MixClock
from app.headless.talker import transmit_pcm
from app.ui.audio_link import open_audio
from app.ui.main_window import MainWindow
from app.ui.presenter import Presenter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.impair import ImpairedLink, Impairment

pytest_plugins = ["test_ui_support"]


class GuiListener:
    """'me' in the main window, its media through a lossy link."""

    def __init__(self, server_port: int, settings, media_addr: tuple[str, int] | None) -> None:
        self.client = InterphoneClient("127.0.0.1", server_port, "me", "x", reconnect=False,
                                       media_addr=media_addr, features=(FEEDBACK,))
        self.settings = settings
        self.audio = None
        self.window: MainWindow | None = None
        self.presenter: Presenter | None = None

    async def open(self) -> None:
        await self.client.connect()
        self.audio = open_audio(self.client.send_audio, frame_ms=20, bitrate=24000,
                                simulate=True)
        self.window = MainWindow()
        self.presenter = Presenter(self.window, self.client, self.audio, self.settings)
        self.window.show()
        await self.client.join(OPS)

    async def close(self) -> None:
        if self.presenter is not None:
            await self.presenter.close()
        await self.client.close()
        if self.audio is not None:
            self.audio.close()
        if self.window is not None:
            self.window.talk_key.detach()
            self.window.close()
            self.window.deleteLater()


def test_banner_shows_loss_and_fec_and_the_talker_follows_our_reports(qloop, server,
                                                                        settings) -> None:
    async def scenario() -> None:
        async with ImpairedLink(("127.0.0.1", server.port),
                                downlink=Impairment(loss=0.1), seed=2) as link:
            me = GuiListener(server.port, settings, link.front)
            alice = InterphoneClient("127.0.0.1", server.port, "alice", "x", reconnect=False,
                                     features=(FEEDBACK,))
            try:
                await me.open()
                await alice.connect()
                await alice.join(OPS)
                assert FEEDBACK in me.client.features
                lbrr: list[bool] = []
                me_audio = me.client.on_interphone_audio
                assert me_audio is not None

                def heard(interphone, uid: str, seq: int, payload: bytes) -> None:
                    lbrr.append(packet_has_lbrr(payload))
                    me_audio(interphone, uid, seq, payload)

                me.client.on_interphone_audio = heard
                panel = me.window.panel  # type: ignore[union-attr]
                assert not panel.reception.isVisible()
                policy = follow_feedback(alice)
                assert await alice.talk_start()
                talking = asyncio.ensure_future(
                    transmit_pcm(alice, speech_like(6.0, seed=4), fec_policy=policy))
                await until(lambda: panel.reception.isVisible(), timeout=5,
                            what="the reception line")
                await until(lambda: "% lost" in panel.reception.text()
                            and not panel.reception.text().startswith("Reception: 0.0"),
                            timeout=5, what="loss shown")
                await until(lambda: any(lbrr), timeout=5, what="the talker's FEC")
                await until(lambda: "FEC" in panel.reception.text(), timeout=5,
                            what="FEC shown")
                await talking
                await alice.talk_stop()
                await until(lambda: not panel.reception.isVisible(), timeout=5,
                            what="reception hidden after the talk")
                assert lbrr.index(True) > 0  # FEC came after the reports, not before
            finally:
                await alice.close()
                await me.close()

    run(qloop, scenario(), timeout=30)


def test_our_encoder_follows_what_our_listener_loses(qloop, server, settings) -> None:
    async def scenario() -> None:
        async with ImpairedLink(("127.0.0.1", server.port),
                                downlink=Impairment(loss=0.1), seed=5) as link:
            me = GuiListener(server.port, settings, None)  # 'me' talks on a clean link
            bob = InterphoneClient("127.0.0.1", server.port, "bob", "x", reconnect=False,
                                   media_addr=link.front, features=(FEEDBACK,))
            clock: MixClock | None = None
            tasks: list[asyncio.Future[None]] = []
            try:
                await me.open()
                await bob.connect()
                await bob.join(OPS)
                clock = MixClock(lambda pcm: None)
                bob.on_audio = clock.on_audio
                tasks += [asyncio.ensure_future(clock.run()),
                          start_reporting(bob, clock, interval=0.5)]
                assert me.audio is not None
                assert me.audio.engine.expected_loss == 0
                me.presenter.press_talk()  # type: ignore[union-attr]
                await until(lambda: me.client.model.speaker == "me", what="floor")
                await until(lambda: me.audio.engine.expected_loss == 10, timeout=8,
                            what="FEC on from bob's reports")
                me.presenter.release_talk()  # type: ignore[union-attr]
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await bob.close()
                await me.close()

    run(qloop, scenario(), timeout=30)


def test_the_reception_line_goes_when_the_connection_does(qloop, settings) -> None:
    """The server went away while alice spoke: the speaking line said "Offline: who is
    speaking is unknown" above a green "Reception: 0.0 % lost" that stayed up."""
    server = start_server(qloop)

    async def scenario() -> None:
        session = await open_session(server, settings)
        panel = session.window.panel
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()
            talking = asyncio.ensure_future(transmit_pcm(alice, speech_like(6.0, seed=4)))
            await until(lambda: panel.reception.isVisible(), timeout=5,
                        what="the reception line")
            await server.stop()
            await until(lambda: session.client.model.connection is
                        ConnectionState.RECONNECTING, what="reconnecting")
            await until(lambda: not panel.reception.isVisible(), timeout=3,
                        what="reception hidden offline")
            talking.cancel()
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=30)


def test_the_reception_line_says_when_the_speakers_audio_stops_coming(qloop, settings) -> None:
    """Alice holds the floor but her audio stopped coming (her link died, or ours did):
    the line said "Reception: 0.0 % lost · jitter 4 ms", the figures of the last packets,
    for as long as she was shown speaking."""
    server = start_server(qloop, silence_timeout=60.0)  # the floor stays hers meanwhile

    async def scenario() -> None:
        session = await open_session(server, settings)
        panel = session.window.panel
        try:
            alice = await session.other("alice")
            assert await alice.talk_start()
            await transmit_pcm(alice, speech_like(2.0, seed=4))  # then nothing, still hers
            await until(lambda: panel.reception.isVisible()
                        and "no audio for" in panel.reception.text(), timeout=10,
                        what="the line saying no audio comes")
            assert "% lost" not in panel.reception.text()
            assert session.client.model.speaker == "alice"
            assert await alice.talk_start()  # talks again: the figures are back
            talking = asyncio.ensure_future(transmit_pcm(alice, speech_like(4.0, seed=5)))
            await until(lambda: "% lost" in panel.reception.text(), timeout=10,
                        what="the figures back once audio comes")
            talking.cancel()
            await alice.talk_stop()
            await until(lambda: not panel.reception.isVisible(), timeout=5,
                        what="reception hidden after the talk")
        finally:
            await close_session(session)

    run(qloop, scenario(), timeout=40)
