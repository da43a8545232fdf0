"""The client against a hostile server over real sockets (media and the floor): garbage
datagrams, audio that is not ours to hear, spoofed senders, absurd payloads and seqs,
acks for nothing, and a floor granted twice or taken by others in a flood. The client
drops what it must (counted, told in the log at most every 10 s), plays nothing wrong, the playback
path does not raise, and the turn's state machine stays consistent."""

from __future__ import annotations

import logging
import os
import socket
import struct
import zlib

import numpy as np
import pytest
from hostile_server import G58, HostileServer, Peer, client_for
from waiting import wait_until

from app.audio.codec import OpusEncoder
from app.audio.mixer import PlaybackMixer
from app.client import InterphoneClient
from app.client.events import FloorState
from app.client.media_drops import FOREIGN, MALFORMED, NOT_JOINED, DropLog
from app.client.turn import TurnPhase
from app.client.turn_driver import TurnDriver
from app.protocol import (
    AudioPacket,
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    Message,
    RecvBeginPacket,
    SpeakRequest,
    SpeakResult,
    encode_frame,
    encode_message,
)

pytestmark = pytest.mark.timeout(30)

OTHER = InterphoneId.group("99")


async def joined(server: HostileServer) -> InterphoneClient:
    client = client_for(server)
    await client.connect()
    await client.join(G58)
    await wait_until(lambda: server.media_addr is not None, what="registered")
    return client


def opus_frames(count: int) -> list[bytes]:
    encoder = OpusEncoder()
    tone = (0.3 * np.sin(np.arange(960 * count) * 2 * np.pi * 440 / 48000)).astype(np.float32)
    return [encoder.encode(tone[i * 960:(i + 1) * 960]) for i in range(count)]


def raw_audio(interphone: str, uid: str, seq: int, frame: bytes, *,
              frame_length: int | None = None) -> bytes:
    """An audiopacket laid out by hand (its length field may lie), crc filled."""
    body = struct.pack(">I", 1)
    for text in (interphone, uid):
        body += struct.pack(">I", len(text)) + text.encode()
    body += struct.pack(">II", seq, len(frame) if frame_length is None else frame_length)
    body += frame
    return struct.pack(">I", zlib.crc32(body)) + body


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ---- 6. UDP ---------------------------------------------------------------------------------


async def test_garbage_foreign_and_spoofed_datagrams_are_dropped_and_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.client")
    heard: list[tuple[str, int, bytes]] = []
    async with HostileServer() as server:
        client = await joined(server)
        client.on_audio = lambda uid, seq, frame: heard.append((uid, seq, frame))
        media = client._media
        assert media is not None
        frame = opus_frames(1)[0]
        bad = [
            os.urandom(1), os.urandom(7), os.urandom(200), os.urandom(1400), b"\0" * 1401,
            AudioPacket(str(G58), "bob", 0, frame).serialize()[:-3],  # truncated
            AudioPacket(str(G58), "bob", 0, frame).serialize() + b"xx",  # trailing bytes
            b"\x00\x00\x00\x01" + AudioPacket(str(G58), "bob", 0, frame).serialize()[4:],
            raw_audio(str(G58), "bob", 1, frame, frame_length=1_000_000),  # the length lies
            raw_audio(str(G58), "bob", 1, b"x" * 1276),  # over the Opus limit
            raw_audio(str(G58), "bo b", 1, frame),  # not a uid
            raw_audio(str(G58), "alice", 1, frame),  # our own voice reflected
            AudioPacket(str(OTHER), "bob", 0, frame).serialize(),  # not joined
            AudioPacket("chat_bob:mallory", "bob", 0, frame).serialize(),
            struct.pack(">II", 0, 0), struct.pack(">II", 0, 7) + b"\0" * 40,  # types 0, 7
        ]
        rounds = 50
        spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # another local socket
        try:
            for n in range(rounds):  # a round at a time: no loss in the socket's buffer
                for datagram in bad:
                    server.sendto_client(datagram)
                # the same audio from elsewhere: a spoofed sender
                spoof.sendto(AudioPacket(str(G58), "bob", n, frame).serialize(),
                             server.media_addr)
                await wait_until(lambda n=n: media.stats.rx_dropped >= (n + 1) * (len(bad) + 1),
                                 timeout=10, what="every datagram read")
        finally:
            spoof.close()
        # one genuine packet after the garbage is still heard
        server.sendto_client(AudioPacket(str(G58), "bob", 0, frame).serialize())
        await wait_until(lambda: heard, timeout=5, what="genuine audio")
        assert heard == [("bob", 0, frame)]
        assert media.stats.rx_dropped == rounds * (len(bad) + 1) and media.stats.rx_packets == 1
        # told, once (not a line per packet): why, and where from
        assert warnings_of(caplog) == [f"dropped UDP datagram(s): 1 malformed (the last "
                                       f"from 127.0.0.1:{server.udp_port})"]
        assert client.connected
        await client.close()


