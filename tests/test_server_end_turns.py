"""Sessions whose connections are lost together end a few per turn of the event loop:
with a thousand-user directory, 465 sessions granted presence lost at once (an office's
router rebooting) each told every other watcher ``offline`` in one turn and every other
client waited ~0.5 s for its answers. Those past the turn's bound end in the next turns,
other clients' requests are answered between, and every remaining client receives the
same notifications as before, each ending's encoded once (the real server, raw clients)."""

from __future__ import annotations

import asyncio

import pytest
from server_fixtures import RawClient, everyone_directory, running_server

from app.protocol import InterphoneId, JoinRequest
from app.protocol.messages import (
    InterphoneChanged,
    Login,
    MediaKeyNotice,
    MembersRequest,
    Message,
    MessageKind,
)
from app.protocol.presence import PresenceChanged
from app.server import tcp
from app.server.outbox import Outbox

USERS = 16
ALL = InterphoneId.group("all")


class Recorder(RawClient):
    """A raw client that also keeps every message it receives, in order."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.received: list[Message] = []

    def _dispatch(self, message: Message) -> None:
        self.received.append(message)
        super()._dispatch(message)


async def until(condition: object, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0)
    await asyncio.wait_for(wait(), timeout)


async def crowd(port: int, *, join: bool) -> list[RawClient]:
    clients = []
    for n in range(USERS):
        client = await RawClient.connect(port)
        assert (await client.request(Login(f"u{n:02d}", "", features=("presence",)))).ok
        if join:
            assert (await client.request(JoinRequest(ALL))).ok
        clients.append(client)
    return clients


async def watcher(port: int, uid: str, *, join: bool) -> Recorder:
    client = await Recorder.connect(port)
    assert (await client.request(Login(uid, "", features=("presence",)))).ok
    if join:
        assert (await client.request(JoinRequest(ALL))).ok
    return client


async def crowd_and_watchers(port: int, *, join: bool,
                             watchers: int = 2) -> tuple[list[RawClient], list[Recorder]]:
    """The crowd, then ``watchers`` more clients (``u16``, ``u17``) whose record starts
    once nothing else is on its way."""
    clients = await crowd(port, join=join)
    recorders = [await watcher(port, f"u{n:02d}", join=join)
                 for n in range(USERS, USERS + watchers)]
    await asyncio.sleep(0.2)  # nothing else is on its way
    for recorder in recorders:
        recorder.received.clear()
    return clients, recorders


def lose_all(clients: list[RawClient]) -> None:
    """Every connection of ``clients`` lost at once (the server sees them in one turn)."""
    for client in clients:
        client.writer.transport.abort()


def offline(message: Message) -> bool:
    return isinstance(message.body, PresenceChanged) and not message.body.online


async def test_a_crowd_lost_at_once_ends_over_turns_and_another_client_is_answered_between(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp, "ENDS_PER_TURN", 1)
    async with running_server(everyone_directory(USERS + 2)) as server:
        clients, (watching,) = await crowd_and_watchers(server.port, join=False, watchers=1)
        lose_all(clients)
        await until(lambda: any(offline(m) for m in watching.received))
        members = await watching.request(MembersRequest(ALL), timeout=10)
        assert members.ok, members
        await until(lambda: sum(offline(m) for m in watching.received) == USERS)
        kinds = [m.kind for m in watching.received]
        answered = kinds.index(MessageKind.RESPONSE)
        # answered while sessions still ended in later turns: offline notices after it
        assert any(offline(m) for m in watching.received[answered + 1:]), kinds
        assert server.hub is not None and not server.hub.ending
        await watching.close()


@pytest.mark.parametrize("per_turn", [1, 10_000])  # 10,000: all in one turn, as before
async def test_each_remaining_client_receives_what_it_did_when_all_ended_in_one_turn(
        monkeypatch: pytest.MonkeyPatch, per_turn: int) -> None:
    # for each session lost: the members change of "all" without it, then its "offline"
    # (PROTOCOL.md; docs/protocol-extensions.md, presence), and nothing else
    monkeypatch.setattr(tcp, "ENDS_PER_TURN", per_turn)
    async with running_server(everyone_directory(USERS + 2)) as server:
        clients, watchers = await crowd_and_watchers(server.port, join=True)
        lose_all(clients)
        for w in watchers:
            await until(lambda w=w: len(w.received) == 2 * USERS)
        await asyncio.sleep(0.2)
        remaining = {f"u{n:02d}" for n in range(USERS + 2)}
        for w in watchers:
            assert len(w.received) == 2 * USERS, w.received
            members = set(remaining)
            ended = []
            for change, notice in zip(w.received[::2], w.received[1::2], strict=True):
                assert isinstance(change.body, InterphoneChanged), change
                assert isinstance(notice.body, PresenceChanged), notice
                assert change.kind is notice.kind is MessageKind.NOTIFICATION
                assert not notice.body.online
                uid = notice.body.uid
                members.discard(uid)
                assert set(change.body.info.members or ()) == members
                ended.append(uid)
            assert sorted(ended) == [f"u{n:02d}" for n in range(USERS)]
        # both watchers were told in the same order
        assert [m.body for m in watchers[0].received][1::2] \
            == [m.body for m in watchers[1].received][1::2]
        for w in watchers:
            await w.close()


async def test_each_ending_s_notice_is_encoded_once_for_all_its_watchers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp, "ENDS_PER_TURN", 2)
    encoded: list[Message] = []
    encode = tcp.encode

    def counting(message: Message) -> bytes:
        encoded.append(message)
        return encode(message)

    monkeypatch.setattr(tcp, "encode", counting)
    async with running_server(everyone_directory(USERS + 2)) as server:
        clients, watchers = await crowd_and_watchers(server.port, join=False)
        encoded.clear()
        lose_all(clients)
        for w in watchers:
            await until(lambda w=w: sum(offline(m) for m in w.received) == USERS)
        notices = [m for m in encoded if isinstance(m.body, PresenceChanged)]
        assert sorted(m.body.uid for m in notices) == [f"u{n:02d}" for n in range(USERS)]
        for w in watchers:
            await w.close()


def queued_for(hub: tcp.SignalingServer, lost: set[int],
               monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The messages the server queues from now on for the sessions ``lost`` once their
    connections are gone (``hub``'s deliveries watched)."""
    queued: list[Message] = []
    deliver = hub.deliver

    def counting(outbox: Outbox) -> None:
        queued.extend(message for sid, message in outbox.messages
                      if sid in lost and sid not in hub.connections)
        deliver(outbox)

    monkeypatch.setattr(hub, "deliver", counting)
    return queued


