"""A model-based (stateful) test of several nodes sharing one log (app/server/replica.py),
sans-IO as tests/test_server_replica.py builds them: a list is the log, each node's
outgoing events are appended to it and every node applies it in its order.

Two checks (docs/protocol-extensions.md 1.7, docs/deploy.md):

- :class:`ClusterStateMachine`: users on two or three nodes log in, join, quit, ask for the
  floor (with the floor extensions), ask for their presence and end their connections,
  and time passes (floors, lines and rings expire: each node judges its own timers);
  each step's events are appended and read to the end before the next. A single server
  (one ``ServerState``, the same session ids) is sent the same requests in the same order:
  every session must be sent by its node exactly what the single server sends it.
- :class:`LaggingClusterMachine`: the nodes append in any order and read the log at their
  own pace; once the log is read to its end, every node agrees on the floors, the members
  and who is online, and each session was told its memberships as they are.

Sized by tests/fuzzing.py.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from server_model import DIRECTORIES, INTERPHONES, SETTINGS, USERS, request_frame

from app.protocol import Message
from app.protocol.features import EMERGENCY, FLOOR_QUEUE, PRIORITY
from app.protocol.ids import InterphoneId
from app.protocol.messages import (
    EmergencyAction,
    EmergencyRequest,
    JoinRequest,
    JoinResult,
    Login,
    LoginResult,
    MembersRequest,
    Ping,
    QuitRequest,
    SpeakRequest,
    SyncRequest,
)
from app.protocol.presence import CallAction, CallRequest, PresenceSyncRequest
from app.server.outbox import Outbox
from app.server.replica import Event, Replica, first_session_id, node_of
from app.server.state import ServerState

T0 = 1000.0
CLUSTER_FEATURES = ((), (FLOOR_QUEUE,), (PRIORITY,), ("presence",), (EMERGENCY,),
                    (FLOOR_QUEUE, PRIORITY, EMERGENCY, "presence"))
"""No media-auth (its keys come from the log on several nodes, from os.urandom on one)
and no coalesce (its windows are each node's)."""

REQUESTS = ("join", "quit", "members", "on", "queue", "off", "raise", "cancel", "sync",
            "ring", "presence", "ping")


def _request(kind: str, interphone: InterphoneId) -> object:
    match kind:
        case "join":
            return JoinRequest(interphone)
        case "quit":
            return QuitRequest(interphone)
        case "members":
            return MembersRequest(interphone)
        case "on" | "queue":
            return SpeakRequest(True, interphone, queue=kind == "queue")
        case "off":
            return SpeakRequest(False, interphone)
        case "raise" | "cancel":
            action = EmergencyAction.RAISE if kind == "raise" else EmergencyAction.CANCEL
            return EmergencyRequest(action, interphone)
        case "sync":
            return SyncRequest((interphone,))
        case "ring":
            return CallRequest(CallAction.RING, interphone)
        case "presence":
            return PresenceSyncRequest()
        case _:
            return Ping()


def _comparable(message: Message) -> Message:
    """Emergency ids are the node's or the log's: the same emergency, another name; each
    node has its own media port."""
    body = message.body
    if isinstance(body, LoginResult):
        body = replace(body, udp_port=0)
    if hasattr(body, "emergency_id") and getattr(body, "emergency_id", ""):
        body = replace(body, emergency_id="*")  # type: ignore[type-var]
    info = getattr(body, "info", None)
    if info is not None and getattr(info, "emergency_id", ""):
        body = replace(body, info=replace(info, emergency_id="*"))  # type: ignore[type-var]
    infos = getattr(body, "interphones", None)
    if isinstance(infos, tuple):
        body = replace(body, interphones=tuple(  # type: ignore[type-var]
            replace(i, emergency_id="*") if getattr(i, "emergency_id", "") else i
            for i in infos))
    return replace(message, body=body)


class _Cluster:
    def __init__(self, count: int, auth: str = "token") -> None:
        settings = SETTINGS.with_overrides(media_encryption="off", auth=auth)
        self.nodes = {node: Replica(ServerState(DIRECTORIES[0](), settings, udp_port=9400 + node),
                                    node, ("127.0.0.1", 9400 + node))
                      for node in range(1, count + 1)}
        self.log: list[tuple[str, Event]] = []
        self.applied = dict.fromkeys(self.nodes, 0)
        self.told: dict[int, list[Message]] = {}
        self.sids = {node: itertools.count(first_session_id(node)) for node in self.nodes}
        self.now = T0

    def state(self, node: int) -> ServerState:
        return self.nodes[node].state

    def deliver(self, node: int, outbox: Outbox) -> None:
        """What the node's socket layer sends: the messages to its own connections (it
        drops the others, app/server/tcp.py: e.g. the kick of another node's session that
        every node's state makes when its user logs in again)."""
        for sid, message in outbox.messages:
            if node_of(sid) == node:
                self.told.setdefault(sid, []).append(message)

    def append(self, node: int) -> None:
        for event in self.nodes[node].take_outgoing():
            self.log.append((f"{len(self.log) + 1}-0", event))

    def read(self, node: int, count: int | None = None) -> None:
        replica = self.nodes[node]
        end = len(self.log) if count is None else min(len(self.log), self.applied[node] + count)
        while self.applied[node] < end:
            log_id, event = self.log[self.applied[node]]
            self.deliver(node, replica.apply(log_id, event, self.now))
            self.applied[node] += 1

    def settle(self) -> None:
        for _ in range(100):
            if not any(r.outgoing for r in self.nodes.values()):
                for node in self.nodes:
                    self.read(node)
                if not any(r.outgoing for r in self.nodes.values()):
                    return
            for node in self.nodes:
                self.append(node)
            for node in self.nodes:
                self.read(node)
        raise AssertionError("the nodes never stop appending")

    def agree(self) -> None:
        """Every node has read the whole log: the same floors, members and who is online."""
        views = []
        for node in self.nodes:
            state = self.state(node)
            assert self.applied[node] == len(self.log)
            floors = {i: (r.holder, tuple(r.floor.queue), r.floor.emergency_by,
                          tuple(sorted(r.members.items())))
                      for i, r in state.interphones.items()}
            online = dict(state.by_uid)
            views.append((floors, online))
        for other in views[1:]:
            assert other == views[0], f"the nodes disagree: {views}"


class ClusterStateMachine(RuleBasedStateMachine):
    """Each step read to the end of the log; a single server as the reference."""

    NODES = 2
    AUTH = "token"

    def __init__(self) -> None:
        super().__init__()
        self.cluster = _Cluster(self.NODES, self.AUTH)
        self.single = ServerState(DIRECTORIES[0](), SETTINGS.with_overrides(
            media_encryption="off", auth=self.AUTH), udp_port=9400)
        self.single_told: dict[int, list[Message]] = {}
        self.seqs = itertools.count(1)

    def _open(self) -> list[int]:
        return sorted(sid for sid, peer in self.single.peers.items() if not peer.closing)

    def _single(self, outbox: Outbox) -> None:
        for sid, message in outbox.messages:
            self.single_told.setdefault(sid, []).append(message)

    @rule(node=st.integers(1, 3), uid=st.sampled_from(USERS),
          features=st.sampled_from(CLUSTER_FEATURES))
    def login(self, node: int, uid: str, features: tuple[str, ...]) -> None:
        node = min(node, self.NODES)
        sid = next(self.cluster.sids[node])
        now = self.cluster.now
        assert self.cluster.state(node).connect(sid, "127.0.0.1", now)
        assert self.single.connect(sid, "127.0.0.1", now)
        self._send(sid, Login(uid, f"pw-{uid}", features=features))

    def _send(self, sid: int, body: object) -> None:
        frame = request_frame(str(next(self.seqs)), body)
        node = node_of(sid)
        now = self.cluster.now
        self.cluster.deliver(node, self.cluster.state(node).receive_data(sid, frame, now))
        self._single(self.single.receive_data(sid, frame, now))
        self.cluster.settle()

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data(), kind=st.sampled_from(REQUESTS),
          interphone=st.sampled_from(INTERPHONES))
    def request(self, data: st.DataObject, kind: str, interphone: InterphoneId) -> None:
        sid = data.draw(st.sampled_from(self._open()))
        self._send(sid, _request(kind, interphone))

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def member_request(self, data: st.DataObject) -> None:
        """A request about an interphone the session is a member of (more grants)."""
        pairs = [(s.sid, i) for s in self.single.sessions.values() for i in s.joined
                 if s.sid in self._open()]
        if not pairs:
            return
        sid, interphone = data.draw(st.sampled_from(sorted(pairs, key=str)))
        self._send(sid, _request(data.draw(st.sampled_from(["on", "queue", "off", "quit",
                                                            "raise"])), interphone))

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def connection_ends(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self._open()))
        node = node_of(sid)
        self.cluster.deliver(node, self.cluster.state(node).disconnect(sid))
        self._single(self.single.disconnect(sid))
        self.cluster.settle()

    @rule()
    def every_node_reloads(self) -> None:
        """The directory changes (eve removed, or back): every node reloads it, one after
        the other before the log is read, the single server once."""
        self.directory_index = 1 - getattr(self, "directory_index", 0)
        cluster = self.cluster
        for node in cluster.nodes:
            directory = DIRECTORIES[self.directory_index]()
            cluster.deliver(node, cluster.nodes[node].replace_directory(directory, cluster.now))
        self._single(self.single.replace_directory(DIRECTORIES[self.directory_index](),
                                                   cluster.now))
        cluster.settle()

    @rule(seconds=st.sampled_from([1.0, 6.0, 11.0, 31.0]))
    def time_passes(self, seconds: float) -> None:
        """Timers (a floor's max_talk, a line's queue_timeout, a ring's): each node judges
        its own and appends what it decides; the single server judges them all."""
        cluster = self.cluster
        until = cluster.now + seconds
        for _ in range(1000):
            due = [d for d in [self.single.next_deadline(),
                               *(cluster.state(n).next_deadline() for n in cluster.nodes)]
                   if d is not None and d <= until]
            if not due:
                break
            now = cluster.now = max(cluster.now, min(due))
            self._single(self.single.handle_timer(now))
            for node in cluster.nodes:
                cluster.deliver(node, cluster.state(node).handle_timer(now))
            cluster.settle()
        cluster.now = until

    @invariant()
    def same_as_one_server(self) -> None:
        self.cluster.agree()
        for sid in set(self.single_told) | set(self.cluster.told):
            single = [_comparable(m) for m in self.single_told.get(sid, [])]
            cluster = [_comparable(m) for m in self.cluster.told.get(sid, [])]
            assert cluster == single, (
                f"session {sid} was told by its node:\n{cluster}\nby one server:\n{single}")


