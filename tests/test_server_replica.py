"""Nodes sharing one log, sans-IO: two ServerStates with their Replicas and a list as the log.

What the Redis store does with sockets is done here by hand: each node's outgoing
events are appended to one list in the order given, and every node applies the whole
list in that order. So the rules of several nodes are tested without Redis or a clock.
"""

from __future__ import annotations

from server_fixtures import G58, GALL, TEST_TOML, sample_directory

from app.protocol import (
    ErrCode,
    InterphoneChanged,
    JoinRequest,
    Kicked,
    Login,
    Message,
    MessageKind,
    Ping,
    RecvBeginPacket,
    SpeakRequest,
    SyncRequest,
    encode_frame,
    encode_message,
)
from app.server import Directory, ServerSettings, ServerState
from app.server.outbox import Outbox
from app.server.replica import Event, Replica, first_session_id, node_of

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5,
                          login_timeout=5)
T0 = 1000.0


class Cluster:
    """Nodes 1..n on one in-memory log; ``outboxes[node]`` collects what each delivered."""

    def __init__(self, count: int) -> None:
        self.nodes: dict[int, Replica] = {}
        self.log: list[tuple[str, Event]] = []
        self.applied: dict[int, int] = {}
        self.outboxes: dict[int, Outbox] = {}
        self.next_sid: dict[int, int] = {}
        for node in range(1, count + 1):
            state = ServerState(sample_directory(), SETTINGS, udp_port=9400 + node)
            self.nodes[node] = Replica(state, node, ("127.0.0.1", 9400 + node))
            self.applied[node] = 0
            self.outboxes[node] = Outbox()
            self.next_sid[node] = first_session_id(node)

    def state(self, node: int) -> ServerState:
        return self.nodes[node].state

    def connect(self, node: int) -> int:
        sid = self.next_sid[node]
        self.next_sid[node] += 1
        assert self.state(node).connect(sid, "127.0.0.1", T0)
        return sid

    def send(self, sid: int, seq: str, body: object) -> None:
        data = encode_frame(encode_message(Message.request(seq, body)))  # type: ignore[arg-type]
        node = node_of(sid)
        self.outboxes[node].extend(self.state(node).receive_data(sid, data, T0))

    def append(self, *nodes: int) -> None:
        """Append the waiting events of ``nodes``, in that order, to the log."""
        for node in nodes:
            for event in self.nodes[node].take_outgoing():
                self.log.append((f"{len(self.log) + 1}-0", event))

    def apply(self) -> None:
        for node, replica in self.nodes.items():
            while self.applied[node] < len(self.log):
                log_id, event = self.log[self.applied[node]]
                self.outboxes[node].extend(replica.apply(log_id, event, T0))
                self.applied[node] += 1

    def settle(self) -> None:
        """Until no node has anything more to append."""
        while any(r.outgoing for r in self.nodes.values()):
            self.append(*self.nodes)
            self.apply()

    def replies(self, sid: int) -> list[Message]:
        return [m for s, m in self.outboxes[node_of(sid)].messages
                if s == sid and m.kind is MessageKind.RESPONSE]

    def notes(self, sid: int) -> list[Message]:
        return [m for s, m in self.outboxes[node_of(sid)].messages
                if s == sid and m.kind is MessageKind.NOTIFICATION]

    def logged_in(self, node: int, uid: str) -> int:
        sid = self.connect(node)
        self.send(sid, "1", Login(uid, f"pw-{uid}"))
        self.settle()
        assert self.replies(sid)[-1].ok
        return sid


def alice_speaking_bob_listening(cluster: Cluster) -> tuple[int, int]:
    """alice logged in on node 1 and bob on node 2, both in G58, alice holding its floor,
    every node caught up with the log: their sessions."""
    alice, bob = cluster.logged_in(1, "alice"), cluster.logged_in(2, "bob")
    for sid in (alice, bob):
        cluster.send(sid, "2", JoinRequest(G58))
    cluster.send(alice, "3", SpeakRequest(True, G58))
    cluster.settle()
    return alice, bob


def test_a_change_is_answered_only_when_the_log_hands_it_back() -> None:
    cluster = Cluster(2)
    sid = cluster.connect(1)
    cluster.send(sid, "1", Login("alice", "pw-alice"))
    assert cluster.replies(sid) == []  # in the log, not yet applied
    cluster.append(1)
    cluster.apply()
    [reply] = cluster.replies(sid)
    assert reply.ok and reply.seq == "1"
    assert cluster.state(2).by_uid["alice"] == sid  # the other node knows the session


def test_a_wrong_token_is_refused_by_its_node_without_the_log() -> None:
    cluster = Cluster(2)
    sid = cluster.connect(1)
    cluster.send(sid, "1", Login("alice", "wrong"))
    [reply] = cluster.replies(sid)
    assert reply.body.code == ErrCode.UNAUTHORIZED
    assert cluster.nodes[1].outgoing == []


