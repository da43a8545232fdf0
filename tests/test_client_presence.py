"""Extension presence end to end: real server, real sockets, the client's model events."""

from __future__ import annotations

import asyncio

from client_fixtures import EventLog, running_server, wait_until

from app.client import (
    CallState,
    ContactPresenceChanged,
    IncomingCall,
    IncomingCallEnded,
    JoinedSetChanged,
    OutgoingCallChanged,
)
from app.client.call_resume import RESUME_S
from app.protocol import InterphoneId

CHAT = InterphoneId.chat("alice", "bob")
P = ("presence",)

pytest_plugins = ["client_fixtures"]


async def test_contacts_show_online_and_offline(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        assert alice.features == frozenset(P)
        assert dict(alice.model.presence) == {"bob": False, "carol": False}
        log = EventLog(alice)
        bob = await clients.connect(server.port, "bob")  # a base client is still a contact
        await wait_until(lambda: alice.model.is_online("bob"), what="bob online")
        await bob.close()
        await wait_until(lambda: alice.model.is_online("bob") is False, what="bob offline")
        assert log.of(ContactPresenceChanged) == [ContactPresenceChanged("bob", True),
                                                  ContactPresenceChanged("bob", False)]


async def test_call_rings_and_answer_is_reported(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P)
        caller, callee = EventLog(alice), EventLog(bob)
        await alice.call("bob")
        assert alice.model.outgoing_call(CHAT) is CallState.RINGING
        await wait_until(lambda: callee.of(IncomingCall), what="bob's phone rings")
        assert callee.of(IncomingCall) == [IncomingCall(CHAT, "alice")]  # once, not twice
        assert bob.model.incoming_calls == {CHAT: "alice"}
        await bob.join(CHAT)  # answering is joining
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.ANSWERED,
                         what="answered")
        assert callee.of(IncomingCallEnded) == [IncomingCallEnded(CHAT, "alice", "answered")]
        assert [e.state for e in caller.of(OutgoingCallChanged)] == [CallState.RINGING,
                                                                     CallState.ANSWERED]


async def test_decline_tells_the_caller(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="ringing")
        await bob.decline(CHAT)
        assert bob.model.incoming_calls == {}
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.DECLINED,
                         what="declined")
        assert not bob.model.is_joined(CHAT)


async def test_no_answer_and_offline(clients):
    async with running_server() as server:
        server.state.presence.ring_timeout = 0.2  # instead of 30 s
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P)
        callee = EventLog(bob)
        await alice.call("bob")
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.NO_ANSWER,
                         what="no answer")
        await wait_until(lambda: callee.of(IncomingCallEnded), what="bob's ring stops")
        assert callee.of(IncomingCallEnded) == [IncomingCallEnded(CHAT, "alice", "no_answer")]
        await alice.leave(CHAT)
        await alice.call("carol")  # not signed in
        assert alice.model.outgoing_call(InterphoneId.chat("alice", "carol")) is CallState.OFFLINE


async def test_caller_hanging_up_stops_the_ring(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P)
        callee = EventLog(bob)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="ringing")
        await alice.leave(CHAT)
        assert alice.model.outgoing_call(CHAT) is CallState.CANCELLED
        await wait_until(lambda: callee.of(IncomingCallEnded), what="ring stopped")
        assert callee.of(IncomingCallEnded) == [IncomingCallEnded(CHAT, "alice", "cancelled")]


async def test_base_clients_see_the_base_contract_only(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        bob = await clients.connect(server.port, "bob")
        assert alice.features == frozenset() and alice.model.presence == {}
        callee = EventLog(bob)
        await alice.call("bob")  # joining the chat still calls, as in the base contract
        await wait_until(lambda: callee.of(IncomingCall), what="base incoming call")
        assert callee.of(IncomingCall) == [IncomingCall(CHAT, "alice")]
        assert alice.model.outgoing_call(CHAT) is None


async def test_a_lost_connection_stops_the_rings_of_both_sides(clients):
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P, reconnect=False)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="ringing")
        callee = EventLog(bob)
        bob._conn._transport.abort()  # the callee's connection drops
        await wait_until(lambda: callee.of(IncomingCallEnded), what="bob's ring stops")
        assert callee.of(IncomingCallEnded) == [IncomingCallEnded(CHAT, "alice", "cancelled")]
        # (once bob had time to come back, app.client.call_resume)
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.OFFLINE,
                         timeout=RESUME_S + 10.0, what="alice told bob is gone")


async def test_hanging_up_before_the_call_rang_is_no_error(clients):
    """Leaving the chat while the call's join still waited for its audio registration sent
    the ring after the quit: the server refused it ("join chat_alice:bob before ringing"),
    and the window said "Call to Bob failed: Not allowed (error 403)" over "Left Bob"."""
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=P)
        bob = await clients.connect(server.port, "bob", features=P)
        hanging_up: list[asyncio.Task[None]] = []

        def hang_up_once_joined(event: object) -> None:
            if (isinstance(event, JoinedSetChanged) and CHAT in event.ids
                    and not hanging_up):  # the quit goes out before the join returns
                hanging_up.append(asyncio.ensure_future(alice.leave(CHAT)))

        alice.model.subscribe(hang_up_once_joined)
        await alice.call("bob")  # raised NotAllowed
        await hanging_up[0]
        assert not alice.model.is_joined(CHAT)
        assert alice.model.outgoing_call(CHAT) in (None, CallState.CANCELLED)
        await asyncio.sleep(0.2)  # a ring the server took would have reached bob by now
        assert CHAT not in bob.model.incoming_calls  # it stopped ringing, if it rang
