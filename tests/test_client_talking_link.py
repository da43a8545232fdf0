"""A talker whose link dies while talking (a tunnel, a dead Wi-Fi) is told soon: the
signaling is checked while the floor is held, not only after ``keepalive`` seconds of
sending nothing (the audio goes over UDP, so a talker sends nothing on the signaling)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from client_fixtures import (
    CLIENT_TOML,
    Clients,
    EventLog,
    noise_bursts,
    running_server,
    wait_until,
)
from server_fixtures import start_server_process, stop_server_process
from test_cli_commands import finished, start_cli

from app.audio.wavio import write_wav
from app.client import ConnectionState, FloorChanged, FloorOutcome, FloorState
from app.client.client_floor import TALKING_CHECK_S
from app.protocol import InterphoneId

G58 = InterphoneId.group("58")
PACKET = b"\xf8\xff\xfe"  # a valid 20 ms Opus packet (CELT, silence)

pytest_plugins = ["client_fixtures"]


class DarkeningProxy:
    """A TCP proxy to ``port`` on 127.0.0.1 that, once ``dark`` is set, passes nothing
    either way and keeps the connections open (a link gone without a reset)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dark = False
        self.tasks: list[asyncio.Task[None]] = []
        self.listener: asyncio.Server | None = None
        self.pings = 0  # pings the client sent through
        self.listen_port = 0  # where clients connect, once entered

    async def start(self) -> int:
        self.listener = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.listener.sockets[0].getsockname()[1])

    async def __aenter__(self) -> DarkeningProxy:
        self.listen_port = await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dark:  # a new connection goes nowhere either
            self.tasks.append(asyncio.ensure_future(self._pump(reader, None)))
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.tasks.append(asyncio.ensure_future(self._pump(up_reader, writer)))
        self.tasks.append(asyncio.ensure_future(self._pump(reader, up_writer, client=True)))

    async def _pump(self, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter | None, *, client: bool = False) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if not self.dark and writer is not None:
                    self.pings += client and data.count(b"<ping")
                    writer.write(data)

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def test_a_talker_whose_link_dies_is_told_long_before_the_keepalive(clients: Clients):
    # a keepalive of 5 minutes: without the check while talking, the link's death would be
    # noticed only after 5 minutes without sending anything on the signaling
    async with running_server(keepalive=300) as server, \
            DarkeningProxy(server.port) as proxy:
        try:
            alice = await clients.connect(proxy.listen_port, "alice")
            await alice.join(G58)
            assert await alice.talk_start() is True
            assert alice.send_audio(PACKET)
            proxy.dark = True
            # the check every TALKING_CHECK_S, unanswered 5 s, then the keepalive ping's 5 s
            await wait_until(lambda: alice.model.connection is not ConnectionState.CONNECTED,
                             timeout=30, what="the dead link noticed while talking")
            assert alice.model.connection is ConnectionState.RECONNECTING
            assert alice.model.floor is FloorState.IDLE
            assert "ping not answered" in alice.model.connection_detail
        finally:
            await clients.close_all()


async def test_the_check_while_talking_ends_with_the_talk(clients: Clients):
    async with running_server(keepalive=300) as server, \
            DarkeningProxy(server.port) as proxy:
        try:
            alice = await clients.connect(proxy.listen_port, "alice")
            await alice.join(G58)
            before = proxy.pings
            assert await alice.talk_start() is True
            await wait_until(lambda: proxy.pings >= before + 2, timeout=TALKING_CHECK_S * 10,
                             what="checks while talking")
            assert alice.model.connection is ConnectionState.CONNECTED  # answered
            await alice.talk_stop()
            assert alice._talk_check is None
            pings = proxy.pings
            await asyncio.sleep(TALKING_CHECK_S * 2)
            assert proxy.pings == pings  # idle: the keepalive alone
        finally:
            await clients.close_all()


async def test_a_talk_cut_by_a_dead_link_ends_where_the_link_last_carried_it(
        clients: Clients):
    """The server took the floor back after 5 s of silence; the talker learnt of the loss
    some 10 s later. Its own record of the talk ends at the last answered check while
    talking (``cut_at``), not when the loss was noticed; a talk released as usual has
    none."""
    async with running_server(keepalive=300) as server, \
            DarkeningProxy(server.port) as proxy:
        try:
            alice = await clients.connect(proxy.listen_port, "alice")
            await alice.join(G58)
            floors = EventLog(alice)
            assert await alice.talk_start() is True
            await alice.talk_stop()
            released = floors.of(FloorChanged)[-1]
            assert released.outcome is FloorOutcome.RELEASED and released.cut_at is None
            before = proxy.pings
            granted = time.monotonic()
            assert await alice.talk_start() is True
            await wait_until(lambda: proxy.pings >= before + 1, timeout=TALKING_CHECK_S * 10,
                             what="a check answered while talking")
            await asyncio.sleep(0.5)  # (its answer in)
            dark = time.monotonic()
            proxy.dark = True
            await wait_until(lambda: alice.model.floor is FloorState.IDLE, timeout=30,
                             what="the dead link noticed while talking")
            noticed = time.monotonic()
            cut = floors.of(FloorChanged)[-1]
            assert cut.outcome is FloorOutcome.DISCONNECTED
            assert cut.cut_at is not None and granted < cut.cut_at <= dark
            assert noticed - dark > TALKING_CHECK_S  # (what the record no longer counts)
        finally:
            await clients.close_all()


async def test_cli_talk_on_a_link_that_dies_says_what_may_not_have_gone(tmp_path: Path):
    """``interphone-cli talk`` whose link died mid-talk said "floor lost after 12.0 s of
    20.0 s (the connection was lost)": the 10 s before that went nowhere."""
    config = tmp_path / "directory.toml"
    config.write_text(CLIENT_TOML)
    speech = tmp_path / "speech.wav"
    write_wav(speech, noise_bursts(30.0, seed=3))
    server, port, _ = await start_server_process("--config", str(config))
    assert server.stderr is not None
    proxy = DarkeningProxy(port)
    try:
        talk = await start_cli("talk", "group_58", "--wav", str(speech),
                               port=await proxy.start(), uid="bob")
        while b"floor grant uid=bob" not in await asyncio.wait_for(
                server.stderr.readline(), 20):
            pass
        proxy.dark = True
        out, err = await finished(talk, 40)
    finally:
        await proxy.close()
        await stop_server_process(server)
    assert talk.returncode == 1, (out, err)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("interphone-cli: error: floor lost after "), lines
    assert lines[0].endswith("(the connection was lost: the server stopped answering, so "
                             "the last 10 s or so of it may not have been relayed)"), lines
