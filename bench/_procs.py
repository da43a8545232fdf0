"""Starting the load processes of ``_load.py`` and talking to them over pipes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from typing import Any

import _load


class Worker:
    """One load process (spawned, so it shares nothing with the parent)."""

    def __init__(self, target: Any, port: int, mode: str, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, port, mode, cpu), daemon=True)
        self.proc.start()
        child.close()

    def call(self, *command: Any, timeout: float = 300.0) -> dict[str, Any]:
        self.conn.send(command)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"{command[0]}: no answer from the load process")
        reply = self.conn.recv()
        if "error" in reply:
            raise RuntimeError(f"{command[0]}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
                self.call("stop", timeout=10)
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def talkers(port: int, mode: str, cpu: int | None) -> Worker:
    return Worker(_load.talkers_main, port, mode, cpu)


def listeners(port: int, mode: str, cpu: int | None) -> Worker:
    return Worker(_load.listeners_main, port, mode, cpu)
