"""Several nodes on one Redis: join storm, cross-node floor access, failover, relay scaling.

    python bench/cluster.py [--quick] [--clients 2000] [--nodes 2] [--procs 6]

Starts its own ``redis-server`` (temporary directory) and ``interphone-server``
processes (``--store``, ``--metrics``).

**Join storm**: ``clients`` InterphoneClients (the product's client library with its
model, asking the product clients' default login features, ``coalesce`` included:
:func:`app.client.asked_features.asked_features`) dealt over ``--procs`` worker
processes (``bench/join_storm.py``'s workers, ``--nice`` 10 by default: on a machine
shared with the nodes, the nodes get the CPUs first, as they would on machines of their
own), spread over the nodes, into
``interphones`` groups of at most 500 (the protocol's limit) whose members sit on every
node. Keys: ``nodes``, ``clients``, ``seconds`` (until every client's model showed all
the members of its group), ``server_answered_all_s`` (until every node showed every
group full to a ``sync``: the server had answered every join),
``clients_saw_all_answers_s`` (until every client had read its join's answer),
``notifications`` (received by the clients during the storm);
``storm_one_node`` is the same with ``--storm-one`` clients on one in-memory node.

``cross_node_access_p95_ms``: alice on node 1 releases, bob on node 2 then asks: the
time bob's request takes. ``failover_seconds``: a node holding a talker is killed: until
that talker has the floor again through another node.

**Relay scaling** (``scaling``): a speaker on node 1 floods audio at ``--offered``
packets/s (a separate process) to ``--listeners`` listeners, all on node 1, then
spread over every node (node 1 sends each packet once to each other node, whose relay
fans it out). Capacity is what the relays sent to listeners per second, from each
node's own counters (``interphone_relayed_packets_total`` times its local listeners):
the listeners' sockets are not read by Python (the kernel drops what overflows), so the
benchmark's reader is not what is measured. ``scaling`` = spread / one node.
``hop_ms`` (p50, p95): at a low rate, how much later a listener on node 2 gets a packet
than a listener on node 1 (the node-to-node hop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import select
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

import urllib.request

from _common import (
    HOST,
    ROOT,
    emit,
    end_process,
    log,
    machine,
    percentile,
    proc_cpu_seconds,
    raise_nofile,
    write_config,
)
from _wire import AudioSource, Wire, register, seq_offset, udp_socket
from join_storm import run_workers, summary

from app.client.asked_features import asked_features
from app.protocol import InterphoneChanged, Login, LoginResult, decode_message
from app.protocol.messages import MessageKind

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

    def __init__(self, work: Path, count: int, *, redis: bool = True,
                 storm_clients: int = 0) -> None:
        self.work = work
        groups = -(-storm_clients // MAX_MEMBERS)
        self.config = write_config(work / "directory.toml",
                                   [f"storm{i}" for i in range(groups)] + ["floor", "audio"])
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
        self.metrics: dict[int, int] = {}  # node port -> its metrics port
        for i in range(count):
            self.add_node(f"n{i}")

    def add_node(self, name: str) -> int:
        port, metrics = free_port(), free_port()
        args = [sys.executable, "-m", "app.server", "--config", str(self.config), "--host",
                HOST, "--port", str(port), "--log-level", "WARNING",
                "--metrics", f"{HOST}:{metrics}"]
        if self.url:
            args += ["--store", self.url, "--node-id", name]
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        self.nodes.append((process, port))
        self.metrics[port] = metrics
        wait_port(port)
        return port

    def relayed(self, port: int) -> float:
        """The node's ``interphone_relayed_packets_total``."""
        url = f"http://{HOST}:{self.metrics[port]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("interphone_relayed_packets_total "):
                    return float(line.split()[1])
        raise RuntimeError("no interphone_relayed_packets_total")

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.nodes]

    def close(self) -> None:
        for process in [p for p, _ in self.nodes] + ([self.redis] if self.redis else []):
            end_process(process)


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def deployment(count: int, *, redis: bool = True,
               storm_clients: int = 0) -> Iterator[Deployment]:
    with tempfile.TemporaryDirectory(prefix="interphone-cluster-") as work:
        deployed = Deployment(Path(work), count, redis=redis, storm_clients=storm_clients)
        try:
            yield deployed
        finally:
            deployed.close()


async def open_member(port: int) -> Member:
    loop = asyncio.get_running_loop()
    _, member = await loop.create_connection(Member, HOST, port)
    return member


