"""Requests whose append failed after they were sent (sans-IO, the in-memory log of
test_server_replica): answered as the log says once it is read to its end, refused at the
limit, and undone if they turn up in the log after their refusal."""

from __future__ import annotations

from server_fixtures import G58
from test_server_replica import T0, Cluster

from app.protocol import ErrCode, JoinRequest, Message, QuitRequest, SpeakRequest, SyncRequest
from app.protocol.messages import Login
from app.server.replica import Event

LIMIT = 6.0


def in_doubt(cluster: Cluster, node: int) -> list[Event]:
    """The node's waiting events were sent, and the connection failed before the reply."""
    replica = cluster.nodes[node]
    events = replica.take_outgoing()
    outbox, retry = replica.doubt.append_failed(events, T0, sent=True)
    assert not outbox.messages and retry == []
    return events


def refused_at_the_limit(cluster: Cluster, at: float = T0 + LIMIT) -> list[Event]:
    """Node 1's waiting events in doubt (:func:`in_doubt`), then its answer limit passed at
    ``at``: their requests refused. The events."""
    events = in_doubt(cluster, 1)
    cluster.outboxes[1].extend(cluster.nodes[1].doubt.expire(at, LIMIT))
    return events


def appended_late(cluster: Cluster, events: list[Event]) -> None:
    """Redis had run them after all: every node reads them."""
    for event in events:
        cluster.log.append((f"{len(cluster.log) + 1}-0", event))
    cluster.apply()


def refused(reply: Message) -> bool:
    return reply.body.code == ErrCode.SERVER_FAULT and "store unavailable" in reply.body.errmsg


def members(cluster: Cluster, node: int) -> set[str]:
    record = cluster.state(node).interphones.get(G58)
    return set(record.members) if record is not None else set()


def test_a_request_in_doubt_found_in_the_log_is_answered_as_applied() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.send(alice, "3", SyncRequest())  # held behind the join
    appended_late(cluster, in_doubt(cluster, 1))
    assert cluster.replies(alice)[-1].ok and cluster.replies(alice)[-1].seq == "2"
    outbox = cluster.nodes[1].doubt.settle(cluster.nodes[1].doubt.unsure(), T0)
    assert not outbox.messages
    cluster.settle()
    assert [r.seq for r in cluster.replies(alice)] == ["1", "2", "3"]
    assert members(cluster, 1) == members(cluster, 2) == {"alice"}


def test_a_request_in_doubt_not_in_the_log_is_refused_once_it_is_read() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.send(alice, "3", SyncRequest())
    in_doubt(cluster, 1)
    replica = cluster.nodes[1]
    assert replica.doubt.unsure() and cluster.replies(alice)[-1].seq == "1"  # no answer yet
    cluster.outboxes[1].extend(replica.doubt.settle(replica.doubt.unsure(), T0))
    reply = cluster.replies(alice)[-1]
    assert reply.seq == "2" and refused(reply)
    cluster.settle()  # the sync behind it goes on
    assert cluster.replies(alice)[-1].seq == "3" and cluster.replies(alice)[-1].ok
    assert members(cluster, 1) == members(cluster, 2) == set()
    assert not replica.doubt.unsure() and not replica.doubt.blocked


def test_a_request_still_waiting_at_the_limit_is_taken_back_and_refused() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    replica = cluster.nodes[1]
    assert replica.doubt.next_deadline(LIMIT) == T0 + LIMIT
    cluster.outboxes[1].extend(replica.doubt.expire(T0 + LIMIT - 0.1, LIMIT))
    assert cluster.replies(alice)[-1].seq == "1"
    cluster.outboxes[1].extend(replica.doubt.expire(T0 + LIMIT, LIMIT))
    assert refused(cluster.replies(alice)[-1])
    assert replica.outgoing == [] and not replica.doubt.blocked  # never sent: nothing to undo
    assert replica.doubt.next_deadline(LIMIT) is None


