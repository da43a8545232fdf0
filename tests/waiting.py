"""The suite's one ``free_port``, its polling helpers and its end of a child process (no
``app`` import: the conformance suite uses them too).

- :func:`free_port`: a loopback port free for both TCP and UDP right now;
- :func:`wait_until`: awaits a condition on the running event loop (asyncio tests, Qt tests on
  the qasync loop);
- :func:`wait_for`: the same for plain threads (audio callbacks, blocking sockets);
- :func:`end_process`: a child process (a server, redis-server) terminated, killed if it
  lingers (the benchmarks' own, ``bench._common.end_process``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from bench._common import end_process

__all__ = ["end_process", "free_port", "wait_for", "wait_until"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on ``host`` right now (nothing listens on it)."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((host, 0))
            port: int = tcp.getsockname()[1]
            try:
                udp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0,
                     what: str = "condition", interval: float = 0.01) -> float:
    """Seconds until ``predicate()`` holds, polled every ``interval`` while the event loop
    (and with qasync, Qt) runs; fails after ``timeout`` seconds."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - began


def wait_for(predicate: Callable[[], object], timeout: float = 5.0,
             what: str = "condition", interval: float = 0.002) -> float:
    """:func:`wait_until` for code running in other threads: blocks the calling thread."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)
    return time.monotonic() - began
