"""A call ringing when a node stops (several nodes on one real Redis). The callee's node:
its client moves to the other node within a second, and the call rings it there again;
the caller is told ``offline`` only if the callee is not back (app.client.call_resume).
The caller's node: its client joins the chat again on the other node, which rings the
callee again, and the call goes on ringing for the caller too (not ``cancelled``)."""

from __future__ import annotations

import pytest

from app.client import CallState, InterphoneClient, OutgoingCallChanged, call_resume
from app.client.asked_features import asked_features
from app.client.events import IncomingCall, IncomingCallEnded, ModelEvent
from app.protocol import InterphoneId
from tests.redis_fixtures import (  # noqa: F401 (redis_server: a fixture)
    RedisProcess,
    redis_server,
    running_nodes,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

CHAT = InterphoneId.chat("alice", "bob")


def presence_client(uid: str, port: int, *fallbacks: int) -> InterphoneClient:
    return InterphoneClient("127.0.0.1", port, uid, f"pw-{uid}", backoff=(0.05, 0.2),
                            features=asked_features(tls=False, presence=True),
                            fallbacks=[("127.0.0.1", p) for p in fallbacks])


class Seen:
    """A client's model events of one kind, in order."""

    def __init__(self, client: InterphoneClient) -> None:
        self.events: list[ModelEvent] = []
        client.model.subscribe(self.events.append)

    def of(self, kind: type) -> list[ModelEvent]:
        return [e for e in self.events if isinstance(e, kind)]


async def test_a_call_rings_the_callee_again_on_the_node_it_moved_to(
        redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(call_resume, "RESUME_S", 30.0)  # (however loaded the machine is)
    async with running_nodes(2, redis_server.url) as nodes:
        alice = presence_client("alice", nodes[1].port)
        bob = presence_client("bob", nodes[0].port, nodes[1].port)
        await alice.connect()
        await bob.connect()
        heard, calling = Seen(bob), Seen(alice)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="the call rings bob")
        await nodes[0].stop()  # bob's node restarts: bob moves to the other node
        await wait_until(lambda: len(heard.of(IncomingCall)) == 2, timeout=15.0,
                         what="the call rings bob again on the other node")
        assert bob.port == nodes[1].port and CHAT in bob.model.incoming_calls
        # alice's call never ended: no "bob is offline", it rang on
        assert [e.state for e in calling.of(OutgoingCallChanged)] == [CallState.RINGING]
        assert alice.model.is_joined(CHAT)
        await bob.join(CHAT)  # bob answers
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.ANSWERED,
                         what="alice told bob answered")
        assert [e.reason for e in heard.of(IncomingCallEnded)] == ["interrupted", "answered"]
        await alice.close()
        await bob.close()


async def test_a_call_goes_on_ringing_when_the_caller_s_node_stops(
        redis_server: RedisProcess) -> None:  # noqa: F811
    async with running_nodes(2, redis_server.url) as nodes:
        alice = presence_client("alice", nodes[0].port, nodes[1].port)
        bob = presence_client("bob", nodes[1].port)
        await alice.connect()
        await bob.connect()
        heard, calling = Seen(bob), Seen(alice)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="the call rings bob")
        await nodes[0].stop()  # alice's node restarts: alice moves to the other node
        await wait_until(lambda: len(heard.of(IncomingCall)) == 2, timeout=15.0,
                         what="alice's join on the other node rings bob again")
        await wait_until(lambda: alice.connected and alice.port == nodes[1].port,
                         what="alice back")
        assert alice.model.outgoing_call(CHAT) is CallState.RINGING
        await bob.join(CHAT)  # bob answers
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.ANSWERED,
                         what="alice told bob answered")
        # never "call to Bob cancelled" in between
        assert [e.state for e in calling.of(OutgoingCallChanged)] == [
            CallState.RINGING, CallState.ANSWERED]
        await alice.close()
        await bob.close()


async def test_a_callee_who_does_not_come_back_is_told_offline(
        redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(call_resume, "RESUME_S", 1.0)
    async with running_nodes(2, redis_server.url) as nodes:
        alice = presence_client("alice", nodes[1].port)
        bob = presence_client("bob", nodes[0].port)  # no other node to move to
        await alice.connect()
        await bob.connect()
        calling = Seen(alice)
        await alice.call("bob")
        await wait_until(lambda: CHAT in bob.model.incoming_calls, what="the call rings bob")
        await bob.close()
        await wait_until(lambda: alice.model.outgoing_call(CHAT) is CallState.OFFLINE,
                         timeout=10.0, what="alice told bob is offline")
        assert [e.state for e in calling.of(OutgoingCallChanged)] == [
            CallState.RINGING, CallState.OFFLINE]
        await alice.close()
