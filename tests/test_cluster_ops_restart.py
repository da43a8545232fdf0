"""A node restarted as an operator (or systemd) does it: on the same address, as a new
node number, with clients on it and on the other node (real processes, real redis-server)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from app.protocol import AudioPacket
from tests.redis_fixtures import BEAT, RedisProcess, free_port, running_nodes
from tests.server_fixtures import G58, TEST_TOML, UdpPeer, logged_in, start_server_process
from tests.test_cluster import connect_when_up, register, start_node_process

pytestmark = pytest.mark.timeout(60)


async def test_a_crashed_node_started_again_on_its_address_before_it_was_given_up_is_heard(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """systemd starts a crashed node again 2 s later, on the same address, before the others
    give the old one up (about 5 s): when they did, they dropped every registration at that
    relay address, the new node's listeners' too, and stopped sending it the audio of their
    speakers (its listeners heard nothing from the other nodes until they joined again)."""
    caplog.set_level(logging.INFO)
    redis = RedisProcess(tmp_path)
    redis.start()
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    port = free_port()
    crashed = start_node_process(config, port, redis.url, "a")
    again = None
    try:
        async with running_nodes(1, redis.url) as nodes:
            await (await connect_when_up(port, "carol")).close()  # (the first node is up)
            crashed.send_signal(signal.SIGKILL)
            crashed.wait()
            again = start_node_process(config, port, redis.url, "a")
            alice = await connect_when_up(port, "alice")
            await alice.join(G58)
            alice_udp = await UdpPeer.open(port)
            await register(alice_udp, "alice")
            bob = await logged_in(nodes[0].port, "bob")
            await bob.join(G58)
            bob_udp = await UdpPeer.open(nodes[0].port)
            await register(bob_udp, "bob")
            for _ in range(200):  # the other node gives the crashed one up
                if any("stopped beating" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the crashed node was not given up")
            await asyncio.sleep(0.2)  # (its down applied)
            assert (await bob.speak(G58)).ok
            data = AudioPacket(str(G58), "bob", 1, b"voice").serialize()
            heard = b""
            for _ in range(20):
                bob_udp.send(data)
                try:
                    heard = await alice_udp.recv(0.2)
                    break
                except TimeoutError:
                    continue
            assert heard == data, "the restarted node's listener hears nothing"
            for peer in (alice_udp, bob_udp):
                peer.close()
            for client in (alice, bob):
                await client.close()
    finally:
        for process in (crashed, again):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        redis.stop()


async def test_a_node_started_on_the_address_of_a_crashed_one_does_not_send_itself_audio(
        tmp_path: Path) -> None:
    """The log still had the crashed node's listeners registered at its relay address, now
    the new node's own: the new node forwarded its speakers' audio to itself, refused it as
    its own number, and warned that a node "was most likely started with another
    INTERPHONE_CLUSTER_KEY" (until the crashed node was given up)."""
    redis = RedisProcess(tmp_path)
    redis.start()
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    port = free_port()
    slow_to_give_up = {"INTERPHONE_NODE_BEAT": str(BEAT),  # (the window stays open)
                       "INTERPHONE_NODE_TTL": "8"}
    crashed = start_node_process(config, port, redis.url, "a", env=slow_to_give_up)
    again: asyncio.subprocess.Process | None = None
    try:
        carol = await connect_when_up(port, "carol")
        await carol.join(G58)
        carol_udp = await UdpPeer.open(port)
        await register(carol_udp, "carol")  # a listener of the node that crashes
        crashed.send_signal(signal.SIGKILL)
        crashed.wait()
        again, _, _ = await start_server_process(
            "--config", str(config), "--store", redis.url, "--node-id", "a",
            "--port", str(port), env=slow_to_give_up)
        alice = await logged_in(port, "alice")
        await alice.join(G58)
        alice_udp = await UdpPeer.open(port)
        await register(alice_udp, "alice")
        assert (await alice.speak(G58)).ok
        for seq in range(10):
            alice_udp.send(AudioPacket(str(G58), "alice", seq, b"voice").serialize())
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        again.send_signal(signal.SIGTERM)
        assert again.stderr is not None
        log = (await asyncio.wait_for(again.stderr.read(), 15)).decode()
        assert "failed node authentication" not in log, log
        for peer in (carol_udp, alice_udp):
            peer.close()
        for client in (carol, alice):
            await client.close()
    finally:
        if crashed.poll() is None:
            crashed.kill()
            crashed.wait()
        if again is not None and again.returncode is None:
            again.kill()
            await again.wait()
        redis.stop()
