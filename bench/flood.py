"""Floods that must cost legitimate users nothing (issue 12): garbage UDP, wrong logins, TLS.

    python bench/flood.py [--seconds 5] [--garbage-pps 50000] [--login-rate 200]

One real ``interphone-server`` process (``python -m app.server``) on loopback,
TLS on (``--tls-self-signed``), ``media_encryption = "optional"`` (so that the server
handles every media type, base and media-auth: the worst case for a flood). The
legitimate talker and listener are the real client engine (``InterphoneClient``)
over TLS pinned to the server's certificate, with media-auth: sealed voice, as
``interphone-cli --tls`` talks. Three phases:

1. ``tls_login_p95_ms``: ``carol`` connects (TCP + TLS handshake) and logs in, 10
   times a second, nothing else running.
2. Garbage: a separate process sends ``--garbage-pps`` datagrams/s of random bytes
   (random lengths, random type fields) at the media port from 127.0.0.1, while
   ``alice`` talks (50 audiopackets/s through ``send_audio``, holding the floor) and
   ``bob`` listens (his client's media thread hands each opened packet to a sink
   that notes its seq). ``garbage_pps`` is the rate achieved, ``legit_loss_pct`` the
   share of alice's packets bob did not get. Where they were lost, as bench/relay.py
   tells it: ``legit_not_relayed_pct`` never left the server (the relay's own count
   of packets forwarded, from its metrics endpoint), ``listener_kernel_drops`` were
   dropped by the kernel at bob's full socket buffer (this process was too slow, not
   the relay), ``server_rx_drops`` datagrams (garbage and voice alike) the kernel
   dropped at the server's full media socket, ``relay_drops`` the server's drops by
   reason, ``server_cpu_pct`` the server's CPU in the phase (``loop``: the event loop's
   thread; ``threads``: the others, the media thread doing the work; ``threads_waiting``:
   time they were runnable but got no CPU). ``--forged-recvbegins`` sends well-formed
   recvbegins of non-members instead of random bytes; ``--garbage-only`` runs phase 2 alone.
3. Login flood: ``--login-rate`` wrong logins/s over TLS for ever-new uids from
   ever-new loopback addresses (127.0.x.y: neither per-uid nor per-address back-off
   stops them, each costs a PBKDF2 hash of the directory's iteration count or a 429
   from the hash queue), while alice keeps talking and carol logs in every 100 ms:
   ``legit_login_p95_ms`` (carol, hashed token, TLS connect included),
   ``floors_revoked`` (from the server's log: must be 0), ``flood_answered_429_pct``,
   ``talk_loss_pct_during_login_flood``, and who used the CPU (``login_flood_cpu_pct``,
   ``flood_child_cpu_pct``).

Targets: garbage at 50,000/s loses <= 1 % of a real talk; legit login <= 50 ms p95
under 200 wrong hashed logins/s with no floor revoked; TLS login <= 20 ms p95.
Everything is bounded in time (about 4 x ``--seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, end_process, log, machine, percentile, udp_drops
from _wire import Wire

from app.client import InterphoneClient
from app.client.trust import TrustPolicy
from app.client.trust import client_context as pinned_context
from app.protocol import Login
from app.protocol.features import MEDIA_AUTH
from app.server.directory import hash_token
from app.server.tls import fingerprint_of_file

GROUP = "group_ops"
FRAME = bytes(60)
_SERVING = re.compile(r"serving on \S+ port (\d+)")
_METRIC = re.compile(r'^(interphone_relayed_packets_total|interphone_dropped_datagrams_total)'
                     r'(?:\{reason="(\w+)"\})? (\S+)$', re.M)


def config_text() -> str:
    carol = hash_token("pw-carol", iterations=100_000)
    return "\n".join([
        "[server]", 'auth = "token"', 'media_encryption = "optional"', "keepalive = 3600",
        "silence_timeout = 5", "max_talk = 3600", "login_timeout = 30",
        "[[users]]", 'uid = "alice"', 'token = "pw-alice"',
        "[[users]]", 'uid = "bob"', 'token = "pw-bob"',
        "[[users]]", 'uid = "carol"', f'token_hash = "{carol}"',
        "[[groups]]", 'id = "ops"', 'name = "Ops"', 'members = ["*"]', ""])


class Server:
    """``python -m app.server`` with TLS; its log is read by a thread into ``lines``."""

    def __init__(self, folder: Path) -> None:
        config = folder / "dir.toml"
        config.write_text(config_text())
        self.log_path = folder / "server.log"
        self.log_file = self.log_path.open("w+")
        self.metrics_port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.server", "--config", str(config), "--port", "0",
             "--tls-self-signed", str(folder / "tls"),
             "--metrics", f"127.0.0.1:{self.metrics_port}"], cwd=ROOT, stdout=self.log_file,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = _SERVING.search(self.log_path.read_text())
            if match:
                self.port = int(match.group(1))
                self.fingerprint = fingerprint_of_file(folder / "tls" / "server.crt")
                return
            time.sleep(0.05)
        raise RuntimeError("the server did not start: " + self.log_path.read_text())

    def log_text(self) -> str:
        return self.log_path.read_text()

    def relay_counts(self) -> dict[str, int]:
        """``relayed`` (audio packets forwarded) and the drops by reason, from /metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        counts: dict[str, int] = {}
        for _name, reason, value in _METRIC.findall(text):
            counts["relayed" if reason == "" else reason] = int(float(value))
        return counts

    def close(self) -> None:
        end_process(self.proc, 5)
        self.log_file.close()


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """On-CPU seconds of a process's threads: ``loop`` (the main thread, which runs the event
    loop) and ``threads`` (the others: the relay's media thread and the idle hash pool; Python
    does not name OS threads, so they are told apart by nothing but the main one)."""
    seconds = {"loop": 0.0, "threads": 0.0, "threads_waiting": 0.0}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                used, waited = (int(n) / 1e9 for n in handle.read().split()[:2])
        except (OSError, ValueError):
            continue
        if task == str(pid):
            seconds["loop"] += used
        else:
            seconds["threads"] += used
            seconds["threads_waiting"] += waited  # runnable, but no CPU free for it
    return seconds


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def own_udp_drops() -> int:
    """Datagrams the kernel dropped at this process's UDP sockets (full receive buffers)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if fields[9] in inodes:
                    total += int(fields[-1])
    return total


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the bench measures cost, not trust
    return context


async def tls_wire(port: int, local: str | None = None) -> Wire:
    loop = asyncio.get_running_loop()
    _, wire = await loop.create_connection(
        Wire, "127.0.0.1", port, ssl=client_context(), server_hostname="localhost",
        local_addr=(local, 0) if local else None)
    return wire


async def timed_login(port: int, uid: str, token: str) -> float:
    started = time.perf_counter()
    wire = await tls_wire(port)
    try:
        await wire.login(uid, token)
    finally:
        wire.close()
    return time.perf_counter() - started


async def logins_every(port: int, period: float, seconds: float) -> list[float]:
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(await timed_login(port, "carol", "pw-carol"))
        await asyncio.sleep(period)
    return times


# ---- the legitimate talk ---------------------------------------------------------------------

class Talk:
    """alice holds the floor and sends 50 packets/s; bob's client notes each seq it hears.

    Both are the real client engine over TLS, pinned, with media-auth (sealed voice)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sent = 0
        self.refused = 0
        """Packets ``send_audio`` refused (the client no longer held the floor)."""
        self.received: set[int] = set()

    def _client(self, uid: str) -> InterphoneClient:
        return InterphoneClient(
            "127.0.0.1", self.server.port, uid, f"pw-{uid}", reconnect=False,
            ssl=pinned_context(TrustPolicy(pin=self.server.fingerprint)),
            features=(MEDIA_AUTH,))

    async def start(self) -> None:
        self.alice, self.bob = self._client("alice"), self._client("bob")
        received = self.received
        self.bob.set_audio_sink(lambda _interphone, _uid, seq, _payload: received.add(seq))
        await self.alice.connect()
        await self.bob.connect()
        if MEDIA_AUTH not in self.alice.features or MEDIA_AUTH not in self.bob.features:
            raise RuntimeError("media-auth was not granted")
        await self.alice.join(GROUP)
        await self.bob.join(GROUP)
        await asyncio.sleep(0.5)  # the registrations (authenticated recvbegins) acked
        if not await self.alice.talk_start():
            raise RuntimeError("alice did not get the floor")

    async def run(self, seconds: float) -> None:
        start, first = time.monotonic(), self.sent + self.refused
        while (elapsed := time.monotonic() - start) < seconds:
            due = first + int(elapsed / 0.02) + 1  # 50 packets/s from this run's start
            while self.sent + self.refused < due:  # seq = the count of packets sent
                if self.alice.send_audio(FRAME):
                    self.sent += 1
                else:
                    self.refused += 1  # the floor is gone: revoked, from the server's log
            await asyncio.sleep(0.02 - elapsed % 0.02)
        await asyncio.sleep(0.3)  # the last packets in flight

    def longest_gap_ms(self, since: int) -> int:
        """The longest run of consecutive packets lost, in ms (a stall shows as one run)."""
        longest = run = 0
        for seq in range(since, self.sent):
            run = 0 if seq in self.received else run + 1
            longest = max(longest, run)
        return longest * 20

    def loss_pct(self, since: int) -> float:
        expected = range(since, self.sent)
        got = sum(1 for seq in expected if seq in self.received)
        return round(100.0 * (1 - got / max(1, len(expected))), 3)

    async def close(self) -> None:
        await self.alice.close()
        await self.bob.close()


