"""The turn state machine, transition by transition, then the key rules and the talk limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.client.turn import (
    TRANSITIONS,
    Action,
    Disconnected,
    EndReason,
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
    StartTransmit,
    StopTransmit,
    TransmitDrained,
    Trigger,
    TurnConfig,
    TurnMachine,
    TurnPhase,
    TurnTone,
    TurnView,
    TurnViewKind,
)

P, T = TurnPhase, Trigger
CONFIG = TurnConfig(max_talk=60.0, release_delay=0.15, debounce=0.04, drain_timeout=1.0)


def reach(phase: TurnPhase, *, queue: bool = False) -> TurnMachine:
    """A machine driven by real events into ``phase`` (every path ends by t = 1.2)."""
    m = TurnMachine(TurnConfig(**{**_fields(CONFIG), "queue": queue}))
    if phase is P.IDLE:
        return m
    m.handle(Press(), 0.0)
    if phase is P.REQUESTING:
        pass
    elif phase is P.CANCELLING:
        m.handle(Release(), 0.1)
        m.handle_timer(0.2)
    elif phase is P.QUEUED:
        m.handle(Queued(), 0.05)
    elif phase is P.BUSY:
        m.handle(Refused(), 0.05)
    elif phase is P.DENIED:
        m.handle(Refused(busy=False), 0.05)
    else:
        m.handle(Granted(), 0.05)
        if phase is P.REVOKED:
            m.handle(Revoked(EndReason.TIME_LIMIT), 0.5)
        elif phase in (P.RELEASING, P.DRAINING):
            m.handle(Release(), 1.0)
            m.handle_timer(1.05)
            if phase is P.DRAINING:
                m.handle_timer(1.2)
    assert m.phase is phase
    return m


def _fields(config: TurnConfig) -> dict:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


# When each phase's stimulus happens: before the release delay (ends 1.19) or drain timeout
# (2.2) would fire on their own.
WHEN = {P.RELEASING: 1.1, P.DRAINING: 1.5}
Stimulus = Callable[[TurnMachine, float], list[Action]]


def press(m: TurnMachine, t: float) -> list[Action]:
    return m.handle(Press(), t)


def release(m: TurnMachine, t: float) -> list[Action]:
    return m.handle(Release(), t) + m.handle_timer(t + CONFIG.debounce)


def event(e: object) -> Stimulus:
    return lambda m, t: m.handle(e, t)  # type: ignore[arg-type]


def release_delay_over(m: TurnMachine, t: float) -> list[Action]:
    return m.handle_timer(1.0 + CONFIG.release_delay)


def drain_timeout(m: TurnMachine, t: float) -> list[Action]:
    return m.handle_timer(1.2 + CONFIG.drain_timeout)


STIMULI: dict[Trigger, Stimulus] = {
    T.PRESS: press, T.RELEASE: release,
    T.GRANTED: event(Granted()),
    T.REFUSED: event(Refused()),
    T.REVOKED: event(Revoked(EndReason.PREEMPTED)),
    T.QUEUED: event(Queued()),
    T.QUEUE_EXPIRED: event(QueueExpired()),
    T.TRANSMIT_DRAINED: event(TransmitDrained()),
    T.DISCONNECTED: event(Disconnected()),
    T.RELEASE_DELAY_OVER: release_delay_over,
    T.DRAIN_TIMEOUT: drain_timeout,
}

BUSY_TONE, PERMIT = PlayTone(TurnTone.BUSY), PlayTone(TurnTone.PERMIT)

# (phase, trigger, next phase, actions): one row per entry of TRANSITIONS.
TABLE: list[tuple[TurnPhase, Trigger, TurnPhase, list[Action]]] = [
    (P.IDLE, T.PRESS, P.REQUESTING, [SendRequest(queue=False, emergency=False)]),

    (P.REQUESTING, T.RELEASE, P.CANCELLING, []),
    (P.REQUESTING, T.GRANTED, P.TALKING, [StartTransmit(), PERMIT]),
    (P.REQUESTING, T.REFUSED, P.BUSY, [BUSY_TONE]),
    (P.REQUESTING, T.QUEUED, P.QUEUED, [PlayTone(TurnTone.QUEUED)]),
    (P.REQUESTING, T.DISCONNECTED, P.REVOKED, []),

    (P.CANCELLING, T.PRESS, P.REQUESTING, []),
    (P.CANCELLING, T.GRANTED, P.IDLE, [SendRelease()]),
    (P.CANCELLING, T.QUEUED, P.IDLE, [SendRelease()]),
    (P.CANCELLING, T.REFUSED, P.IDLE, [BUSY_TONE]),
    (P.CANCELLING, T.DISCONNECTED, P.IDLE, []),

    (P.QUEUED, T.RELEASE, P.IDLE, [SendRelease()]),
    (P.QUEUED, T.GRANTED, P.TALKING, [StartTransmit(), PlayTone(TurnTone.YOUR_TURN)]),
    (P.QUEUED, T.QUEUE_EXPIRED, P.REVOKED, [BUSY_TONE]),
    (P.QUEUED, T.REFUSED, P.BUSY, [BUSY_TONE]),
    (P.QUEUED, T.REVOKED, P.REVOKED, []),
    (P.QUEUED, T.DISCONNECTED, P.REVOKED, []),

    (P.TALKING, T.RELEASE, P.RELEASING, []),
    (P.TALKING, T.REVOKED, P.REVOKED, [StopTransmit(), PlayTone(TurnTone.PREEMPTED)]),
    (P.TALKING, T.DISCONNECTED, P.REVOKED, [StopTransmit(), PlayTone(TurnTone.CUT_OFF)]),

    (P.RELEASING, T.PRESS, P.TALKING, []),
    (P.RELEASING, T.RELEASE_DELAY_OVER, P.DRAINING, [StopTransmit()]),
    (P.RELEASING, T.REVOKED, P.IDLE, [StopTransmit()]),
    (P.RELEASING, T.DISCONNECTED, P.IDLE, [StopTransmit()]),

    (P.DRAINING, T.PRESS, P.TALKING, [StartTransmit()]),
    (P.DRAINING, T.TRANSMIT_DRAINED, P.IDLE, [SendRelease()]),
    (P.DRAINING, T.DRAIN_TIMEOUT, P.IDLE, [SendRelease()]),
    (P.DRAINING, T.REVOKED, P.IDLE, []),
    (P.DRAINING, T.DISCONNECTED, P.IDLE, []),

    (P.BUSY, T.RELEASE, P.IDLE, []),
    (P.DENIED, T.RELEASE, P.IDLE, []),
    (P.REVOKED, T.RELEASE, P.IDLE, []),
]


def test_the_table_covers_every_transition_once() -> None:
    rows = [(phase, trigger) for phase, trigger, _, _ in TABLE]
    assert len(rows) == len(set(rows))
    assert set(rows) == set(TRANSITIONS)


@pytest.mark.parametrize(("phase", "trigger", "after", "actions"), TABLE,
                         ids=[f"{p}+{t}" for p, t, _, _ in TABLE])
def test_transition(phase: TurnPhase, trigger: Trigger, after: TurnPhase,
                    actions: list[Action]) -> None:
    m = reach(phase)
    assert STIMULI[trigger](m, WHEN.get(phase, 5.0)) == actions
    assert m.phase is after


# Every event pair not in the table is ignored: the phase stays and nothing is done. (Key
# triggers are reachable only where the key allows them; timer triggers only in their phase.)
IGNORED = [(phase, trigger) for phase in TurnPhase for trigger in Trigger
           if (phase, trigger) not in TRANSITIONS
           and trigger not in (T.PRESS, T.RELEASE, T.RELEASE_DELAY_OVER, T.DRAIN_TIMEOUT)]


@pytest.mark.parametrize(("phase", "trigger"), IGNORED)
def test_unlisted_pairs_are_ignored(phase: TurnPhase, trigger: Trigger) -> None:
    m = reach(phase)
    assert STIMULI[trigger](m, WHEN.get(phase, 5.0)) == []
    assert m.phase is phase


# ---- the key -------------------------------------------------------------------------------------

def test_queue_mode_and_emergency_go_into_the_request() -> None:
    m = reach(P.IDLE, queue=True)
    assert m.handle(Press(emergency=True), 0.0) == [SendRequest(queue=True, emergency=True)]


def test_auto_repeat_presses_while_held_send_nothing() -> None:
    m = reach(P.REQUESTING)
    assert all(m.handle(Press(), 0.01 * n) == [] for n in range(1, 50))
    assert m.phase is P.REQUESTING


def test_key_held_for_ten_seconds_while_busy_with_repeat_pairs_makes_one_request() -> None:
    """X auto-repeat: a release and a press every 33 ms, 2 ms apart, for 10 s."""
    m = TurnMachine(CONFIG)
    sent = m.handle(Press(), 0.0)
    sent += m.handle(Refused(), 0.05)
    t = 0.0
    while t < 10.0:
        t += 0.033
        sent += m.handle(Release(), t)
        sent += m.handle(Press(), t + 0.002)
        sent += m.handle_timer(t + 0.01)
    requests = [a for a in sent if isinstance(a, SendRequest)]
    assert requests == [SendRequest()]
    assert sent.count(BUSY_TONE) == 1
    assert m.phase is P.BUSY


def test_repeat_pairs_while_queued_do_not_leave_the_queue() -> None:
    m = reach(P.QUEUED, queue=True)
    actions = []
    for n in range(100):
        t = 1.0 + n * 0.033
        actions += m.handle(Release(), t) + m.handle(Press(), t + 0.001)
    assert actions == [] and m.phase is P.QUEUED


def test_a_press_after_the_debounce_is_a_fresh_press() -> None:
    m = reach(P.BUSY)
    assert m.handle(Release(), 1.0) == []
    assert m.phase is P.BUSY  # not yet confirmed
    assert m.next_deadline() == pytest.approx(1.0 + CONFIG.debounce)
    assert m.handle(Press(), 1.0 + CONFIG.debounce + 0.01) == [SendRequest()]
    assert m.phase is P.REQUESTING


def test_after_a_revoke_holding_the_key_never_requests_again() -> None:
    """The talk limit cannot be defeated by holding the key."""
    m = reach(P.TALKING)
    assert m.handle(Revoked(EndReason.TIME_LIMIT), 60.05) == [
        StopTransmit(), PlayTone(TurnTone.CUT_OFF)]
    sent = []
    for n in range(200):  # keep holding, with auto-repeat
        t = 60.1 + n * 0.03
        sent += m.handle(Press(), t) + m.handle(Release(), t + 0.01) + m.handle(Press(), t + 0.012)
    assert sent == []
    assert m.view(70.0) == TurnView(TurnViewKind.REVOKED, reason=EndReason.TIME_LIMIT)
    release(m, 80.0)
    assert m.view(80.1) == TurnView(TurnViewKind.IDLE, reason=EndReason.TIME_LIMIT)
    assert m.handle(Press(), 81.0) == [SendRequest()]
    assert m.view(81.0).reason is EndReason.NONE


def test_release_delay_keeps_transmitting_then_releases_after_the_drain() -> None:
    m = reach(P.TALKING)
    assert m.handle(Release(), 10.0) == []
    assert m.transmitting
    assert m.handle_timer(10.04) == []  # release confirmed, delay running
    assert m.phase is P.RELEASING and m.next_deadline() == pytest.approx(10.15)
    assert m.handle_timer(10.1) == []
    assert m.handle_timer(10.15) == [StopTransmit()]
    assert m.phase is P.DRAINING and m.holds_floor and not m.transmitting
    assert m.handle(TransmitDrained(), 10.17) == [SendRelease()]
    assert m.phase is P.IDLE and m.next_deadline() is None


def test_zero_release_delay_still_waits_for_the_debounce() -> None:
    m = TurnMachine(TurnConfig(release_delay=0.0, debounce=0.04))
    m.handle(Press(), 0.0)
    m.handle(Granted(), 0.01)
    assert m.handle(Release(), 1.0) == []
    assert m.handle(Press(), 1.01) == []  # auto-repeat pair: still talking
    assert m.phase is P.TALKING
    assert m.handle(Release(), 2.0) == []
    assert m.handle_timer(2.04) == [StopTransmit()]
    assert m.phase is P.DRAINING


def test_zero_debounce_confirms_releases_at_once() -> None:
    m = TurnMachine(TurnConfig(debounce=0.0))
    m.handle(Press(), 0.0)
    m.handle(Refused(), 0.01)
    assert m.handle(Release(), 1.0) == [] and m.phase is P.IDLE


def test_release_while_requesting_then_grant_releases_at_once_without_transmitting() -> None:
    m = reach(P.CANCELLING)
    assert m.view(0.3).kind is TurnViewKind.REQUESTING
    assert m.handle(Granted(), 0.3) == [SendRelease()]
    assert m.phase is P.IDLE


def test_a_late_answer_after_a_disconnect_is_ignored() -> None:
    m = reach(P.REQUESTING)
    m.handle(Disconnected(), 0.1)
    assert m.handle(Granted(), 0.2) == [] and m.phase is P.REVOKED
    assert m.view(0.2).reason is EndReason.DISCONNECTED


# ---- what the UI shows ---------------------------------------------------------------------------

@pytest.mark.parametrize(("phase", "view"), [
    (P.IDLE, TurnView(TurnViewKind.IDLE)),
    (P.REQUESTING, TurnView(TurnViewKind.REQUESTING)),
    (P.QUEUED, TurnView(TurnViewKind.QUEUED)),
    (P.BUSY, TurnView(TurnViewKind.BUSY)),
    (P.DENIED, TurnView(TurnViewKind.DENIED)),
    (P.REVOKED, TurnView(TurnViewKind.REVOKED, reason=EndReason.TIME_LIMIT)),
])
def test_view_per_phase(phase: TurnPhase, view: TurnView) -> None:
    assert reach(phase).view(1.3) == view


def test_preempted_shows_its_own_view() -> None:
    m = reach(P.QUEUED)
    m.handle(Granted(), 2.0)
    m.handle(Revoked(EndReason.PREEMPTED), 3.0)
    assert m.view(3.0) == TurnView(TurnViewKind.PREEMPTED, reason=EndReason.PREEMPTED)


@pytest.mark.parametrize("at", [0.05, 0.3, 1.0, 1.05, 10.55, 30.0, 59.0, 59.99, 60.05, 75.0])
def test_elapsed_plus_remaining_is_always_max_talk(at: float) -> None:
    view = reach(P.TALKING).view(at)  # granted at 0.05
    assert view.kind is TurnViewKind.TALKING
    assert view.elapsed + view.remaining == pytest.approx(60.0)
    assert view.elapsed_s + view.remaining_s == 60
    assert 0 <= view.remaining <= 60 and view.remaining_s >= 0


def test_whole_seconds_for_a_fractional_limit() -> None:
    m = TurnMachine(TurnConfig(max_talk=7.5))
    m.handle(Press(), 0.0)
    m.handle(Granted(), 0.0)
    assert [(v.elapsed_s, v.remaining_s) for v in (m.view(0.0), m.view(7.4), m.view(9.0))] == [
        (0, 8), (7, 1), (7, 1)]


# ---- the talk limit ------------------------------------------------------------------------------

def test_warnings_at_ten_and_three_seconds_before_the_limit() -> None:
    m = reach(P.TALKING)  # granted at 0.05, limit at 60.05
    assert m.next_deadline() == pytest.approx(50.05)
    assert m.handle_timer(50.0) == []
    assert m.handle_timer(50.05) == [PlayTone(TurnTone.TIME_WARNING_10S)]
    assert m.view(50.1).warning == 10
    assert m.next_deadline() == pytest.approx(57.05)
    assert m.handle_timer(57.05) == [PlayTone(TurnTone.TIME_WARNING_3S)]
    assert m.view(57.1).warning == 3
    assert m.next_deadline() is None
    assert m.handle(Revoked(EndReason.TIME_LIMIT), 60.05) == [
        StopTransmit(), PlayTone(TurnTone.CUT_OFF)]


def test_overdue_warnings_play_only_the_latest_and_a_short_limit_skips_the_long_one() -> None:
    m = reach(P.TALKING)
    assert m.handle_timer(58.0) == [PlayTone(TurnTone.TIME_WARNING_3S)]
    short = TurnMachine(TurnConfig(max_talk=8.0))
    short.handle(Press(), 0.0)
    short.handle(Granted(), 0.0)
    assert short.next_deadline() == pytest.approx(5.0)


def test_no_warning_after_release_and_a_new_grant_rearms_them() -> None:
    m = reach(P.TALKING)
    release(m, 5.0)
    assert m.handle_timer(50.1) == [StopTransmit()]  # the delay ended long ago; no warning
    m.handle(TransmitDrained(), 50.2)
    m.handle(Press(), 51.0)
    m.handle(Granted(), 51.1)
    assert m.view(51.1).warning == 0
    assert m.next_deadline() == pytest.approx(101.1)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TurnConfig(max_talk=0)
    with pytest.raises(ValueError):
        TurnConfig(release_delay=-1)
    with pytest.raises(ValueError):
        TurnConfig(debounce=float("nan"))


@pytest.mark.parametrize(("at", "reason"), [
    (10.0, EndReason.SERVER), (58.9, EndReason.SERVER), (59.1, EndReason.TIME_LIMIT),
    (60.3, EndReason.TIME_LIMIT)])
def test_likely_revoke_reason_for_a_base_server(at: float, reason: EndReason) -> None:
    assert reach(P.TALKING).likely_revoke_reason(at) is reason  # granted at 0.05


def test_likely_revoke_reason_when_not_talking_is_the_server() -> None:
    assert reach(P.IDLE).likely_revoke_reason(100.0) is EndReason.SERVER


# ---- any sequence at all -------------------------------------------------------------------------

KEY_OR_SERVER = st.one_of(
    st.tuples(st.just("press"), st.floats(0.0, 0.3)),
    st.tuples(st.just("release"), st.floats(0.0, 0.3)),
    st.tuples(st.sampled_from(["granted", "busy", "denied", "queued", "expired", "revoked",
                               "preempted", "drained", "disconnected", "timer"]),
              st.floats(0.0, 20.0)),
)
SERVER_EVENTS: dict[str, object] = {
    "granted": Granted(), "busy": Refused(), "denied": Refused(busy=False),
    "queued": Queued(), "expired": QueueExpired(),
    "revoked": Revoked(EndReason.TIME_LIMIT), "preempted": Revoked(EndReason.PREEMPTED),
    "drained": TransmitDrained(), "disconnected": Disconnected(),
}


@settings(max_examples=300, deadline=None)
@example(steps=[("press", 0.0), ("granted", 0.0), ("revoked", 8.0), ("release", 0.0),
                ("press", 0.04)], queue=False)  # a press exactly at the debounce's end
@given(steps=st.lists(KEY_OR_SERVER, max_size=60), queue=st.booleans())
def test_invariants_under_any_sequence(steps: list[tuple[str, float]], queue: bool) -> None:
    """At most one request per physical press and one in flight; transmit starts and stops
    alternate; never a release while transmitting; talking views add up."""
    m = TurnMachine(TurnConfig(max_talk=30.0, release_delay=0.15, debounce=0.04, queue=queue))
    now, key_down, last_up, fresh_presses, requests = 0.0, False, -1.0, 0, 0
    transmitting, in_flight = False, False
    for kind, dt in steps:
        now += dt
        if kind == "press":
            if not key_down and (last_up < 0 or now >= last_up + CONFIG.debounce):
                fresh_presses += 1
            key_down = True
            actions = m.handle(Press(), now)
        elif kind == "release":
            if key_down:
                last_up = now
            key_down = False
            actions = m.handle(Release(), now)
        elif kind == "timer":
            actions = m.handle_timer(now)
        else:
            event = SERVER_EVENTS[kind]
            if isinstance(event, Granted | Refused | Queued | Disconnected):
                in_flight = False
            actions = m.handle(event, now)  # type: ignore[arg-type]
        for action in actions:
            if isinstance(action, SendRequest):
                assert not in_flight
                requests, in_flight = requests + 1, True
            elif isinstance(action, StartTransmit):
                assert not transmitting
                transmitting = True
            elif isinstance(action, StopTransmit):
                assert transmitting
                transmitting = False
            elif isinstance(action, SendRelease):
                assert not transmitting
        assert requests <= fresh_presses
        assert m.transmitting == transmitting
        view = m.view(now)
        if view.kind is TurnViewKind.TALKING:
            assert view.elapsed + view.remaining == pytest.approx(30.0)
            assert view.elapsed_s + view.remaining_s == 30
