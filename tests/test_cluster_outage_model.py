"""A model-based (stateful) test of floors released while a node cannot reach the store
(docs/protocol-extensions.md 1.8, "A release is the exception"; app/server/lone_release.py).

The nodes of tests/test_cluster_model.py append and read the log at their own pace, and a
node may lose its store for a while: its appends fail (not sent: its requests are refused,
the rest waits, as app/server/log_writer.py retries it), or fail after sending (what was
sent may or may not be in the log: in doubt, settled once the node read the log to the end
it finds when it is back), and it reads nothing. Meanwhile its sessions ask, let go
(``speak off``) and drop, and time passes (each node judges its own timers and appends
what it decides). The answer limit may pass (requests not known to be in the log
are refused, and undone should they turn up). What 1.8 promises is checked:

- a holder's release on a node cut off is told to that node's members at once (speaker
  ``''``), and until the node applies a log entry that ends that grant its sessions are not
  shown the talker speaking again;
- nothing is granted without the log: on every node the speaker shown is nobody or the
  shared floor's holder, and a node cut off changes no floor while it reads nothing;
- once every node is back and read the log to its end, they agree, each live session was
  told its memberships, speakers and places in line as they are, and no session was told
  the same change notification twice in a row.

Sized by tests/fuzzing.py.
"""

from __future__ import annotations

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from server_model import USERS, View
from test_cluster_model import CLUSTER_FEATURES, PacedNodesMachine, _Cluster, _request

from app.protocol import Message
from app.protocol.features import FLOOR_QUEUE, HEALTH
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    FloorNotice,
    InterphoneChanged,
    JoinRequest,
    Login,
    SpeakRequest,
    SpeakResult,
)
from app.server.outbox import Outbox
from app.server.replica import Event, node_of

LIMIT = 3.0
"""The answer limit (app/server/redis_store.py): a request not known to be in the log
after it is refused."""

FEATURES = (*CLUSTER_FEATURES, (HEALTH,), (HEALTH, FLOOR_QUEUE))

TALKERS = ("alice", "bob", "carol", "dave")
TALKED_IN = (InterphoneId.group("58"), InterphoneId.group("all"))

Floors = dict[InterphoneId, tuple[str, tuple[str, ...], str]]


