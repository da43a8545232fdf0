"""Load-generating processes for the relay and access benchmarks.

:class:`Talkers` (one process) holds one speaker per room and sends its
audiopackets at 50 packets/s against a fixed schedule; every speaker sends seq
``n`` at ``start + n * 20 ms``, so a window of ticks ``[a, b)`` is the same for
all (speakers are spread over the period, not sent in one burst).
:class:`Listeners` (one process) holds the listeners: a UDP socket each,
drained by the event loop (non-blocking ``recv`` until ``EAGAIN``), counting
packets per seq; and idle signaling sessions when asked.

Both take commands from the parent over a multiprocessing pipe. ``mode`` is
``relay`` (real sessions: login, join, recvbegin, speak on) or ``baseline``
(recvbegin-shaped registration with the bare fan-out of ``_server.py``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, pin, raise_nofile, udp_drops
from _wire import AudioSource, Wire, register, seq_offset, udp_socket

PERIOD = 0.020  # 50 packets/s per speaker
PHASES = 10  # speakers are spread over this many send times per period
FRAME = bytes(range(60))  # about one 20 ms Opus frame at 24 kbit/s
_TICKS = 1 << 18
_U32 = struct.Struct(">I")
_BATCH = 100  # concurrent set-ups (the server's listen backlog is 100)


def room_id(room: str) -> str:
    return f"group_{room}"


async def _batched(coros: list[Any]) -> list[Any]:
    results: list[Any] = []
    for i in range(0, len(coros), _BATCH):
        results += await asyncio.gather(*coros[i:i + _BATCH])
    return results


class _Worker:
    def __init__(self, conn: Connection, port: int, mode: str) -> None:
        self.conn = conn
        self.port = port
        self.server = (HOST, port)
        self.mode = mode
        self.done = asyncio.Event()
        self.wires: list[Wire] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._command)
        await self.done.wait()
        loop.remove_reader(self.conn.fileno())
        for wire in self.wires:
            wire.close()
        await asyncio.sleep(0.1)

    def _command(self) -> None:
        command = self.conn.recv()
        asyncio.get_running_loop().create_task(self._answer(command))

    async def _answer(self, command: tuple[Any, ...]) -> None:
        try:
            reply = await getattr(self, "do_" + command[0])(*command[1:])
        except Exception as exc:  # report to the parent instead of hanging it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        self.conn.send(reply)

    async def do_stop(self) -> dict[str, Any]:
        self.done.set()
        return {}

    async def do_idle(self, count: int, prefix: str, sync: list[str],
                      join: str | None) -> dict[str, Any]:
        """``count`` logged-in sessions that then stay idle (optionally synced / joined)."""
        async def one(i: int) -> None:
            wire = await Wire.open(self.port)
            self.wires.append(wire)
            await wire.login(f"{prefix}{i}")
            if sync:
                await wire.sync(sync)
            if join:
                await wire.join(join)

        await _batched([one(i) for i in range(count)])
        return {"sessions": len(self.wires)}

    async def do_notifications(self) -> dict[str, Any]:
        return {"notifications": sum(w.notifications for w in self.wires)}


class Talkers(_Worker):
    def __init__(self, conn: Connection, port: int, mode: str) -> None:
        super().__init__(conn, port, mode)
        self.sources: list[tuple[socket.socket, AudioSource]] = []
        self.active = 0
        self.start = 0.0
        self.next_tick = 0
        self.late = 0
        self.sent = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.start = loop.time()
        pacer = loop.create_task(self._pace())
        await super().run()
        pacer.cancel()

    async def _pace(self) -> None:
        """Speaker ``i`` sends seq ``n`` at ``start + (n + (i % PHASES) / PHASES) * PERIOD``:
        speakers are spread over the period as independent talkers would be."""
        loop = asyncio.get_running_loop()
        server = self.server
        slot_time = PERIOD / PHASES
        next_slot = 0
        while True:
            due = int((loop.time() - self.start) / slot_time)
            if due - next_slot > PHASES // 2:
                self.late += 1
            sources = self.sources[:self.active]
            for slot in range(next_slot, due + 1):
                tick, phase = divmod(slot, PHASES)
                for sock, source in sources[phase::PHASES]:
                    try:
                        sock.sendto(source.packet(tick), server)
                    except BlockingIOError:
                        continue
                    self.sent += 1
            next_slot = due + 1
            self.next_tick = next_slot // PHASES  # every seq below it is sent
            await asyncio.sleep(self.start + next_slot * slot_time - loop.time())

    async def do_add(self, rooms: list[str]) -> dict[str, Any]:
        async def one(room: str) -> tuple[socket.socket, AudioSource]:
            interphone, uid = room_id(room), f"s{room}"
            sock = udp_socket()
            if self.mode == "relay":
                wire = await Wire.open(self.port)
                self.wires.append(wire)
                await wire.login(uid)
                await wire.join(interphone)
                await register(sock, self.server, interphone, uid)
                await wire.speak(interphone, True)
            else:
                await register(sock, self.server, interphone, uid)
            return sock, AudioSource(interphone, uid, FRAME)

        self.sources += await _batched([one(room) for room in rooms])
        return {"speakers": len(self.sources)}

    async def do_active(self, count: int) -> dict[str, Any]:
        self.active = min(count, len(self.sources))
        return {"active": self.active, "tick": self.next_tick}

    async def do_tick(self) -> dict[str, Any]:
        """Every packet with a seq below ``tick`` has been sent."""
        return {"tick": self.next_tick, "late": self.late, "sent": self.sent}


class Listeners(_Worker):
    def __init__(self, conn: Connection, port: int, mode: str) -> None:
        super().__init__(conn, port, mode)
        self.per_tick = [0] * _TICKS
        self.ports: set[int] = set()
        self.sockets: list[socket.socket] = []
        self.quiet: list[tuple[socket.socket, int]] = []
        self.received = 0

    def _drain(self, sock: socket.socket, offset: int) -> None:
        recv = sock.recv
        per_tick = self.per_tick
        unpack = _U32.unpack_from
        n = 0
        while True:
            try:
                data = recv(2048)
            except BlockingIOError:
                break
            if len(data) > offset + 4 and data[7] == 1:
                per_tick[unpack(data, offset)[0] % _TICKS] += 1
                n += 1
        self.received += n

    async def do_add(self, rooms: list[str], per_room: int,
                     quiet: bool = False) -> dict[str, Any]:
        """``per_room`` listeners in each room; ``quiet`` ones are read only by ``drain``
        (so the server's sends do not wake this process: nothing is waiting)."""
        loop = asyncio.get_running_loop()

        async def one(room: str, j: int) -> None:
            interphone, uid = room_id(room), f"l{j}_{room}"
            sock = udp_socket()
            if self.mode == "relay":
                wire = await Wire.open(self.port)
                self.wires.append(wire)
                await wire.login(uid)
                await wire.join(interphone)
            await register(sock, self.server, interphone, uid)
            self.sockets.append(sock)
            self.ports.add(sock.getsockname()[1])
            offset = seq_offset(interphone, f"s{room}")
            if quiet:
                self.quiet.append((sock, offset))
            else:
                loop.add_reader(sock.fileno(), self._drain, sock, offset)

        await _batched([one(room, j) for room in rooms for j in range(per_room)])
        return {"listeners": len(self.sockets)}

    async def do_drain(self) -> dict[str, Any]:
        """Read what the quiet listeners' sockets hold (counted like the others)."""
        before = self.received
        for sock, offset in self.quiet:
            self._drain(sock, offset)
        return {"read": self.received - before}

    async def do_count(self, first: int, end: int) -> dict[str, Any]:
        """Packets received with a seq in [first, end), all received, kernel drops."""
        window = sum(self.per_tick[t % _TICKS] for t in range(first, end))
        return {"window": window, "received": self.received, "drops": udp_drops(self.ports)}


def talkers_main(conn: Connection, port: int, mode: str, cpu: int | None) -> None:
    pin(cpu)
    raise_nofile()
    asyncio.run(_main(Talkers, conn, port, mode))


def listeners_main(conn: Connection, port: int, mode: str, cpu: int | None) -> None:
    pin(cpu)
    raise_nofile()
    asyncio.run(_main(Listeners, conn, port, mode))


async def _main(kind: type[_Worker], conn: Connection, port: int, mode: str) -> None:
    await kind(conn, port, mode).run()
    os._exit(0)  # skip tearing down thousands of sockets one by one
