"""The desktop's received audio goes from the media receive thread straight into the audio
engine: the presenter hands ``InterphoneClient.set_audio_sink`` the engine's own text-id
sink, falls back to its parsed one while the audio restarts, and takes both away when it
closes (real client and server on 127.0.0.1, simulated audio)."""

from __future__ import annotations

from test_ui_support import open_session, run

pytest_plugins = ["test_ui_support"]


def test_the_media_endpoint_feeds_the_engine_and_follows_the_audio(qloop, server,
                                                                  settings) -> None:
    async def scenario() -> None:
        session = await open_session(server, settings)
        presenter, client, audio = session.presenter, session.client, session.audio
        media = client._media
        assert media is not None
        try:
            assert client.audio_sink == presenter._play_audio
            assert media.audio_sink == audio.audio_sink  # the engine's: no layer between
            presenter.set_audio(None)  # the audio restarts (settings changed)
            assert client.audio_sink == presenter._play_audio
            assert media.audio_sink == client._sink_media_audio  # parsed, then ours
            presenter.set_audio(audio)
            assert media.audio_sink == audio.audio_sink
            await presenter.close()
            assert client.audio_sink is None and media.audio_sink is None
        finally:
            await client.close()
            audio.close()
            session.window.talk_key.detach()
            session.window.close()
            session.window.deleteLater()

    run(qloop, scenario())
