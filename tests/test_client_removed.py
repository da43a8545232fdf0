"""Removed by the server: a directory reload takes us out of a joined group (the real
server, real clients). The change notification that tells the others tells us too; the
model treats it as a leave and says why (:class:`RemovedFromInterphone`)."""

from __future__ import annotations

import pytest
from client_fixtures import CLIENT_TOML, EventLog, free_port, running_server, wait_until

from app.client import (
    ConnectionState,
    FloorState,
    JoinedChanged,
    NotAllowed,
    RemovedFromInterphone,
    RosterChanged,
)
from app.client.model import ClientModel
from app.protocol import InterphoneId, InterphoneInfo
from app.server import Directory, InterphoneServer

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
ALICE_OUT_OF_58 = Directory.from_toml_text(
    CLIENT_TOML.replace('members = ["alice", "bob", "carol"]', 'members = ["bob", "carol"]'),
    source="reloaded.toml")

pytest_plugins = ["client_fixtures"]


def members_of(server: InterphoneServer, interphone: InterphoneId) -> list[str]:
    record = server.state.interphones.get(interphone)
    return list(record.members) if record is not None else []


async def test_removed_from_the_talk_target_while_talking_it_moves_on(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(D12)
        await alice.join(G58)  # the talk target
        await bob.join(G58)
        assert await alice.talk_start()
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: not alice.model.is_joined(G58), what="G58 dropped")
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, True)]
        assert alice.joined_ids == (D12,) and alice.talk_target == D12
        assert log.of(JoinedChanged)[-1] == JoinedChanged(D12)
        assert alice.model.floor is FloorState.IDLE
        assert alice.model.members == ("alice",)  # D12's, adopted as after a leave
        # a group we may no longer see leaves the roster, and what we knew of it goes
        assert alice.model.interphone(G58) is None
        assert "58" not in [e.id for e in alice.model.groups]
        await wait_until(lambda: bob.model.members == ("bob",), what="bob told")
        assert bob.model.speaker == "" and server.state.interphones[G58].holder == ""
        assert await alice.talk_start()  # now into D12
        assert server.state.interphones[D12].holder == "alice"
        assert alice.connected


async def test_removed_from_another_joined_interphone_keeps_the_talk_target(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        await alice.join(D12)  # the talk target
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: not alice.model.is_joined(G58), what="G58 dropped")
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, False)]
        assert alice.joined_ids == (D12,) and alice.talk_target == D12
        assert log.of(JoinedChanged) == []
        assert G58 not in server.state.interphones


async def test_removed_as_the_last_member_the_group_ends_and_nothing_is_joined(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(G58)
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: not alice.model.is_joined(G58), what="G58 dropped")
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, True)]
        assert alice.joined_ids == () and alice.talk_target is None
        assert alice.model.interphone(G58) is None


async def test_removed_from_a_large_group_told_by_count_only_the_members_refusal_says_so(
        clients, monkeypatch):
    """Above the member-list limit (64; 1 here) notifications carry the count only: the
    client asks for the members, is refused with 403 (it may no longer see the group),
    and reads that as the removal."""
    monkeypatch.setattr("app.server.notifications.MEMBER_LIST_LIMIT", 1)
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        others = [await clients.connect(server.port, uid) for uid in ("bob", "carol")]
        await alice.join(D12)
        await alice.join(G58)
        for other in others:
            await other.join(G58)
        await wait_until(lambda: len(alice.model.members) == 3, what="alice knows them")
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: not alice.model.is_joined(G58), what="G58 dropped")
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, True)]
        assert alice.joined_ids == (D12,) and alice.talk_target == D12
        assert alice.connected


async def test_a_members_refusal_is_one_removal_whoever_reads_it(clients, monkeypatch):
    """The 403 on the members is read by ``members()`` (which forgets the group) and then
    by the refresh's ``on_refused``: one removal, one roster change, not two; a later
    ``members()`` refused again removes nothing more."""
    monkeypatch.setattr("app.server.notifications.MEMBER_LIST_LIMIT", 1)
    monkeypatch.setattr("app.client.members_refresh.MEMBERS_DEBOUNCE", 0.01)
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        others = [await clients.connect(server.port, uid) for uid in ("bob", "carol")]
        await alice.join(D12)
        await alice.join(G58)
        for other in others:  # two stay: told by count only
            await other.join(G58)
        await wait_until(lambda: len(alice.model.members) == 3, what="alice knows them")
        refused: list[InterphoneId] = []
        told = alice._members_refresh._on_refused
        assert told is not None

        def on_refused(interphone: InterphoneId) -> None:
            refused.append(interphone)
            told(interphone)

        alice._members_refresh._on_refused = on_refused
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: refused == [G58], what="the refresh refused")
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, True)]
        assert len(log.of(RosterChanged)) == 1
        with pytest.raises(NotAllowed):
            await alice.members(G58)
        assert log.of(RemovedFromInterphone) == [RemovedFromInterphone(G58, True)]
        assert len(log.of(RosterChanged)) == 1
        assert alice.joined_ids == (D12,) and alice.connected


async def test_a_reconnect_after_the_removal_does_not_join_it_again(clients):
    port = free_port()
    async with running_server(port=port) as server:
        alice = await clients.connect(server.port, "alice")
        await alice.join(D12)
        await alice.join(G58, target=False)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: not alice.model.is_joined(G58), what="G58 dropped")
    await wait_until(lambda: alice.state is ConnectionState.RECONNECTING, what="reconnecting")
    # The new server has the old directory: alice could join G58 again, but did not ask.
    async with running_server(port=port) as server:
        await wait_until(lambda: alice.state is ConnectionState.CONNECTED, timeout=5,
                         what="reconnected")
        assert alice.joined_ids == (D12,)
        assert set(server.state.sessions[server.state.by_uid["alice"]].joined) == {D12}
        assert G58 not in server.state.interphones


async def test_leaving_and_others_leaving_are_not_a_removal(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        await alice.join(G58)
        await alice.join(D12)
        await bob.join(G58)
        log = EventLog(alice)
        await bob.close()  # his session ends: alice is told, still in
        await wait_until(lambda: members_of(server, G58) == ["alice"], what="bob gone")
        await wait_until(lambda: alice.model.interphone(G58).member_count == 1,
                         what="alice told")
        await alice.leave(G58)
        assert alice.joined_ids == (D12,)
        assert log.of(RemovedFromInterphone) == []


def info(interphone: InterphoneId, members: tuple[str, ...] | None,
         count: int | None = None) -> InterphoneInfo:
    return InterphoneInfo(interphone, interphone.attach_id_for("alice"),
                          len(members or ()) if count is None else count, "", members)


def test_the_model_reads_an_end_as_a_removal_only_once_connected() -> None:
    """While reconnecting the joined set waits to be joined again: an interphone that ended
    meanwhile (count only, e.g. a chat the other party left) is joined again, not dropped."""
    model = ClientModel("alice")
    model.set_connection(ConnectionState.CONNECTED)
    model.apply_joined(info(G58, ("alice",)))
    model.apply_joined(info(D12, ("alice", "bob")))
    model.set_connection(ConnectionState.RECONNECTING, "lost")
    model.apply_info(info(G58, None, count=0))
    assert model.joined_ids == (G58, D12)
    model.set_connection(ConnectionState.CONNECTED)
    model.apply_info(info(D12, ("alice",)))  # another member left: still in
    model.apply_info(info(D12, None, count=1))  # the count alone says nothing of us
    assert model.joined_ids == (G58, D12)
    model.apply_info(info(G58, None, count=0))
    assert model.joined_ids == (D12,)
