"""Notification coalescing, on ServerState directly (times passed in, no sockets).

A session granted ``coalesce`` hears the member changes of an interphone at most once
per window (the latest state); a base session hears every change; floor changes go
to everyone at once.
"""

from __future__ import annotations

from server_fixtures import GALL, sample_directory

from app.protocol.messages import InterphoneChanged
from app.server import ServerSettings, ServerState
from app.server.coalesce import COALESCE, NOTIFY_WINDOW, Coalescer
from app.server.outbox import Outbox

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)
USERS = ("alice", "bob", "carol", "dave", "eve")


def changes(outbox: Outbox, sid: int) -> list[tuple[int, str, tuple[str, ...] | None]]:
    return [(m.body.info.member_count, m.body.info.speaker, m.body.info.members)
            for s, m in outbox.messages if s == sid and isinstance(m.body, InterphoneChanged)]


def crowd(*, coalescing: set[str]) -> tuple[ServerState, dict[str, int]]:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    state.now = 100.0
    sids = {}
    for i, uid in enumerate(USERS):
        sids[uid] = i + 1
        features = (COALESCE,) if uid in coalescing else ()
        state.login(i + 1, uid, f"pw-{uid}", "127.0.0.1", features)
    return state, sids


def test_the_feature_is_granted_when_asked() -> None:
    state, sids = crowd(coalescing={"alice"})
    assert state.sessions[sids["alice"]].features == {COALESCE}
    assert state.sessions[sids["bob"]].features == frozenset()


def test_a_coalescing_member_hears_a_burst_of_joins_once_then_the_latest_state() -> None:
    state, sids = crowd(coalescing={"alice"})
    outbox = state.join(sids["alice"], GALL).outbox
    assert changes(outbox, sids["alice"]) == [(1, "", ("alice",))]  # a quiet interphone: now
    burst = Outbox()
    for uid in ("bob", "carol", "dave"):
        state.now += NOTIFY_WINDOW / 10
        burst.extend(state.join(sids[uid], GALL).outbox)
    assert changes(burst, sids["alice"]) == []  # held back
    deadline = state.next_deadline()
    assert deadline is not None and deadline <= 100.0 + NOTIFY_WINDOW
    assert changes(state.handle_timer(deadline), sids["alice"]) == [
        (4, "", ("alice", "bob", "carol", "dave"))]
    assert changes(state.handle_timer(deadline + 1), sids["alice"]) == []  # nothing more


def test_a_base_member_hears_every_change_of_the_same_burst() -> None:
    state, sids = crowd(coalescing={"alice"})
    state.join(sids["bob"], GALL)
    heard = Outbox()
    for uid in ("carol", "dave", "eve"):
        state.now += NOTIFY_WINDOW / 10
        heard.extend(state.join(sids[uid], GALL).outbox)
    assert [c[0] for c in changes(heard, sids["bob"])] == [2, 3, 4]
    deadline = state.next_deadline()
    assert deadline is not None
    assert changes(state.handle_timer(deadline), sids["bob"]) == []  # told once, not twice


def test_a_floor_change_is_told_at_once_and_settles_what_was_held() -> None:
    state, sids = crowd(coalescing={"alice", "bob"})
    state.join(sids["alice"], GALL)
    state.now += NOTIFY_WINDOW / 10
    held = state.join(sids["bob"], GALL).outbox
    assert changes(held, sids["alice"]) == []
    state.now += NOTIFY_WINDOW / 10
    granted = state.speak(sids["bob"], GALL, True, state.now).outbox
    assert changes(granted, sids["alice"]) == [(2, "bob", ("alice", "bob"))]
    assert all(not changes(state.handle_timer(t), sids["alice"])
               for t in (state.now + NOTIFY_WINDOW, state.now + 1))


def test_a_change_after_a_quiet_window_is_told_at_once() -> None:
    state, sids = crowd(coalescing={"alice"})
    state.join(sids["alice"], GALL)
    state.now += NOTIFY_WINDOW * 2
    assert changes(state.join(sids["bob"], GALL).outbox, sids["alice"]) == [
        (2, "", ("alice", "bob"))]


def test_a_join_storm_costs_each_coalescing_member_a_few_notifications() -> None:
    state, sids = crowd(coalescing=set(USERS))
    total = Outbox()
    for uid in USERS:
        state.now += 0.001
        total.extend(state.join(sids[uid], GALL).outbox)
    deadline = state.next_deadline()
    assert deadline is not None
    total.extend(state.handle_timer(deadline))
    for uid in USERS:
        heard = changes(total, sids[uid])
        assert len(heard) <= 2 and heard[-1][0] == len(USERS), (uid, heard)


def test_the_coalescer_holds_only_within_its_window() -> None:
    coalescer: Coalescer[str] = Coalescer(0.05)
    assert not coalescer.hold("a", 1.0)  # never told
    coalescer.told("a", 1.0)
    assert coalescer.hold("a", 1.01) and coalescer.hold("a", 1.02)
    assert coalescer.next_deadline() == 1.05
    assert coalescer.take_due(1.04) == [] and coalescer.take_due(1.05) == ["a"]
    assert not coalescer.hold("a", None)  # no clock known: never held