# ---- garbage -----------------------------------------------------------------------------------

GARBAGE_SENDER = r"""
import os, random, socket, sys, time, zlib
port, pps, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
forged = sys.argv[4] == "forged"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
pool = []
def field(text):
    return len(text).to_bytes(4, "big") + text
for n in range(512):
    if forged:  # well-formed recvbegins (crc right) of non-members: base, and media-auth
        uid = b"intruder%d" % n  # with a wrong mac
        body = (2 if n % 2 else 16).to_bytes(4, "big") + field(b"group_ops") + field(uid)
        if n % 2 == 0:
            body += n.to_bytes(4, "big") + os.urandom(16)
        pool.append(zlib.crc32(body).to_bytes(4, "big") + body)
        continue
    body = os.urandom(random.randint(8, 400))
    kind = random.choice([0, 1, 2, 3, 16, 17, 18, 99, random.getrandbits(32)])
    pool.append(body[:4] + kind.to_bytes(4, "big") + body[8:])
sent, start, i = 0, time.monotonic(), 0
target = ("127.0.0.1", port)
while (elapsed := time.monotonic() - start) < seconds:
    due = int(elapsed * pps)
    while sent < due:
        try:
            sock.sendto(pool[i & 511], target)
        except OSError:
            pass
        sent += 1
        i += 1
    time.sleep(0.002)
print(sent / (time.monotonic() - start))
"""


