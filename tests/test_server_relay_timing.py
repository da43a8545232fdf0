"""The relay's own clock checks, with a controlled clock and a fake transport."""

from __future__ import annotations

import asyncio

from server_fixtures import G58, sample_directory

from app.protocol import AudioPacket
from app.server import ServerSettings, ServerState
from app.server.relay import MediaRelay
from app.server.tcp import Signaling

ALICE, BOB = ("127.0.0.1", 4000), ("127.0.0.1", 4001)


class FakeDatagramTransport(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, tuple]] = []

    def sendto(self, data: bytes, addr: tuple | None = None) -> None:  # type: ignore[override]
        self.sent.append((data, addr))

    def get_write_buffer_size(self) -> int:
        return 0


async def _relay(granted_at: float) -> tuple[ServerState, MediaRelay, FakeDatagramTransport]:
    settings = ServerSettings(auth="token", silence_timeout=5, max_talk=60)
    state = ServerState(sample_directory(), settings)
    hub = Signaling(state, asyncio.get_running_loop())
    for sid, uid in ((1, "alice"), (2, "bob")):
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1")
        state.join(sid, G58)
    assert state.register_media("group_58", "alice", ALICE)
    assert state.register_media("group_58", "bob", BOB)
    state.speak(1, G58, True, granted_at)
    relay = MediaRelay(hub)
    transport = FakeDatagramTransport()
    relay.connection_made(transport)
    return state, relay, transport


async def test_audio_just_before_the_silence_deadline_is_relayed_and_extends_it() -> None:
    state, relay, transport = await _relay(granted_at=100.0)
    packet = AudioPacket("group_58", "alice", 0, b"x").serialize()
    relay.time = lambda: 104.99
    relay.datagram_received(packet, ALICE)
    assert transport.sent == [(packet, BOB)]
    relay.time = lambda: 109.98
    relay.datagram_received(packet, ALICE)
    assert len(transport.sent) == 2
    assert state.interphones[G58].holder == "alice"


async def test_audio_at_grant_plus_silence_timeout_revokes_instead_of_relaying() -> None:
    state, relay, transport = await _relay(granted_at=100.0)
    relay.time = lambda: 105.0
    relay.datagram_received(AudioPacket("group_58", "alice", 0, b"x").serialize(), ALICE)
    assert transport.sent == []
    assert state.interphones[G58].holder == ""


async def test_audio_past_max_talk_revokes() -> None:
    state, relay, transport = await _relay(granted_at=100.0)
    record = state.interphones[G58]
    record.last_audio_at = 159.0
    relay.time = lambda: 160.0
    relay.datagram_received(AudioPacket("group_58", "alice", 9, b"x").serialize(), ALICE)
    assert transport.sent == [] and record.holder == ""


async def test_audio_received_before_the_grant_is_dropped_when_judged_after_it() -> None:
    """A transport that queued a datagram (the media thread) passes when it arrived: audio
    sent before the floor was granted cannot ride the grant made meanwhile."""
    state, relay, transport = await _relay(granted_at=100.0)
    packet = AudioPacket("group_58", "alice", 0, b"x").serialize()
    relay.time = lambda: 100.5
    relay.datagram_received(packet, ALICE, received_at=99.9)
    assert transport.sent == []
    relay.datagram_received(packet, ALICE, received_at=100.2)
    assert transport.sent == [(packet, BOB)]
    assert state.interphones[G58].last_audio_at == 100.2