def test_two_speak_on_at_once_on_two_nodes_have_one_winner_the_first_in_the_log() -> None:
    cluster = Cluster(2)
    alice, bob = cluster.logged_in(1, "alice"), cluster.logged_in(2, "bob")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.send(bob, "2", JoinRequest(G58))
    cluster.settle()
    cluster.send(alice, "3", SpeakRequest(True, G58))
    cluster.send(bob, "3", SpeakRequest(True, G58))
    cluster.append(2, 1)  # bob's request reached the log first
    cluster.apply()
    assert not cluster.replies(alice)[-1].ok
    assert cluster.replies(alice)[-1].body.code == ErrCode.FLOOR_BUSY
    assert cluster.replies(bob)[-1].ok
    for node in (1, 2):
        assert cluster.state(node).interphones[G58].holder == "bob"


def test_requests_behind_one_in_the_log_are_answered_in_order() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.send(alice, "2", JoinRequest(G58))
    cluster.send(alice, "3", Ping())  # answered locally, but after the join
    cluster.send(alice, "4", SyncRequest((G58,)))
    assert [m.seq for m in cluster.replies(alice)] == ["1"]
    cluster.settle()
    assert [m.seq for m in cluster.replies(alice)] == ["1", "2", "3", "4"]
    sync = cluster.replies(alice)[-1].body
    assert [i.member_count for i in sync.interphones] == [1]  # sees its own join


def test_a_login_on_another_node_kicks_the_older_session() -> None:
    cluster = Cluster(2)
    old = cluster.logged_in(1, "alice")
    new = cluster.logged_in(2, "alice")
    assert any(isinstance(m.body, Kicked) for m in cluster.notes(old))
    assert old in cluster.outboxes[1].closes
    for node in (1, 2):
        assert cluster.state(node).by_uid["alice"] == new


def test_a_dead_node_s_sessions_leave_and_free_the_floor() -> None:
    cluster = Cluster(2)
    alice, bob = alice_speaking_bob_listening(cluster)
    cluster.nodes[2].node_down(1)  # node 2's sweep found node 1's heartbeat gone
    cluster.settle()
    record = cluster.state(2).interphones[G58]
    assert list(record.members) == ["bob"] and record.holder == ""
    last = cluster.notes(bob)[-1].body
    assert isinstance(last, InterphoneChanged) and last.info.speaker == ""
    assert alice in cluster.outboxes[1].closes  # node 1, given up, lets its clients go


def test_audio_goes_once_to_each_node_with_listeners() -> None:
    cluster = Cluster(3)
    alice = cluster.logged_in(1, "alice")
    bob, carol = cluster.logged_in(2, "bob"), cluster.logged_in(2, "carol")
    cluster.logged_in(3, "dave")  # node 3 has no member of G58: it gets no copy
    for sid in (alice, bob, carol):
        cluster.send(sid, "2", JoinRequest(G58))
    cluster.settle()
    for node, uid, port in ((1, "alice", 5001), (2, "bob", 5002), (2, "carol", 5003)):
        # acknowledged only once the log hands the registration back
        assert not cluster.state(node).register_media("group_58", uid, ("127.0.0.1", port))
    assert cluster.nodes[2].take_datagrams() == []
    cluster.settle()
    assert cluster.nodes[2].take_datagrams() == [
        (RecvBeginPacket("group_58", "bob").serialize(), ("127.0.0.1", 5002)),
        (RecvBeginPacket("group_58", "carol").serialize(), ("127.0.0.1", 5003))]
    # a refreshed registration (same node) is acknowledged at once
    assert cluster.state(2).register_media("group_58", "bob", ("127.0.0.1", 5002))
    on_1 = cluster.state(1).interphones[G58]
    assert on_1.fanout("alice") == (("127.0.0.1", 9402),)  # node 2's relay, once
    on_2 = cluster.state(2).interphones[G58]
    assert on_2.addrs["alice"] == ("127.0.0.1", 9401)  # alice's audio arrives from node 1
    assert set(on_2.fanout("alice")) == {("127.0.0.1", 5002), ("127.0.0.1", 5003)}
    assert sorted(on_2.fanout("bob")) == [("127.0.0.1", 5003), ("127.0.0.1", 9401)]