def test_drops_are_told_at_once_then_summed_up_at_most_every_ten_seconds(
        caplog: pytest.LogCaptureFixture) -> None:
    """Only counted, a server answering from another address than the one the client
    sends to left no trace a user could find; told per packet, a spray would flood the
    log. What is dropped after the first is told with the next drop 10 s on, summed up by
    reason; drops a working setup also makes (audio still in flight for an interphone
    just left) are told at INFO."""
    caplog.set_level(logging.INFO, logger="test.drops")
    drops = DropLog(logging.getLogger("test.drops"))
    server, stranger = ("10.0.0.1", 9400), ("192.0.2.7", 5000)
    drops.note(NOT_JOINED, server, 100.0)
    for at in range(1, 10):
        drops.note(FOREIGN, stranger, 100.0 + at)
    drops.note(MALFORMED, server, 109.9)
    drops.note(NOT_JOINED, server, 110.0)
    drops.note(NOT_JOINED, server, 125.0)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "dropped UDP datagram(s): 1 for an interphone not joined (the last from "
                 "10.0.0.1:9400)"),
        ("WARNING", "dropped UDP datagram(s): 9 not from the server's media address, "
                    "1 malformed, 1 for an interphone not joined (the last from "
                    "10.0.0.1:9400)"),
        ("INFO", "dropped UDP datagram(s): 1 for an interphone not joined (the last from "
                 "10.0.0.1:9400)"),
    ]


async def test_a_recvbegin_ack_for_an_interphone_never_registered_is_dropped() -> None:
    async with HostileServer() as server:
        client = await joined(server)
        media = client._media
        assert media is not None
        acks, dropped = media.stats.acks, media.stats.rx_dropped
        for _ in range(20):
            server.sendto_client(RecvBeginPacket(str(OTHER), "alice").serialize())
            server.sendto_client(RecvBeginPacket(str(G58), "mallory").serialize())
        await wait_until(lambda: media.stats.rx_dropped >= dropped + 40, timeout=5,
                         what="the acks read")
        assert media.stats.acks == acks  # none taken as an answer
        assert media.interphones == (str(G58),)
        await client.close()


async def test_absurd_payloads_and_wild_seqs_do_not_break_playback(
        caplog: pytest.LogCaptureFixture) -> None:
    """Empty and maximal Opus payloads (garbage bytes of the allowed size), seqs jumping
    across the whole u32 range: the mixer behind the client takes them and its output
    callback plays without raising; the loss shown stays a percentage."""
    caplog.set_level(logging.WARNING)
    mixer = PlaybackMixer()
    async with HostileServer() as server:
        client = await joined(server)
        client.set_audio_sink(lambda *args: None,
                              lambda interphone, uid, seq, frame: mixer.receive(
                                  uid, seq, frame, interphone))
        frames = opus_frames(5)
        seqs = [0, 1, 0xFFFFFFFF, 2, 0x80000000, 0, 7, 0xFFFFFFFE, 3, 1 << 20]
        payloads = [b"", os.urandom(1275), b"\xff" * 1275, *frames]
        sent = 0
        for seq in seqs:
            for payload in payloads:
                server.sendto_client(AudioPacket(str(G58), "bob", seq, payload).serialize())
                sent += 1
        media = client._media
        assert media is not None
        await wait_until(lambda: mixer.frames_received == sent, timeout=10,
                         what="every packet at the mixer")
        out = np.zeros(mixer.frame_samples, dtype=np.float32)
        for _ in range(200):
            out[:] = 0
            mixer.fill(out)
            assert np.all(np.isfinite(out))
        assert 0.0 <= client.loss_pct("bob") <= 100.0
        assert not [line for line in warnings_of(caplog) if "fail" in line]
        assert client.connected
        await client.close()