async def test_nothing_is_queued_for_a_connection_already_lost_while_sessions_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 465 sessions lost at once queued ~216k offline notices for each other's connections,
    # which are never sent: each end tells its watchers only those still connected
    monkeypatch.setattr(tcp, "ENDS_PER_TURN", 1)
    async with running_server(everyone_directory(USERS + 2)) as server:
        hub = server.hub
        assert hub is not None
        clients, watchers = await crowd_and_watchers(server.port, join=True)
        watching = {server.state.by_uid[f"u{n:02d}"] for n in (USERS, USERS + 1)}
        lost = set(hub.connections) - watching
        assert len(lost) == USERS
        queued_for_lost = queued_for(hub, lost, monkeypatch)
        lose_all(clients)
        for w in watchers:
            await until(lambda w=w: sum(offline(m) for m in w.received) == USERS)
        await until(lambda: not hub.ending)
        assert queued_for_lost == []
        for w in watchers:
            await w.close()


async def test_no_media_key_is_queued_for_a_connection_already_lost_while_sessions_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # media-auth: each member's end rotates the interphone's key, sent to every member left,
    # lost connections included (one key notice per lost member per end); the members
    # still connected get each new key
    monkeypatch.setattr(tcp, "ENDS_PER_TURN", 1)
    async with running_server(everyone_directory(USERS + 1),
                              media_encryption="optional") as server:
        hub = server.hub
        assert hub is not None
        clients = []
        for n in range(USERS + 1):
            client = await Recorder.connect(server.port)
            assert (await client.request(Login(f"u{n:02d}", "", features=("media-auth",)))).ok
            assert (await client.request(JoinRequest(ALL))).ok
            clients.append(client)
        *crowd_clients, staying = clients
        await asyncio.sleep(0.2)  # nothing else is on its way
        staying.received.clear()
        lost = set(hub.connections) - {server.state.by_uid[f"u{USERS:02d}"]}
        queued_for_lost = queued_for(hub, lost, monkeypatch)
        lose_all(crowd_clients)

        def keys() -> list[int]:
            return [m.body.epoch for m in staying.received if isinstance(m.body, MediaKeyNotice)]

        await until(lambda: len(keys()) == USERS)
        await until(lambda: not hub.ending)
        assert queued_for_lost == []
        assert keys() == sorted(keys())  # each new key, in order
        await staying.close()