def test_a_join_refused_at_the_limit_that_turns_up_later_is_undone() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    events = refused_at_the_limit(cluster)
    replica = cluster.nodes[1]
    assert refused(cluster.replies(alice)[-1])
    cluster.send(alice, "3", JoinRequest(G58))  # not settled: refused at once
    assert cluster.replies(alice)[-1].seq == "3" and refused(cluster.replies(alice)[-1])
    assert replica.outgoing == []
    appended_late(cluster, events)  # Redis is back: the join was in the log
    assert members(cluster, 2) == {"alice"}
    assert [e["t"] for e in replica.outgoing] == ["quit"]
    cluster.settle()
    assert members(cluster, 1) == members(cluster, 2) == set()
    assert not replica.doubt.blocked and not replica.doubt.unsure()
    cluster.send(alice, "4", JoinRequest(G58))
    cluster.settle()
    assert cluster.replies(alice)[-1].ok
    assert members(cluster, 1) == members(cluster, 2) == {"alice"}


def test_a_floor_request_refused_at_the_limit_that_turns_up_later_is_released() -> None:
    cluster = Cluster(2)
    alice, bob = cluster.logged_in(1, "alice"), cluster.logged_in(2, "bob")
    for sid in (alice, bob):
        cluster.send(sid, "2", JoinRequest(G58))
    cluster.settle()
    cluster.send(alice, "3", SpeakRequest(True, G58))
    events = refused_at_the_limit(cluster)
    assert refused(cluster.replies(alice)[-1])
    appended_late(cluster, events)
    assert cluster.state(2).interphones[G58].holder == "alice"
    cluster.settle()
    for node in (1, 2):
        assert cluster.state(node).interphones[G58].holder == ""
    cluster.send(bob, "3", SpeakRequest(True, G58))
    cluster.settle()
    assert cluster.replies(bob)[-1].ok


def test_a_quit_and_a_login_refused_at_the_limit_that_turn_up_later_are_undone() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.settle()
    cluster.send(alice, "3", QuitRequest(G58))
    events = refused_at_the_limit(cluster)
    assert refused(cluster.replies(alice)[-1])
    appended_late(cluster, events)
    cluster.settle()
    assert members(cluster, 1) == members(cluster, 2) == {"alice"}

    carol = cluster.connect(1)
    cluster.send(carol, "1", Login("carol", "pw-carol"))
    events = refused_at_the_limit(cluster, at=T0 + 2 * LIMIT)
    assert refused(cluster.replies(carol)[-1])
    appended_late(cluster, events)
    cluster.settle()
    for node in (1, 2):
        assert "carol" not in cluster.state(node).by_uid


def test_a_late_request_that_changed_nothing_is_not_undone() -> None:
    """alice was a member already (her join's 500 came after an earlier join of hers was
    applied): the late join changed nothing, and its undo would take her out."""
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.settle()
    cluster.send(alice, "3", JoinRequest(G58))
    events = refused_at_the_limit(cluster)
    appended_late(cluster, events)
    assert cluster.nodes[1].outgoing == []
    assert members(cluster, 1) == members(cluster, 2) == {"alice"}


def test_a_request_refused_as_not_in_the_log_that_the_network_delivers_later_is_undone() -> None:
    """Redis ran the join after the node had read the log's end (its bytes were still on
    their way when the node connected again)."""
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    events = in_doubt(cluster, 1)
    replica = cluster.nodes[1]
    cluster.outboxes[1].extend(replica.doubt.settle(replica.doubt.unsure(), T0))
    assert refused(cluster.replies(alice)[-1])
    appended_late(cluster, events)
    cluster.settle()
    assert members(cluster, 1) == members(cluster, 2) == set()
    assert not replica.doubt.late


def test_a_session_whose_login_is_in_doubt_past_the_limit_cannot_log_in_meanwhile() -> None:
    cluster = Cluster(2)
    carol = cluster.connect(1)
    cluster.send(carol, "1", Login("carol", "pw-carol"))
    events = refused_at_the_limit(cluster)
    appended_late(cluster, events)  # the session exists until its undo is applied
    assert "carol" in cluster.state(1).by_uid
    cluster.send(carol, "2", Login("carol", "pw-carol"))
    assert refused(cluster.replies(carol)[-1])
    cluster.settle()
    cluster.send(carol, "3", Login("carol", "pw-carol"))
    cluster.settle()
    assert cluster.replies(carol)[-1].ok and cluster.replies(carol)[-1].seq == "3"
    assert cluster.state(2).by_uid["carol"] == carol
