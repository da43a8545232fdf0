"""MID_INTERPHONE over real sockets: sync, members, join, quit and change notifications."""

from __future__ import annotations

from server_fixtures import D12, G58, GALL, RawClient, logged_in, running_server
from waiting import wait_until

from app.protocol import (
    InterphoneId,
    JoinRequest,
    MembersRequest,
    QuitRequest,
    SyncRequest,
)
from app.protocol.messages import ErrorReply, JoinResult, MembersResult, QuitResult, SyncResult


async def test_sync_answers_active_ids_and_chats_and_subscribes() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        bob = await logged_in(server.port, "bob")
        eve = await logged_in(server.port, "eve")
        await bob.join(G58)
        await eve.join(InterphoneId.chat("eve", "alice"))
        call = await alice.next_notification()  # the callee hears the call without a sync
        assert str(call.body.info.id) == "chat_alice:eve"
        reply = await alice.request(SyncRequest((G58, D12, InterphoneId.group("secret"))))
        assert reply.module == "MID_INTERPHONE"
        assert isinstance(reply.body, SyncResult)
        assert [(str(i.id), i.attach_id, i.member_count, i.speaker)
                for i in reply.body.interphones] == [
            ("group_58", "58", 1, ""), ("chat_alice:eve", "eve", 1, "")]
        await bob.join(D12)
        note = await alice.next_notification()
        assert (str(note.body.info.id), note.body.info.member_count) == ("discuss_12", 1)
        assert note.body.info.members is None  # not a member: count only
        for client in (alice, bob, eve):
            await client.close()


async def test_sync_replaces_the_subscription() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        bob = await logged_in(server.port, "bob")
        await alice.request(SyncRequest((G58,)))
        await alice.request(SyncRequest((D12,)))
        await bob.join(G58)
        await bob.join(D12)
        note = await alice.next_notification()
        assert str(note.body.info.id) == "discuss_12"
        assert await alice.no_notification()
        await alice.close()
        await bob.close()


async def test_members_request() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        bob = await logged_in(server.port, "bob")
        reply = await alice.request(MembersRequest(D12))
        assert isinstance(reply.body, MembersResult)
        assert (reply.body.info.member_count, reply.body.info.members) == (0, ())
        await bob.join(D12)
        await alice.join(D12)
        reply = await alice.request(MembersRequest(D12))
        assert reply.body.info.members == ("bob", "alice")
        eve = await logged_in(server.port, "eve")
        reply = await eve.request(MembersRequest(D12))
        assert isinstance(reply.body, ErrorReply) and reply.body.errcode == 403
        for client in (alice, bob, eve):
            await client.close()


async def test_join_quit_and_their_errors_echo_the_request() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        reply = await alice.request(JoinRequest(G58, "alice"))
        assert isinstance(reply.body, JoinResult) and reply.body.info.members == ("alice",)
        again = await alice.request(JoinRequest(G58))
        assert again.body == reply.body
        cases = [
            (JoinRequest(G58, "bob"), 403, "add"),
            (JoinRequest(InterphoneId.group("secret")), 403, "add"),
            (QuitRequest(D12), 404, "quit"),
            (QuitRequest(G58, "bob"), 403, "quit"),
        ]
        for body, code, action in cases:
            error = (await alice.request(body)).body
            assert isinstance(error, ErrorReply), body
            assert (error.tag, error.errcode, error.type, error.id) == (
                "interphone", code, action, str(body.id))
        reply = await alice.request(QuitRequest(G58, "alice"))
        assert isinstance(reply.body, QuitResult) and reply.body.info.member_count == 0
        await alice.close()


async def test_chat_callee_is_notified_without_sync_and_ids_are_canonical() -> None:
    async with running_server() as server:
        bob = await logged_in(server.port, "bob")
        alice = await logged_in(server.port, "alice")
        reply = await bob.request_xml(
            "<message type='request' seq='c1' module='MID_INTERPHONE'>"
            "<interphone type='add' id='chat_bob:alice'/></message>", "c1")
        assert str(reply.body.info.id) == "chat_alice:bob"
        assert reply.body.info.attach_id == "alice"
        note = await alice.next_notification()
        assert (str(note.body.info.id), note.body.info.attach_id) == ("chat_alice:bob", "bob")
        assert note.body.info.members is None
        await alice.close()
        await bob.close()


async def test_fan_out_each_recipient_once_in_order() -> None:
    async with running_server() as server:
        members = [await logged_in(server.port, uid) for uid in ("alice", "bob", "carol")]
        watcher = await logged_in(server.port, "dave")
        await watcher.request(SyncRequest((GALL,)))
        for client in members:
            await client.join(GALL)
        await members[0].speak(GALL, True)
        await members[0].speak(GALL, False)
        await members[2].request(QuitRequest(GALL))
        expected = [(1, ""), (2, ""), (3, ""), (3, "alice"), (3, ""), (2, "")]
        got = [(n.body.info.member_count, n.body.info.speaker)
               for n in [await watcher.next_notification() for _ in expected]]
        assert got == expected
        assert await watcher.no_notification()
        alice_view = [await members[0].next_notification() for _ in expected]
        assert [n.body.info.members for n in alice_view] == [
            ("alice",), ("alice", "bob"), ("alice", "bob", "carol"),
            ("alice", "bob", "carol"), ("alice", "bob", "carol"), ("alice", "bob")]
        assert await members[0].no_notification()
        for client in [*members, watcher]:
            await client.close()


async def test_disconnect_counts_as_quit_for_everyone_else() -> None:
    async with running_server() as server:
        alice = await logged_in(server.port, "alice")
        bob = await logged_in(server.port, "bob")
        await alice.join(G58)
        await bob.join(G58)
        await alice.speak(G58, True)
        bob.drain()
        await alice.close()
        note = await bob.next_notification()
        assert (note.body.info.members, note.body.info.speaker) == (("bob",), "")
        await bob.close()


async def test_many_clients_connect_join_and_leave() -> None:
    async with running_server(auth="open") as server:
        clients = [await RawClient.connect(server.port) for _ in range(30)]
        for n, client in enumerate(clients):
            await client.login(f"user{n}", "")
            await client.join(GALL)
        assert len(server.state.interphones[GALL].members) == 30
        for client in clients:
            await client.close()
        await wait_until(lambda: not server.state.sessions, what="every session ended")
        assert not server.state.interphones
