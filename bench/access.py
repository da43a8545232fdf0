"""Floor access time: ``speak on`` sent → grant received, on a busy server.

    python bench/access.py [--quick]

The measured interphone has 50 members (49 idle sessions in a load process
plus the probe). Meanwhile ``--busy-rooms`` other interphones talk: each has a
speaker sending 50 audiopackets/s relayed to ``--per-room`` listeners. The
server is pinned to one CPU, everything else to the other.

The probe is a blocking socket speaking the wire protocol (framing and XML
from app.protocol): the time runs from just before the request is written to
just after its response is decoded; the notifications the grant sets off
(to all 50 members) are part of the server's work being measured. Each grant
is released (``speak off``) and the next request follows after a random
10-30 ms pause. The same is then measured through ``InterphoneClient``
(``talk_start()`` returning), which adds the client library's own overhead.

Output keys: ``p50_ms``, ``p95_ms``, ``members``, ``samples``, ``client_p50_ms``,
``client_p95_ms``, ``busy_pps`` (audio packets/s the server relayed meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    ServerProcess,
    emit,
    log,
    machine,
    percentile,
    pin,
    raise_nofile,
    split_cpus,
    write_config,
)
from _procs import listeners, talkers

from app.client import InterphoneClient
from app.protocol import (
    FrameDecoder,
    InterphoneId,
    JoinRequest,
    Login,
    Message,
    MessageKind,
    SpeakRequest,
    decode_message,
    encode_frame,
    encode_message,
)
from app.protocol.messages import Body

TARGET = "group_access"


class BlockingProbe:
    """One session on a blocking socket; notifications are read and dropped."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.seq = 0

    def request(self, body: Body) -> Message:
        self.seq += 1
        seq = str(self.seq)
        self.sock.sendall(encode_frame(encode_message(Message.request(seq, body))))
        while True:
            for frame in self.decoder.feed(self.sock.recv(65536)):
                message = decode_message(frame)
                if message.kind is MessageKind.RESPONSE and message.seq == seq:
                    if not message.ok:
                        raise RuntimeError(f"refused: {message.body}")
                    return message

    def close(self) -> None:
        self.sock.close()


def probe_raw(port: int, samples: int) -> list[float]:
    probe = BlockingProbe(port)
    target = InterphoneId.parse(TARGET)
    probe.request(Login("probe", "x"))
    probe.request(JoinRequest(target))
    times: list[float] = []
    on, off = SpeakRequest(True, target), SpeakRequest(False, target)
    for _ in range(samples):
        time.sleep(random.uniform(0.010, 0.030))
        began = time.perf_counter()
        probe.request(on)
        times.append(1000 * (time.perf_counter() - began))
        probe.request(off)
    probe.close()
    return times


async def probe_client(port: int, samples: int) -> list[float]:
    client = InterphoneClient(HOST, port, "probe2", "x", reconnect=False)
    await client.connect()
    await client.join(TARGET)
    times: list[float] = []
    for _ in range(samples):
        await asyncio.sleep(random.uniform(0.010, 0.030))
        began = time.perf_counter()
        if not await client.talk_start():
            raise RuntimeError("talk_start was cancelled")
        times.append(1000 * (time.perf_counter() - began))
        await client.talk_stop()
    await client.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run under 30 s")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--busy-rooms", type=int, default=10)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--samples", type=int, help="grants measured (500; quick: 200)")
    args = parser.parse_args(argv)
    samples = args.samples or (200 if args.quick else 500)
    raise_nofile()
    server_cpu, load_cpu = split_cpus()
    busy = [f"b{i}" for i in range(args.busy_rooms)]
    result: dict[str, Any] = {"benchmark": "access", "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "access.toml", ["access", *busy])
        server = ServerProcess(config, cpu=server_cpu)
        talk = talkers(server.port, "relay", load_cpu)
        listen = listeners(server.port, "relay", load_cpu)
        try:
            listen.call("add", busy, args.per_room)
            talk.call("add", busy)
            talk.call("active", len(busy))
            listen.call("idle", args.members - 1, "m", [], TARGET)  # + the probe
            pin(load_cpu)
            time.sleep(1.0)
            relayed0, began = server.stats()["relayed"], time.perf_counter()
            log(f"access: measuring {samples} grants with {args.members} members")
            raw = probe_raw(server.port, samples)
            client = asyncio.run(probe_client(server.port, samples))
            stats = server.stats()
            busy_pps = (stats["relayed"] - relayed0) * args.per_room / (
                time.perf_counter() - began)
        finally:
            talk.close()
            listen.close()
            server.close()
    result.update(
        p50_ms=round(percentile(raw, 50), 3),
        p95_ms=round(percentile(raw, 95), 3),
        p99_ms=round(percentile(raw, 99), 3),
        max_ms=round(max(raw), 3),
        members=args.members,
        samples=samples,
        client_p50_ms=round(percentile(client, 50), 3),
        client_p95_ms=round(percentile(client, 95), 3),
        busy_rooms=args.busy_rooms,
        busy_listeners=args.busy_rooms * args.per_room,
        busy_pps=round(busy_pps),
        target_p95_ms=5.0,
    )
    result.update(machine())
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
