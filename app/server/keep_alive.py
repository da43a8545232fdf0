"""A node's heartbeat key kept alive from a thread of its own, with its own connection.

The heartbeat task (:meth:`~app.server.redis_store.RedisStore._heartbeat`) runs on the
event loop: a loop held a few seconds (a directory reload telling hundreds of sessions
their roster, a storm of logins on an overloaded host) let the key expire, the other
nodes gave the node up (its sessions ended everywhere) and the node, reading its own
death, exited to start again as a new node: every user dropped because the loop was busy.

This thread refreshes the key every ``beat`` (``SET ... XX``: never one the node deleted
at its stop or that expired, which the heartbeat task sets again) while the loop is
alive: while the heartbeat task has run within ``stall_limit`` seconds. A node whose
loop is stuck longer than that is given up as before (its key expires ``ttl`` later); one
whose process died or was stopped (the thread with it) is given up ``ttl + 2 * beat``
after, as before.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("app.server")

STALL_LIMIT = 30.0
"""Seconds the event loop may be held before the thread lets the heartbeat key expire."""


class KeepAlive:
    """Refreshes ``key`` (set to ``value`` with a ``ttl`` seconds TTL by the heartbeat
    task) every ``beat`` seconds while :meth:`touch` was called within ``stall_limit``."""

    def __init__(self, url: str, key: str, value: str, *, beat: float, ttl: float,
                 stall_limit: float = STALL_LIMIT, socket_timeout: float = 2.0) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=socket_timeout,
                                            socket_connect_timeout=socket_timeout)
        self._key, self._value = key, value
        self._beat, self._ttl_ms = beat, int(ttl * 1000)
        self._stall_limit = stall_limit
        self._touched = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat keep-alive",
                                        daemon=True)
        self.refreshed = 0
        """Times the thread refreshed the key (read by tests and for the log)."""

    def start(self) -> None:
        self._thread.start()

    def touch(self) -> None:
        """The event loop is alive (called by the heartbeat task at each beat)."""
        self._touched = time.monotonic()

    def stop(self) -> None:
        """Refresh no more (before the node deletes its key at its stop)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._beat + 3.0)
        self._redis.close()

    def _run(self) -> None:
        held_told = False
        while not self._stop.wait(self._beat):
            held = time.monotonic() - self._touched
            if held > self._stall_limit:
                if not held_told:
                    held_told = True
                    log.error("the event loop has been held for %.0f s: this node's heartbeat "
                              "is left to expire (the other nodes will give it up)", held)
                continue
            held_told = False
            try:
                if self._redis.set(self._key, self._value, px=self._ttl_ms, xx=True):
                    self.refreshed += 1
            except RedisError as exc:  # (the heartbeat task tells an unreachable store)
                log.debug("heartbeat keep-alive failed: %s", exc)
