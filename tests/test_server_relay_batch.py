"""The media thread's sendmmsg fan-out (app/server/fanout.py): the same rules as the
``sendto`` fan-out, every listener gets the datagram byte for byte, a refused message
is dropped alone.

The rooms of the fast-path tests have two listeners, under the threshold at which the
thread uses sendmmsg (``fanout.MIN_TARGETS``); here it is lowered to 1, and the fast
path's rule tests (malformed, spoofed port and IP, non-holder, released floor,
unregistered, moved registration, expiry) run again through it.
"""

from __future__ import annotations

import socket
import sys

import pytest
import test_server_relay_fast as fast
from test_server_relay_fast import _audio, _media, _streaming, running_server

from app.server import fanout
from app.server.fanout import Batch, BatchSender

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="sendmmsg is Linux's")

# the fast path's rule tests, collected here again (under the fixture below)
test_batched_malformed = fast.test_malformed_audio_on_the_fast_path_is_dropped
test_batched_over_long = fast.test_over_long_datagram_dropped_exactly_1400_bytes_relayed
test_batched_other_port = fast.test_holder_uid_from_another_port_is_dropped
test_batched_other_ip = fast.test_holder_uid_from_another_ip_same_port_number_is_dropped
test_batched_non_holder = (
    fast.test_member_without_the_floor_is_dropped_even_from_its_registered_address)
test_batched_released = fast.test_released_floor_stops_the_fast_route
test_batched_unregistered = fast.test_unregistered_holder_is_dropped_until_it_registers
test_batched_moved = fast.test_registration_moved_sends_to_the_new_address_only
test_batched_expiry = fast.test_expiry_seen_by_the_media_thread_revokes_the_floor


@pytest.fixture(autouse=True)
def _batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "MIN_TARGETS", 1)


async def test_the_thread_fans_out_by_sendmmsg() -> None:
    async with running_server() as server:
        room = await _streaming(server)  # bob and carol got packets 0 and 1 byte for byte
        batches = [b for b in _media(server)._batches.values() if b is not None]
        assert batches and batches[0].count == 2  # the thread's second packet went so
        relayed = _media(server).relayed
        for seq in range(2, 12):
            packet = _audio(seq, bytes([seq]) * (seq * 7))  # sizes differ: the length is set
            room.peers["alice"].send(packet)
            assert await room.peers["bob"].recv() == packet
            assert await room.peers["carol"].recv() == packet
        assert _media(server).relayed == relayed + 10
        assert await room.peers["alice"].nothing(0.05)  # never echoed
        await room.leave()


def _receivers(count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        socks.append(sock)
    return socks


def test_a_batch_sends_the_buffer_prefix_to_every_target() -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receivers = _receivers(4)
    buffer = bytearray(b"relayed audio" + bytes(50))
    batcher = BatchSender(sender, buffer)
    batch = batcher.prepare(tuple(r.getsockname() for r in receivers))
    assert isinstance(batch, Batch) and batcher.call is not None
    batcher.iov.len = 13
    assert batcher.call(batcher.fd, batch.msgs, batch.count, 0) == 4
    assert [r.recv(100) for r in receivers] == [b"relayed audio"] * 4
    batcher.close()
    for sock in [sender, *receivers]:
        sock.close()


def test_targets_it_cannot_batch_go_one_by_one() -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    batcher = BatchSender(sender, bytearray(10))
    assert batcher.prepare(()) is None
    assert batcher.prepare((("::1", 5000, 0, 0),)) is None  # not an IPv4 (host, port)
    assert batcher.prepare((("localhost", 5000),)) is None  # not a literal address
    assert batcher.prepare(tuple(("127.0.0.1", 5000 + i) for i in range(1025))) is None
    batcher.close()
    sender.close()
    six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    assert BatchSender(six, bytearray(10)).prepare((("127.0.0.1", 5000),)) is None
    six.close()


def test_the_relay_batches_from_min_targets_up_a_bench_at_any_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "MIN_TARGETS", 10)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receivers = _receivers(3)
    targets = tuple(r.getsockname() for r in receivers)
    buffer = bytearray(b"three" + bytes(20))
    batcher = BatchSender(sender, buffer)
    assert batcher.prepare(targets) is None  # under MIN_TARGETS: one sendto each
    assert batcher.prepare(targets * 4) is not None  # 12
    batch = batcher.prepare_any(targets)
    assert batch is not None and batch.count == 3
    assert batcher.prepare_any(()) is None
    assert batcher.send(batch, 5) == 3
    assert [r.recv(100) for r in receivers] == [b"three"] * 3
    batcher.close()
    for sock in [sender, *receivers]:
        sock.close()


@pytest.mark.parametrize("sent", [-1, 0, 1])
async def test_a_message_the_kernel_refused_is_dropped_alone(sent: int) -> None:
    """sendmmsg returns how many went out (-1: not even the first): the one it stopped at
    is dropped, every one after it still goes."""
    receivers = _receivers(4)
    async with running_server() as server:
        media = _media(server)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        batch = BatchSender(sender, bytearray(10)).prepare(
            tuple(r.getsockname() for r in receivers))
        assert batch is not None
        media._send_rest(batch, sent, memoryview(b"payload"))
        skipped = max(sent, 0) + 1
        for index, sock in enumerate(receivers):
            if index < skipped:
                sock.settimeout(0.05)
                with pytest.raises(TimeoutError):
                    sock.recv(100)
            else:
                assert sock.recv(100) == b"payload"
        sender.close()
    for sock in receivers:
        sock.close()
