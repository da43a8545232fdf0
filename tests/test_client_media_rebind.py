"""The client's media address changes while its signaling connection stays: a NAT that
gives the UDP flow a new source port (its mapping expired, a Wi-Fi roam), or a new source
address. The server accepts the new address only through a registration (recvbegin from
the session's IP, docs/security.md); the client registers again as each transmission
starts, its own or another member's, so audio flows both ways again at once instead of
after the next periodic refresh (every keepalive, 15 s here)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import pytest

from app.client import InterphoneClient
from app.protocol import InterphoneId, PacketError, RecvBeginPacket, parse_packet

pytest_plugins = ["client_fixtures"]

from client_fixtures import Clients, running_server, wait_until  # noqa: E402

G58 = InterphoneId.group("58")
FRAME = b"\xf8\xff\xfe" * 10  # any bytes: the relay does not decode Opus


class RebindingNat(asyncio.DatagramProtocol):
    """A UDP NAT in front of one client: what the client sends to ``address`` goes to the
    server from the NAT's outer socket, the answers come back. :meth:`rebind` gives the
    flow a new outer socket (a new source port, or another source address), as a NAT
    does when its mapping is renewed."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.inner: asyncio.DatagramTransport | None = None
        self.outer: asyncio.DatagramTransport | None = None
        self.client: tuple[str, int] | None = None
        self.rebinds = 0
        self.recvbegins = 0  # the client's, as they passed

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.inner, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=("127.0.0.1", 0))
        await self.rebind("127.0.0.1")
        self.rebinds = 0
        address: tuple[str, int] = self.inner.get_extra_info("sockname")[:2]
        return address

    async def rebind(self, host: str) -> None:
        if self.outer is not None:
            self.outer.close()
        self.outer, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Side(self._from_server), local_addr=(host, 0))
        self.rebinds += 1

    @property
    def outer_address(self) -> tuple[str, int]:
        assert self.outer is not None
        address: tuple[str, int] = self.outer.get_extra_info("sockname")[:2]
        return address

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        self.client = addr
        with contextlib.suppress(PacketError):
            self.recvbegins += isinstance(parse_packet(data), RecvBeginPacket)
        if self.outer is not None:
            self.outer.sendto(data, self.server)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.inner is not None and self.client is not None:
            self.inner.sendto(data, self.client)

    def close(self) -> None:
        for side in (self.inner, self.outer):
            if side is not None:
                side.close()


class _Side(asyncio.DatagramProtocol):
    def __init__(self, received: Any) -> None:
        self.received = received

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.received(data, addr[:2])


def _second_loopback_works() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            return False
    return True


class Heard:
    def __init__(self, client: InterphoneClient) -> None:
        self.packets: list[tuple[str, int]] = []
        client.on_audio = lambda uid, seq, payload: self.packets.append((uid, seq))


async def _talk(client: InterphoneClient, frames: int = 10) -> int:
    """One transmission of ``frames`` frames at the real pace; how many went out."""
    assert await client.talk_start()
    sent = 0
    for _ in range(frames):
        sent += client.send_audio(FRAME)
        await asyncio.sleep(0.02)
    await client.talk_stop()
    return sent


async def _joined_behind_nat(clients: Clients, port: int, nat: RebindingNat,
                             features: tuple[str, ...] = (),
                             ) -> tuple[InterphoneClient, InterphoneClient]:
    nat_address = await nat.start()
    alice = await clients.connect(port, "alice", media_addr=nat_address, features=features)
    bob = await clients.connect(port, "bob", features=features)
    assert set(features) <= alice.features
    await alice.join(G58)
    await bob.join(G58)
    return alice, bob


@pytest.mark.parametrize("features", [(), ("media-auth",)], ids=["plain", "media-auth"])
async def test_a_new_source_port_is_registered_again_as_the_next_transmission_starts(
        clients: Clients, features: tuple[str, ...]) -> None:
    encryption = "optional" if features else ""
    async with running_server(keepalive=15, media_encryption=encryption) as server:
        nat = RebindingNat(("127.0.0.1", server.port))
        try:
            alice, bob = await _joined_behind_nat(clients, server.port, nat, features)
            heard_by_alice, heard_by_bob = Heard(alice), Heard(bob)
            await _talk(bob)
            await wait_until(lambda: len(heard_by_alice.packets) >= 8, 3,
                             "alice hears bob before the change")
            old = nat.outer_address
            await nat.rebind("127.0.0.1")  # the NAT's mapping is renewed: a new port
            assert nat.outer_address != old
            began = time.monotonic()
            # bob speaks again: alice is registered again as it starts, well before
            # the periodic refresh (15 s)
            heard_by_alice.packets.clear()
            await _talk(bob, frames=60)  # (alice registers again when 0.5 s went unheard)
            await wait_until(lambda: len(heard_by_alice.packets) >= 10, 3,
                             "alice hears bob after the change")
            # and alice's own audio is accepted from the new port from her next talk
            await _talk(alice, frames=25)
            await wait_until(lambda: len(heard_by_bob.packets) >= 10, 3,
                             "bob hears alice after the change")
            assert time.monotonic() - began < 10
        finally:
            nat.close()


async def test_alice_talking_first_after_the_change_is_heard(clients: Clients) -> None:
    async with running_server(keepalive=15) as server:
        nat = RebindingNat(("127.0.0.1", server.port))
        try:
            alice, bob = await _joined_behind_nat(clients, server.port, nat)
            heard_by_bob = Heard(bob)
            await nat.rebind("127.0.0.1")
            await _talk(alice, frames=25)
            await wait_until(lambda: len(heard_by_bob.packets) >= 10, 3,
                             "bob hears alice after the change")
        finally:
            nat.close()


async def test_an_address_that_still_works_is_not_registered_at_each_transmission_heard(
        clients: Clients) -> None:
    """Listeners behind one office NAT would all send a recvbegin at each transmission
    start: only one that heard nothing for half a second does; a talker sends one as it
    asks for the floor."""
    async with running_server(keepalive=15) as server:
        nat = RebindingNat(("127.0.0.1", server.port))
        try:
            alice, bob = await _joined_behind_nat(clients, server.port, nat)
            heard_by_alice = Heard(alice)
            await asyncio.sleep(0.2)
            before = nat.recvbegins
            for _ in range(3):
                await _talk(bob, frames=40)
            await wait_until(lambda: len(heard_by_alice.packets) >= 100, 3, "alice hears")
            await asyncio.sleep(0.6)
            assert nat.recvbegins == before
            await _talk(alice, frames=5)
            await asyncio.sleep(0.3)
            assert nat.recvbegins == before + 1
        finally:
            nat.close()


@pytest.mark.skipif(not _second_loopback_works(), reason="127.0.0.2 cannot be bound here")
async def test_a_new_source_address_is_not_registered_for_the_session(
        clients: Clients) -> None:
    """Media from another IP than the session logged in from is not taken (no hijack of a
    uid's media by whoever knows it): alice behind the NAT that moved to 127.0.0.2 is not
    heard, and bob's audio does not go there."""
    async with running_server(keepalive=15) as server:
        nat = RebindingNat(("127.0.0.1", server.port))
        try:
            alice, bob = await _joined_behind_nat(clients, server.port, nat)
            heard_by_alice, heard_by_bob = Heard(alice), Heard(bob)
            await nat.rebind("127.0.0.2")
            await _talk(alice, frames=25)
            await _talk(bob, frames=25)
            await asyncio.sleep(0.5)
            assert heard_by_bob.packets == []
            assert heard_by_alice.packets == []
            assert alice.connected and bob.connected  # the signaling stays up
        finally:
            nat.close()
