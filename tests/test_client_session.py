"""The client's signaling session against the real embedded server: login, model, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from client_fixtures import (
    EventLog,
    client_tasks,
    free_port,
    running_server,
    wait_until,
    wire,
)

from app.client import (
    ConnectionChanged,
    ConnectionState,
    FloorChanged,
    FloorOutcome,
    FloorState,
    IncomingCall,
    InterphoneClient,
    InterphoneEnded,
    JoinedChanged,
    LoginRefused,
    NotAllowed,
    NotConnected,
    RequestTimeout,
    ServerUnreachable,
    SpeakerChanged,
)
from app.protocol import InterphoneChanged, InterphoneId, InterphoneInfo, Message

pytest_plugins = ["client_fixtures"]

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")


async def test_connect_logs_in_and_syncs_the_roster(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        assert alice.state is ConnectionState.CONNECTED
        assert {(e.kind, e.id) for e in alice.model.roster} >= {("group", "58"),
                                                               ("discuss", "12")}
        assert set(alice.model.roster_ids()) == {G58, D12}
        assert alice.model.interphones == {}
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)
        infos = await alice.sync()
        assert [(str(i.id), i.member_count) for i in infos] == [("group_58", 1)]
        assert alice.model.interphone("group_58").member_count == 1


async def test_refused_login_is_final_and_typed(clients):
    async with running_server() as server:
        client = InterphoneClient("127.0.0.1", server.port, "alice", "wrong")
        log = EventLog(client)
        with pytest.raises(LoginRefused) as info:
            await client.connect()
        assert info.value.errcode == 401
        assert client.state is ConnectionState.REFUSED
        assert [e.state for e in log.of(ConnectionChanged)] == [ConnectionState.CONNECTING,
                                                               ConnectionState.REFUSED]
        with pytest.raises(NotConnected):
            await client.connect()
        await client.close()
        await client.close()  # idempotent
        assert client.state is ConnectionState.REFUSED


async def test_unreachable_server_gives_a_clear_error():
    port = free_port()
    client = InterphoneClient("127.0.0.1", port, "alice", "pw-alice")
    with pytest.raises(ServerUnreachable, match=f"cannot reach 127.0.0.1:{port}"):
        await client.connect()
    assert client.state is ConnectionState.DISCONNECTED
    await client.close()
    assert client.state is ConnectionState.CLOSED
    assert client_tasks() == []


async def test_silent_server_times_out():
    async def never_answer(reader, writer):
        await reader.read()  # hold the connection, say nothing
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = InterphoneClient("127.0.0.1", port, "alice", "x", request_timeout=0.3)
        with pytest.raises(RequestTimeout, match="Login"):
            await client.connect()
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_model_follows_other_members(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        log = EventLog(alice)
        await bob.join(G58)
        await wait_until(lambda: alice.model.members == ("alice", "bob"), what="bob joins")
        assert alice.model.interphone(G58).member_count == 2

        await bob.talk_start()
        await wait_until(lambda: alice.model.speaker == "bob", what="bob speaks")
        assert alice.model.floor.value == "busy" and alice.model.floor_holder == "bob"
        assert alice.model.speaker_since is not None
        await bob.talk_stop()
        await wait_until(lambda: alice.model.speaker == "", what="bob releases")
        assert alice.model.floor.value == "idle"
        assert [e.uid for e in log.of(SpeakerChanged)] == ["bob", ""]

        await bob.leave()
        await wait_until(lambda: alice.model.members == ("alice",), what="bob leaves")
        await alice.leave()
        assert alice.model.joined is None
        await wait_until(lambda: G58 not in bob.model.interphones, what="group ends")
        assert [e.id for e in log.of(JoinedChanged)] == [None]


async def test_a_watcher_sees_counts_and_the_end(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        log = EventLog(alice)
        await bob.join(G58)
        await wait_until(lambda: G58 in alice.model.interphones, what="group goes live")
        assert alice.model.interphone(G58).member_count == 1
        await bob.leave()
        await wait_until(lambda: G58 not in alice.model.interphones, what="group ends")
        assert log.of(InterphoneEnded)[-1].id == G58


async def test_incoming_call_rings_the_other_party(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        alice_log, bob_log = EventLog(alice), EventLog(bob)
        info = await alice.call("bob")
        assert str(info.id) == "chat_alice:bob"
        await wait_until(lambda: bob_log.of(IncomingCall), what="bob's phone rings")
        assert bob_log.of(IncomingCall) == [IncomingCall(info.id, "alice")]
        assert alice_log.of(IncomingCall) == []
        await bob.join(info.id)
        assert bob.model.members == ("alice", "bob")
        assert len(bob_log.of(IncomingCall)) == 1


async def test_join_not_allowed(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        with pytest.raises(NotAllowed) as info:
            await alice.join("group_7")
        assert info.value.errcode == 403
        assert alice.model.joined is None


async def test_kicked_session_does_not_reconnect(clients):
    async with running_server() as server:
        first = await clients.connect(server.port, "alice")
        await first.join(G58)
        log = EventLog(first)
        second = await clients.connect(server.port, "alice")
        await wait_until(lambda: first.state is ConnectionState.KICKED, what="kick")
        assert first.model.connection_detail == "login_elsewhere"
        assert first.model.joined is None
        # A reconnect would be decided when the connection-closed handler runs: wait for it.
        await wait_until(lambda: first._conn is None, what="the kicked connection closes")
        assert first.state is ConnectionState.KICKED
        assert ConnectionState.RECONNECTING not in [e.state for e in log.of(ConnectionChanged)]
        assert first.stats.reconnects == 0
        assert second.state is ConnectionState.CONNECTED
        with pytest.raises(NotConnected):
            await first.join(G58)


async def test_reconnect_restores_the_session_on_a_new_server(clients):
    port = free_port()
    async with running_server(port=port) as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        await wait_until(lambda: alice.model.members == ("alice", "bob"), what="both in")
        await alice.talk_start()
        log = EventLog(alice)
    await wait_until(lambda: alice.state is ConnectionState.RECONNECTING, what="reconnecting")
    assert alice.model.joined == G58  # kept while reconnecting
    assert alice.model.floor is FloorState.IDLE  # transmission stopped at once
    (cut,) = [event for event in log.of(FloorChanged) if event.reason == "disconnected"]
    assert (cut.state, cut.holder, cut.outcome) == \
        (FloorState.IDLE, "", FloorOutcome.DISCONNECTED)
    assert cut.cut_at is not None  # the talk was cut: it ends where last confirmed
    assert alice.send_audio(b"\xf8\xff\xfe") is False
    await wait_until(lambda: alice.stats.reconnect_attempts >= 1, what="a failed attempt")
    async with running_server(port=port):
        await wait_until(lambda: alice.state is ConnectionState.CONNECTED
                         and bob.state is ConnectionState.CONNECTED, timeout=5,
                         what="both reconnected")
        await wait_until(lambda: alice.model.members == ("alice", "bob")
                         or alice.model.members == ("bob", "alice"), what="members restored")
        assert alice.model.joined == G58 and bob.model.joined == G58
        assert sorted(alice.model.members) == ["alice", "bob"]  # no duplicates
        assert alice.model.interphone(G58).member_count == 2
        assert alice.stats.reconnects == 1 and alice.stats.reconnect_attempts == 0
        states = [e.state for e in log.of(ConnectionChanged)]
        assert states[0] is ConnectionState.RECONNECTING and states[-1] is ConnectionState.CONNECTED
        assert log.of(JoinedChanged) == []  # never left from the model's point of view
        # The session works: the floor can be taken and audio reaches the re-registered peer.
        heard = []
        bob.on_audio = lambda uid, seq, payload: heard.append((uid, seq))
        assert await alice.talk_start() is True
        await wait_until(lambda: bob.model.speaker == "alice", what="bob sees alice speak")
        alice.send_audio(b"\xf8\xff\xfe")
        await wait_until(lambda: heard == [("alice", 0)], what="audio after reconnect")
        await alice.talk_stop()


async def test_pings_keep_an_idle_session_alive(clients):
    async with running_server(keepalive=0.5) as server:
        alice = await clients.connect(server.port, "alice")
        assert alice.model.keepalive == 1  # advertised in whole seconds
        session = alice._conn.session
        # The server drops a session silent for 3 x 0.5 s. The second ping goes out 2 s
        # after the last request: answered on the same connection, it proves the driver
        # kept the session alive (the rule itself is unit-tested in test_client_sansio).
        await wait_until(lambda: session.pings_sent >= 2, timeout=5, what="two pings")
        await alice.sync()
        assert alice._conn is not None and alice._conn.session is session
        assert alice.state is ConnectionState.CONNECTED and alice.stats.reconnects == 0


async def test_count_only_notification_refreshes_members(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        await wait_until(lambda: alice.model.members == ("alice", "bob"), what="both in")
        # What the server sends to members of an interphone above 64 members: a count only.
        requests = []
        real_members = alice.members

        async def counting_members(interphone):
            requests.append(interphone)
            return await real_members(interphone)

        alice.members = counting_members
        count_only = InterphoneInfo(G58, "58", 3, "", None)
        burst = wire(*[Message.notification(InterphoneChanged(count_only))] * 3)
        alice._conn.data_received(burst)  # as if read from the socket: costs one request
        assert alice.model.interphone(G58).member_count == 3
        await wait_until(lambda: alice.model.interphone(G58).member_count == 2,
                         what="members refreshed")
        assert requests == [G58]
        assert alice.model.members == ("alice", "bob")  # the server's truth again


async def test_without_reconnect_a_drop_is_final(clients):
    port = free_port()
    async with running_server(port=port) as server:
        alice = await clients.connect(server.port, "alice", reconnect=False)
        await alice.join(G58)
    await wait_until(lambda: alice.state is ConnectionState.DISCONNECTED, what="disconnected")
    assert alice.model.joined is None
    with pytest.raises(NotConnected):
        await alice.sync()


async def test_close_is_clean_and_idempotent(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        await asyncio.gather(alice.close(), alice.close())
        assert alice.state is ConnectionState.CLOSED
        # close() quit the interphone first: bob sees alice leave at once.
        await wait_until(lambda: bob.model.members == ("bob",), what="alice leaves")
        await alice.close()


async def test_close_while_reconnecting_ends_the_loop(clients):
    port = free_port()
    async with running_server(port=port) as server:
        alice = await clients.connect(server.port, "alice")
    await wait_until(lambda: alice.state is ConnectionState.RECONNECTING, what="reconnecting")
    await wait_until(lambda: alice.stats.reconnect_attempts >= 1, what="a failed attempt")
    await alice.close()
    assert alice.state is ConnectionState.CLOSED
    assert client_tasks() == []
    with contextlib.suppress(NotConnected):
        await alice.connect()


async def test_a_long_outage_logs_the_first_failed_attempts_not_each(clients, caplog):
    """The network down overnight: each failed attempt was a log line, one every 5 s."""
    port = free_port()
    # (listening before the server stops: its first attempt may fail while it stops)
    with caplog.at_level(logging.INFO, logger="app.client.client_reconnect"):
        async with running_server(port=port) as server:
            alice = await clients.connect(server.port, "alice", backoff=(0.01, 0.05))
        await wait_until(lambda: alice.stats.reconnect_attempts >= 20, timeout=30,
                         what="20 failed attempts")
    failed = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("reconnect attempt ")]
    assert [line.split()[2] for line in failed] == ["1", "2", "3", "4", "5"], failed
    await alice.close()


class HoldingProxy:
    """A TCP proxy to ``port`` that holds what the client sends until ``release`` is set."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.request_seen = asyncio.Event()
        self.release = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.tasks.append(asyncio.ensure_future(self._pump(up_reader, writer, hold=False)))
        await self._pump(reader, up_writer, hold=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    hold: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if hold:
                    self.request_seen.set()
                    await self.release.wait()
                writer.write(data)
        writer.close()


async def test_close_during_connect_leaves_nothing_open():
    async with running_server() as server:
        proxy = HoldingProxy(server.port)
        listener = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            alice = InterphoneClient("127.0.0.1", port, "alice", "pw-alice")
            connecting = asyncio.ensure_future(alice.connect())
            await proxy.request_seen.wait()  # the login is on its way
            await alice.close()  # while the login is under way
            proxy.release.set()  # the login succeeds after close() returned
            with pytest.raises(NotConnected):
                await connecting
            assert alice.state is ConnectionState.CLOSED
            assert alice._conn is None and alice._media is None
            assert client_tasks() == []
        finally:
            listener.close()
            await listener.wait_closed()
            for task in proxy.tasks:
                task.cancel()


async def test_features_asked_for_are_negotiated_on_each_login(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=("queue",))
        assert alice._conn is not None
        assert alice._conn.session.requested_features == ("queue",)
        assert alice.features == frozenset()  # this server offers no extension yet
        await alice.join(G58)  # and the session is the base contract's