async def garbage_phase(server: Server, talk: Talk, pps: int, seconds: float,
                        forged: bool = False) -> dict[str, object]:
    since = talk.sent
    before = server.relay_counts()
    server_drops, own_drops = udp_drops({server.port}), own_udp_drops()
    cpu_before, started = thread_cpu_seconds(server.proc.pid), time.monotonic()
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", GARBAGE_SENDER, str(server.port), str(pps), str(seconds),
        "forged" if forged else "random", stdout=asyncio.subprocess.PIPE)
    await talk.run(seconds)
    out, _ = await sender.communicate()
    after = server.relay_counts()
    cpu_after, elapsed = thread_cpu_seconds(server.proc.pid), time.monotonic() - started
    sent = talk.sent - since
    relayed = after.get("relayed", 0) - before.get("relayed", 0)
    return {"garbage_pps": round(float(out.decode().strip() or 0)),
            "legit_sent": sent,
            "legit_loss_pct": talk.loss_pct(since),
            "legit_longest_gap_ms": talk.longest_gap_ms(since),
            "legit_not_relayed_pct": round(100.0 * max(0, sent - relayed) / max(1, sent), 3),
            "listener_kernel_drops": own_udp_drops() - own_drops,
            "server_rx_drops": udp_drops({server.port}) - server_drops,
            "server_cpu_pct": {role: round(100 * (cpu_after[role] - cpu_before[role])
                                           / elapsed, 1) for role in cpu_after},
            "relay_drops": {reason: after[reason] - before.get(reason, 0)
                            for reason in after
                            if reason != "relayed" and after[reason] != before.get(reason, 0)}}


# ---- wrong logins ----------------------------------------------------------------------------

async def wrong_login(port: int, n: int, outcomes: list[int]) -> None:
    local = f"127.{1 + n // 62500 % 250}.{n // 250 % 250}.{1 + n % 250}"
    try:
        wire = await tls_wire(port, local)
    except OSError:
        outcomes.append(-1)
        return
    try:
        outcomes.append(await _raw_request(wire, Login(f"x{n}", "guess")))
    finally:
        wire.close()


async def _raw_request(wire: Wire, body: Login) -> int:
    try:
        await wire.request(body, timeout=30)
    except RuntimeError as exc:  # refused: the errcode is in the message
        match = re.search(r"errcode=(\d+)", str(exc))
        return int(match.group(1)) if match else 0
    except (TimeoutError, ConnectionError):
        return -1
    return 200


