"""Listening: ``::`` is dual-stack, ``""`` is every address, several ``--host`` are allowed,
TCP and UDP alike; real sockets on 127.0.0.1 and ::1."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from server_fixtures import G58, RawClient, UdpPeer, running_server

from app.protocol import AudioPacket, RecvBeginPacket, parse_packet
from app.server.binding import effective_hosts, has_ipv6, listen_addresses, udp_address

ROOT = Path(__file__).resolve().parent.parent

needs_ipv6 = pytest.mark.skipif(not has_ipv6(), reason="this machine has no IPv6 loopback (::1)")

V4, V6 = "127.0.0.1", "::1"


async def member(port: int, uid: str, host: str) -> tuple[RawClient, UdpPeer]:
    """``uid`` logged in over TCP to ``host``, joined to group 58, its UDP address
    registered (the server's ack proves the UDP side answers on ``host``)."""
    client = await RawClient.connect(port, host=host)
    await client.login(uid)
    await client.join(G58)
    peer = await UdpPeer.open(port, local_host=host, server_host=host)
    peer.send(RecvBeginPacket("group_58", uid).serialize())
    assert parse_packet(await peer.recv(2.0)) == RecvBeginPacket("group_58", uid)
    return client, peer


async def relays_between(port: int, speaker_host: str, listener_host: str) -> None:
    alice, alice_udp = await member(port, "alice", speaker_host)
    bob, bob_udp = await member(port, "bob", listener_host)
    try:
        assert (await alice.speak(G58)).ok
        packet = AudioPacket("group_58", "alice", 0, b"voice").serialize()
        alice_udp.send(packet)
        assert await bob_udp.recv(2.0) == packet
    finally:
        for client in (alice, bob):
            await client.close()
        for peer in (alice_udp, bob_udp):
            peer.close()


def test_hosts_are_resolved_as_documented() -> None:
    assert effective_hosts([]) == [V4]
    assert effective_hosts(["0.0.0.0", "::"]) == ["::"]  # dual-stack covers IPv4
    assert effective_hosts([""]) == (["::"] if has_ipv6() else ["0.0.0.0"])
    assert [a.address[0] for a in listen_addresses([V4, V4])] == [V4]
    assert udp_address([V4]).address == (V4,)
    assert udp_address(["0.0.0.0"]).address == ("0.0.0.0",)


@needs_ipv6
async def test_dual_stack_host_serves_ipv4_and_ipv6_over_tcp_and_udp() -> None:
    async with running_server(host="::") as server:
        await relays_between(server.port, V4, V6)
        await relays_between(server.port, V6, V4)


@needs_ipv6
async def test_several_hosts_each_serve_tcp_and_udp() -> None:
    async with running_server(host=[V4, V6]) as server:
        assert sorted(s.getsockname()[0] for t in server._tcp or [] for s in t.sockets) \
            == sorted([V4, V6])
        await relays_between(server.port, V6, V4)


@needs_ipv6
async def test_empty_host_means_every_address() -> None:
    async with running_server(host="") as server:
        await relays_between(server.port, V4, V6)


async def test_ipv4_only_host_does_not_accept_ipv6() -> None:
    if not has_ipv6():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    async with running_server(host=V4) as server:
        with pytest.raises(OSError):
            await RawClient.connect(server.port, host=V6)
        await relays_between(server.port, V4, V4)


@needs_ipv6
async def test_command_line_takes_several_hosts() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.server", "--port", "0", "--host", V4, "--host", V6,
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    try:
        while True:
            raw = await asyncio.wait_for(process.stderr.readline(), 15)
            assert raw, "the server exited"
            match = re.search(r"serving on (\S+) port (\d+)", raw.decode())
            if match:
                break
        assert match.group(1) == "127.0.0.1,[::1]"
        port = int(match.group(2))
        for host in (V4, V6):
            client = await RawClient.connect(port, host=host)
            assert (await client.login("alice")).uid == "alice"  # demo directory: open mode
            await client.close()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    assert process.returncode == 0
