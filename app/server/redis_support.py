"""Small helpers of the Redis store: what a command raises when the store cannot be reached
and how long to wait before trying again, redis-py's typed results, a pool's connection,
stream ids, a URL without its password and a node's entry for logs."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

T = TypeVar("T")

RETRY = 0.2
"""Seconds between attempts while Redis cannot be reached."""

STORE_FAULTS: tuple[type[Exception], ...] = (RedisError, OSError, RuntimeError)
"""What a command raises when the store cannot be reached: redis-py's errors, the socket's,
and asyncio's ``RuntimeError`` "unable to perform operation on <TCPTransport closed=True>;
the handler is closed", which redis-py lets through when it writes on a connection the
network had just closed (a node's log reader died of it when its link to Redis was cut)."""


async def redis_result(value: Awaitable[T] | T) -> T:
    """redis-py types its hash commands for both of its APIs; this is the asyncio one."""
    return await value if isinstance(value, Awaitable) else value


async def connection_of(redis: Redis) -> Any:
    """A connection of ``redis``'s pool, connected (raises what connecting raises): a
    command sent on it was at least written (redis-py before 5.3 wants a command name)."""
    pool = redis.connection_pool
    try:
        pending = pool.get_connection()
    except TypeError:
        pending = pool.get_connection("PIPELINE")
    return await pending


def encoded_event(event: dict[str, Any]) -> str:
    """An event as one entry of the shared log holds it (field ``e``), compact JSON."""
    return json.dumps(event, separators=(",", ":"))


def log_entry(event: dict[str, Any]) -> dict[FieldT, EncodableT]:
    """The fields of the shared log's entry for ``event`` (``XADD log * e <json>``)."""
    return {"e": encoded_event(event)}


def stream_id(text: str) -> tuple[int, int]:
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def redacted_url(url: str) -> str:
    """``url`` with the password of its user part (``redis://user:PASSWORD@host``) as
    ``***``, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.username else ":***"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def describe_node(info: str) -> str:
    """A node's entry in ``nodes`` for a log line: ``name, relay host:port``."""
    try:
        record = json.loads(info)
        host, port = record["media"][:2]
        return f"{record['name']}, relay {host}:{port}"
    except (ValueError, KeyError, TypeError):
        return info