def test_audio_another_node_forwards_is_judged_there_and_heard_here_only() -> None:
    """Node 1 is behind the log: it has not applied bob's registration at node 2 (nor his
    grant). bob's audio from node 2's relay is that node's word, and goes to node 1's own
    members only (not to node 3, which node 2 serves itself; not back to bob); the same
    packet from any other address is a client's and bob is not registered here."""
    cluster = Cluster(3)
    alice, bob = cluster.logged_in(1, "alice"), cluster.logged_in(2, "bob")
    carol = cluster.logged_in(3, "carol")
    for sid in (alice, bob, carol):
        cluster.send(sid, "2", JoinRequest(G58))
    cluster.settle()
    for node, uid, port in ((1, "alice", 5001), (3, "carol", 5003)):
        cluster.state(node).register_media("group_58", uid, ("127.0.0.1", port))
    cluster.settle()
    relay_2 = ("127.0.0.1", 9402)
    cluster.nodes[1].learn_relay(2, relay_2)  # (the store's node list)
    cluster.state(2).register_media("group_58", "bob", ("127.0.0.1", 5002))
    cluster.send(bob, "3", SpeakRequest(True, G58))
    cluster.append(2)
    for node in (2, 3):  # node 1 reads the log later
        while cluster.applied[node] < len(cluster.log):
            log_id, event = cluster.log[cluster.applied[node]]
            cluster.nodes[node].apply(log_id, event, T0)
            cluster.applied[node] += 1
    assert cluster.state(2).interphones[G58].holder == "bob"
    state = cluster.state(1)
    record = state.interphones[G58]
    assert record.holder == "" and "bob" not in record.addrs and "carol" in record.remote
    assert state.accept_forwarded("group_58", "bob") == (record, (("127.0.0.1", 5001),))
    assert state.accept_audio("group_58", "bob", ("127.0.0.1", 5002), T0) is None
    record.set_addr("bob", ("127.0.0.1", 5009))  # an older registration of bob's here
    assert state.accept_forwarded("group_58", "bob") == (record, (("127.0.0.1", 5001),))
    cluster.apply()
    assert record.holder == "bob" and record.addrs["bob"] == relay_2
    _, targets = state.accept_forwarded("group_58", "bob") or (None, None)
    assert targets == (("127.0.0.1", 5001),) and targets is record.fanout("bob")
    assert state.accept_audio("group_58", "bob", relay_2, T0) is None  # only as forwarded


def test_while_the_log_is_away_changes_are_refused_and_logouts_wait() -> None:
    cluster = Cluster(2)
    alice = cluster.logged_in(1, "alice")
    cluster.nodes[1].available = False
    sid = cluster.connect(1)
    cluster.send(sid, "1", Login("bob", "pw-bob"))
    [reply] = cluster.replies(sid)
    assert reply.body.code == ErrCode.SERVER_FAULT and "store unavailable" in reply.body.errmsg
    cluster.send(alice, "2", Ping())
    assert cluster.replies(alice)[-1].ok  # the session goes on
    cluster.state(1).disconnect(alice)
    outbox, retry = cluster.nodes[1].doubt.append_failed(cluster.nodes[1].take_outgoing(), T0)
    assert not outbox.messages and [e["t"] for e in retry] == ["logout"]


def test_a_node_restored_from_a_snapshot_agrees_with_those_that_read_the_whole_log() -> None:
    cluster = Cluster(2)
    alice, bob = alice_speaking_bob_listening(cluster)
    assert not cluster.state(2).register_media("group_58", "bob", ("127.0.0.1", 5002))
    cluster.settle()
    snapshot = cluster.nodes[1].snapshot(cluster.log[-1][0])
    late = Replica(ServerState(sample_directory(), SETTINGS, udp_port=9403), 3,
                   ("127.0.0.1", 9403))
    late.restore(snapshot, T0)
    state = late.state
    assert state.by_uid == {"alice": alice, "bob": bob}
    record = state.interphones[G58]
    assert list(record.members) == ["alice", "bob"] and record.holder == "alice"
    assert record.addrs == {"bob": ("127.0.0.1", 9402)} and record.remote == {"bob"}
    assert late.relays == {1: ("127.0.0.1", 9401), 2: ("127.0.0.1", 9402)}
    # the log goes on from the snapshot: the grant it names can be revoked
    event = {"t": "revoke", "id": "group_58", "uid": "alice",
             "grant": cluster.nodes[1].grants["group_58"], "reason": "silence"}
    late.apply("99-0", event, T0)
    assert record.holder == ""


def test_a_reload_stops_this_node_s_sessions_watching_what_they_may_no_longer_see() -> None:
    """Replica.replace_directory: carol's node reloads a directory without her in group 58;
    she no longer watches it (nor is told of it), and still watches the rest."""
    cluster = Cluster(2)
    carol = cluster.logged_in(2, "carol")
    cluster.send(carol, "2", SyncRequest((G58, GALL)))
    cluster.settle()
    state = cluster.state(2)
    assert state.sessions[carol].subscriptions == {G58: None, GALL: None}
    assert carol in state.watchers[G58]
    hidden = TEST_TOML.replace('"alice", "bob", "carol"', '"alice", "bob"')
    assert hidden != TEST_TOML
    cluster.nodes[2].replace_directory(Directory.from_toml_text(hidden, source="new.toml"), T0)
    assert state.sessions[carol].subscriptions == {GALL: None}
    assert carol not in state.watchers.get(G58, {}) and carol in state.watchers[GALL]
    state.stop_watching(carol, G58)  # again: nothing to do
    assert state.sessions[carol].subscriptions == {GALL: None}
