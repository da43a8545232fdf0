"""A floor released by its node alone while the log was out of reach (sans-IO, the in-memory
log of test_server_replica): the nodes still agree once the release is in the log, whatever
came between, and a session held back by a request in doubt can still let go."""

from __future__ import annotations

from server_fixtures import D12, G58
from test_server_replica import T0, Cluster, alice_speaking_bob_listening
from test_server_replica_doubt import LIMIT, refused, refused_at_the_limit

from app.protocol import InterphoneChanged, JoinRequest, SpeakRequest
from app.protocol.messages import SpeakResult


def holders(cluster: Cluster) -> list[tuple[str, str]]:
    """Each node's (shared floor's holder, holder it shows and relays)."""
    return [(state.interphones[G58].floor.holder, state.interphones[G58].holder)
            for state in (cluster.state(n) for n in cluster.nodes)]


def test_a_revocation_judged_before_a_lone_release_is_applied_alike_on_every_node() -> None:
    """alice's node judged her grant silent (its revocation waits for the log), then she let
    go while the log was away; bob's request lands between the two entries. Every node
    applies the revocation (the floor frees, bob gets it) and then the release (nothing)."""
    cluster = Cluster(2)
    alice, bob = alice_speaking_bob_listening(cluster)
    node = cluster.nodes[1]
    cluster.outboxes[1].extend(node.state.handle_timer(T0 + 10))  # silent past the timeout
    [revoke] = node.outgoing
    assert revoke["t"] == "revoke"
    node.available = False
    cluster.send(alice, "9", SpeakRequest(False, G58))
    assert cluster.replies(alice)[-1].body == SpeakResult(False, G58)  # answered by node 1
    assert holders(cluster) == [("alice", ""), ("alice", "alice")]
    node.available = True
    revoke_again, release = node.take_outgoing()
    assert revoke_again is revoke and release["t"] == "speak" and not release["on"]
    cluster.log.append((f"{len(cluster.log) + 1}-0", revoke))
    cluster.send(bob, "9", SpeakRequest(True, G58))
    cluster.append(2)
    cluster.log.append((f"{len(cluster.log) + 1}-0", release))
    cluster.apply()
    assert cluster.replies(bob)[-1].ok
    assert holders(cluster) == [("bob", "bob"), ("bob", "bob")]
    assert not node.state.released_here


def test_a_session_held_back_by_a_request_in_doubt_can_still_let_go() -> None:
    """alice's join of another interphone was refused at the answer limit (it may turn up in
    the log: her requests are refused until that is settled). Her release is answered by
    her node alone all the same, and reaches the log."""
    cluster = Cluster(2)
    alice, bob = alice_speaking_bob_listening(cluster)
    node = cluster.nodes[1]
    cluster.send(alice, "8", JoinRequest(D12))
    refused_at_the_limit(cluster, T0 + LIMIT)
    assert refused(cluster.replies(alice)[-1]) and node.doubt.blocked
    cluster.send(alice, "9", SpeakRequest(False, G58))
    reply = cluster.replies(alice)[-1]
    assert reply.seq == "9" and reply.ok, reply
    told = [m.body.info.speaker for m in cluster.notes(alice)
            if isinstance(m.body, InterphoneChanged)]
    assert told[-1] == ""
    cluster.settle()
    assert holders(cluster) == [("", ""), ("", "")]
    assert [m.body.info.speaker for m in cluster.notes(bob)
            if isinstance(m.body, InterphoneChanged)][-1] == ""
