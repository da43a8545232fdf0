"""The media socket received by the audio output (``ThreadedDatagramTransport.poll``): the
datagrams reach the sink in the caller's thread, in order, with the time the kernel says
they arrived; the receive thread stands aside while polls come and takes the socket back
when they stop (told, or not), losing nothing either way; ``close()`` still stops
everything. Real sockets on 127.0.0.1, the clocked sound card for the engine."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from client_fixtures import wait_until
from test_client_media import _fake_server, _registered_endpoint

from app.audio.backend import AudioDeviceError
from app.audio.clocked import ClockedBackend
from app.audio.codec import OpusEncoder
from app.audio.mixer import PlaybackMixer
from app.audio.pipeline import AudioEngine
from app.client.media import MediaEndpoint
from app.client.media_thread import (
    MAX_ARRIVAL_AGE_S,
    ThreadedDatagramTransport,
    arrival_time,
    bind_ephemeral,
    stamp_arrivals,
)
from app.protocol import AudioPacket

pytest_plugins = ["client_fixtures"]

pytestmark = pytest.mark.skipif(not stamp_arrivals(socket.socket(socket.AF_INET,
                                                                 socket.SOCK_DGRAM)),
                                reason="no kernel receive timestamps here")

_ENCODER = OpusEncoder(20)
_FRAME = _ENCODER.encode(np.full(960, 0.1, dtype=np.float32))
STAMP = (socket.SOL_SOCKET, 35)  # SO_TIMESTAMPNS's control message
TOLERANCE_S = 0.001  # the wall-to-monotonic move: two clock reads, float rounding


def _stamp(seconds: float) -> list[tuple[int, int, bytes]]:
    whole = int(seconds)
    return [(*STAMP, struct.pack("@ll", whole, round((seconds - whole) * 1e9)))]


@pytest.mark.parametrize(("ancdata_age", "expected_age"), [
    (0.25, 0.25),  # a datagram that waited a quarter second: a quarter second before now
    (0.0, 0.0),
    (None, 0.0),  # no stamp: now
    (-0.5, 0.0),  # a stamp in the future (the wall clock stepped back): now
    (MAX_ARRIVAL_AGE_S + 5, 0.0),  # older than any datagram waits (stepped forward): now
])
def test_the_kernel_stamp_is_moved_to_the_monotonic_clock(ancdata_age, expected_age):
    wall, now = 1_800_000_000.5, 1234.5
    ancdata = [] if ancdata_age is None else _stamp(wall - ancdata_age)
    assert arrival_time(ancdata, wall, now) == pytest.approx(now - expected_age, abs=1e-6)


def test_a_foreign_control_message_is_no_stamp():
    assert arrival_time([(socket.SOL_SOCKET, 99, b"\0" * 16)], 10.0, 3.0) == 3.0


def test_the_mixer_keeps_the_arrival_times_it_is_given():
    """Packets polled together at one instant, sent a frame apart: with their arrival times
    the jitter buffer sees no jitter; taken as arriving when polled it would see a frame."""
    packets = [_FRAME] * 3
    mixers = {"arrivals": PlaybackMixer(clock=lambda: 100.0),
              "polled at 100.0": PlaybackMixer(clock=lambda: 100.0)}
    for seq, packet in enumerate(packets):
        mixers["arrivals"].receive("bob", seq, packet, "", 99.94 + 0.02 * seq)
        mixers["polled at 100.0"].receive("bob", seq, packet)
    jitter = {name: mixer.quality()["bob"].jitter_ms for name, mixer in mixers.items()}
    assert jitter["arrivals"] == pytest.approx(0.0, abs=1e-6)
    assert jitter["polled at 100.0"] == pytest.approx(20.0)
    for mixer in mixers.values():
        mixer.close()


class _Recorder:
    """A sink that records what reaches it: datagram, arrival, thread."""

    def __init__(self) -> None:
        self.arrived: list[tuple[bytes, float, str]] = []
        self.errors: list[Exception] = []

    def datagram_arrived(self, data: bytes, addr: object, arrived: float) -> None:
        self.arrived.append((data, arrived, threading.current_thread().name))

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)

    @property
    def data(self) -> list[bytes]:
        return [data for data, _, _ in self.arrived]


def _transport() -> tuple[ThreadedDatagramTransport, _Recorder, socket.socket, tuple]:
    sink = _Recorder()
    transport = ThreadedDatagramTransport(bind_ephemeral(socket.AF_INET), sink)
    transport.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    address = ("127.0.0.1", transport.get_extra_info("sockname")[1])
    return transport, sink, sender, address


def _until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not reached: {what}"
        time.sleep(0.002)


def test_polled_datagrams_reach_the_sink_in_order_in_the_callers_thread_with_arrival_times():
    transport, sink, sender, address = _transport()
    try:
        assert transport.pollable
        assert transport.poll() == 0  # nothing yet; from now on the thread stands aside
        sent: list[tuple[float, float]] = []  # monotonic time just before and after each
        for n in range(3):
            before = time.monotonic()
            sender.sendto(b"%d" % n, address)
            sent.append((before, time.monotonic()))
            time.sleep(0.02)
        polled_at = time.monotonic()
        assert transport.poll() == 3
        assert sink.data == [b"0", b"1", b"2"]
        for (before, after), (_, arrived, thread) in zip(sent, sink.arrived, strict=True):
            assert thread == threading.current_thread().name  # not the receive thread
            assert before - TOLERANCE_S <= arrived <= after + TOLERANCE_S
            assert arrived < polled_at  # when it arrived, not when it was taken
        assert transport.poll() == 0  # an empty poll
    finally:
        transport.close()
        sender.close()


def test_the_hand_over_both_ways_loses_and_reorders_no_datagram():
    """A sender, a poller that starts and stops polling again and again, and the receive
    thread taking over each time: every datagram once, in the order sent."""
    transport, sink, sender, address = _transport()
    done = threading.Event()

    def poller() -> None:
        while not done.is_set():
            for _ in range(5):  # polling for a while, as the output does at each block
                transport.poll()
                time.sleep(0.003)
            transport.stop_polling()  # the output stopped: the thread takes over
            time.sleep(0.004)

    def takers() -> list[str]:  # who took each datagram, each change of hands once
        names = [thread for _, _, thread in sink.arrived]
        return [name for n, name in enumerate(names) if n == 0 or names[n - 1] != name]

    polling = threading.Thread(target=poller, name="poller")
    polling.start()
    try:
        count = 0
        while count < 600 or len(takers()) < 4:  # until the socket changed hands both ways
            assert count < 60_000, "the socket never changed hands"
            sender.sendto(count.to_bytes(4, "big"), address)
            count += 1
            if count % 3 == 0:
                time.sleep(0.001)
        _until(lambda: len(sink.arrived) >= count, "every datagram delivered")
        done.set()
        polling.join()
        assert [int.from_bytes(data, "big") for data in sink.data] == list(range(count))
        assert set(takers()) == {"media-rx", "poller"}
    finally:
        done.set()
        polling.join()
        transport.close()
        sender.close()


def test_polls_that_stop_without_a_word_hand_the_socket_back_to_the_thread():
    transport, sink, sender, address = _transport()
    try:
        sender.sendto(b"first", address)  # wakes the thread, which is not told to stand aside
        _until(lambda: sink.data == [b"first"], "the thread receives before any poll")
        transport.poll()
        sender.sendto(b"second", address)  # the thread sees the polls and leaves it
        sender.sendto(b"third", address)
        # nobody polls again: the thread notices and receives what waits
        _until(lambda: len(sink.data) == 3, "the thread takes over by itself")
        assert sink.data == [b"first", b"second", b"third"]
        assert {thread for _, _, thread in sink.arrived} == {"media-rx"}
        assert not transport.polled
    finally:
        transport.close()
        sender.close()


def test_close_stops_a_thread_that_stands_aside_and_later_polls_do_nothing():
    transport, sink, sender, address = _transport()
    transport.poll()
    sender.sendto(b"x", address)  # the thread wakes, sees the polls, and parks
    time.sleep(0.05)
    transport.close()
    assert not transport.receiving
    assert sink.data == []  # the parked thread left it to the poller, which never came
    assert transport.poll() == 0  # the output's next block, after the close
    assert transport.get_extra_info("socket").fileno() == -1  # closed
    sender.close()


# ---- the engine: polls while its output runs, gives the socket back when it stops ------

def _audio(seq: int) -> bytes:
    return AudioPacket("group_58", "bob", seq, _FRAME).serialize()




async def _engine_with_endpoint(server: socket.socket, on_demand: bool = True
                                ) -> tuple[AudioEngine, MediaEndpoint, list[tuple[int, str]]]:
    endpoint = await _registered_endpoint(server, lambda *args: None)
    engine = AudioEngine(ClockedBackend(), loop=asyncio.get_running_loop(),
                         on_demand=on_demand)
    heard: list[tuple[int, str]] = []

    def sink(interphone: str, uid: str, seq: int, payload: bytes) -> None:
        heard.append((seq, threading.current_thread().name))
        engine.receive_from_thread(uid, seq, payload, interphone, endpoint.arrival)

    endpoint.audio_sink = sink
    engine.receive_poller = endpoint
    engine.start()
    return engine, endpoint, heard


async def test_the_output_receives_while_it_runs_and_gives_the_socket_back_when_it_stops():
    server = _fake_server()
    engine, endpoint, heard = await _engine_with_endpoint(server)
    try:
        server.sendto(_audio(0), endpoint.server_addr)  # the thread: it starts the output
        await wait_until(lambda: engine.output_active, what="the output started")
        for seq in range(1, 15):
            await asyncio.sleep(0.02)
            server.sendto(_audio(seq), endpoint.server_addr)
        await wait_until(lambda: len(heard) == 15, what="every packet heard")
        assert [seq for seq, _ in heard] == list(range(15))
        assert heard[0][1] == "media-rx"
        assert heard[-1][1] == "clocked-output"  # the output polled the socket
        assert engine.mixer.frames_received == 15
        engine.end_utterance("bob", "group_58")  # the speaker stopped (signaling)
        # nothing more to play: the output stops after a second and hands the socket back
        await wait_until(lambda: not engine.output_active, timeout=10, what="output stopped")
        assert not endpoint._transport.polled
        server.sendto(_audio(0), endpoint.server_addr)
        await wait_until(lambda: len(heard) == 16, what="the next packet")
        assert heard[-1][1] == "media-rx"
        await wait_until(lambda: engine.output_active, what="it starts the output again")
    finally:
        engine.close()
        await endpoint.aclose()
        server.close()


async def test_a_device_error_and_the_engines_close_give_the_socket_back():
    server = _fake_server()
    engine, endpoint, heard = await _engine_with_endpoint(server, on_demand=False)
    transport = endpoint._transport
    assert isinstance(transport, ThreadedDatagramTransport)
    try:
        await wait_until(lambda: transport.polled, what="the running output polls")
        engine._on_stream_error(AudioDeviceError("unplugged"))  # as the device's thread does
        assert not transport.polled
        await wait_until(lambda: transport.polled, what="a working output polls again")
        engine.close()  # no more polls: the thread receives at once
        assert not transport.polled
        server.sendto(_audio(0), endpoint.server_addr)
        await wait_until(lambda: len(heard) == 1, what="the packet after the close")
        assert heard == [(0, "media-rx")]
    finally:
        engine.close()
        await endpoint.aclose()
        server.close()
    assert not transport.receiving  # the endpoint's close stopped the thread