# ---- 7. the floor -----------------------------------------------------------------------------


def speaker_flood(count: int) -> bytes:
    data = b""
    for n in range(count):
        speaker = ("bob", "carol", "")[n % 3]
        data += encode_frame(encode_message(Message.notification(InterphoneChanged(
            InterphoneInfo.of(G58, "alice", ["alice", "bob", "carol"], speaker)))))
    return data


async def test_a_grant_followed_by_a_flood_of_other_speakers_leaves_the_turn_consistent(
        ) -> None:
    """The server grants our speak on, then floods speaker changes naming others: the
    grant is taken as revoked at the first, transmission stops, and the machine, the
    model and what send_audio does all agree afterwards."""
    transmitting: list[bool] = []
    async with HostileServer() as server:

        def grant_then_flood(peer: Peer, request: Message) -> None:
            assert isinstance(request.body, SpeakRequest)
            if request.body.on:
                peer.respond(request, SpeakResult(True, G58))
                peer.send_raw(speaker_flood(6000))
            else:
                peer.respond(request, SpeakResult(False, G58))

        server.on[SpeakRequest] = grant_then_flood
        client = await joined(server)
        driver = TurnDriver(client, on_transmit=transmitting.append)
        driver.press()
        await wait_until(lambda: transmitting and not driver.machine.transmitting,
                         timeout=10, what="granted, then revoked")
        await wait_until(lambda: client.model.speaker == "", timeout=10, what="flood read")
        assert transmitting == [True, False]
        assert client.model.floor is not FloorState.TALKING
        assert not client.send_audio(b"\x00" * 10)
        driver.release()
        await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE and not driver.busy,
                         timeout=5, what="turn over")
        assert driver.requests == 1
        await driver.close()
        await client.close()


async def test_a_floor_granted_twice_is_one_turn() -> None:
    """The speak on is answered twice (the same seq) and our own name comes as speaker
    again and again: one grant, one transmission, and an unsolicited grant while idle
    does not make us talk."""
    transmitting: list[bool] = []
    async with HostileServer() as server:

        def grant_twice(peer: Peer, request: Message) -> None:
            assert isinstance(request.body, SpeakRequest)
            on = request.body.on
            for _ in range(2):
                peer.respond(request, SpeakResult(on, G58))
                peer.notify(InterphoneChanged(InterphoneInfo.of(
                    G58, "alice", ["alice", "bob"], "alice" if on else "")))

        server.on[SpeakRequest] = grant_twice
        client = await joined(server)
        driver = TurnDriver(client, on_transmit=transmitting.append)
        driver.press()
        await wait_until(lambda: driver.machine.transmitting, timeout=5, what="granted")
        assert client.model.floor is FloorState.TALKING
        driver.release()
        await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE and not driver.busy,
                         timeout=5, what="released")
        assert transmitting == [True, False] and driver.requests == 1
        assert client.model.floor is FloorState.IDLE
        # a grant nobody asked for: neither the model nor the machine starts talking
        server.peer.send(Message.response("12345", SpeakResult(True, G58)))
        server.peer.notify(InterphoneChanged(InterphoneInfo.of(
            G58, "alice", ["alice", "bob"], "alice")))
        await client.members(G58)  # (a round trip: what came before it was read)
        assert client.model.floor is not FloorState.TALKING
        assert not driver.machine.transmitting and transmitting == [True, False]
        assert not client.send_audio(b"\x00" * 10)
        await driver.close()
        await client.close()
