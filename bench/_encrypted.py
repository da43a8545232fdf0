"""``bench/relay.py``'s encrypted phase: the relay with media-auth against plain audio.

One real server (``bench/_server.py``, pinned to one CPU) with
``media_encryption = "optional"`` serves two sets of ``rooms`` rooms of one speaker and
``per_room`` listeners at once: base-contract clients (type 1 audio) and media-auth
clients (type 16 signed registrations, type 18 sealed audio, sealed before the run). Each
speaker sends 50 packets/s of 60-byte frames. Windows of the two take turns (plain,
sealed, plain, ...), so that the machine's load weighs on both alike; per window the
server's CPU (the sum of its threads' on-CPU time, ``/proc/PID/task/*/schedstat``) is
divided by the incoming packets it relayed, and the median per kind is kept.
``encrypted_ratio`` = plain cost / sealed cost: the share of the plain relay's throughput
kept with encryption (issue 12's target: >= 0.95).

The load runs in the calling process, which must be pinned to the other CPU.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from pathlib import Path
from typing import Any

from _common import ServerProcess, drain, log
from _wire import AudioSource, Wire, register, udp_socket

from app.client.media_auth import ClientMediaAuth, RecvBeginAcked
from app.protocol import InterphoneId, JoinRequest, Login
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import JoinResult, LoginResult, SpeakResult

FRAME = bytes(60)
PERIOD = 0.02


def write_config(path: Path, rooms: int) -> Path:
    """A directory of ``rooms`` open groups (``r0``...), media-auth optional, and limits that
    a load from one address does not hit."""
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
    """One speaker holding the floor and its listeners, plain or media-auth."""

    def __init__(self, index: int, per_room: int, encrypted: bool, tag: str) -> None:
        self.id = f"group_r{index}"
        self.speaker = f"{tag}s{index}"
        self.listeners = [f"{tag}l{index}_{n}" for n in range(per_room)]
        self.encrypted = encrypted
        self.packets: list[bytes] = []
        self.sockets: list[socket.socket] = []
        self.wires: list[Wire] = []
        self.talker_sock: socket.socket | None = None

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

    def listener_sockets(self) -> list[socket.socket]:
        return self.sockets[:-1]  # the speaker's is last

    def close(self) -> None:
        for wire in self.wires:
            wire.close()
        for sock in self.sockets:
            sock.close()


class EncryptedRace:
    """Plain and sealed rooms on one server, measured in alternate windows (see the module)."""

    def __init__(self, server: ServerProcess, rooms: int, per_room: int, seconds: float,
                 repeats: int) -> None:
        self.server, self.per_room, self.seconds, self.repeats = server, per_room, seconds, repeats
        self.per_window = int(seconds / PERIOD) + 1
        self.sets = {
            "plain": [Room(i, per_room, False, "p") for i in range(rooms)],
            "encrypted": [Room(rooms + i, per_room, True, "e") for i in range(rooms)],
        }
        self.sent = dict.fromkeys(self.sets, 0)  # the next seq (index into the packets)

    async def setup(self) -> None:
        for rooms in self.sets.values():
            for room in rooms:
                await room.setup(self.server.port, self.per_window * self.repeats)

    async def window(self, kind: str) -> dict[str, Any]:
        rooms = self.sets[kind]
        listeners = [s for room in rooms for s in room.listener_sockets()]
        drain(listeners)
        target = ("127.0.0.1", self.server.port)
        first = self.sent[kind]
        relayed0 = self.server.stats()["relayed"]
        cpu0 = self.server.run_seconds()
        start = time.monotonic()
        sent = received = 0
        while (elapsed := time.monotonic() - start) < self.seconds:
            due = min(self.per_window, int(elapsed / PERIOD) + 1)
            while sent < due:
                for room in rooms:
                    assert room.talker_sock is not None
                    room.talker_sock.sendto(room.packets[first + sent], target)
                sent += 1
            received += drain(listeners)
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # the last packets of the window are relayed
        cpu1 = self.server.run_seconds()
        relayed = self.server.stats()["relayed"] - relayed0
        received += drain(listeners)
        self.sent[kind] = first + sent
        expected = sent * len(rooms) * self.per_room
        return {"us_per_packet": round(1e6 * (cpu1 - cpu0) / max(1, relayed), 1),
                "relayed": relayed, "sent": sent * len(rooms),
                "loss_pct": round(100.0 * (1 - received / max(1, expected)), 2)}

    async def run(self) -> dict[str, Any]:
        await self.setup()
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in self.sets}
        for _ in range(self.repeats):
            for kind in self.sets:
                runs[kind].append(await self.window(kind))
        for kind, windows in runs.items():
            log(f"{kind}: {windows}")
        plain = statistics.median(w["us_per_packet"] for w in runs["plain"])
        sealed = statistics.median(w["us_per_packet"] for w in runs["encrypted"])
        return {
            "encrypted_ratio": round(plain / sealed, 3) if sealed else None,
            "plain_us_per_packet": plain,
            "encrypted_us_per_packet": sealed,
            "plain_loss_pct": max(w["loss_pct"] for w in runs["plain"]),
            "encrypted_loss_pct": max(w["loss_pct"] for w in runs["encrypted"]),
            "rooms": len(self.sets["plain"]), "per_room": self.per_room,
            "window_s": self.seconds, "runs": runs,
        }

    def close(self) -> None:
        for rooms in self.sets.values():
            for room in rooms:
                room.close()


def measure(config_dir: Path, server_cpu: int | None, rooms: int, per_room: int,
            seconds: float, repeats: int) -> dict[str, Any]:
    """The encrypted phase (see the module) on a fresh server; the caller is pinned."""
    config = write_config(config_dir / "encrypted.toml", 2 * rooms)  # plain, then sealed
    server = ServerProcess(config, cpu=server_cpu)
    race = EncryptedRace(server, rooms, per_room, seconds, repeats)

    async def run() -> dict[str, Any]:
        try:
            return await race.run()
        finally:
            race.close()

    try:
        return asyncio.run(run())
    finally:
        server.close()
