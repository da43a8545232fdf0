"""A floor released by its node alone while the log was out of reach (sans-IO, the in-memory
log of test_server_replica): the nodes still agree once the release is in the log, whatever
came between, and a session held back by a request in doubt can still let go."""

from __future__ import annotations

from server_fixtures import D12, G58
from test_server_replica import T0, Cluster, alice_speaking_bob_listening
from test_server_replica_doubt import LIMIT, refused, refused_at_the_limit

from app.protocol import InterphoneChanged, JoinRequest, Login, SpeakRequest
from app.protocol.features import FLOOR_QUEUE
from app.protocol.messages import FloorNotice, FloorNoticeType, SpeakResult


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


def alice_holding(cluster: Cluster) -> int:
    """alice logged in on node 1, in G58, asking for its floor: her session."""
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.send(alice, "3", SpeakRequest(True, G58))
    return alice


def in_line(cluster: Cluster, uid: str, node: int) -> int:
    """``uid`` (floor-queue) logged in on ``node``, in G58, asking to wait in its line:
    the session."""
    sid = cluster.connect(node)
    cluster.send(sid, "1", Login(uid, f"pw-{uid}", features=(FLOOR_QUEUE,)))
    cluster.send(sid, "2", JoinRequest(G58))
    cluster.send(sid, "3", SpeakRequest(True, G58, queue=True))
    return sid


def carol_waiting(cluster: Cluster) -> int:
    """carol (floor-queue) logged in on node 1, in G58, waiting in its line: her session."""
    carol = in_line(cluster, "carol", 1)
    cluster.settle()
    assert cluster.replies(carol)[-1].body == SpeakResult(True, G58, queued=True, position=1)
    return carol


def floor_notices(cluster: Cluster, sid: int) -> list[FloorNoticeType]:
    return [m.body.type for m in cluster.notes(sid) if isinstance(m.body, FloorNotice)]


def test_the_head_of_the_line_is_granted_only_when_the_log_has_the_release() -> None:
    cluster = Cluster(2)
    alice, bob = alice_speaking_bob_listening(cluster)
    carol = carol_waiting(cluster)
    node = cluster.nodes[1]
    node.available = False
    cluster.send(alice, "9", SpeakRequest(False, G58))
    assert cluster.replies(alice)[-1].ok
    assert holders(cluster) == [("alice", ""), ("alice", "alice")]  # nobody granted
    assert cluster.state(1).interphones[G58].floor.queue == ("carol",)
    assert FloorNoticeType.GRANTED not in floor_notices(cluster, carol)
    node.available = True
    cluster.settle()
    assert holders(cluster) == [("carol", "carol"), ("carol", "carol")]
    assert floor_notices(cluster, carol)[-1] is FloorNoticeType.GRANTED
    speakers = [m.body.info.speaker for m in cluster.notes(carol)
                if isinstance(m.body, InterphoneChanged)]
    assert speakers[-2:] == ["", "carol"]  # let go here at once, then the grant from the log
    assert [m.body.info.speaker for m in cluster.notes(bob)
            if isinstance(m.body, InterphoneChanged)][-1] == "carol"


def test_a_request_in_line_withdrawn_while_the_log_is_away_leaves_the_line_then() -> None:
    cluster = Cluster(2)
    alice_speaking_bob_listening(cluster)
    carol = carol_waiting(cluster)
    node = cluster.nodes[1]
    node.available = False
    cluster.send(carol, "9", SpeakRequest(False, G58))
    assert cluster.replies(carol)[-1].body == SpeakResult(False, G58)
    assert cluster.state(1).interphones[G58].floor.queue == ("carol",)  # until the log says
    node.available = True
    cluster.settle()
    assert [cluster.state(n).interphones[G58].floor.queue for n in (1, 2)] == [(), ()]
    assert holders(cluster) == [("alice", "alice"), ("alice", "alice")]


