"""Several nodes on one Redis: join storm, cross-node floor access, failover, relay scaling.

    python bench/cluster.py [--quick] [--clients 2000] [--nodes 2]

Starts its own ``redis-server`` (temporary directory) and ``interphone-server``
processes (``--store``); clients are lean wire clients (``_wire.py``) in this process,
asking the ``coalesce`` login feature.

Output keys: ``nodes``, ``clients``, ``seconds``, ``notifications`` (join storm of
``clients`` spread over the nodes, into ``interphones`` groups of at most 500, the
protocol's limit: time until every client's last notification shows all the members
of its group, and the notifications they received), ``storm_one_node`` (the same with
``--storm-one`` clients on one in-memory node), ``cross_node_access_p95_ms`` (alice on
node 1 releases, bob on node 2 then asks: the time bob's request takes),
``failover_seconds`` (a node holding a talker is killed: until that talker has the
floor again through another node), ``scaling`` (audio packets delivered per second
with listeners spread over the nodes / with all of them on one node).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, ROOT, emit, log, machine, percentile, raise_nofile, write_config
from _wire import AudioSource, Wire, register, udp_socket

from app.protocol import InterphoneChanged, Login, LoginResult, decode_message
from app.protocol.messages import MessageKind

STORM_GROUPS = 8
MAX_MEMBERS = 500  # PROTOCOL.md limits: a storm of more clients fills several groups
FLOOR = "group_floor"
AUDIO = "group_audio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Member(Wire):
    """A wire client that remembers the latest member count it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.full = asyncio.get_running_loop().create_future()
        self.want = 0

    def data_received(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            message = decode_message(frame)
            if message.kind is MessageKind.NOTIFICATION:
                self.notifications += 1
                body = message.body
                if isinstance(body, InterphoneChanged):
                    self.count = body.info.member_count
                    if self.want and self.count >= self.want and not self.full.done():
                        self.full.set_result(time.perf_counter())
                continue
            future = self.pending.pop(message.seq or "", None)
            if future is not None and not future.done():
                future.set_result(message)

    async def login_coalesced(self, uid: str) -> LoginResult:
        reply = await self.request(Login(uid, "x", features=("coalesce",)))
        assert isinstance(reply.body, LoginResult)
        return reply.body


class Deployment:
    """redis-server plus ``count`` node processes (or one node without Redis)."""

    def __init__(self, work: Path, count: int, *, redis: bool = True) -> None:
        self.work = work
        self.config = write_config(work / "directory.toml",
                                   [f"storm{i}" for i in range(STORM_GROUPS)] + ["floor", "audio"])
        self.redis: subprocess.Popen[bytes] | None = None
        self.url = ""
        if redis:
            executable = shutil.which("redis-server")
            if executable is None:
                raise SystemExit("redis-server is needed: bash scripts/dev.sh setup")
            port = free_port()
            self.redis = subprocess.Popen(
                [executable, "--port", str(port), "--bind", HOST, "--dir", str(work),
                 "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.url = f"redis://{HOST}:{port}/0"
            wait_port(port)
        self.nodes: list[tuple[subprocess.Popen[bytes], int]] = []
        for i in range(count):
            self.add_node(f"n{i}")

    def add_node(self, name: str) -> int:
        port = free_port()
        args = [sys.executable, "-m", "app.server", "--config", str(self.config), "--host",
                HOST, "--port", str(port), "--log-level", "WARNING"]
        if self.url:
            args += ["--store", self.url, "--node-id", name]
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        self.nodes.append((process, port))
        wait_port(port)
        return port

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.nodes]

    def close(self) -> None:
        for process in [p for p, _ in self.nodes] + ([self.redis] if self.redis else []):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def deployment(count: int, *, redis: bool = True) -> Iterator[Deployment]:
    with tempfile.TemporaryDirectory(prefix="interphone-cluster-") as work:
        deployed = Deployment(Path(work), count, redis=redis)
        try:
            yield deployed
        finally:
            deployed.close()


async def open_member(port: int) -> Member:
    loop = asyncio.get_running_loop()
    _, member = await loop.create_connection(Member, HOST, port)
    return member


async def storm(ports: list[int], clients: int) -> dict[str, float | int]:
    """Every client joins at once; groups of at most 500 (the protocol's limit)."""
    groups = -(-clients // MAX_MEMBERS)
    members = []
    for i in range(clients):
        member = await open_member(ports[i % len(ports)])
        await member.login_coalesced(f"u{i:05d}")
        member.want = len(range(i % groups, clients, groups))
        members.append(member)
    start = time.perf_counter()
    await asyncio.gather(*(m.join(f"group_storm{i % groups}") for i, m in enumerate(members)))
    ends = await asyncio.wait_for(asyncio.gather(*(m.full for m in members)), 120)
    seconds = max(ends) - start
    notifications = sum(m.notifications for m in members)
    for member in members:
        member.close()
    return {"nodes": len(ports), "clients": clients, "interphones": groups,
            "seconds": round(seconds, 3), "notifications": notifications}


async def cross_node_access(ports: list[int], rounds: int) -> float:
    alice, bob = await open_member(ports[0]), await open_member(ports[-1])
    await alice.login_coalesced("alice")
    await bob.login_coalesced("bob")
    await alice.join(FLOOR)
    await bob.join(FLOOR)
    times = []
    for _ in range(rounds):
        await alice.speak(FLOOR, True)
        await alice.speak(FLOOR, False)
        start = time.perf_counter()
        await bob.speak(FLOOR, True)
        times.append((time.perf_counter() - start) * 1000)
        await bob.speak(FLOOR, False)
    alice.close()
    bob.close()
    return round(percentile(times, 95), 2)


async def failover(deployed: Deployment) -> float:
    """A talker's node is killed: until the talker (reconnecting to the next node in its
    list at once, as the client does) holds the floor again."""
    doomed_port = deployed.add_node("doomed")
    process = deployed.nodes[-1][0]
    talker = await open_member(doomed_port)
    await talker.login_coalesced("talker")
    await talker.join(FLOOR)
    await talker.speak(FLOOR, True)
    start = time.perf_counter()
    process.send_signal(signal.SIGKILL)
    await talker.closed
    for _ in range(200):
        try:
            again = await open_member(deployed.ports[0])
            await again.login_coalesced("talker")
            await again.join(FLOOR)
            await again.speak(FLOOR, True)
            break
        except (OSError, RuntimeError):
            await asyncio.sleep(0.05)
    seconds = time.perf_counter() - start
    again.close()
    return round(seconds, 3)


async def relay_rate(ports: list[int], listeners: int, seconds: float) -> float:
    """Audio packets delivered per second to ``listeners`` spread over ``ports``."""
    speaker = await open_member(ports[0])
    await speaker.login_coalesced("speaker")
    await speaker.join(AUDIO)
    speaker_sock = udp_socket()
    await register(speaker_sock, (HOST, ports[0]), AUDIO, "speaker")
    socks = []
    clients = []
    for i in range(listeners):
        port = ports[i % len(ports)]
        client = await open_member(port)
        await client.login_coalesced(f"l{i}")
        await client.join(AUDIO)
        sock = udp_socket()
        await register(sock, (HOST, port), AUDIO, f"l{i}")
        socks.append(sock)
        clients.append(client)
    await speaker.speak(AUDIO, True)
    await asyncio.sleep(0.3)
    source = AudioSource(AUDIO, "speaker", bytes(60))
    received = 0
    end = time.perf_counter() + seconds
    seq = 0
    while time.perf_counter() < end:
        for _ in range(20):
            speaker_sock.sendto(source.packet(seq), (HOST, ports[0]))
            seq += 1
        await asyncio.sleep(0)
        for sock in socks:
            while True:
                try:
                    sock.recv(2048)
                except BlockingIOError:
                    break
                received += 1
    for sock in [speaker_sock, *socks]:
        sock.close()
    for client in [speaker, *clients]:
        client.close()
    return received / seconds


async def run(args: argparse.Namespace) -> None:
    raise_nofile()
    result: dict[str, object] = {}
    with deployment(args.nodes) as deployed:
        log(f"join storm: {args.clients} clients over {args.nodes} nodes")
        result.update(await storm(deployed.ports, args.clients))
        log("cross-node floor access")
        result["cross_node_access_p95_ms"] = await cross_node_access(deployed.ports,
                                                                     args.rounds)
        log("failover")
        result["failover_seconds"] = await failover(deployed)
        log("relay scaling")
        spread = await relay_rate(deployed.ports[:args.nodes], args.listeners, args.seconds)
        single = await relay_rate(deployed.ports[:1], args.listeners, args.seconds)
        result["scaling"] = round(spread / single, 2) if single else None
        result["relay_delivered_per_s"] = {"spread": round(spread), "one_node": round(single)}
    with deployment(1, redis=False) as deployed:
        log(f"join storm: {args.storm_one} clients on one in-memory node")
        result["storm_one_node"] = await storm(deployed.ports, args.storm_one)
    result["machine"] = machine()
    emit(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small figures, under a minute")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--storm-one", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.quick:
        args.clients, args.storm_one, args.rounds, args.seconds = 300, 300, 50, 1.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
