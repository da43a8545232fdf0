"""Floor arbitration of one interphone: base behaviour, queue, priority, pre-emption, emergency."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.client.turn import EndReason as TurnEndReason
from app.client.turn import (
    Granted,
    PlayTone,
    Press,
    Queued,
    QueueExpired,
    Refused,
    Release,
    Revoked,
    SendRelease,
    SendRequest,
    StopTransmit,
    TransmitDrained,
    TurnConfig,
    TurnMachine,
    TurnPhase,
    TurnTone,
    TurnViewKind,
)
from app.server.floor import (
    EmergencyAction,
    EmergencyIds,
    EmergencyRecord,
    EndReason,
    Floor,
    FloorAnswer,
    FloorNotice,
    FloorOutcome,
    FloorPolicy,
    NoEmergency,
    NotAllowed,
    NoticeKind,
    QueueExit,
)

A = FloorAnswer


def ids() -> Callable[[], str]:
    """Emergency ids e1, e2, ... (the server's are unique across its floors and runs)."""
    numbers = itertools.count(1)
    return lambda: f"e{next(numbers)}"


def floor_with(*ops: tuple[Any, ...], **policy: Any) -> Floor:
    """A floor after ``ops`` (("req", uid, kwargs), ("rel", uid), ("leave", uid)) at t = 0, 1..."""
    floor = Floor(FloorPolicy(**policy), ids())
    for now, op in enumerate(ops):
        run(floor, op, float(now))
    return floor


def run(floor: Floor, op: tuple[Any, ...], now: float) -> FloorOutcome:
    kind, uid, *rest = op
    if kind == "req":
        return floor.request(uid, now, **(rest[0] if rest else {}))
    if kind == "rel":
        return floor.release(uid, now)
    if kind == "leave":
        return floor.leave(uid, now)
    raise AssertionError(kind)


Q = {"queue_ok": True}
HOLD_A = ("req", "a")

# (setup ops, policy, the operation, expected fields of its outcome, queue after)
CASES: list[tuple[str, list[tuple[Any, ...]], dict[str, Any], tuple[Any, ...], dict[str, Any],
                  tuple[str, ...]]] = [
    # The base contract: exactly PROTOCOL.md §3.2 (6).
    ("free floor is granted", [], {}, ("req", "a"),
     {"answer": A.GRANTED, "holder": "a", "granted": "a"}, ()),
    ("holder asking again is granted, nothing changes", [HOLD_A], {}, ("req", "a"),
     {"answer": A.GRANTED, "holder": "a", "granted": ""}, ()),
    ("busy base request gets 409", [HOLD_A], {}, ("req", "b"),
     {"answer": A.BUSY, "busy_holder": "a", "holder": "a"}, ()),
    ("a high priority without pre-emption is just busy", [HOLD_A], {},
     ("req", "b", {"priority": 9}),
     {"answer": A.BUSY, "busy_holder": "a"}, ()),
    ("queue_ok with queuing off is busy", [HOLD_A], {"queue_limit": 0}, ("req", "b", Q),
     {"answer": A.BUSY, "busy_holder": "a"}, ()),
    ("release by the holder frees the floor", [HOLD_A], {}, ("rel", "a"),
     {"holder": "", "ended": "a", "ended_reason": EndReason.RELEASED}, ()),
    ("release by anyone else is harmless", [HOLD_A], {}, ("rel", "b"),
     {"holder": "a", "ended": "", "granted": ""}, ()),
    # The queue.
    ("busy with queue_ok joins the line", [HOLD_A], {}, ("req", "b", Q),
     {"answer": A.QUEUED, "position": 1, "holder": "a", "positions": ()}, ("b",)),
    ("arrival order", [HOLD_A, ("req", "b", Q)], {}, ("req", "c", Q),
     {"answer": A.QUEUED, "position": 2, "positions": ()}, ("b", "c")),
    ("higher priority goes first and moves the others back",
     [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {}, ("req", "d", {**Q, "priority": 5}),
     {"answer": A.QUEUED, "position": 1, "positions": (("b", 2), ("c", 3))}, ("d", "b", "c")),
    ("equal priority waits behind", [HOLD_A, ("req", "b", {**Q, "priority": 5})], {},
     ("req", "c", {**Q, "priority": 5}), {"answer": A.QUEUED, "position": 2}, ("b", "c")),
    ("asking again keeps the place", [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {},
     ("req", "b", Q), {"answer": A.QUEUED, "position": 1, "positions": ()}, ("b", "c")),
    ("full line refuses an equal rank", [HOLD_A, ("req", "b", Q), ("req", "c", Q)],
     {"queue_limit": 2}, ("req", "d", Q),
     {"answer": A.QUEUE_FULL, "busy_holder": "a", "dropped": ()}, ("b", "c")),
    ("full line: a higher rank displaces the last", [HOLD_A, ("req", "b", Q), ("req", "c", Q)],
     {"queue_limit": 2}, ("req", "d", {**Q, "priority": 3}),
     {"answer": A.QUEUED, "position": 1, "dropped": (("c", QueueExit.DISPLACED),),
      "positions": (("b", 2),)}, ("d", "b")),
    ("release grants the head", [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {}, ("rel", "a"),
     {"holder": "b", "granted": "b", "granted_from_queue": True, "ended": "a",
      "ended_reason": EndReason.RELEASED, "positions": (("c", 1),)}, ("c",)),
    ("the holder leaving grants the head", [HOLD_A, ("req", "b", Q)], {}, ("leave", "a"),
     {"holder": "b", "granted": "b", "ended_reason": EndReason.LEFT}, ()),
    ("releasing while queued leaves the line", [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {},
     ("rel", "b"), {"holder": "a", "granted": "", "ended": "", "positions": (("c", 1),),
                    "dropped": ()}, ("c",)),
    ("leaving while queued leaves the line", [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {},
     ("leave", "b"), {"holder": "a", "positions": (("c", 1),)}, ("c",)),
    ("a base request while others wait is still 409", [HOLD_A, ("req", "b", Q)], {},
     ("req", "c"), {"answer": A.BUSY, "busy_holder": "a"}, ("b",)),
    # Priority and pre-emption.
    ("higher priority pre-empts on a preemptible interphone", [HOLD_A], {"preemptible": True},
     ("req", "b", {"priority": 5}),
     {"answer": A.GRANTED, "holder": "b", "granted": "b", "ended": "a",
      "ended_reason": EndReason.PREEMPTED, "preempted_by": "b"}, ()),
    ("equal priority does not pre-empt", [("req", "a", {"priority": 5})], {"preemptible": True},
     ("req", "b", {"priority": 5}), {"answer": A.BUSY, "busy_holder": "a"}, ()),
    ("a queued asker that pre-empts leaves the line",
     [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {"preemptible": True},
     ("req", "c", {**Q, "priority": 2}),
     {"answer": A.GRANTED, "holder": "c", "ended": "a", "positions": ()}, ("b",)),
    ("the pre-empted holder is not queued", [HOLD_A], {"preemptible": True},
     ("req", "b", {"priority": 1}), {"holder": "b"}, ()),
    # Emergency.
    ("emergency pre-empts even when not preemptible", [("req", "a", {"priority": 9})], {},
     ("req", "b", {"emergency": True}),
     {"answer": A.GRANTED, "holder": "b", "ended": "a", "ended_reason": EndReason.PREEMPTED,
      "preempted_by": "b",
      "emergency": EmergencyRecord(EmergencyAction.RAISE, "b", "b", 1.0, "e1")}, ()),
    ("an emergency grant is not pre-empted by priority", [("req", "a", {"emergency": True})],
     {"preemptible": True}, ("req", "b", {"priority": 9}),
     {"answer": A.BUSY, "busy_holder": "a"}, ()),
    ("a second emergency waits first in line behind an emergency grant",
     [("req", "a", {"emergency": True}), ("req", "b", {**Q, "priority": 9})], {},
     ("req", "c", {**Q, "emergency": True}),
     {"answer": A.QUEUED, "position": 1, "positions": (("b", 2),), "emergency": None},
     ("c", "b")),
    ("the raiser's plain request still pre-empts while its emergency is up",
     [("req", "a", {"emergency": True}), ("rel", "a"), ("req", "b")], {}, ("req", "a"),
     {"answer": A.GRANTED, "holder": "a", "ended": "b", "emergency": None}, ()),
]


@pytest.mark.parametrize(("setup", "policy", "op", "expected", "queue_after"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_floor(setup: list[tuple[Any, ...]], policy: dict[str, Any], op: tuple[Any, ...],
               expected: dict[str, Any], queue_after: tuple[str, ...]) -> None:
    floor = floor_with(*setup, **policy)
    outcome = run(floor, op, float(len(setup)))
    assert {name: getattr(outcome, name) for name in expected} == expected
    assert floor.queue == queue_after
    assert floor.holder == outcome.holder


def test_base_requests_only_ever_see_granted_or_busy() -> None:
    """Whatever the others do, a base request's answer is what PROTOCOL.md §3.2 (6) says."""
    floor = floor_with(HOLD_A, ("req", "b", Q), ("req", "c", {**Q, "priority": 4}))
    for uid in ("d", "e", "b"):
        assert floor.request(uid, 9.0).answer is A.BUSY
    floor.release("a", 10.0)
    assert floor.holder == "c"  # the head, by priority
    assert floor.request("c", 11.0).answer is A.GRANTED


# ---- expiry --------------------------------------------------------------------------------------

def test_queued_requests_expire_and_the_line_moves_up() -> None:
    floor = Floor(FloorPolicy(queue_timeout=5.0))
    floor.request("a", 0.0)
    floor.request("b", 1.0, queue_ok=True)
    floor.request("c", 3.0, queue_ok=True)
    assert floor.next_deadline() == 6.0
    assert floor.handle_timer(5.9) == FloorOutcome(holder="a")
    expired = floor.handle_timer(6.0)
    assert expired.dropped == (("b", QueueExit.TIMEOUT),)
    assert expired.positions == (("c", 1),)
    assert floor.next_deadline() == 8.0
    assert floor.handle_timer(100.0).dropped == (("c", QueueExit.TIMEOUT),)
    assert floor.next_deadline() is None and floor.queue == ()


def test_asking_again_does_not_extend_the_wait() -> None:
    floor = Floor(FloorPolicy(queue_timeout=5.0))
    floor.request("a", 0.0)
    floor.request("b", 1.0, queue_ok=True)
    floor.request("b", 4.0, queue_ok=True)
    assert floor.next_deadline() == 6.0


def test_a_granted_head_no_longer_expires() -> None:
    floor = Floor(FloorPolicy(queue_timeout=5.0))
    floor.request("a", 0.0)
    floor.request("b", 1.0, queue_ok=True)
    floor.release("a", 2.0)
    assert floor.next_deadline() is None
    assert floor.handle_timer(10.0).dropped == () and floor.holder == "b"


# ---- revocation by the server --------------------------------------------------------------------

@pytest.mark.parametrize("reason", [EndReason.TIME_LIMIT, EndReason.SILENCE, EndReason.SHUTDOWN])
def test_revoke_ends_the_grant_and_grants_the_head(reason: EndReason) -> None:
    floor = floor_with(HOLD_A, ("req", "b", Q))
    outcome = floor.revoke(reason, 5.0)
    assert (outcome.ended, outcome.ended_reason, outcome.granted, outcome.holder) == (
        "a", reason, "b", "b")


def test_revoke_with_nobody_holding_changes_nothing() -> None:
    assert Floor().revoke(EndReason.TIME_LIMIT, 1.0) == FloorOutcome(holder="")


# ---- emergency raise and cancel ------------------------------------------------------------------

def test_raise_and_cancel_by_the_raiser_are_recorded() -> None:
    floor = Floor(FloorPolicy(dispatcher_level=8), ids())
    raised = floor.raise_emergency("a", 1.0)
    assert raised.emergency == EmergencyRecord(EmergencyAction.RAISE, "a", "a", 1.0, "e1")
    assert raised.holder == "" and floor.emergency_by == "a" and floor.emergency_id == "e1"
    assert floor.raise_emergency("b", 2.0).emergency is None  # one at a time
    assert (floor.emergency_by, floor.emergency_id) == ("a", "e1")
    cancelled = floor.cancel_emergency("a", 0, 3.0)
    assert cancelled.emergency == EmergencyRecord(EmergencyAction.CANCEL, "a", "a", 3.0, "e1")
    assert floor.emergency_by == floor.emergency_id == ""
    assert floor.log == [raised.emergency, cancelled.emergency]


def test_each_raise_has_a_new_id_also_by_the_same_raiser() -> None:
    """A client tells an emergency raised again from the one it silenced by its id."""
    floor = Floor(FloorPolicy(), ids())
    first = floor.raise_emergency("a", 1.0).emergency
    floor.cancel_emergency("a", 0, 2.0)
    again = floor.request("a", 3.0, emergency=True).emergency
    assert first is not None and again is not None
    assert (first.raised_by, first.id, again.raised_by, again.id) == ("a", "e1", "a", "e2")
    floor.leave("a", 4.0)
    restored = Floor(FloorPolicy(), ids())
    restored.restore(floor.snapshot(5.0), 5.0)  # (another node starting from a snapshot)
    assert (restored.emergency_by, restored.emergency_id) == ("a", "e2")
    assert restored.close(6.0).emergency == EmergencyRecord(
        EmergencyAction.CANCEL, "a", "", 6.0, "e2")


def test_the_default_ids_keep_growing_whatever_the_clock_says() -> None:
    clock = iter([1000.0, 1000.0, 999.0, 2000.0])
    new_id = EmergencyIds(lambda: next(clock))
    assert [new_id() for _ in range(4)] == ["1000000", "1000001", "1000002", "2000000"]
    a, b = Floor(), Floor()  # floors given no source share one: never the same id
    assert a.raise_emergency("x", 1.0).emergency.id != b.raise_emergency("x", 1.0).emergency.id


@pytest.mark.parametrize(("canceller", "priority", "allowed"), [
    ("a", 0, True),  # the raiser
    ("d", 8, True),  # a dispatcher
    ("d", 9, True),
    ("b", 7, False),  # anyone else
    ("b", 0, False),
])
def test_who_may_cancel(canceller: str, priority: int, allowed: bool) -> None:
    floor = Floor(FloorPolicy(dispatcher_level=8), ids())
    floor.raise_emergency("a", 1.0)
    if allowed:
        assert floor.cancel_emergency(canceller, priority, 2.0).emergency == EmergencyRecord(
            EmergencyAction.CANCEL, "a", canceller, 2.0, "e1")
    else:
        with pytest.raises(NotAllowed) as refused:
            floor.cancel_emergency(canceller, priority, 2.0)
        assert refused.value.errcode == 403 and floor.emergency_by == "a"


def test_cancel_without_an_emergency_is_404() -> None:
    with pytest.raises(NoEmergency) as refused:
        Floor().cancel_emergency("a", 9, 1.0)
    assert refused.value.errcode == 404


def test_the_emergency_outlives_its_raisers_departure_until_cancelled() -> None:
    floor = floor_with(("req", "a", {"emergency": True}))
    left = floor.leave("a", 1.0)
    assert left.ended == "a" and floor.emergency_by == "a"
    floor.request("b", 2.0)
    with pytest.raises(NotAllowed):
        floor.cancel_emergency("b", 0, 3.0)
    floor.cancel_emergency("z", 8, 4.0)
    assert floor.emergency_by == ""


def test_cancel_makes_the_emergency_grant_ordinary_again() -> None:
    floor = floor_with(("req", "a", {"emergency": True}), preemptible=True)
    assert floor.request("b", 1.0, priority=5).answer is A.BUSY
    floor.cancel_emergency("a", 0, 2.0)
    assert floor.request("b", 3.0, priority=5).ended == "a"


def test_raising_or_cancelling_an_emergency_moves_nobody_in_line() -> None:
    # "queued" goes only to a waiting session whose position changed
    # (docs/protocol-extensions.md, floor-queue): a raise or cancel changes no place
    floor = floor_with(("req", "a", {"emergency": True}), ("req", "b", Q), ("req", "c", Q),
                       dispatcher_level=8)
    assert floor.queue == ("b", "c")
    cancelled = floor.cancel_emergency("z", 9, 3.0)
    assert cancelled.emergency is not None and cancelled.positions == ()
    raised = floor.raise_emergency("c", 4.0)
    assert raised.emergency is not None and raised.positions == ()
    assert floor.raise_emergency("b", 5.0).positions == ()  # one up already: nothing
    assert floor.queue == ("b", "c")


def test_holder_raising_an_emergency_becomes_unpreemptible() -> None:
    floor = floor_with(HOLD_A, preemptible=True)
    outcome = floor.request("a", 1.0, emergency=True)
    assert outcome.answer is A.GRANTED and outcome.granted == ""
    assert outcome.emergency == EmergencyRecord(EmergencyAction.RAISE, "a", "a", 1.0, "e1")
    assert floor.request("b", 2.0, priority=9).answer is A.BUSY


def test_close_records_the_end_of_a_raised_emergency() -> None:
    floor = floor_with(("req", "a", {"emergency": True}), ("req", "b", Q))
    closed = floor.close(9.0)
    assert closed.emergency == EmergencyRecord(EmergencyAction.CANCEL, "a", "", 9.0, "e1")
    assert floor.queue == () and floor.emergency_by == ""
    assert Floor().close(1.0).emergency is None


def test_the_log_is_bounded() -> None:
    floor = Floor(FloorPolicy(log_limit=3))
    for n in range(5):
        floor.raise_emergency("a", float(2 * n))
        floor.cancel_emergency("a", 0, float(2 * n + 1))
    assert [record.at for record in floor.log] == [7.0, 8.0, 9.0]


# ---- bounds and settings -------------------------------------------------------------------------

def test_the_line_never_exceeds_its_bound() -> None:
    floor = Floor(FloorPolicy(queue_limit=4))
    floor.request("holder", 0.0)
    answers = [floor.request(f"u{n}", float(n), queue_ok=True, priority=n % 10).answer
               for n in range(1, 40)]
    assert len(floor.queue) == 4
    assert answers.count(A.QUEUE_FULL) > 0
    assert floor.queue == ("u9", "u19", "u29", "u39")  # every priority 9, in arrival order
    assert [floor.position_of(uid) for uid in floor.queue] == [1, 2, 3, 4]


@pytest.mark.parametrize("priority", [-5, 42])
def test_priorities_are_clamped_to_0_9(priority: int) -> None:
    floor = floor_with(("req", "a", {"priority": 9}), preemptible=True)
    assert floor.request("b", 1.0, priority=priority).answer is A.BUSY


@pytest.mark.parametrize("bad", [
    {"queue_limit": -1}, {"queue_timeout": 0}, {"queue_timeout": float("inf")},
    {"dispatcher_level": 10}, {"log_limit": 0}])
def test_policy_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FloorPolicy(**bad)


# ---- the notices to send -------------------------------------------------------------------------

N = NoticeKind


NOTICE_CASES: list[tuple[Any, ...]] = [
    ("hand-over to the head", [HOLD_A, ("req", "b", Q), ("req", "c", Q)], {}, ("rel", "a"),
     [FloorNotice("b", N.GRANTED)], [FloorNotice("c", N.QUEUED, position=1)]),
    ("a plain release to nobody waiting", [HOLD_A], {}, ("rel", "a"), [], []),
    ("the holder leaving is not told", [HOLD_A, ("req", "b", Q)], {}, ("leave", "a"),
     [FloorNotice("b", N.GRANTED)], []),
    ("pre-emption names who", [HOLD_A], {"preemptible": True}, ("req", "b", {"priority": 3}),
     [FloorNotice("a", N.REVOKED, reason="preempted", by="b")], []),
    ("displacement", [HOLD_A, ("req", "b", Q)], {"queue_limit": 1},
     ("req", "c", {**Q, "priority": 1}), [], [FloorNotice("b", N.LEFT, reason="displaced")]),
    ("the asker learns its place from the response, not a notice",
     [HOLD_A, ("req", "b", Q)], {}, ("req", "c", {**Q, "priority": 1}),
     [], [FloorNotice("b", N.QUEUED, position=2)]),
    ("a base busy request changes nothing", [HOLD_A, ("req", "b", Q)], {}, ("req", "c"), [], []),
]


@pytest.mark.parametrize(("setup", "policy", "op", "before", "after"),
                         [case[1:] for case in NOTICE_CASES], ids=[c[0] for c in NOTICE_CASES])
def test_notices(setup: list[tuple[Any, ...]], policy: dict[str, Any], op: tuple[Any, ...],
                 before: list[FloorNotice], after: list[FloorNotice]) -> None:
    outcome = run(floor_with(*setup, **policy), op, float(len(setup)))
    assert outcome.notices_before_change() == before
    assert outcome.notices_after_change() == after


def test_notices_of_a_time_limit_and_of_expiry() -> None:
    floor = floor_with(HOLD_A, ("req", "b", Q), ("req", "c", Q), ("req", "d", Q),
                       queue_timeout=10.0)
    revoked = floor.revoke(EndReason.TIME_LIMIT, 5.0)
    assert revoked.notices_before_change() == [
        FloorNotice("a", N.REVOKED, reason="time_limit"), FloorNotice("b", N.GRANTED)]
    assert revoked.holder_changed and revoked.preempted == ""
    expired = floor.handle_timer(12.0)  # c joined at 2 -> expires at 12; d at 13
    assert expired.notices_before_change() == []
    assert expired.notices_after_change() == [
        FloorNotice("c", N.LEFT, reason="timeout"), FloorNotice("d", N.QUEUED, position=1)]
    assert not expired.holder_changed


# ---- any sequence at all -------------------------------------------------------------------------

UIDS = ["a", "b", "c", "d", "e", "f"]
OPS = st.one_of(
    st.tuples(st.just("req"), st.sampled_from(UIDS), st.integers(0, 9), st.booleans(),
              st.booleans()),
    st.tuples(st.sampled_from(["rel", "leave", "raise", "cancel"]), st.sampled_from(UIDS),
              st.integers(0, 9), st.just(False), st.just(False)),
    st.tuples(st.sampled_from(["revoke", "timer"]), st.just(""), st.just(0), st.just(False),
              st.just(False)),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(st.tuples(OPS, st.floats(0.0, 3.0)), max_size=60),
       preemptible=st.booleans(), limit=st.integers(0, 3))
def test_invariants_under_any_sequence(ops: list[tuple[tuple[Any, ...], float]],
                                       preemptible: bool, limit: int) -> None:
    """The line is bounded, has no duplicates or holder in it, exists only behind a holder;
    base requests see exactly base answers; reported positions are the real ones."""
    floor = Floor(FloorPolicy(queue_limit=limit, queue_timeout=5.0, preemptible=preemptible))
    now = 0.0
    for (kind, uid, priority, queue_ok, emergency), dt in ops:
        now += dt
        holder_before, emergency_before = floor.holder, floor.emergency_by
        if kind == "req":
            base = not queue_ok and priority == 0 and not emergency
            outcome = floor.request(uid, now, priority=priority, queue_ok=queue_ok,
                                    emergency=emergency)
            if base and emergency_before != uid:
                expected = A.GRANTED if holder_before in ("", uid) else A.BUSY
                assert outcome.answer is expected
                if expected is A.BUSY:
                    assert outcome.busy_holder == holder_before and not outcome.holder_changed
        elif kind == "rel":
            outcome = floor.release(uid, now)
        elif kind == "leave":
            outcome = floor.leave(uid, now)
        elif kind == "raise":
            outcome = floor.raise_emergency(uid, now)
        elif kind == "cancel":
            try:
                outcome = floor.cancel_emergency(uid, priority, now)
            except (NotAllowed, NoEmergency):
                continue
        elif kind == "revoke":
            outcome = floor.revoke(EndReason.TIME_LIMIT, now)
        else:
            outcome = floor.handle_timer(now)
        queue = floor.queue
        assert len(queue) <= limit and len(set(queue)) == len(queue)
        assert floor.holder not in queue
        assert not queue or floor.holder
        assert outcome.holder == floor.holder
        for moved, place in outcome.positions:
            assert floor.position_of(moved) == place
        if outcome.granted:
            assert floor.holder == outcome.granted
        next_deadline = floor.next_deadline()
        assert (next_deadline is None) == (not queue)
        if kind == "timer":
            assert next_deadline is None or next_deadline > now


# ---- wired to client turn machines ---------------------------------------------------------------

class Wired:
    """Turn machines of several users wired to one Floor, as the server and the clients
    would be, messages delivered at once (wsproto-style: each side's output is the other's
    input)."""

    def __init__(self, policy: FloorPolicy, priorities: dict[str, int]) -> None:
        self.floor = Floor(policy, ids())
        self.priorities = priorities
        self.machines = {uid: TurnMachine(TurnConfig(queue=True)) for uid in priorities}
        self.tones: dict[str, list[TurnTone]] = {uid: [] for uid in priorities}

    def key(self, uid: str, down: bool, now: float) -> None:
        event = Press() if down else Release()
        self._run(uid, self.machines[uid].handle(event, now), now)
        self._run(uid, self.machines[uid].handle_timer(now + 1.0), now + 1.0)  # delays pass

    def _feed(self, uid: str, event: Any, now: float) -> None:
        self._run(uid, self.machines[uid].handle(event, now), now)

    def _run(self, uid: str, actions: list[Any], now: float) -> None:
        for action in actions:
            if isinstance(action, PlayTone):
                self.tones[uid].append(action.tone)
            elif isinstance(action, StopTransmit):
                self._feed(uid, TransmitDrained(), now)
            elif isinstance(action, SendRequest):
                outcome = self.floor.request(uid, now, priority=self.priorities[uid],
                                             queue_ok=action.queue, emergency=action.emergency)
                answer = {A.GRANTED: Granted(), A.QUEUED: Queued()}.get(
                    outcome.answer, Refused())  # type: ignore[arg-type]
                self._feed(uid, answer, now)
                self._notify(outcome, now)
            elif isinstance(action, SendRelease):
                self._notify(self.floor.release(uid, now), now)

    def _notify(self, outcome: FloorOutcome, now: float) -> None:
        for notice in outcome.notices_before_change() + outcome.notices_after_change():
            if notice.kind is N.QUEUED:
                continue  # a move in line: the client model's alone, not the machine's
            event = {N.GRANTED: Granted(), N.LEFT: QueueExpired(),
                     N.REVOKED: Revoked(TurnEndReason(notice.reason))}[notice.kind]
            self._feed(notice.uid, event, now)


def test_queue_handover_and_preemption_end_to_end() -> None:
    net = Wired(FloorPolicy(preemptible=True), {"alice": 0, "bob": 0, "carol": 0, "disp": 9})
    net.key("alice", True, 0.0)
    net.key("bob", True, 2.0)
    net.key("carol", True, 3.0)
    assert net.floor.queue == ("bob", "carol")
    assert net.machines["carol"].view(3.5).kind is TurnViewKind.QUEUED
    assert net.floor.position_of("carol") == 2
    net.key("alice", False, 5.0)
    assert net.floor.holder == "bob" and net.machines["bob"].phase is TurnPhase.TALKING
    assert net.machines["carol"].phase is TurnPhase.QUEUED
    assert net.floor.position_of("carol") == 1
    net.key("disp", True, 7.0)  # priority 9 pre-empts bob
    assert net.floor.holder == "disp"
    assert net.machines["bob"].view(7.5).kind is TurnViewKind.PREEMPTED
    bob = net.machines["bob"]
    for n in range(20):  # bob keeps the key down, auto-repeat pairs and all: no new request
        t = 8.0 + n * 0.033
        net._run("bob", bob.handle(Release(), t) + bob.handle(Press(), t + 0.002), t)
    assert bob.phase is TurnPhase.REVOKED
    assert net.floor.queue == ("carol",)
    net.key("disp", False, 9.0)
    assert net.floor.holder == "carol"
    assert net.tones == {
        "alice": [TurnTone.PERMIT],
        "bob": [TurnTone.QUEUED, TurnTone.YOUR_TURN, TurnTone.PREEMPTED],
        "carol": [TurnTone.QUEUED, TurnTone.YOUR_TURN],
        "disp": [TurnTone.PERMIT],
    }


def test_emergency_end_to_end() -> None:
    net = Wired(FloorPolicy(preemptible=True), {"alice": 0, "bob": 5, "disp": 9})
    net.key("bob", True, 0.0)
    net._run("alice", net.machines["alice"].handle(Press(emergency=True), 1.0), 1.0)
    assert net.floor.holder == "alice" and net.floor.emergency_by == "alice"
    assert net.tones["bob"] == [TurnTone.PERMIT, TurnTone.PREEMPTED]
    net.key("disp", True, 2.0)  # priority 9 does not pre-empt an emergency grant: queued
    assert net.floor.holder == "alice" and net.floor.queue == ("disp",)
    net.key("alice", False, 3.0)
    assert net.floor.holder == "disp" and net.floor.emergency_by == "alice"  # still raised
    net.key("disp", False, 4.0)
    assert net.floor.cancel_emergency("disp", 9, 5.0).emergency == EmergencyRecord(
        EmergencyAction.CANCEL, "alice", "disp", 5.0, "e1")
    assert [record.action for record in net.floor.log] == [EmergencyAction.RAISE,
                                                           EmergencyAction.CANCEL]
