"""An idle client whose network path to the server changes (a laptop roaming from Wi-Fi to
a cable): it notices within a tick or two, not after its keepalive ping fails 20 s later.
Real server, real client, real sockets; the route look-up is replaced at the driver level
where the test needs a route that differs from the connection's (moving a real address
needs root and a network namespace)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from client_fixtures import SETTINGS, Clients, EventLog, directory, running_server
from waiting import free_port

from app.client import ConnectionChanged, InterphoneClient
from app.client.events import ConnectionState
from app.client.path_watch import (
    PathChange,
    PathLookup,
    PathWatch,
    address_exists,
    path_change,
    route_source,
)
from app.client.trust import TrustPolicy, client_context
from app.server import InterphoneServer
from app.server.binding import has_ipv6
from app.server.tls import TlsOptions, load_server_context

pytest_plugins = ["client_fixtures"]


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def pings(client: InterphoneClient) -> int:
    conn = client._conn
    assert conn is not None
    return conn.session.pings_sent


def test_the_route_source_and_the_address_check_on_real_sockets() -> None:
    port = free_port()
    assert route_source(("127.0.0.1", port)) == "127.0.0.1"
    assert address_exists("127.0.0.1") and address_exists("127.0.0.2")
    assert not address_exists("192.0.2.1")  # TEST-NET-1: no machine's address
    if has_ipv6():
        assert route_source(("::1", port, 0, 0)) == "::1"
        assert not address_exists("2001:db8::1")  # documentation prefix


def test_the_decision() -> None:
    yes, no = (lambda: True), (lambda: False)
    assert path_change("10.0.0.5", "10.0.0.5", "10.0.0.5", no) is PathChange.NONE
    assert path_change("10.0.0.5", "10.0.1.7", "10.0.0.5", yes) is PathChange.CHANGED
    assert path_change("10.0.0.5", None, "10.0.0.5", yes) is PathChange.CHANGED  # no route
    assert path_change("10.0.0.5", "10.0.1.7", "10.0.1.7", yes) is PathChange.SEEN
    assert path_change("10.0.0.5", "10.0.1.7", "10.0.0.5", no) is PathChange.GONE
    # a new address first (checked), the old one removed later: gone then
    assert path_change("10.0.0.5", "10.0.1.7", "10.0.1.7", no) is PathChange.GONE
    watch = PathWatch("127.0.0.2", ("127.0.0.1", 9), PathLookup())  # two real addresses
    assert watch.check() == (PathChange.CHANGED, "127.0.0.1")
    assert watch.check() == (PathChange.SEEN, "127.0.0.1")
    assert PathWatch("127.0.0.1", ("127.0.0.1", 9)).check() == (PathChange.NONE, "127.0.0.1")


async def test_nothing_changed_no_probe(clients: Clients) -> None:
    """The real look-ups on an unchanged path: no ping, no reconnect, over a few ticks."""
    async with running_server(keepalive=60) as server:
        client = await clients.connect(server.port, "alice")
        await client.join("group_58")
        sent = pings(client)
        assert client._path_watch is not None
        assert client._path_watch[1].local == "127.0.0.1"
        await asyncio.sleep(5)  # two ticks at least
        assert client.connected and pings(client) == sent


async def test_a_new_route_checks_the_connection_at_once(clients: Clients,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    """The route to the server now leaves from another (existing) address: a ping at once,
    not after the 60 s keepalive; the server answers, so the connection stays."""
    caplog.set_level(logging.INFO, logger="app.client")
    async with running_server(keepalive=60) as server:
        client = await clients.connect(server.port, "alice")
        await client.join("group_58")
        conn, sent = client._conn, pings(client)
        client._path_lookup.route = lambda peer: "127.0.0.2"
        await wait_for(lambda: pings(client) > sent)
        assert "network path to the server changed" in caplog.text
        await asyncio.sleep(2.5)  # a tick later: the same change is not checked again
        assert client.connected and client._conn is conn and pings(client) == sent + 1


async def test_the_old_address_gone_reconnects_at_once(clients: Clients) -> None:
    """The connection's own address is no longer this machine's: reconnect at once, not
    after the keepalive ping fails (the server still answers here, so without the check
    the client would stay on its dead connection)."""
    async with running_server(keepalive=60) as server:
        client = await clients.connect(server.port, "alice")
        await client.join("group_58")
        log = EventLog(client)
        lookup = client._path_lookup
        lookup.route = lambda peer: "127.0.0.2"
        lookup.exists = lambda host: host != "127.0.0.1"
        await wait_for(lambda: any(e.state is ConnectionState.RECONNECTING
                                   for e in log.of(ConnectionChanged)))
        reconnecting = next(e for e in log.of(ConnectionChanged)
                            if e.state is ConnectionState.RECONNECTING)
        assert "the network changed (127.0.0.1 is no longer" in reconnecting.detail
        lookup.route, lookup.exists = route_source, address_exists
        await wait_for(lambda: client.connected)
        await wait_for(lambda: [str(i) for i in client.joined_ids] == ["group_58"])


async def test_tls_and_a_server_given_by_name_watch_the_address_connected_to(
        tmp_path: Path, clients: Clients) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    settings = SETTINGS.with_overrides(media_encryption="optional")
    async with InterphoneServer(directory(), host="127.0.0.1", settings=settings,
                                tls=context) as server:
        client = InterphoneClient("localhost", server.port, "alice", "pw-alice",
                                  ssl=client_context(TrustPolicy(trust_on_first_use=True)))
        clients.made.append(client)
        await client.connect()
        assert client._path_watch is not None
        watch = client._path_watch[1]
        assert (watch.local, watch.peer[:2]) == ("127.0.0.1", ("127.0.0.1", server.port))
        assert watch.check() == (PathChange.NONE, "127.0.0.1")
