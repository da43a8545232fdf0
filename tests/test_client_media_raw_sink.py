"""``InterphoneClient.set_audio_sink(sink, text_id_sink)``: the text-id sink is the media
endpoint's sink itself (the audio engine's ``audio_sink``), called with the interphone's id
as text instead of ``sink``."""

from __future__ import annotations

import threading

from client_fixtures import running_server, wait_until

from app.protocol import InterphoneId

pytest_plugins = ["client_fixtures"]

G58 = InterphoneId.group("58")


async def test_the_raw_sink_replaces_the_parsed_one_while_set(clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        parsed: list[tuple[object, int]] = []
        raw: list[tuple[object, int, int]] = []
        def parsed_sink(interphone: InterphoneId, uid: str, seq: int, payload: bytes) -> None:
            parsed.append((interphone, seq))

        bob.set_audio_sink(parsed_sink, lambda interphone, uid, seq, payload: raw.append(
            (interphone, seq, threading.get_ident())))
        assert await alice.talk_start()
        for _ in range(5):
            assert alice.send_audio(b"\xf8\xff\xfe")
        await wait_until(lambda: len(raw) == 5, what="the raw sink got every packet")
        assert [(interphone, seq) for interphone, seq, _ in raw] == [
            (str(G58), seq) for seq in range(5)]
        assert threading.get_ident() not in {thread for _, _, thread in raw}  # media thread
        assert parsed == []
        bob.set_audio_sink(parsed_sink)  # back to the parsed sink
        for _ in range(3):
            assert alice.send_audio(b"\xf8\xff\xfe")
        await wait_until(lambda: len(parsed) == 3, what="the parsed sink again")
        assert parsed == [(G58, seq) for seq in range(5, 8)]
        assert len(raw) == 5
        await alice.talk_stop()
