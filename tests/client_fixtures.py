"""Shared helpers of the client and CLI tests (``pytest_plugins = ["client_fixtures"]``).

- a real embedded server (:func:`running_server`) and the ``clients`` fixture;
- the suite's one polling helper and one ``free_port``, re-exported from :mod:`waiting`;
- byte-level helpers for :class:`~app.client.session.ClientSession` tests:
  :func:`wire` (messages to the bytes a server writes), :func:`sent` (the
  session's output decoded), :func:`events` (its events drained) and
  :func:`logged_in_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from waiting import free_port as free_port  # re-exported: the suite's one free_port
from waiting import wait_until as wait_until  # and its one polling helper

from app.audio.constants import SAMPLE_RATE
from app.client import ClientError, InterphoneClient, ModelEvent
from app.client.session import ClientSession, ResponseReceived, SessionEvent
from app.protocol import (
    FrameDecoder,
    LoginResult,
    Message,
    RosterEntry,
    decode_message,
    encode_frame,
    encode_message,
)
from app.server import Directory, InterphoneServer, ServerSettings

CLIENT_TOML = """\
[server]
auth = "token"

[[users]]
uid = "alice"
name = "Alice"
token = "pw-alice"

[[users]]
uid = "bob"
name = "Bob"
token = "pw-bob"

[[users]]
uid = "carol"
name = "Carol"
token = "pw-carol"

[[groups]]
id = "58"
name = "Ops"
members = ["alice", "bob", "carol"]

[[groups]]
id = "7"
name = "Bob only"
members = ["bob"]

[[discussions]]
id = "12"
name = "Night"
members = ["alice", "bob"]
"""

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5.0,
                          login_timeout=5.0)


def directory() -> Directory:
    return Directory.from_toml_text(CLIENT_TOML, source="client-test.toml")


@contextlib.asynccontextmanager
async def running_server(port: int = 0, **overrides: Any) -> AsyncIterator[InterphoneServer]:
    async with InterphoneServer(directory(), host="127.0.0.1", port=port,
                                settings=SETTINGS.with_overrides(**overrides)) as server:
        yield server


async def connect_error(port: int, **options: object) -> ClientError:
    """The error a client (alice, token "x"; ``options`` as :class:`InterphoneClient`'s)
    fails with when it connects to ``port`` (within 10 s)."""
    client = InterphoneClient("127.0.0.1", port, "alice", "x", reconnect=False,
                              **options)  # type: ignore[arg-type]
    try:
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(client.connect(), 10)
    finally:
        await client.close()
    return caught.value


class Clients:
    """Creates connected clients and closes every one of them at the end of a test."""

    def __init__(self) -> None:
        self.made: list[InterphoneClient] = []

    async def connect(self, port: int, uid: str, token: str | None = None,
                      **kwargs: Any) -> InterphoneClient:
        kwargs.setdefault("backoff", (0.05, 0.3))
        client = InterphoneClient("127.0.0.1", port, uid,
                                  f"pw-{uid}" if token is None else token, **kwargs)
        self.made.append(client)
        await client.connect()
        return client

    async def close_all(self) -> None:
        for client in self.made:
            await client.close()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """Connected clients made by the test, all closed at its end, leaving no task behind."""
    made = Clients()
    yield made
    await made.close_all()
    assert client_tasks() == []


class EventLog:
    """Records a model's events; ``of(cls)`` filters them."""

    def __init__(self, client: InterphoneClient) -> None:
        self.events: list[ModelEvent] = []
        self.unsubscribe = client.model.subscribe(self.events.append)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def client_tasks() -> list[asyncio.Task[Any]]:
    """Pending tasks whose coroutine lives in app/client (leak check)."""
    leaked = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and "/app/client/" in code.co_filename:
            leaked.append(task)
    return leaked


def noise_bursts(seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-like test signal: noise bursts shaped by a syllable envelope, plus a chirp."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    noise = rng.standard_normal(n)
    # Band-limit the noise a little (moving average) so Opus keeps most of it.
    noise = np.convolve(noise, np.ones(6) / 6, mode="same")
    envelope = (0.5 - 0.5 * np.cos(2 * np.pi * 3.0 * t)) ** 2
    chirp = np.sin(2 * np.pi * (200 * t + 400 * t**2 / seconds))
    signal = 0.25 * noise * envelope + 0.2 * chirp * (1 - envelope)
    return signal.astype(np.float32)


def best_lag(reference: np.ndarray, recorded: np.ndarray) -> tuple[int, float]:
    """(lag in samples, normalised correlation) of ``reference`` inside ``recorded``."""
    size = 1
    while size < len(reference) + len(recorded):
        size *= 2
    spec = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spec, size)[: len(recorded)]
    lag = int(np.argmax(corr))
    segment = recorded[lag : lag + len(reference)]
    ref = reference[: len(segment)]
    denom = float(np.linalg.norm(ref) * np.linalg.norm(segment)) or 1.0
    return lag, float(np.dot(ref, segment) / denom)


# ---- byte-level helpers for ClientSession ----------------------------------------------------


def wire(*messages: Message) -> bytes:
    """The bytes a server writes for ``messages``, in order, as one chunk."""
    return b"".join(encode_frame(encode_message(m)) for m in messages)


def sent(session: ClientSession) -> list[Message]:
    """Everything the session wants written, decoded (and taken out of the session)."""
    decoder = FrameDecoder()
    return [decode_message(frame) for frame in decoder.feed(session.data_to_send())]


def events(session: ClientSession) -> list[SessionEvent]:
    """The session's events not yet taken, in order."""
    taken = []
    while (event := session.next_event()) is not None:
        taken.append(event)
    return taken


def logged_in_session(uid: str = "me", *, now: float = 0.0, keepalive: int = 15,
                      roster: tuple[RosterEntry, ...] = (), **kwargs: Any) -> ClientSession:
    """A session whose login succeeded at ``now`` (output and events already taken)."""
    session = ClientSession(uid, "token", **kwargs)
    seq = session.login(now)
    sent(session)
    session.receive_data(wire(Message.response(seq, LoginResult(uid, 9400, keepalive, 60,
                                                                roster))))
    assert [type(e) for e in events(session)] == [ResponseReceived]
    return session
