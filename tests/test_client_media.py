"""MediaEndpoint without a server: the receive path and the recvbegin handshake."""

from __future__ import annotations

import asyncio

from client_fixtures import free_port, wait_until

from app.client import media as media_module
from app.client.media import MediaEndpoint
from app.protocol import AudioPacket

SERVER = ("127.0.0.1", 9401)


def test_receive_path_keeps_one_loss_meter_per_speaker(monkeypatch):
    made = []

    class CountingMeter(media_module.LossMeter):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(media_module, "LossMeter", CountingMeter)
    heard = []
    endpoint = MediaEndpoint(SERVER, "alice",
                             lambda interphone, uid, seq, frame: heard.append((uid, seq)))
    endpoint._registered["group_58"] = None
    for seq in range(50):
        for uid in ("bob", "carol"):
            data = AudioPacket("group_58", uid, seq, b"\xf8\xff\xfe").serialize()
            endpoint.datagram_received(data, SERVER)
    assert len(heard) == 100
    assert len(made) == 2  # not one allocation per packet
    assert endpoint.loss_by_speaker() == {"bob": 0.0, "carol": 0.0}


async def test_unregister_ends_a_pending_registration_at_once():
    endpoint = await MediaEndpoint.open("127.0.0.1", free_port(), "alice", lambda *a: None)
    try:
        sent = []
        transport = endpoint._transport
        real_sendto = transport.sendto
        transport.sendto = lambda data, addr=None: (sent.append(data), real_sendto(data, addr))
        registering = asyncio.ensure_future(
            endpoint.register("group_58", interval=30, attempts=5, ack_timeout=0.3))
        await wait_until(lambda: sent, what="the first recvbegin")
        endpoint.unregister()  # left (or kicked) before the server acknowledged
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await registering is False
        assert loop.time() - started < 2.0  # not the remaining 4.5 s of retries
        assert len(sent) == 1
    finally:
        await endpoint.aclose()
