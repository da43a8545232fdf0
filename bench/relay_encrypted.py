"""Relay cost with media-auth (sealed audio, authenticated registrations) against plain audio.

    python bench/relay_encrypted.py [--rooms 20] [--per-room 10] [--seconds 5]

The real server (``bench/_server.py``, pinned to one CPU) with
``media_encryption = "optional"``; the load (one process, pinned to the other CPU)
opens ``--rooms`` rooms of one speaker and ``--per-room`` listeners, each speaker
sending 50 packets/s of 60-byte Opus-sized frames. The same load runs twice: plain
base-contract clients (type 1 audio), then media-auth clients (type 16 signed
registrations, type 18 sealed audio, sealed by the speakers before the run). The
server's CPU seconds per relayed incoming packet are compared.

Output keys: ``plain_us_per_packet``, ``encrypted_us_per_packet``, ``encrypted_ratio``
(plain cost / encrypted cost: the share of plain relay throughput kept with
encryption; target >= 0.95), ``plain_loss_pct``, ``encrypted_loss_pct``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ServerProcess, emit, log, machine, pin, split_cpus
from _wire import AudioSource, Wire, register, udp_socket

from app.client.media_auth import ClientMediaAuth, RecvBeginAcked
from app.protocol import InterphoneId, JoinRequest, Login
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import JoinResult, LoginResult, SpeakResult

FRAME = bytes(60)
PERIOD = 0.02


def write_config(path: Path, rooms: int) -> Path:
    lines = ["[server]", 'auth = "open"', 'media_encryption = "optional"',
             "max_talk = 86400", "keepalive = 3600", "silence_timeout = 3600",
             "login_timeout = 600", "rate_burst = 1000", "recvbegin_rate = 100000",
             "recvbegin_burst = 100000", "max_sessions_per_address = 20000",
             "max_unauthenticated_per_address = 20000"]
    for room in range(rooms):
        lines += ["", "[[groups]]", f'id = "r{room}"', f'name = "r{room}"', 'members = ["*"]']
    path.write_text("\n".join(lines) + "\n")
    return path


class Room:
    def __init__(self, index: int, per_room: int, encrypted: bool, tag: str) -> None:
        self.id = f"group_r{index}"
        self.speaker = f"{tag}s{index}"
        self.listeners = [f"{tag}l{index}_{n}" for n in range(per_room)]
        self.encrypted = encrypted
        self.packets: list[bytes] = []
        self.sockets: list[socket.socket] = []
        self.wires: list[Wire] = []

    async def member(self, port: int, uid: str
                     ) -> tuple[Wire, socket.socket, ClientMediaAuth | None]:
        loop = asyncio.get_running_loop()
        _, wire = await loop.create_connection(Wire, "127.0.0.1", port)
        features = ("media-auth",) if self.encrypted else ()
        reply = await wire.request(Login(uid, "x", features=features))
        assert isinstance(reply.body, LoginResult)
        auth = None
        if self.encrypted:
            secret = decode_b64(reply.body.media_secret, SECRET_BYTES)
            auth = ClientMediaAuth(uid, secret, ("127.0.0.1", port))
        joined = await wire.request(JoinRequest(InterphoneId.parse(self.id)))
        sock = udp_socket()
        if auth is None:
            await register(sock, ("127.0.0.1", port), self.id, uid)
        else:
            assert isinstance(joined.body, JoinResult) and joined.body.media_key is not None
            key = joined.body.media_key
            auth.install_key(self.id, key.epoch, key.key, 0.0)
            await self._register(sock, port, auth)
        self.wires.append(wire)
        self.sockets.append(sock)
        return wire, sock, auth

    async def _register(self, sock: socket.socket, port: int, auth: ClientMediaAuth) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            sock.sendto(auth.recvbegin(self.id), ("127.0.0.1", port))
            try:
                async with asyncio.timeout(0.5):
                    while True:
                        data, source = await loop.sock_recvfrom(sock, 2048)
                        if isinstance(auth.datagram(data, source, 0.0), RecvBeginAcked):
                            return
            except TimeoutError:
                continue
        raise RuntimeError("no ack")

    async def setup(self, port: int, packets: int) -> None:
        for uid in self.listeners:
            await self.member(port, uid)
        wire, sock, auth = await self.member(port, self.speaker)  # last: its key is current
        self.talker_sock = sock
        reply = await wire.speak(self.id)
        assert isinstance(reply.body, SpeakResult)
        grant = reply.body.grant
        if auth is not None:
            auth.floor_granted(self.id, grant)
            self.packets = [auth.seal(self.id, seq, FRAME) for seq in range(packets)]
        else:
            source = AudioSource(self.id, self.speaker, FRAME)
            self.packets = [source.packet(seq) for seq in range(packets)]


def drain(sockets: list[socket.socket]) -> int:
    got = 0
    for sock in sockets:
        while True:
            try:
                sock.recv(2048)
            except BlockingIOError:
                break
            got += 1
    return got


async def run_mode(server: ServerProcess, args: argparse.Namespace, encrypted: bool,
                   tag: str) -> dict[str, float]:
    packets = int(args.seconds / PERIOD) + 1
    rooms = [Room(i, args.per_room, encrypted, tag) for i in range(args.rooms)]
    for room in rooms:
        await room.setup(server.port, packets)
    listeners = [s for room in rooms for s in room.sockets[:-1]]
    drain(listeners)
    before = server.stats()
    start = time.monotonic()
    sent = received = 0
    target = ("127.0.0.1", server.port)
    while (elapsed := time.monotonic() - start) < args.seconds:
        due = min(packets, int(elapsed / PERIOD) + 1)
        while sent < due:
            for room in rooms:
                room.talker_sock.sendto(room.packets[sent], target)
            sent += 1
        received += drain(listeners)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)
    received += drain(listeners)
    after = server.stats()
    relayed = after["relayed"] - before["relayed"]
    cpu = after["cpu_s"] - before["cpu_s"]
    expected = sent * args.rooms * args.per_room
    for room in rooms:
        for wire in room.wires:
            wire.close()
        for sock in room.sockets:
            sock.close()
    return {"us_per_packet": round(1e6 * cpu / max(1, relayed), 2),
            "loss_pct": round(100.0 * (1 - received / max(1, expected)), 2)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    server_cpu, load_cpu = split_cpus()
    pin(load_cpu)
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder) / "dir.toml", args.rooms)
        server = ServerProcess(config, cpu=server_cpu)
        try:
            plain = await run_mode(server, args, False, "p")
            log(f"plain: {plain}")
            sealed = await run_mode(server, args, True, "e")
            log(f"encrypted: {sealed}")
        finally:
            server.close()
    return {
        "plain_us_per_packet": plain["us_per_packet"],
        "encrypted_us_per_packet": sealed["us_per_packet"],
        "encrypted_ratio": round(plain["us_per_packet"] / max(1e-9, sealed["us_per_packet"]), 3),
        "plain_loss_pct": plain["loss_pct"], "encrypted_loss_pct": sealed["loss_pct"],
        "rooms": args.rooms, "per_room": args.per_room, "machine": machine(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    emit(asyncio.run(main(parser.parse_args())))