async def flood_child(port: int, rate: float, seconds: float) -> dict[str, float]:
    """The wrong logins, run in a process of their own (``--flood-child``): the bench's
    legitimate clients must not share an event loop with 200 TLS handshakes/s."""
    outcomes: list[int] = []
    tasks: set[asyncio.Task[None]] = set()
    start, n = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        while n < elapsed * rate:
            task = asyncio.get_running_loop().create_task(wrong_login(port, n, outcomes))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.sleep(0.005)
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    answered = [o for o in outcomes if o > 0]
    return {
        "flood_child_cpu_pct": round(100 * own_cpu_seconds() / (time.monotonic() - start), 1),
        "login_flood_rate": round(len(outcomes) / seconds, 1),
        "flood_answered_429_pct": round(100.0 * sum(o == 429 for o in answered)
                                        / max(1, len(answered)), 1),
    }


async def login_flood_phase(server: Server, talk: Talk, rate: float, seconds: float,
                            nice: int = 0) -> dict[str, float]:
    port = server.port
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--flood-child", str(port), "--login-rate", str(rate),
        "--flood-nice", str(nice),
        "--seconds", str(seconds), stdout=asyncio.subprocess.PIPE)
    legit = asyncio.ensure_future(logins_every(port, 0.1, seconds))
    since = talk.sent
    cpu_before, own_before = thread_cpu_seconds(server.proc.pid), own_cpu_seconds()
    started = time.monotonic()
    await talk.run(seconds)
    elapsed = time.monotonic() - started
    cpu_after, own_after = thread_cpu_seconds(server.proc.pid), own_cpu_seconds()
    talk_loss = talk.loss_pct(since)
    # alice stops talking now: a revoke for silence after this is the rule, not the flood
    revokes = re.findall(r".*floor revoke.*", server.log_text())
    for line in revokes:
        log(line)
    times = await legit
    out, _ = await child.communicate()
    return {**json.loads(out.decode().strip().splitlines()[-1]),
            "legit_login_p95_ms": round(percentile(times, 95) * 1000, 1),
            "legit_logins": len(times), "floors_revoked": len(revokes),
            "talk_loss_pct_during_login_flood": talk_loss, "talk_refused": talk.refused,
            "login_flood_cpu_pct": {
                **{f"server_{role}": round(100 * (cpu_after[role] - cpu_before[role]) / elapsed,
                                           1) for role in cpu_after},
                "bench_clients": round(100 * (own_after - own_before) / elapsed, 1)}}


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder))
        try:
            log(f"server on port {server.port}")
            await timed_login(server.port, "carol", "pw-carol")  # verified once since start
            tls_times = [] if args.garbage_only else await logins_every(
                server.port, 0.1, args.seconds)
            talk = Talk(server)
            await talk.start()
            flood: dict[str, object] = {}
            try:
                garbage = await garbage_phase(server, talk, args.garbage_pps, args.seconds,
                                              args.forged_recvbegins)
                log(f"garbage: {garbage}")
                if not args.garbage_only:
                    flood = await login_flood_phase(server, talk, args.login_rate, args.seconds,
                                                    args.flood_nice)
                    log(f"login flood: {flood}")
            finally:
                await talk.close()
        finally:
            server.close()
    tls = {"tls_login_p95_ms": round(percentile(tls_times, 95) * 1000, 1)} if tls_times else {}
    return {**tls, **garbage, **flood, "machine": machine()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--garbage-pps", type=int, default=50_000)
    parser.add_argument("--login-rate", type=float, default=200.0)
    parser.add_argument("--garbage-only", action="store_true",
                        help="phase 2 only (the garbage datagrams)")
    parser.add_argument("--forged-recvbegins", action="store_true",
                        help="phase 2 sends well-formed recvbegins of non-members (base, and "
                             "media-auth with a wrong mac) instead of random bytes")
    parser.add_argument("--flood-nice", type=int, default=0, metavar="N",
                        help="run the wrong logins' process N nicer: an attacker's CPU is "
                             "not the server's (login_flood_rate shows the rate reached)")
    parser.add_argument("--flood-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    random.seed(os.getpid())
    if args.flood_child:
        os.nice(args.flood_nice)
        emit(asyncio.run(flood_child(args.flood_child, args.login_rate, args.seconds)))
    else:
        emit(asyncio.run(main(args)))