def test_a_request_withdrawn_alone_is_not_told_of_moves_in_the_line_it_left() -> None:
    """bob (floor-queue) waits behind carol and says ``speak off`` while his node cannot
    reach the log: answered, he no longer waits. alice lets go on her node and the log
    grants carol before it has bob's withdrawal: bob's node, back, is not to tell him he is
    next in line (his client would show him waiting again, for good: the log then takes him
    out of the line without a word)."""
    cluster = Cluster(2)
    alice = alice_holding(cluster)
    carol = carol_waiting(cluster)
    bob = in_line(cluster, "bob", 2)
    cluster.settle()
    assert cluster.replies(bob)[-1].body == SpeakResult(True, G58, queued=True, position=2)
    node = cluster.nodes[2]
    node.available = False
    cluster.send(bob, "4", SpeakRequest(False, G58))
    assert cluster.replies(bob)[-1].body == SpeakResult(False, G58)
    cluster.send(alice, "4", SpeakRequest(False, G58))
    cluster.append(1)
    node.available = True
    cluster.apply()  # (bob's node reads the log before its withdrawal is appended)
    assert floor_notices(cluster, carol)[-1] is FloorNoticeType.GRANTED
    assert cluster.state(2).interphones[G58].floor.queue == ("bob",)
    assert floor_notices(cluster, bob) == []
    cluster.settle()
    assert [cluster.state(n).interphones[G58].floor.queue for n in (1, 2)] == [(), ()]
    assert holders(cluster) == [("carol", "carol"), ("carol", "carol")]
    assert floor_notices(cluster, bob) == []
    assert not cluster.state(2).withdrawn_here


def test_a_request_withdrawn_alone_and_granted_by_the_line_meanwhile_is_let_go_at_once() -> None:
    """bob (floor-queue) waits next in line and says ``speak off`` while his node cannot
    reach the log; alice lets go on her node and the log grants bob the floor before it
    has his withdrawal. bob's node, back, does not tell him he is granted (the "your turn"
    cue after he let go of the key) nor show him speaking, and relays nothing of his; the
    withdrawal then frees the floor everywhere."""
    cluster = Cluster(2)
    alice = alice_holding(cluster)
    bob = in_line(cluster, "bob", 2)
    cluster.settle()
    node = cluster.nodes[2]
    node.available = False
    cluster.send(bob, "4", SpeakRequest(False, G58))
    assert cluster.replies(bob)[-1].body == SpeakResult(False, G58)
    cluster.send(alice, "4", SpeakRequest(False, G58))
    cluster.append(1)
    node.available = True
    cluster.apply()  # (bob's node reads the log before its withdrawal is appended)
    assert holders(cluster) == [("bob", "bob"), ("bob", "")]
    assert floor_notices(cluster, bob) == []
    speakers = [m.body.info.speaker for m in cluster.notes(bob)
                if isinstance(m.body, InterphoneChanged)]
    assert speakers[-1] == "" and "bob" not in speakers, speakers
    cluster.settle()
    assert holders(cluster) == [("", ""), ("", "")]
    assert [m.body.info.speaker for m in cluster.notes(bob)
            if isinstance(m.body, InterphoneChanged)] == speakers  # (told already)
    assert floor_notices(cluster, bob) == []
    assert not cluster.state(2).withdrawn_here and not cluster.state(2).released_here


def test_a_holder_and_the_head_of_its_line_both_let_go_alone_are_told_once() -> None:
    """alice holds the floor, bob (floor-queue, same node) waits next; both let go while
    their node cannot reach the log. When it is back, the log grants bob the floor on
    alice's release, then bob's withdrawal frees it: their node, which showed nobody
    speaking since alice let go, tells its sessions nothing more."""
    cluster = Cluster(2)
    alice = alice_holding(cluster)
    bob = in_line(cluster, "bob", 1)
    cluster.settle()
    node = cluster.nodes[1]
    node.available = False
    cluster.send(alice, "4", SpeakRequest(False, G58))
    cluster.send(bob, "4", SpeakRequest(False, G58))
    told = {sid: [m.body.info.speaker for m in cluster.notes(sid)
                  if isinstance(m.body, InterphoneChanged)] for sid in (alice, bob)}
    assert told[alice][-1] == told[bob][-1] == ""
    node.available = True
    cluster.settle()
    assert holders(cluster) == [("", ""), ("", "")]
    for sid in (alice, bob):
        assert [m.body.info.speaker for m in cluster.notes(sid)
                if isinstance(m.body, InterphoneChanged)] == told[sid]
    assert floor_notices(cluster, bob) == []