TestClusterStateMachine = fuzz_machine(ClusterStateMachine)


class ThreeNodeClusterMachine(ClusterStateMachine):
    NODES = 3


TestThreeNodeClusterMachine = fuzz_machine(ThreeNodeClusterMachine)


class OpenClusterMachine(ClusterStateMachine):
    """``auth = "open"``: zed, in no directory, logs in too."""

    AUTH = "open"


TestOpenClusterMachine = fuzz_machine(OpenClusterMachine)


class PacedNodesMachine(RuleBasedStateMachine):
    """The steps of every model whose nodes append and read the log at their own pace:
    requests on any open connection, connections ending, a node appending or reading.
    Subclasses give the cluster and their logins."""

    def __init__(self, cluster: _Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.seqs = itertools.count(1)

    def _open(self) -> list[int]:
        return sorted(sid for node in self.cluster.nodes
                      for sid, peer in self.cluster.state(node).peers.items()
                      if not peer.closing)

    def _send(self, sid: int, body: object) -> None:
        frame = request_frame(str(next(self.seqs)), body)
        node = node_of(sid)
        self.cluster.deliver(node, self.cluster.state(node).receive_data(sid, frame,
                                                                         self.cluster.now))

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data(), kind=st.sampled_from(REQUESTS),
          interphone=st.sampled_from(INTERPHONES))
    def request(self, data: st.DataObject, kind: str, interphone: InterphoneId) -> None:
        self._send(data.draw(st.sampled_from(self._open())), _request(kind, interphone))

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def connection_ends(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self._open()))
        node = node_of(sid)
        self.cluster.deliver(node, self.cluster.state(node).disconnect(sid))

    @rule(node=st.integers(1, 3))
    def node_appends(self, node: int) -> None:
        self.cluster.append(node)

    @rule(node=st.integers(1, 3), count=st.sampled_from([1, 2, 5, 100]))
    def node_reads(self, node: int, count: int) -> None:
        self.cluster.read(node, count)


