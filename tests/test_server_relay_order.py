"""The relay keeps a source's audio in order at the start of an utterance.

The first audiopacket of an utterance has no fast route: the media thread hands it to
the event loop, whose relay judges it and publishes the route. Packets that arrive
meanwhile are handed over behind it; those that arrive once the route is published
must not overtake them by being forwarded by the thread at once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from server_fixtures import G58
from test_server_relay import Room
from test_server_relay_fast import _audio, _media, running_server

EARLY = 4  # sent before the loop has judged the first one
LATE = 6  # sent once the route is published, while the early ones still wait


def _wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


async def test_audio_after_the_route_is_published_does_not_overtake_earlier_audio() -> None:
    async with running_server() as server:
        room = await Room(server.port).enter()
        await room.clients["alice"].speak(G58, True)
        alice = room.peers["alice"]
        relay, media = server.relay, _media(server)
        assert relay is not None and alice.address not in relay.fast

        # alice's socket, shared, for a thread to send from while the loop is held
        assert alice.transport is not None
        own = alice.transport.get_extra_info("socket")
        mouth = socket.socket(fileno=os.dup(own.fileno()))
        server_address = ("127.0.0.1", server.port)
        late_sent = threading.Event()

        def send_late() -> None:
            _wait_until(lambda: alice.address in relay.fast)
            for seq in range(EARLY, EARLY + LATE):
                mouth.sendto(_audio(seq), server_address)
            late_sent.set()

        judge = relay.datagram_received
        held = [False]

        def judge_then_hold(data: bytes, addr: Any, *args: Any, **kwargs: Any) -> None:
            """The loop judges the first audio (the route is published), then is held until
            the thread has read the late packets, with the early ones still queued."""
            judge(data, addr, *args, **kwargs)
            if not held[0] and alice.address in relay.fast:
                held[0] = True
                threading.Thread(target=send_late, daemon=True).start()
                assert late_sent.wait(5.0)
                seen = media.relayed
                _wait_until(lambda: media.relayed >= seen + LATE
                            or len(media._handovers) >= EARLY - 1 + LATE, 2.0)

        relay.datagram_received = judge_then_hold  # type: ignore[method-assign]
        try:
            for seq in range(EARLY):  # queued before the loop runs: no await in between
                alice.send(_audio(seq))
            heard = [await room.peers["bob"].recv(2.0) for _ in range(EARLY + LATE)]
        finally:
            relay.datagram_received = judge  # type: ignore[method-assign]
            mouth.close()
        assert held[0], "the first audio did not publish a route"
        assert heard == [_audio(seq) for seq in range(EARLY + LATE)]
        # once the loop has caught up, the thread forwards on its own again
        relayed = media.relayed
        alice.send(_audio(EARLY + LATE))
        assert await room.peers["bob"].recv() == _audio(EARLY + LATE)
        assert media.relayed == relayed + 1
        await room.leave()
