"""UDP blocked on the way while the signaling connection works (a firewall that lets
TCP through): the server answers none of the client's media registrations, so no audio
goes either way. The model says so (``media_reachable``, :class:`MediaPathChanged`), and
says it again when the registrations are answered once more."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.client import MediaPathChanged
from app.protocol import InterphoneId

pytest_plugins = ["client_fixtures"]

from client_fixtures import Clients, EventLog, running_server, wait_until  # noqa: E402
from test_client_media_rebind import RebindingNat  # noqa: E402

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


async def test_blocked_udp_is_told_and_its_end_too(clients: Clients) -> None:
    async with running_server(keepalive=1) as server:
        firewall = Firewall(("127.0.0.1", server.port))
        try:
            alice = await clients.connect(server.port, "alice",
                                          media_addr=await firewall.start())
            log = EventLog(alice)
            assert alice.model.media_reachable  # nothing known yet: not said to be blocked
            await alice.join(G58)  # its registration goes unanswered
            assert alice.model.is_joined(G58)
            assert not alice.model.media_reachable
            assert log.of(MediaPathChanged) == [MediaPathChanged(False)]
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
    Once the path is known blocked, a join's registration tries once; the periodic
    refresh still finds the path again."""
    async with running_server(keepalive=1) as server:
        firewall = Firewall(("127.0.0.1", server.port))
        try:
            alice = await clients.connect(server.port, "alice",
                                          media_addr=await firewall.start())
            loop = asyncio.get_running_loop()
            began = loop.time()
            await alice.join(G58)
            first = loop.time() - began
            assert first > 3.0 and not alice.model.media_reachable  # the whole series
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
