"""UDP blocked on the way while the signaling connection works (a firewall that lets
TCP through): the server answers none of the client's media registrations, so no audio
goes either way. The model says so (``media_reachable``, :class:`MediaPathChanged`), and
says it again when the registrations are answered once more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from server_fixtures import TEST_TOML, start_server_process

from app.client import ConnectionState, MediaPathChanged
from app.protocol import InterphoneId

pytest_plugins = ["client_fixtures"]

from client_fixtures import Clients, EventLog, running_server, wait_until  # noqa: E402
from test_client_media_rebind import RebindingNat  # noqa: E402

from app.protocol import PacketError, RecvBeginPacket, parse_packet  # noqa: E402

G58 = InterphoneId.group("58")
NIGHT = InterphoneId.discuss("12")


class Firewall(RebindingNat):
    """A UDP hop in front of one client that drops everything while ``blocking``."""

    def __init__(self, server: tuple[str, int]) -> None:
        super().__init__(server)
        self.blocking = True

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.blocking:
            self.client = addr
        else:
            super()._from_client(data, addr)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.blocking:
            super()._from_server(data, addr)


async def test_blocked_udp_is_told_and_its_end_too(clients: Clients, caplog) -> None:
    async with running_server(keepalive=1) as server:
        firewall = Firewall(("127.0.0.1", server.port))
        try:
            media_addr = await firewall.start()
            alice = await clients.connect(server.port, "alice", media_addr=media_addr)
            log = EventLog(alice)
            assert alice.model.media_reachable  # nothing known yet: not said to be blocked
            with caplog.at_level(logging.WARNING, logger="app.client"):
                await alice.join(G58)  # its registration goes unanswered
                assert alice.model.is_joined(G58)
                # after its five tries, and a ping answered on TCP: UDP alone is blocked
                await wait_until(lambda: not alice.model.media_reachable, timeout=8)
            assert log.of(MediaPathChanged) == [MediaPathChanged(False)]
            assert [r.getMessage() for r in caplog.records if "blocked?" in r.getMessage()
                    ] == [f"the server answers none of our media registrations though it "
                          f"answers on TCP: no audio either way (UDP to 127.0.0.1:"
                          f"{media_addr[1]} blocked?)"]
            firewall.blocking = False  # the periodic refresh (every keepalive) gets through
            await wait_until(lambda: alice.model.media_reachable, timeout=8)
            assert log.of(MediaPathChanged) == [MediaPathChanged(False),
                                                MediaPathChanged(True)]
        finally:
            firewall.close()


async def test_once_udp_is_known_blocked_further_joins_do_not_wait_for_it(
        clients: Clients) -> None:
    """Each join waited for its registration's five tries (about 4.5 s) before returning,
    so a call rang, and a rejoin after a reconnection went on, 4.5 s late per interphone.
    A join now waits for the first two tries at most (the others go on behind it); once
    the path is known blocked, a join's registration tries once; the periodic refresh
    still finds the path again."""
    async with running_server(keepalive=1) as server:
        firewall = Firewall(("127.0.0.1", server.port))
        try:
            alice = await clients.connect(server.port, "alice",
                                          media_addr=await firewall.start())
            loop = asyncio.get_running_loop()
            began = loop.time()
            await alice.join(G58)
            first = loop.time() - began
            assert 0.8 < first < 2.0, f"{first:.1f} s"  # its first two tries
            assert alice.model.media_reachable  # not known yet: the tries go on
            await wait_until(lambda: not alice.model.media_reachable, timeout=8)
            began = loop.time()
            await alice.join(NIGHT)
            assert loop.time() - began < 1.0, f"{loop.time() - began:.1f} s"
            firewall.blocking = False
            await wait_until(lambda: alice.model.media_reachable, timeout=8)
            await alice.leave(NIGHT)
            began = loop.time()
            await alice.join(NIGHT)  # answered at once again
            assert loop.time() - began < 1.0
        finally:
            firewall.close()


class SeriesEater(RebindingNat):
    """A UDP hop that drops the next ``eat`` recvbegins of the client (a burst of loss
    that takes a whole series of a registration's tries), then lets them through."""

    def __init__(self, server: tuple[str, int]) -> None:
        super().__init__(server)
        self.eat = 0
        self.eaten = 0
        self.passed_after = 0  # recvbegins let through since the last one eaten

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(PacketError):
            if isinstance(parse_packet(data), RecvBeginPacket):
                if self.eat:
                    self.eat -= 1
                    self.eaten += 1
                    self.passed_after = 0
                    self.client = addr
                    return
                self.passed_after += 1
        super()._from_client(data, addr)


async def test_a_series_of_tries_lost_on_a_lossy_path_is_not_udp_blocked(
        clients: Clients) -> None:
    """At 30 % loss each way 13 % of the periodic refreshes lost their 3 tries, and each
    such refresh had the window say "no audio: UDP blocked on the way" (until the next
    one) while the audio went through. Tries follow before it is said."""
    async with running_server(keepalive=1) as server:
        hop = SeriesEater(("127.0.0.1", server.port))
        try:
            alice = await clients.connect(server.port, "alice", media_addr=await hop.start())
            await alice.join(G58)
            assert alice._media is not None
            await wait_until(lambda: alice._media is not None and alice._media.reachable,
                             timeout=8, what="the registration answered")
            log = EventLog(alice)
            hop.eat = 5  # more than a refresh's series (3 tries)
            await wait_until(lambda: hop.eaten == 5 and hop.passed_after >= 1, timeout=15,
                             what="the series lost, then a try let through")
            await wait_until(lambda: alice._media is not None and alice._media.reachable,
                             timeout=5, what="that try answered")
            await asyncio.sleep(0.3)  # a ping's round trip on TCP: the check's answer
            assert alice.model.media_reachable
            assert log.of(MediaPathChanged) == []
        finally:
            hop.close()


async def test_a_client_whose_udp_gets_through_never_hears_of_it(clients: Clients) -> None:
    async with running_server(keepalive=1) as server:
        alice = await clients.connect(server.port, "alice")
        log = EventLog(alice)
        await alice.join(G58)
        with contextlib.suppress(TimeoutError):  # a few refreshes
            await asyncio.wait_for(asyncio.Event().wait(), 2.5)
        assert alice.model.media_reachable
        assert log.of(MediaPathChanged) == []


async def test_quitting_while_a_registration_waits_warns_of_nothing(clients: Clients,
                                                                    caplog) -> None:
    """Ctrl-C or Quit while a join's registration waits for its answer: the registration
    ends because we go, which is no 'not acknowledged' to warn of."""
    async with running_server() as server:
        firewall = Firewall(("127.0.0.1", server.port))
        try:
            alice = await clients.connect(server.port, "alice",
                                          media_addr=await firewall.start())
            joining = asyncio.ensure_future(alice.join(G58))
            await wait_until(lambda: alice.model.is_joined(G58), what="joined")
            with caplog.at_level(logging.WARNING, logger="app.client"):
                await alice.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(joining, 5)
            assert not [r for r in caplog.records if "not acknowledged" in r.getMessage()]
        finally:
            firewall.close()


async def test_a_hung_server_is_not_taken_for_udp_blocked(clients: Clients, caplog,
                                                          tmp_path: Path) -> None:
    """A server that hangs (its process stopped, its host gone) answers neither UDP nor
    TCP. The UDP refresh found that out first (its tries end before the keepalive ping's
    timeout), and the user was told "UDP blocked on the way?" seconds before the
    connection was found lost. Now no audio registration answered is checked with a ping
    on the signaling first: unanswered, only the connection's loss is told. (Since the
    refresh's 3 tries are followed by 10 more before it counts as unanswered, the ping's
    timeout mostly comes first; either way, no word of UDP.)"""
    config = tmp_path / "dir.toml"
    # refresh at 4 s, its tries over at 9.5 s; the ping at 4 s times out at 8 s
    config.write_text(TEST_TOML.replace("keepalive = 15", "keepalive = 4"))
    server, port, _ = await start_server_process("--config", str(config))
    try:
        alice = await clients.connect(port, "alice")
        log = EventLog(alice)
        await alice.join(G58)
        assert alice.model.media_reachable
        with caplog.at_level(logging.DEBUG, logger="app.client"):
            server.send_signal(signal.SIGSTOP)
            await wait_until(lambda: alice.model.connection is not ConnectionState.CONNECTED,
                             timeout=15, what="the connection found lost")
            await asyncio.sleep(0.5)  # what a warning would have raced with
        assert log.of(MediaPathChanged) == []
        assert not [r.getMessage() for r in caplog.records  # nor any word of UDP
                    if r.levelno >= logging.WARNING
                    and r.name in ("app.client.media", "app.client.client_media")]
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGCONT)
            server.kill()
        await server.communicate()
