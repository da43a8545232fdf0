"""The kernel's share of a relayed listener-packet: a bare Python loop of ``sendto``.

    python bench/_kernel_floor.py [--cpu N] [--targets 20]

One socket sends a 94-byte datagram (an audiopacket of a 60-byte frame) to ``targets``
receiving sockets on loopback, as fast as it can, in batches (the receivers are read
between batches, outside the timing, so none is ever full). The thread's own CPU time
(``time.thread_time``) per message is what any Python relay pays per listener-packet at
least on this machine: the syscall and the loopback delivery (the receiver's softirq runs
in the sender's context), with almost no Python. Measured two ways: ``sendto`` per
target (what the relay does under ``MIN_TARGETS``) and one ``sendmmsg`` per datagram for
all targets through the relay's own ctypes fan-out (app/server/fanout.py, every structure
preallocated: only the payload is copied in). Median of
the batches. Keys: ``sendto_us``, ``sendmmsg_us`` (per message), ``sendto_max_pps`` (one
core doing nothing but that loop). bench/relay.py runs it pinned to the server's CPU.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import drain, pin

from app.server.fanout import BatchSender

PAYLOAD = bytes(94)
BATCH = 500  # datagrams per batch (x targets messages)


def measure(targets: int = 20, batches: int = 15) -> dict[str, Any]:
    receivers = []
    for _ in range(targets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        receivers.append(sock)
    addresses = [sock.getsockname() for sock in receivers]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    buffer = bytearray(1500)
    batcher = BatchSender(sender, buffer)
    batch = batcher.prepare_any(tuple(addresses))
    if batch is None:
        raise RuntimeError("sendmmsg does not apply here (Linux's, IPv4)")
    size = len(PAYLOAD)
    mmsg = batcher.send
    send = sender.sendto
    results: dict[str, list[float]] = {"sendto": [], "sendmmsg": []}
    lost = 0
    for _ in range(batches):
        began = time.thread_time()
        for _ in range(BATCH):
            for target in addresses:
                send(PAYLOAD, target)
        results["sendto"].append(1e6 * (time.thread_time() - began) / (BATCH * targets))
        lost += BATCH * targets - drain(receivers)
        began = time.thread_time()
        for _ in range(BATCH):
            buffer[:size] = PAYLOAD
            mmsg(batch, size)
        results["sendmmsg"].append(1e6 * (time.thread_time() - began) / (BATCH * targets))
        lost += BATCH * targets - drain(receivers)
    batcher.close()
    for sock in [*receivers, sender]:
        sock.close()
    sendto = statistics.median(results["sendto"])
    return {"targets": targets, "sendto_us": round(sendto, 2),
            "sendmmsg_us": round(statistics.median(results["sendmmsg"]), 2),
            "sendto_max_pps": round(1e6 / sendto), "lost": lost}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--targets", type=int, default=20)
    arguments = parser.parse_args()
    pin(arguments.cpu)
    print(json.dumps(measure(arguments.targets)), flush=True)
