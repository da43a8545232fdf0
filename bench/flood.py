"""Floods that must cost legitimate users nothing (issue 12): garbage UDP, wrong logins, TLS.

    python bench/flood.py [--seconds 5] [--garbage-pps 50000] [--login-rate 200]

One real ``interphone-server`` process (``python -m app.server``) on loopback,
TLS on (``--tls-self-signed``), ``media_encryption = "optional"`` so the legitimate
talker and listener below can be plain base-contract clients. Three phases:

1. ``tls_login_p95_ms``: ``carol`` connects (TCP + TLS handshake) and logs in, 10
   times a second, nothing else running.
2. Garbage: a separate process sends ``--garbage-pps`` datagrams/s of random bytes
   (random lengths, random type fields) at the media port from 127.0.0.1, while
   ``alice`` talks (50 audiopackets/s, holding the floor) and ``bob`` listens.
   ``garbage_pps`` is the rate achieved, ``legit_loss_pct`` the share of alice's
   packets bob did not get.
3. Login flood: ``--login-rate`` wrong logins/s over TLS for ever-new uids from
   ever-new loopback addresses (127.0.x.y: neither per-uid nor per-address back-off
   stops them, each costs a PBKDF2 hash of the directory's iteration count or a 429
   from the hash queue), while alice keeps talking and carol logs in every 100 ms:
   ``legit_login_p95_ms`` (carol, hashed token, TLS connect included),
   ``floors_revoked`` (from the server's log: must be 0), ``flood_answered_429_pct``.

Targets: garbage at 50,000/s loses <= 1 % of a real talk; legit login <= 50 ms p95
under 200 wrong hashed logins/s with no floor revoked; TLS login <= 20 ms p95.
Everything is bounded in time (about 4 x ``--seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, log, machine, percentile
from _wire import AudioSource, Wire, register, seq_offset, udp_socket

from app.protocol import Login
from app.server.directory import hash_token

GROUP = "group_ops"
FRAME = bytes(60)
_SERVING = re.compile(r"serving on \S+ port (\d+)")


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
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.server", "--config", str(config), "--port", "0",
             "--tls-self-signed", str(folder / "tls")], cwd=ROOT, stdout=self.log_file,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = _SERVING.search(self.log_path.read_text())
            if match:
                self.port = int(match.group(1))
                return
            time.sleep(0.05)
        raise RuntimeError("the server did not start: " + self.log_path.read_text())

    def log_text(self) -> str:
        return self.log_path.read_text()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


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
    """alice holds the floor and sends 50 packets/s; bob's socket counts what arrives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server = ("127.0.0.1", port)
        self.sent = 0
        self.received: set[int] = set()

    async def start(self) -> None:
        self.alice = await tls_wire(self.port)
        self.bob = await tls_wire(self.port)
        await self.alice.login("alice", "pw-alice")
        await self.bob.login("bob", "pw-bob")
        await self.alice.join(GROUP)
        await self.bob.join(GROUP)
        self.alice_udp, self.bob_udp = udp_socket(), udp_socket()
        await register(self.alice_udp, self.server, GROUP, "alice")
        await register(self.bob_udp, self.server, GROUP, "bob")
        await self.alice.speak(GROUP)
        self.source = AudioSource(GROUP, "alice", FRAME)
        self.offset = seq_offset(GROUP, "alice")

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        receiver = loop.create_task(self._receive())
        start = time.monotonic()
        try:
            while (elapsed := time.monotonic() - start) < seconds:
                due = int(elapsed / 0.02) + 1
                while self.sent < due:
                    self.alice_udp.sendto(self.source.packet(self.sent), self.server)
                    self.sent += 1
                await asyncio.sleep(0.02 - elapsed % 0.02)
            await asyncio.sleep(0.3)  # the last packets in flight
        finally:
            receiver.cancel()

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.bob_udp, 2048)
            if len(data) >= self.offset + 4:
                self.received.add(int.from_bytes(data[self.offset:self.offset + 4], "big"))

    def loss_pct(self, since: int) -> float:
        expected = range(since, self.sent)
        got = sum(1 for seq in expected if seq in self.received)
        return round(100.0 * (1 - got / max(1, len(expected))), 3)


# ---- garbage -----------------------------------------------------------------------------------

GARBAGE_SENDER = r"""
import os, random, socket, sys, time
port, pps, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
pool = []
for _ in range(512):
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


async def garbage_phase(port: int, talk: Talk, pps: int, seconds: float) -> dict[str, float]:
    since = talk.sent
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", GARBAGE_SENDER, str(port), str(pps), str(seconds),
        stdout=asyncio.subprocess.PIPE)
    await talk.run(seconds)
    out, _ = await sender.communicate()
    return {"garbage_pps": round(float(out.decode().strip() or 0)),
            "legit_loss_pct": talk.loss_pct(since)}


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
        "login_flood_rate": round(len(outcomes) / seconds, 1),
        "flood_answered_429_pct": round(100.0 * sum(o == 429 for o in answered)
                                        / max(1, len(answered)), 1),
    }


async def login_flood_phase(server: Server, talk: Talk, rate: float,
                            seconds: float) -> dict[str, float]:
    port = server.port
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--flood-child", str(port), "--login-rate", str(rate),
        "--seconds", str(seconds), stdout=asyncio.subprocess.PIPE)
    legit = asyncio.ensure_future(logins_every(port, 0.1, seconds))
    await talk.run(seconds)
    # alice stops talking now: a revoke for silence after this is the rule, not the flood
    revokes = re.findall(r".*floor revoke.*", server.log_text())
    for line in revokes:
        log(line)
    times = await legit
    out, _ = await child.communicate()
    return {**json.loads(out.decode().strip().splitlines()[-1]),
            "legit_login_p95_ms": round(percentile(times, 95) * 1000, 1),
            "legit_logins": len(times), "floors_revoked": len(revokes)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder))
        try:
            log(f"server on port {server.port}")
            await timed_login(server.port, "carol", "pw-carol")  # verified once since start
            tls_times = await logins_every(server.port, 0.1, args.seconds)
            talk = Talk(server.port)
            await talk.start()
            garbage = await garbage_phase(server.port, talk, args.garbage_pps, args.seconds)
            log(f"garbage: {garbage}")
            flood = await login_flood_phase(server, talk, args.login_rate, args.seconds)
            log(f"login flood: {flood}")
        finally:
            server.close()
    return {
        "tls_login_p95_ms": round(percentile(tls_times, 95) * 1000, 1),
        **garbage, **flood, "machine": machine(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--garbage-pps", type=int, default=50_000)
    parser.add_argument("--login-rate", type=float, default=200.0)
    parser.add_argument("--flood-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    random.seed(os.getpid())
    if args.flood_child:
        emit(asyncio.run(flood_child(args.flood_child, args.login_rate, args.seconds)))
    else:
        emit(asyncio.run(main(args)))
