"""A node restarted as an operator (or systemd) does it: on the same address, as a new
node number, with clients on it and on the other node (real processes, real redis-server);
and a server that starts under a crowd of clients reconnecting at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from test_server_ops_metrics import samples, scrape

from app.protocol import (
    AudioPacket,
    Login,
    MembersRequest,
    MembersResult,
    Message,
    encode_frame,
    encode_message,
)
from app.server import InterphoneServer
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    BEAT,
    TTL,
    RedisProcess,
    free_port,
    node_store,
    redis_server,
    running_nodes,
    settle,
)
from tests.server_fixtures import (
    FAST,
    G58,
    ROOT,
    TEST_TOML,
    UdpPeer,
    logged_in,
    sample_directory,
    start_server_process,
)
from tests.test_cluster import connect_when_up, register, start_node_process

pytestmark = pytest.mark.timeout(60)


async def test_a_crashed_node_started_again_on_its_address_before_it_was_given_up_is_heard(
        tmp_path: Path, redis_server: RedisProcess,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """systemd starts a crashed node again 2 s later, on the same address, before the others
    give the old one up (about 5 s): when they did, they dropped every registration at that
    relay address, the new node's listeners' too, and stopped sending it the audio of their
    speakers (its listeners heard nothing from the other nodes until they joined again)."""
    caplog.set_level(logging.INFO)
    redis = redis_server
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    port = free_port()
    crashed = again = None
    try:
        crashed = start_node_process(config, port, redis.url, "a")
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


async def test_a_node_started_on_the_address_of_a_crashed_one_does_not_send_itself_audio(
        tmp_path: Path, redis_server: RedisProcess) -> None:  # noqa: F811
    """The log still had the crashed node's listeners registered at its relay address, now
    the new node's own: the new node forwarded its speakers' audio to itself, refused it as
    its own number, and warned that a node "was most likely started with another
    INTERPHONE_CLUSTER_KEY" (until the crashed node was given up)."""
    redis = redis_server
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    port = free_port()
    slow_to_give_up = {"INTERPHONE_NODE_BEAT": str(BEAT),  # (the window stays open)
                       "INTERPHONE_NODE_TTL": "8"}
    crashed: subprocess.Popen[bytes] | None = None
    again: asyncio.subprocess.Process | None = None
    try:
        crashed = start_node_process(config, port, redis.url, "a", env=slow_to_give_up)
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
        if crashed is not None and crashed.poll() is None:
            crashed.kill()
            crashed.wait()
        if again is not None and again.returncode is None:
            again.kill()
            await again.wait()


