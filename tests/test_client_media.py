"""MediaEndpoint without a server: the receive path and the recvbegin handshake."""

from __future__ import annotations

import asyncio
import socket
import threading

from client_fixtures import free_port, wait_until

from app.client import media as media_module
from app.client.media import MediaEndpoint
from app.protocol import AudioPacket, RecvBeginPacket, parse_packet

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


def _fake_server() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    return server


async def _registered_endpoint(server: socket.socket, on_audio) -> MediaEndpoint:
    """An endpoint opened on a real socket, registered to group_58 (acked by ``server``)."""
    port = server.getsockname()[1]
    endpoint = await MediaEndpoint.open("127.0.0.1", port, "alice", on_audio)
    registering = asyncio.ensure_future(
        endpoint.register("group_58", interval=30, attempts=5, ack_timeout=0.3))
    loop = asyncio.get_running_loop()
    data, client_addr = await loop.run_in_executor(None, server.recvfrom, 2000)
    assert isinstance(parse_packet(data), RecvBeginPacket)
    server.sendto(RecvBeginPacket("group_58", "alice").serialize(), client_addr)
    assert await registering is True  # the ack, read by the thread, reached the loop
    endpoint.server_addr = client_addr  # type: ignore[attr-defined]
    return endpoint


async def test_the_receive_thread_feeds_the_sink_in_order_and_the_loop_after_it():
    server = _fake_server()
    loop_calls: list[tuple[int, bool]] = []
    sink_calls: list[tuple[int, bool]] = []
    main = threading.current_thread()

    def on_audio(interphone, uid, seq, frame):
        loop_calls.append((seq, threading.current_thread() is main))

    endpoint = await _registered_endpoint(server, on_audio)
    endpoint.audio_sink = lambda interphone, uid, seq, frame: sink_calls.append(
        (seq, threading.current_thread() is main))
    try:
        for seq in range(200):
            data = AudioPacket("group_58", "bob", seq, b"\xf8\xff\xfe").serialize()
            server.sendto(data, endpoint.server_addr)
        await wait_until(lambda: len(loop_calls) == 200, what="every packet on the loop")
        assert [seq for seq, _ in sink_calls] == list(range(200))
        assert not any(on_main for _, on_main in sink_calls)  # the receive thread played it
        assert [seq for seq, _ in loop_calls] == list(range(200))
        assert all(on_main for _, on_main in loop_calls)
        assert endpoint.stats.rx_packets == 200
        assert endpoint.loss_pct("bob") == 0.0
    finally:
        transport = endpoint._transport
        await endpoint.aclose()
        server.close()
    assert not transport.receiving  # the thread stopped
    assert transport.get_extra_info("socket").fileno() == -1  # and its socket is closed


async def test_without_a_sink_each_packet_reaches_the_loop_in_order():
    server = _fake_server()
    heard: list[int] = []
    endpoint = await _registered_endpoint(server, lambda i, uid, seq, frame: heard.append(seq))
    try:
        for seq in range(50):
            data = AudioPacket("group_58", "carol", seq, b"\xf8\xff\xfe").serialize()
            server.sendto(data, endpoint.server_addr)
            if seq == 0:
                await wait_until(lambda: heard, what="the first packet without batching")
        await wait_until(lambda: len(heard) == 50, what="every packet")
        assert heard == list(range(50))
        # a foreign interphone and the own uid are dropped in the thread
        server.sendto(AudioPacket("group_59", "carol", 50, b"\xf8").serialize(),
                      endpoint.server_addr)
        server.sendto(AudioPacket("group_58", "alice", 51, b"\xf8").serialize(),
                      endpoint.server_addr)
        await wait_until(lambda: endpoint.stats.rx_dropped == 2, what="the drops")
        assert heard == list(range(50))
    finally:
        await endpoint.aclose()
        server.close()


async def test_registering_again_while_a_refresh_waits_still_sees_its_acknowledgement():
    """``register`` again (a re-registration as a transmission starts) while the periodic
    refresh waits for its own ack: cancelling the refresh must not take the new call's
    waiter with it, or the server's ack goes unseen and the call retries for seconds."""
    server = _fake_server()
    server.settimeout(5)
    loop = asyncio.get_running_loop()
    endpoint = await MediaEndpoint.open("127.0.0.1", server.getsockname()[1], "alice",
                                        lambda *args: None)
    ack = RecvBeginPacket("group_58", "alice").serialize()
    try:
        first = asyncio.ensure_future(
            endpoint.register("group_58", interval=0.05, attempts=1, ack_timeout=1.0))
        data, client_addr = await loop.run_in_executor(None, server.recvfrom, 2000)
        server.sendto(ack, client_addr)
        assert await first is True
        data, client_addr = await loop.run_in_executor(None, server.recvfrom, 2000)
        assert isinstance(parse_packet(data), RecvBeginPacket)  # the refresh: left waiting
        started = loop.time()
        again = asyncio.ensure_future(
            endpoint.register("group_58", interval=30, attempts=5, ack_timeout=0.3))
        data, client_addr = await loop.run_in_executor(None, server.recvfrom, 2000)
        assert isinstance(parse_packet(data), RecvBeginPacket)
        server.sendto(ack, client_addr)
        assert await again is True
        assert loop.time() - started < 0.3  # the first ack, not a retry's
    finally:
        await endpoint.aclose()
        server.close()