class _OutageCluster(_Cluster):
    """Nodes whose store may be out of reach (``out``); the log's driver done by hand."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.out: dict[int, Floors] = {}  # node cut off -> its floors when it was cut off
        self.retry: dict[int, list[Event]] = {n: [] for n in self.nodes}
        self.check: dict[int, tuple[int, set[int]]] = {}  # node -> (log end, refs in doubt)
        self.views: dict[int, View] = {}
        self.let_go: dict[tuple[int, InterphoneId], str] = {}
        """(node, interphone) -> the holder its node let go alone, until the node applies
        an entry after which the shared floor is no longer that holder's."""
        self.withdrawn: dict[tuple[int, InterphoneId], str] = {}
        """(sid, interphone) -> uid of a request in line its node withdrew alone."""

    def floors(self, node: int) -> Floors:
        return {i: (r.floor.holder, tuple(r.floor.queue), r.floor.emergency_by)
                for i, r in self.state(node).interphones.items()}

    def deliver(self, node: int, outbox: Outbox) -> None:
        super().deliver(node, outbox)
        for sid, message in outbox.messages:
            if node_of(sid) != node:
                continue
            body = message.body
            if isinstance(body, InterphoneChanged):
                let_go = self.let_go.get((node, body.info.id))
                assert not let_go or body.info.speaker != let_go, (
                    f"session {sid} shown {let_go} speaking in {body.info.id} after its node "
                    f"let go of it alone: {message}")
            self._withdrawn(sid, message)
            self.views.setdefault(sid, View()).told(message)

    def _withdrawn(self, sid: int, message: Message) -> None:
        """A session whose request in line its node withdrew alone is told nothing more of
        that line (1.8): no place, no grant, not shown speaking, until it asks again."""
        body = message.body
        if isinstance(body, SpeakResult) and body.on and body.id is not None:
            self.withdrawn.pop((sid, body.id), None)
        elif isinstance(body, FloorNotice):
            assert (sid, body.id) not in self.withdrawn, (
                f"session {sid} told {message} after it left the line")
        elif isinstance(body, InterphoneChanged):
            uid = self.withdrawn.get((sid, body.info.id))
            assert not uid or body.info.speaker != uid, (
                f"session {sid} shown speaking after it left the line: {message}")

    def lose(self, node: int, sent: bool, reached: bool) -> None:
        """The store goes away as the node appends what it has: not sent (refused, the rest
        waits), or sent and then lost, ``reached`` the log or not (in doubt)."""
        replica = self.nodes[node]
        self.out[node] = self.floors(node)
        replica.available = False
        self.deliver(node, replica.state.store_reachability(False, self.now))
        events = self.retry[node] + replica.take_outgoing()
        if sent and reached:
            self.log.extend((f"{len(self.log) + 1 + i}-0", e) for i, e in enumerate(events))
        outbox, self.retry[node] = replica.doubt.append_failed(events, self.now, sent=sent)
        if sent:
            self.check.pop(node, None)  # (the log's end is read again once it is back)
        self.deliver(node, outbox)

    def back(self, node: int) -> None:
        replica = self.nodes[node]
        del self.out[node]
        replica.available = True
        self.deliver(node, replica.state.store_reachability(True, self.now))
        if replica.doubt.unsure():
            self.check[node] = (len(self.log), replica.doubt.unsure())
        self.settle_if_read(node)

    def append(self, node: int) -> None:
        replica = self.nodes[node]
        events = self.retry[node] + replica.take_outgoing()
        self.retry[node] = []
        if node in self.out:  # not sent
            outbox, self.retry[node] = replica.doubt.append_failed(events, self.now)
            self.deliver(node, outbox)
            return
        for event in events:
            self.log.append((f"{len(self.log) + 1}-0", event))
        replica.doubt.appended(events)

    def read(self, node: int, count: int | None = None) -> None:
        if node in self.out:
            return
        replica = self.nodes[node]
        end = len(self.log) if count is None else min(len(self.log), self.applied[node] + count)
        while self.applied[node] < end:
            log_id, event = self.log[self.applied[node]]
            self.deliver(node, replica.apply(log_id, event, self.now))
            self.applied[node] += 1
            for (where, interphone), uid in list(self.let_go.items()):
                record = self.state(node).interphones.get(interphone)
                if where == node and (record is None or record.floor.holder != uid):
                    del self.let_go[(where, interphone)]
        self.settle_if_read(node)

    def settle_if_read(self, node: int) -> None:
        check = self.check.get(node)
        if check is not None and self.applied[node] >= check[0]:
            del self.check[node]
            self.deliver(node, self.nodes[node].doubt.settle(check[1], self.now))

    def expire(self, node: int) -> None:
        """The answer limit passes for every request asked until now."""
        self.deliver(node, self.nodes[node].doubt.expire(self.now + LIMIT, LIMIT))

    def settle(self) -> None:
        for node in list(self.out):
            self.back(node)
        for _ in range(100):
            for node in self.nodes:
                self.append(node)
                self.read(node)
            if not any(r.outgoing or self.retry[n] or self.check.get(n)
                       for n, r in self.nodes.items()):
                for node in self.nodes:
                    self.read(node)
                return
        raise AssertionError("the nodes never stop appending")


