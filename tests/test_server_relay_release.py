"""A floor given up while the holder's last datagrams still wait (media thread).

The holder sends its last audiopacket, then ``speak off`` over TCP. The event loop may
handle the ``speak off`` before the media thread has read that packet from the socket,
or before the loop judges a packet the thread handed over. Either way the packet
arrived while the floor was held and must be relayed (judged as of its arrival), while
everything PROTOCOL.md 5.1 refuses is still dropped.

The orderings are driven explicitly: the media thread is held inside a hand-over (a
datagram from a "staller" socket), or the loop's drain of handed-over datagrams is held
back, while the ``speak off`` is answered.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from server_fixtures import G58, UdpPeer
from server_fixtures import running_server as floor_server
from test_server_floor_ext import ALL, OPS, _register, ask, close_all, joined
from test_server_floor_ext import directory as floor_directory
from test_server_relay import Room
from test_server_relay_fast import _audio, _media, _next_is, _streaming, running_server

from app.protocol import AudioPacket
from app.server import InterphoneServer
from app.server.media_thread import MediaThread
from app.server.relay import RETIRED_FOR

_WAIT = 5.0  # an upper bound for a thread to get somewhere, not a timing assertion


class _Staller:
    """Holds the media thread inside the hand-over of a datagram from its own socket."""

    def __init__(self, media: MediaThread, peer: UdpPeer) -> None:
        self.entered = threading.Event()
        self.go = threading.Event()
        self.address = peer.address
        self._peer = peer
        self._hand_over = media._hand_over

        def hand_over(view: memoryview, size: int, addr: Any) -> None:
            if addr == self.address:
                self.entered.set()
                self.go.wait(_WAIT)
                return
            self._hand_over(view, size, addr)

        media._hand_over = hand_over  # type: ignore[method-assign]

    async def stall(self) -> None:
        self._peer.send(b"stall")
        assert await asyncio.to_thread(self.entered.wait, _WAIT)


async def _until(condition: Callable[[], bool]) -> bool:
    for _ in range(int(_WAIT / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


async def _bob_takes_the_floor(room: Room) -> None:
    """The next thing every listener gets is bob's audio: nothing of alice's came before."""
    await room.clients["bob"].speak(G58, True)
    from_bob = _audio(0, uid="bob")
    room.peers["bob"].send(from_bob)
    await _next_is(room.peers["carol"], from_bob)
    await _next_is(room.peers["alice"], from_bob)


async def test_audio_still_in_the_socket_at_speak_off_is_relayed() -> None:
    async with running_server() as server:
        room = await _streaming(server)  # alice's stream is on the fast path
        staller = _Staller(_media(server), await UdpPeer.open(server.port))
        spoof = await UdpPeer.open(server.port)  # alice's uid, another port
        await staller.stall()
        spoof.send(_audio(2, b"forged"))
        room.peers["bob"].send(_audio(2, b"not the holder", uid="bob"))
        last = _audio(2, b"last words")
        room.peers["alice"].send(last)  # waits in the socket behind the staller's datagram
        await room.clients["alice"].speak(G58, False)  # the loop releases the floor first
        staller.go.set()
        await _next_is(room.peers["bob"], last)  # judged as of its arrival: relayed
        await _next_is(room.peers["carol"], last)
        assert await _until(lambda: not _relay(server).retired)  # the marker was read
        room.peers["alice"].send(_audio(3, b"after speak off"))  # after the release: dropped
        await _bob_takes_the_floor(room)
        assert await room.peers["bob"].nothing(0.05)
        spoof.close()
        await room.leave()


async def test_first_packet_handed_over_but_judged_after_speak_off_is_relayed() -> None:
    async with running_server() as server:
        media = _media(server)
        room = await Room(server.port).enter()
        await room.clients["alice"].speak(G58, True)
        held: list[Callable[..., Any]] = []
        queued = threading.Event()
        call_on_loop = media._call_on_loop

        def hold_drains(callback: Any, *args: Any) -> None:
            if callback == media._drain:
                held.append(callback)
                queued.set()
                return
            call_on_loop(callback, *args)

        media._call_on_loop = hold_drains  # type: ignore[method-assign]
        first = _audio(0, b"first words")  # no fast route yet: handed over to the loop
        room.peers["alice"].send(first)
        assert await asyncio.to_thread(queued.wait, _WAIT)
        await room.clients["alice"].speak(G58, False)  # handled before the drain
        media._call_on_loop = call_on_loop  # type: ignore[method-assign]
        for drain in held:
            drain()
        await _next_is(room.peers["bob"], first)
        await _next_is(room.peers["carol"], first)
        assert await room.peers["alice"].nothing(0.05)  # never echoed
        await _bob_takes_the_floor(room)
        await room.leave()


async def test_audio_of_a_member_who_left_with_the_floor_is_relayed_if_it_came_before() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        staller = _Staller(_media(server), await UdpPeer.open(server.port))
        await staller.stall()
        last = _audio(2, b"bye")
        room.peers["alice"].send(last)
        await room.clients["alice"].close()  # leaves group_58 holding the floor
        del room.clients["alice"]
        assert await _until(lambda: _relay(server).state.interphones[G58].holder == "")
        staller.go.set()
        await _next_is(room.peers["bob"], last)
        await _next_is(room.peers["carol"], last)
        await room.leave()


async def test_a_floor_given_up_serves_its_earlier_audio_for_a_bounded_time() -> None:
    async with running_server() as server:
        room = await _streaming(server)
        media = _media(server)
        staller = _Staller(media, await UdpPeer.open(server.port))
        await staller.stall()
        room.peers["alice"].send(_audio(2, b"too late"))
        await room.clients["alice"].speak(G58, False)
        clock = media.clock
        media.clock = lambda: clock() + RETIRED_FOR + 1.0  # as if read after the bound
        staller.go.set()
        assert await _until(lambda: not _relay(server).retired)  # read, then the marker
        media.clock = clock
        await _bob_takes_the_floor(room)  # alice's packet was dropped
        assert await room.peers["bob"].nothing(0.05)
        await room.leave()


async def test_audio_sent_before_a_pre_emption_is_relayed_and_after_it_dropped() -> None:
    async with floor_server(floor_directory()) as server:
        alice, dave, bob = await joined(server.port, OPS, ("alice", ALL), ("dave", ALL),
                                        ("bob", ""))
        peers = {uid: await _register(server, uid) for uid in ("alice", "dave", "bob")}
        assert (await ask(alice, OPS)).ok
        staller = _Staller(_media(server), await UdpPeer.open(server.port))
        await staller.stall()
        before = AudioPacket(str(OPS), "alice", 0, b"before").serialize()
        peers["alice"].send(before)  # waits in the socket while dave takes the floor
        assert (await ask(dave, OPS)).ok
        staller.go.set()
        assert await peers["bob"].recv() == before
        peers["alice"].send(AudioPacket(str(OPS), "alice", 1, b"after").serialize())
        from_dave = AudioPacket(str(OPS), "dave", 0, b"d0").serialize()
        peers["dave"].send(from_dave)
        assert await peers["bob"].recv() == from_dave  # alice's later packet was dropped
        assert await peers["dave"].recv() == before  # dave was a listener when it came
        assert await peers["bob"].nothing(0.05)
        for peer in (*peers.values(),):
            peer.close()
        await close_all(alice, dave, bob)


def _relay(server: InterphoneServer) -> Any:
    assert server.relay is not None
    return server.relay


async def test_audio_sent_before_the_grant_but_read_after_it_is_not_relayed() -> None:
    """PROTOCOL.md 5.1: audio sent while nobody held the floor is never relayed, even when
    the media thread reads it only after the loop has granted the floor to its sender."""
    async with running_server() as server:
        room = await Room(server.port).enter()
        staller = _Staller(_media(server), await UdpPeer.open(server.port))
        await staller.stall()
        early = _audio(0, b"nobody holds")
        room.peers["alice"].send(early)  # waits in the socket behind the staller's datagram
        await room.clients["alice"].speak(G58, True)  # granted on the loop meanwhile
        staller.go.set()
        granted = _audio(1, b"granted")
        room.peers["alice"].send(granted)  # sent after the grant: relayed
        await _next_is(room.peers["bob"], granted)
        await _next_is(room.peers["carol"], granted)
        await room.leave()


async def test_audio_sent_before_a_grant_that_ended_before_it_was_read_is_not_relayed() -> None:
    """PROTOCOL.md 5.1 again, when the floor was granted and given up before the media
    thread read the datagram: the floor given up serves only what came after its grant."""
    async with running_server() as server:
        room = await Room(server.port).enter()
        staller = _Staller(_media(server), await UdpPeer.open(server.port))
        await staller.stall()
        room.peers["alice"].send(_audio(0, b"nobody holds"))  # behind the staller's datagram
        await room.clients["alice"].speak(G58, True)
        await room.clients["alice"].speak(G58, False)  # the floor given up meanwhile
        staller.go.set()
        assert await _until(lambda: not _relay(server).retired)  # both markers were read
        await _bob_takes_the_floor(room)  # nothing of alice's reached anyone before bob's
        await room.leave()