class Node:
    """``interphone-server`` on a fixed port with metrics, as a unit runs it (BEAT/TTL of
    the tests), started again on the same ports by :meth:`start`."""

    def __init__(self, config: Path, url: str, name: str) -> None:
        self.config, self.url, self.name = config, url, name
        self.port, self.metrics = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "INTERPHONE_NODE_BEAT": str(BEAT), "INTERPHONE_NODE_TTL": str(TTL)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.server", "--config", str(self.config), "--port",
             str(self.port), "--store", self.url, "--node-id", self.name,
             "--metrics", f"127.0.0.1:{self.metrics}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> int:
        """SIGTERM, as ``systemctl stop``; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def ready(self, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(OSError):
                head, _ = await scrape(self.metrics, "/ready")
                if head.startswith("HTTP/1.0 200"):
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"node {self.name} not ready")

    async def figures(self) -> dict:
        return samples((await scrape(self.metrics))[1])


async def listener(uid: str, nodes: list[Node], tmp_path: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
    servers = ",".join(f"127.0.0.1:{node.port}" for node in nodes)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "--server", servers, "--uid", uid, "--token",
        f"pw-{uid}", "listen", "group_58", "--wav", str(tmp_path / f"{uid}.wav"),
        "--seconds", "50", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def members_everywhere(nodes: list[Node]) -> list[tuple[list[str], str]]:
    """What ``members group_58`` answers on each node (a session of its own, closed)."""
    seen = []
    for node in nodes:
        carol = await logged_in(node.port, "carol")  # (who may see group_58)
        reply = await carol.request(MembersRequest(G58))
        await carol.close()
        assert isinstance(reply.body, MembersResult), reply
        seen.append((sorted(reply.body.info.members), reply.body.info.speaker))
    return seen


async def test_a_rolling_restart_then_a_redis_restart_leave_everyone_in_place_once(
        tmp_path: Path, redis_server: RedisProcess) -> None:  # noqa: F811
    """Two nodes, a listener on each (each lists both nodes); each node restarted in turn
    (SIGTERM, start), then Redis: the listeners are back in group_58, listed once on every
    node, no floor held, only the two running nodes listed, and the metrics say so."""
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    nodes = [Node(config, redis_server.url, "a"), Node(config, redis_server.url, "b")]
    listeners: list[asyncio.subprocess.Process] = []
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            await node.ready()
        listeners = [await listener("alice", nodes, tmp_path),
                     await listener("bob", nodes[::-1], tmp_path)]

        async def settled() -> None:
            expected = [(["alice", "bob"], "")] * 2
            seen: list = []
            for _ in range(100):
                with contextlib.suppress(AssertionError, OSError):
                    seen = await members_everywhere(nodes)
                    if seen == expected:
                        return
                await asyncio.sleep(0.2)
            raise AssertionError(f"members {seen}")

        await settled()
        for node in nodes:  # a rolling restart
            assert node.stop() == 0
            node.start()
            await node.ready()
            await settled()
        redis_server.stop()
        redis_server.start()
        for node in nodes:
            await node.ready()
        await settled()
        redis_client = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            listed = await redis_client.hgetall("interphone:nodes")
            alive = await redis_client.keys("interphone:alive:*")
        finally:
            await redis_client.aclose()
        assert sorted(json.loads(info)["name"] for info in listed.values()) == ["a", "b"]
        assert len(alive) == 2
        for node in nodes:
            found = await node.figures()
            assert found[("interphone_ready", ())] == 1
            assert found[("interphone_interphone_members", ())] == 2
            assert found[("interphone_floors_held", ())] == 0
        for process in listeners:
            process.send_signal(signal.SIGINT)
        for process in listeners:
            _, err = await asyncio.wait_for(process.communicate(), 15)
            said = err.decode()
            assert "reconnected: back in group_58" in said, said
            assert process.returncode in (0, 130), said
    finally:
        for process in listeners:
            if process.returncode is None:
                process.kill()
                await process.wait()
        for node in nodes:
            node.kill()


def crowd_login(port: int, connected: list[socket.socket]) -> bytes:
    """A client in a thread of its own (one of a crowd that reconnects at once after a
    restart): connects as soon as ``port`` listens, logs in as alice, returns what it read
    first (its socket, left open, in ``connected``)."""
    login = encode_frame(encode_message(Message.request("1", Login("alice", "pw-alice"))))
    deadline = time.monotonic() + 20
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)
    connected.append(sock)
    sock.sendall(login)
    return sock.recv(65536)


async def start_on_a_busy_host(server: InterphoneServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``server.start()`` as on a busy host: half a second passes before its relay's socket
    is made (after its signaling port listens)."""
    loop = asyncio.get_running_loop()
    create = loop.create_datagram_endpoint

    async def slow_step(*args: Any, **kwargs: Any) -> Any:  # a busy host, between the steps
        await asyncio.sleep(0.5)
        return await create(*args, **kwargs)

    monkeypatch.setattr(loop, "create_datagram_endpoint", slow_step)
    try:
        await server.start()
    finally:
        monkeypatch.undo()


async def test_a_client_accepted_while_a_node_starts_logs_in_through_the_shared_log(
        redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A node listened before it was wired to the shared log: a client accepted in between
    (a crowd reconnects at once after a restart) was logged in on that node alone, as a
    session no other node knew of."""
    loop = asyncio.get_running_loop()
    port = free_port()
    connected: list[socket.socket] = []

    def crowd() -> bytes:
        return crowd_login(port, connected)

    async with running_nodes(1, redis_server.url) as nodes:
        starting = InterphoneServer(sample_directory(), host="127.0.0.1", port=port,
                                    settings=FAST, media_thread=False,
                                    store=node_store(redis_server.url, "starting"))
        answer = loop.run_in_executor(None, crowd)
        await start_on_a_busy_host(starting, monkeypatch)
        nodes.append(starting)
        try:
            assert b'type="response"' in await asyncio.wait_for(answer, 15)
            await settle(nodes)
            assert "alice" in starting.state.by_uid
            assert "alice" in nodes[0].state.by_uid  # the other node knows her session
        finally:
            for sock in connected:
                sock.close()


async def test_a_login_answered_while_a_server_starts_names_its_udp_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A login read before the server's last start step was answered with udp_port="0"
    (the port was recorded only after the relay's socket was served): a client sent its
    media nowhere."""
    loop = asyncio.get_running_loop()
    port = free_port()
    connected: list[socket.socket] = []
    server = InterphoneServer(sample_directory(), host="127.0.0.1", port=port, settings=FAST,
                              media_thread=False)
    answer = loop.run_in_executor(None, crowd_login, port, connected)
    await start_on_a_busy_host(server, monkeypatch)
    try:
        reply = await asyncio.wait_for(answer, 15)
        assert f'udp_port="{port}"'.encode() in reply, reply
    finally:
        for sock in connected:
            sock.close()
        await server.stop()