class OutageClusterMachine(PacedNodesMachine):
    """Three nodes at their own pace, any of which may lose its store for a while."""

    cluster: _OutageCluster

    def __init__(self) -> None:
        super().__init__(_OutageCluster(3))

    def _holding(self) -> list[tuple[int, InterphoneId]]:
        """(sid, interphone) of the sessions shown speaking by their own node."""
        pairs = []
        for sid in self._open():
            state = self.cluster.state(node_of(sid))
            uid = state.sessions[sid].uid if sid in state.sessions else ""
            pairs += [(sid, i) for i, r in state.interphones.items() if uid and r.holder == uid]
        return pairs

    @rule(node=st.integers(1, 3), uid=st.sampled_from(USERS), features=st.sampled_from(FEATURES))
    def login(self, node: int, uid: str, features: tuple[str, ...]) -> None:
        sid = next(self.cluster.sids[node])
        assert self.cluster.state(node).connect(sid, "127.0.0.1", self.cluster.now)
        self._send(sid, Login(uid, f"pw-{uid}", features=features))

    @rule(placed=st.lists(st.tuples(st.integers(1, 3), st.sampled_from(FEATURES)), min_size=2,
                          max_size=4),
          interphone=st.sampled_from(TALKED_IN), queue=st.booleans())
    def a_talker_and_listeners(self, placed: list[tuple[int, tuple[str, ...]]],
                               interphone: InterphoneId, queue: bool) -> None:
        """Once the log is read to its end: users log in on the nodes given, join
        ``interphone`` and the first asks for the floor (then the others, in line, if
        ``queue``); the log is read to its end again."""
        cluster = self.cluster
        cluster.settle()
        sids = []
        for uid, (node, features) in zip(TALKERS, placed, strict=False):
            sid = next(cluster.sids[node])
            assert cluster.state(node).connect(sid, "127.0.0.1", cluster.now)
            self._send(sid, Login(uid, f"pw-{uid}", features=(*features, FLOOR_QUEUE)))
            self._send(sid, JoinRequest(interphone))
            sids.append(sid)
            cluster.settle()
        for sid in sids if queue else sids[:1]:
            self._send(sid, SpeakRequest(True, interphone, queue=True))
            cluster.settle()

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def member_request(self, data: st.DataObject) -> None:
        """A request about an interphone the session is a member of (more grants)."""
        pairs = [(sid, i) for sid in self._open()
                 if (session := self.cluster.state(node_of(sid)).sessions.get(sid))
                 for i in session.joined]
        if not pairs:
            return
        sid, interphone = data.draw(st.sampled_from(sorted(pairs, key=str)))
        kind = data.draw(st.sampled_from(["on", "queue", "off", "quit"]))
        cluster, node = self.cluster, node_of(sid)
        replica, state = cluster.nodes[node], cluster.state(node)
        uid = state.sessions[sid].uid
        if (kind == "off" and (node in cluster.out or sid in replica.doubt.blocked)
                and sid not in replica.held
                and state.interphones[interphone].floor.position_of(uid)):
            cluster.withdrawn[(sid, interphone)] = uid
        self._send(sid, _request(kind, interphone))

    @precondition(lambda self: bool(self._holding()))
    @rule(data=st.data(), drop=st.booleans())
    def holder_lets_go(self, data: st.DataObject, drop: bool) -> None:
        """A session its node shows speaking says ``speak off``, or its connection ends:
        on a node cut off (or a session held back by a request in doubt) its node lets go
        alone, and tells its sessions in the interphone at once."""
        sid, interphone = data.draw(st.sampled_from(sorted(self._holding(), key=str)))
        node = node_of(sid)
        cluster, state = self.cluster, self.cluster.state(node)
        uid = state.sessions[sid].uid
        record = state.interphones[interphone]
        replica = cluster.nodes[node]
        cut_off = node in cluster.out or (not drop and sid in replica.doubt.blocked)
        alone = cut_off and sid not in replica.held and record.floor.holder == uid
        listeners = [s for s in record.members.values()
                     if s != sid and node_of(s) == node and s in state.peers]
        told_before = {s: len(cluster.told.get(s, [])) for s in listeners}
        if drop:
            cluster.deliver(node, state.disconnect(sid))
        else:
            self._send(sid, SpeakRequest(False, interphone))
        if not alone:
            return  # (a release behind a request in flight: answered when that one is)
        assert record.holder == "", f"{uid} let go on node {node}, still shown speaking"
        cluster.let_go[(node, interphone)] = uid
        for listener in listeners:
            told = [m.body.info.speaker for m in cluster.told.get(listener, [])[
                told_before[listener]:] if isinstance(m.body, InterphoneChanged)
                and m.body.info.id == interphone]
            assert told == [""], f"session {listener} told {told} when {uid} let go"

    @precondition(lambda self: len(self.cluster.out) < 3)
    @rule(data=st.data(), sent=st.booleans(), reached=st.booleans())
    def store_lost(self, data: st.DataObject, sent: bool, reached: bool) -> None:
        node = data.draw(st.sampled_from(sorted(set(self.cluster.nodes) - set(self.cluster.out))))
        self.cluster.lose(node, sent, reached)

    @precondition(lambda self: any(node_of(s) not in self.cluster.out
                                   for s, _ in self._holding()))
    @rule(data=st.data(), sent=st.booleans(), reached=st.booleans())
    def talkers_node_loses_store(self, data: st.DataObject, sent: bool, reached: bool) -> None:
        nodes = sorted({node_of(s) for s, _ in self._holding()} - set(self.cluster.out))
        self.cluster.lose(data.draw(st.sampled_from(nodes)), sent, reached)

    @precondition(lambda self: bool(self.cluster.out))
    @rule(data=st.data())
    def store_back(self, data: st.DataObject) -> None:
        self.cluster.back(data.draw(st.sampled_from(sorted(self.cluster.out))))

    @rule(node=st.integers(1, 3))
    def answer_limit_passes(self, node: int) -> None:
        self.cluster.expire(node)

    @rule(seconds=st.sampled_from([1.0, 6.0, 11.0]))
    def time_passes(self, seconds: float) -> None:
        """Each node judges its timers (a silent or over-long grant, a line's wait, a ring)
        and appends what it decides, whether it reaches the store or not."""
        cluster = self.cluster
        cluster.now += seconds
        for node in cluster.nodes:
            cluster.deliver(node, cluster.state(node).handle_timer(cluster.now))

    @rule()
    def log_read_to_its_end(self) -> None:
        cluster = self.cluster
        cluster.settle()
        cluster.agree()
        for node in cluster.nodes:
            state = cluster.state(node)
            for interphone, record in state.interphones.items():
                assert record.holder == record.floor.holder, (
                    f"node {node} shows {record.holder!r} speaking in {interphone}, "
                    f"the floor is {record.floor.holder!r}'s")
        self._views()

    @invariant()
    def nothing_granted_without_the_log(self) -> None:
        cluster = self.cluster
        for node in cluster.nodes:
            for interphone, record in cluster.state(node).interphones.items():
                assert record.holder in ("", record.floor.holder), (
                    f"node {node} shows {record.holder!r} speaking in {interphone}, the log "
                    f"gave the floor to {record.floor.holder!r}")
            if node in cluster.out:
                assert cluster.floors(node) == cluster.out[node], (
                    f"node {node} changed a floor while cut off from the log")

    def _views(self) -> None:
        """Each live session was told its memberships, speakers and places in line as they
        are, and never the same change notification twice in a row."""
        cluster = self.cluster
        for node in cluster.nodes:
            state = cluster.state(node)
            for sid, session in state.sessions.items():
                peer = state.peers.get(sid)
                if node_of(sid) != node or peer is None or peer.closing:
                    continue
                view = cluster.views.get(sid, View())
                actual = {i: (tuple(state.interphones[i].members), state.interphones[i].holder)
                          for i in session.joined}
                assert view.joined == actual, (sid, session.uid, view.joined, actual)
                waiting = {i: p for i in session.joined
                           if (p := state.interphones[i].floor.position_of(session.uid))}
                assert view.queued == waiting, (sid, session.uid, view.queued, waiting)
        for sid, messages in cluster.told.items():
            last: dict[InterphoneId, Message] = {}
            for message in messages:
                info = getattr(message.body, "info", None)
                if info is not None and not isinstance(message.body, InterphoneChanged):
                    last.pop(info.id, None)
                if isinstance(message.body, InterphoneChanged):
                    interphone = message.body.info.id
                    assert last.get(interphone) != message, (
                        f"session {sid} told twice in a row: {message}")
                    last[interphone] = message


TestOutageClusterMachine = fuzz_machine(OutageClusterMachine)