class LaggingClusterMachine(PacedNodesMachine):
    """Nodes that append and read the log at their own pace; agreement once it is read."""

    def __init__(self) -> None:
        super().__init__(_Cluster(3))

    @rule(node=st.integers(1, 3), uid=st.sampled_from(USERS),
          features=st.sampled_from(CLUSTER_FEATURES))
    def login(self, node: int, uid: str, features: tuple[str, ...]) -> None:
        sid = next(self.cluster.sids[node])
        assert self.cluster.state(node).connect(sid, "127.0.0.1", T0)
        self._send(sid, Login(uid, f"pw-{uid}", features=features))

    @rule()
    def log_read_to_its_end(self) -> None:
        self.cluster.settle()
        self.cluster.agree()
        self._views()

    def _views(self) -> None:
        """Each session was told every membership it has, with the members of now."""
        for node in self.cluster.nodes:
            state = self.cluster.state(node)
            for sid, session in state.sessions.items():
                if node_of(sid) != node or sid not in state.peers:
                    continue
                told: dict[InterphoneId, tuple[str, ...]] = {}
                for message in self.cluster.told.get(sid, []):
                    info = getattr(message.body, "info", None)
                    if info is None or info.members is None:
                        continue
                    if isinstance(message.body, JoinResult) or session.uid in info.members:
                        told[info.id] = info.members
                    if session.uid not in info.members:
                        told.pop(info.id, None)
                    if type(message.body).__name__ == "QuitResult":
                        told.pop(info.id, None)
                actual = {i: tuple(state.interphones[i].members) for i in session.joined}
                assert told == actual, (sid, session.uid, told, actual)


TestLaggingClusterMachine = fuzz_machine(LaggingClusterMachine)