async def storm(ports: list[int], clients: int, procs: int, timeout: float,
                nice: int = 0) -> dict[str, object]:
    """Every client joins at once; groups of at most 500 (the protocol's limit), the
    members of each on every node. While the workers run, this process asks every node
    for the groups' member counts (``sync``, answered in the log's order) until each
    shows every group full: the server had then answered every join."""
    groups = -(-clients // MAX_MEMBERS)
    nodes = len(ports)
    placed = [(f"u{i:05d}", ports[i % nodes], (i // nodes) % groups) for i in range(clients)]
    sizes = {f"group_storm{g}": sum(1 for _, _, x in placed if x == g) for g in range(groups)}
    plan = [(uid, port, f"group_storm{g}", sizes[f"group_storm{g}"]) for uid, port, g in placed]
    pollers = []
    for i, port in enumerate(ports):
        poller = await open_member(port)
        await poller.login_coalesced(f"poll{i}")
        pollers.append(poller)
    workers = asyncio.create_task(asyncio.to_thread(
        run_workers, plan, procs, timeout, asked_features(tls=False), nice))
    full_at = None
    while not workers.done():
        replies = await asyncio.gather(*(p.sync(list(sizes)) for p in pollers))
        counts = [{str(info.id): info.member_count for info in reply.body.interphones}
                  for reply in replies]
        if all(seen.get(gid, 0) >= size for seen in counts for gid, size in sizes.items()):
            full_at = time.monotonic()
            break
        await asyncio.sleep(0.02)
    go_at, replies = await workers
    for poller in pollers:
        poller.close()
    result = summary(go_at, replies, clients)
    return {"nodes": nodes, "clients": clients, "interphones": groups,
            "seconds": result["seconds"],
            "server_answered_all_s": round(full_at - go_at, 3) if full_at else None,
            "clients_saw_all_answers_s": result["all_joined_s"],
            "notifications": result["client_notifications"],
            "converged": result["converged"], "join_errors": result["join_errors"],
            "first_full_s": result["first_full_s"], "client_procs": procs,
            "client_nice": nice}


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


def flood(sock: socket.socket, target: tuple[str, int], packets: list[bytes], rate: float,
          seconds: float) -> None:
    """(A forked process.) Send ``packets`` round and round at ``rate`` per second."""
    interval = 64 / rate
    end = time.perf_counter() + seconds
    at = time.perf_counter()
    index = 0
    count = len(packets)
    while at < end:
        for _ in range(64):
            with contextlib.suppress(BlockingIOError):
                sock.sendto(packets[index], target)
            index = (index + 1) % count
        at += interval
        pause = at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)


class Audience:
    """A speaker on ``ports[0]`` and ``listeners`` listeners dealt over ``ports``."""

    def __init__(self) -> None:
        self.members: list[Member] = []
        self.socks: list[socket.socket] = []
        self.where: list[int] = []  # listener -> its node's port

    @classmethod
    async def gather(cls, ports: list[int], listeners: int, tag: str) -> Audience:
        audience = cls()
        speaker = await open_member(ports[0])
        await speaker.login_coalesced(f"speaker{tag}")
        await speaker.join(AUDIO)
        audience.speaker_sock = udp_socket()
        await register(audience.speaker_sock, (HOST, ports[0]), AUDIO, f"speaker{tag}")
        audience.members.append(speaker)
        for i in range(listeners):
            port = ports[i % len(ports)]
            client = await open_member(port)
            await client.login_coalesced(f"l{tag}{i}")
            await client.join(AUDIO)
            sock = udp_socket()
            await register(sock, (HOST, port), AUDIO, f"l{tag}{i}")
            audience.socks.append(sock)
            audience.where.append(port)
            audience.members.append(client)
        await speaker.speak(AUDIO, True)
        audience.source = AudioSource(AUDIO, f"speaker{tag}", bytes(60))
        await asyncio.sleep(0.3)  # every node has applied the grant
        return audience

    def drain(self) -> None:
        for sock in self.socks:
            with contextlib.suppress(BlockingIOError):
                while sock.recv(2048):
                    pass

    async def close(self) -> None:
        await self.members[0].speak(AUDIO, False)
        for sock in [self.speaker_sock, *self.socks]:
            sock.close()
        for member in self.members:
            member.close()

    speaker_sock: socket.socket
    source: AudioSource


async def relay_capacity(deployed: Deployment, ports: list[int], listeners: int,
                         offered: float, seconds: float, tag: str) -> dict[str, float]:
    """Listener deliveries per second the relays made while the speaker flooded."""
    audience = await Audience.gather(ports, listeners, tag)
    packets = [audience.source.packet(seq) for seq in range(4096)]
    local = {port: audience.where.count(port) for port in ports}
    pids = {port: process.pid for process, port in deployed.nodes if port in ports}
    cpu_before = {port: proc_cpu_seconds(pid) for port, pid in pids.items()}
    before = {port: deployed.relayed(port) for port in ports}
    process = mp.get_context("fork").Process(
        target=flood, args=(audience.speaker_sock, (HOST, ports[0]), packets, offered, seconds))
    start = time.perf_counter()
    process.start()
    await asyncio.get_running_loop().run_in_executor(None, process.join)
    elapsed = time.perf_counter() - start
    after = {port: deployed.relayed(port) for port in ports}
    cpu = sum(proc_cpu_seconds(pid) - cpu_before[port] for port, pid in pids.items())
    relayed = {port: after[port] - before[port] for port in ports}
    delivered = sum(relayed[port] * local[port] for port in ports)
    audience.drain()
    await audience.close()
    return {"delivered_per_s": round(delivered / elapsed),
            "in_per_s": round(relayed[ports[0]] / elapsed),
            "nodes_cpu_s": round(cpu, 2),
            "delivered_per_node_cpu_s": round(delivered / cpu) if cpu else None}


async def hop_latency(ports: list[int], packets: int) -> tuple[float, float]:
    """p50 and p95 (ms) of how much later a listener on ``ports[1]`` gets a packet than
    a listener on ``ports[0]`` (the speaker's node): the node-to-node hop."""
    audience = await Audience.gather(ports[:2], 2, "hop")
    near, far = audience.socks
    arrivals: dict[int, dict[int, float]] = {0: {}, 1: {}}
    offset = seq_offset(AUDIO, "speakerhop")
    for seq in range(packets):
        audience.speaker_sock.sendto(audience.source.packet(seq), (HOST, ports[0]))
        until = time.perf_counter() + 0.01
        while time.perf_counter() < until:
            ready, _, _ = select.select([near, far], [], [], max(0.0, until - time.perf_counter()))
            for sock in ready:
                data = sock.recv(2048)
                got = int.from_bytes(data[offset:offset + 4], "big")
                arrivals[0 if sock is near else 1].setdefault(got, time.perf_counter())
    hops = [(arrivals[1][seq] - arrivals[0][seq]) * 1000
            for seq in arrivals[0] if seq in arrivals[1]]
    await audience.close()
    return round(percentile(hops, 50), 3), round(percentile(hops, 95), 3)


async def run(args: argparse.Namespace) -> None:
    raise_nofile()
    result: dict[str, object] = {}
    with deployment(args.nodes, storm_clients=args.clients) as deployed:
        log(f"join storm: {args.clients} clients over {args.nodes} nodes, "
            f"{args.procs} client processes")
        result.update(await storm(deployed.ports, args.clients, args.procs, args.timeout,
                                  args.nice))
        result["loadavg_1m_after_storm"] = round(os.getloadavg()[0], 2)
        log("cross-node floor access")
        result["cross_node_access_p95_ms"] = await cross_node_access(deployed.ports,
                                                                     args.rounds)
        log("relay scaling")
        single = await relay_capacity(deployed, deployed.ports[:1], args.listeners,
                                      args.offered, args.seconds, "a")
        spread = await relay_capacity(deployed, deployed.ports[:args.nodes], args.listeners,
                                      args.offered, args.seconds, "b")
        result["scaling"] = (round(spread["delivered_per_s"] / single["delivered_per_s"], 2)
                             if single["delivered_per_s"] else None)
        # what the same relays would give with a free core per node: the work per
        # delivery, hop included, times the nodes (a projection, not a measurement)
        # (None when a node was billed no clock tick of CPU in a short window)
        per_cpu, spread_per_cpu = (single["delivered_per_node_cpu_s"],
                                   spread["delivered_per_node_cpu_s"])
        result["scaling_per_cpu_projected"] = (
            round(args.nodes * spread_per_cpu / per_cpu, 2)
            if per_cpu and spread_per_cpu else None)
        result["relay"] = {"one_node": single, "spread": spread, "offered_per_s": args.offered,
                           "listeners": args.listeners}
        if args.nodes > 1:
            p50, p95 = await hop_latency(deployed.ports, args.hop_packets)
            result["hop_ms"] = {"p50": p50, "p95": p95}
        log("failover")
        result["failover_seconds"] = await failover(deployed)
    with deployment(1, redis=False, storm_clients=args.storm_one) as deployed:
        log(f"join storm: {args.storm_one} clients on one in-memory node")
        result["storm_one_node"] = await storm(deployed.ports, args.storm_one, args.procs,
                                               args.timeout, args.nice)
    result["machine"] = machine()
    emit(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small figures, under a minute")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--storm-one", type=int, default=500)
    parser.add_argument("--procs", type=int, default=4, help="client worker processes")
    parser.add_argument("--nice", type=int, default=10,
                        help="the client processes run that much nicer than the nodes "
                             "(0: the same priority)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="a storm gives up after (seconds)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--offered", type=float, default=40_000,
                        help="audio packets/s the flooding speaker sends")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--hop-packets", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.clients, args.storm_one, args.rounds, args.seconds = 300, 300, 50, 1.0
        args.hop_packets, args.procs = 100, 3
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
