"""The media endpoint's polled mode: an owner that wakes up anyway (the desktop app's view
tick) takes the received audio for ``on_audio``; the receive thread then never wakes the
loop for it, and nothing is lost or reordered, signaling events included."""

from __future__ import annotations

import asyncio

from client_fixtures import running_server, wait_until
from test_client_media import _fake_server, _registered_endpoint

from app.client import InterphoneClient, SpeakerChanged
from app.client.handoff import SINK_BATCH_S
from app.protocol import AudioPacket, InterphoneId

pytest_plugins = ["client_fixtures"]

G58 = InterphoneId.group("58")


def _send(server, endpoint, seqs) -> None:
    for seq in seqs:
        server.sendto(AudioPacket("group_58", "bob", seq, b"\xf8\xff\xfe").serialize(),
                      endpoint.server_addr)


async def test_in_polled_mode_the_receive_thread_posts_nothing_to_the_loop():
    server = _fake_server()
    heard: list[int] = []
    endpoint = await _registered_endpoint(server, lambda i, uid, seq, frame: heard.append(seq))
    played: list[int] = []
    endpoint.audio_sink = lambda interphone, uid, seq, frame: played.append(seq)
    posted: list[str] = []
    real_on_loop = endpoint._on_loop

    def on_loop(callback, *args) -> None:  # what the receive thread hands to the loop
        posted.append(callback.__name__)
        real_on_loop(callback, *args)

    endpoint._on_loop = on_loop  # type: ignore[method-assign]
    try:
        endpoint.set_polled(True)
        assert endpoint.polled
        _send(server, endpoint, range(120))
        await wait_until(lambda: len(endpoint._to_loop._pending) == 120, what="every packet queued")
        assert played == list(range(120))  # playback never waits for anyone
        await asyncio.sleep(2 * SINK_BATCH_S)  # a batch would have been delivered by now
        assert posted == [] and heard == []  # no wake-up of the loop, no delivery
        endpoint.flush()  # the owner's poll
        assert heard == list(range(120))
        assert endpoint.stats.rx_packets == 120
    finally:
        await endpoint.aclose()
        server.close()


async def test_switching_polling_off_delivers_what_waits_then_batches_again():
    server = _fake_server()
    heard: list[int] = []
    endpoint = await _registered_endpoint(server, lambda i, uid, seq, frame: heard.append(seq))
    endpoint.audio_sink = lambda interphone, uid, seq, frame: None
    try:
        endpoint.set_polled(True)
        _send(server, endpoint, range(30))
        await wait_until(lambda: len(endpoint._to_loop._pending) == 30, what="queued while polled")
        assert heard == []
        endpoint.set_polled(False)
        assert heard == list(range(30))  # at once, in order, nothing lost
        assert not endpoint.polled
        _send(server, endpoint, range(30, 60))
        # nobody polls now: the receive thread posts its batches to the loop again
        await wait_until(lambda: len(heard) == 60, what="the next packets without a poll")
        assert heard == list(range(60))
    finally:
        await endpoint.aclose()
        server.close()


async def test_a_polled_client_hears_all_audio_before_the_speaker_change_that_follows(clients):
    """The client never polls here: the flush before each signaling event alone must hand
    over every packet received before the floor was released, ahead of the change."""
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        played: list[int] = []
        log: list[tuple[str, object]] = []
        bob.set_audio_sink(lambda interphone, uid, seq, payload: played.append(seq))
        bob.on_interphone_audio = lambda interphone, uid, seq, payload: log.append(
            ("audio", seq))
        unsubscribe = bob.model.subscribe(
            lambda event: log.append(("speaker", event.uid))
            if isinstance(event, SpeakerChanged) else None)
        bob.audio_polled = True
        try:
            assert await alice.talk_start()
            await wait_until(lambda: ("speaker", "alice") in log, what="alice speaks")
            for _ in range(20):
                assert alice.send_audio(b"\xf8\xff\xfe")
            await wait_until(lambda: len(played) == 20, what="bob's thread got every packet")
            assert [entry for entry in log if entry[0] == "audio"] == []  # nobody polled
            await alice.talk_stop()
            await wait_until(lambda: ("speaker", "") in log, what="the floor released")
            end = log.index(("speaker", ""))
            # every packet, in the order the receive thread got them (the relay may
            # reorder a burst while it publishes the utterance's fast route: UDP keeps
            # no order, the jitter buffer sorts by seq)
            assert sorted(played) == list(range(20))
            assert log[log.index(("speaker", "alice")) + 1:end] == [
                ("audio", seq) for seq in played]
        finally:
            unsubscribe()
            bob.audio_polled = False


async def test_a_new_media_endpoint_takes_the_clients_polled_mode():
    """The mode belongs to the client: the endpoint of each new connection is polled too."""
    async with running_server() as server:
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "pw-bob", reconnect=False)
        bob.audio_polled = True  # before any endpoint exists
        try:
            await bob.connect()
            assert bob._media is not None and bob._media.polled
            bob.poll_audio()  # nothing waits: nothing happens
            bob.audio_polled = False
            assert not bob._media.polled
        finally:
            await bob.close()
