"""A model-based test of extension ``feedback`` on several nodes (docs/protocol-extensions.md,
"Extension: feedback", "Compatibility"; app/server/feedback_carrier.py).

The lockstep model of tests/test_cluster_model.py (each step read to the end of the log,
a single server sent the same requests as the reference) with sessions granted
``feedback`` and listeners reporting what they hear, about the holder or anyone. A report
that counts for a holder on another node is carried there at once (the carrier is
flushed after every step: what the 0.1 s of a real node's publisher would delay, and
which reports a later one replaces meanwhile, is left out), so every session, the talker
above all, must be told exactly what the single server tells it: the same answers and
the same ``<feedback>`` notices, time passing as it does for the single server.

Sized by tests/fuzzing.py.
"""

from __future__ import annotations

from fuzzing import fuzz_machine
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from server_model import USERS
from test_cluster_model import ClusterStateMachine

from app.protocol.features import FLOOR_QUEUE, PRIORITY
from app.protocol.ids import InterphoneId
from app.protocol.messages import JoinRequest, Login, QualityReport, SpeakRequest
from app.server.feedback import WINDOW_SECONDS
from app.server.feedback_carrier import decode
from app.server.replica import node_of

FEEDBACK = "feedback"
TALKERS = ("alice", "bob", "carol", "dave")
TALKED_IN = (InterphoneId.group("58"), InterphoneId.group("all"))
FEEDBACK_FEATURES = ((FEEDBACK,), (FEEDBACK, FLOOR_QUEUE), (FEEDBACK, PRIORITY))


MOVE_WAIT = WINDOW_SECONDS + 0.5
"""What passes before a user logs in again on another node than its session's. The reports
a holder's node keeps stay there: should the holder log in elsewhere and take the floor
again within the window, its new node counts only the reports it receives from then on,
where one server still counts those of the former turn (the protocol's "Compatibility"
says so). Past the window, both count the same."""


class FeedbackClusterMachine(ClusterStateMachine):
    """Two nodes; listeners' reports carried to the holder's node after every step."""

    @rule(node=st.integers(1, 3), uid=st.sampled_from(USERS),
          features=st.sampled_from(FEEDBACK_FEATURES))
    def login_with_feedback(self, node: int, uid: str, features: tuple[str, ...]) -> None:
        self.login(node, uid, features)

    @rule(nodes=st.lists(st.integers(1, 3), min_size=2, max_size=4),
          interphone=st.sampled_from(TALKED_IN))
    def a_talker_and_listeners(self, nodes: list[int], interphone: InterphoneId) -> None:
        """Users log in with ``feedback`` on the nodes given (the first user's session, if
        it was open, ends), join ``interphone``, and the first asks for the floor."""
        sids = []
        for uid, node in zip(TALKERS, nodes, strict=False):
            node = min(node, self.NODES)
            sid = next(self.cluster.sids[node])
            assert self.cluster.state(node).connect(sid, "127.0.0.1", self.cluster.now)
            assert self.single.connect(sid, "127.0.0.1", self.cluster.now)
            self._send(sid, Login(uid, f"pw-{uid}", features=(FEEDBACK,)))
            self._send(sid, JoinRequest(interphone))
            sids.append(sid)
        self._send(sids[0], SpeakRequest(True, interphone))

    def _send(self, sid: int, body: object) -> None:
        if isinstance(body, Login) and node_of(self.single.by_uid.get(body.uid, sid)) != \
                node_of(sid):
            self.time_passes(MOVE_WAIT)
        super()._send(sid, body)
        self._carry()

    def _carry(self) -> None:
        """Each node's reports for holders on other nodes reach those nodes."""
        cluster = self.cluster
        for replica in cluster.nodes.values():
            for node, text in replica.feedback.take().items():
                for report in decode(text):
                    cluster.deliver(node, cluster.state(node).quality_carried(report,
                                                                              cluster.now))

    def _members(self) -> list[tuple[int, InterphoneId]]:
        return sorted(((s.sid, i) for s in self.single.sessions.values() for i in s.joined
                       if s.sid in self._open()), key=str)

    @precondition(lambda self: bool(self._members()))
    @rule(data=st.data(), about_holder=st.sampled_from([True, True, True, False]),
          loss=st.sampled_from([0.0, 0.3, 4.8, 10.0, 60.0, 100.0]),
          jitter=st.sampled_from([0.0, 17.25, 40.0]))
    def listener_reports(self, data: st.DataObject, about_holder: bool, loss: float,
                         jitter: float) -> None:
        """A member reports what it hears of the holder (or of someone else)."""
        sid, interphone = data.draw(st.sampled_from(self._members()))
        holder = self.single.interphones[interphone].holder
        speaker = holder if about_holder and holder else data.draw(st.sampled_from(USERS))
        self._send(sid, QualityReport(interphone, speaker, loss, jitter))

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 3.5]))
    def a_moment_passes(self, seconds: float) -> None:
        """Shorter than the floor's timers: reports age out of the window (3 s), notices'
        resend and gap rules count."""
        self.time_passes(seconds)


TestFeedbackClusterMachine = fuzz_machine(FeedbackClusterMachine)


class ThreeNodeFeedbackMachine(FeedbackClusterMachine):
    NODES = 3


TestThreeNodeFeedbackMachine = fuzz_machine(ThreeNodeFeedbackMachine)
