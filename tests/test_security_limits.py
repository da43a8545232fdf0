"""Per-address limits (app/server/addr_limits.py): connections and sessions per address,
rate-limited refusal logging, the recvbegin token bucket, the byte budget of a connection."""

from __future__ import annotations

import logging

import pytest

from app.protocol.framing import encode_frame
from app.server.addr_limits import (
    AddressLimitSettings,
    ConnectionLimits,
    RecvBeginBuckets,
    RefusalLog,
    address_key,
)
from app.server.directory import Directory
from app.server.ratelimit import ByteBudget
from app.server.settings import ServerSettings
from app.server.state import ServerState

A, B = "198.51.100.7", "203.0.113.9"


@pytest.mark.parametrize(("peer", "key"), [
    (("198.51.100.7", 50000), A),
    (("::ffff:198.51.100.7", 50000, 0, 0), A),
    (("fe80::1%eth0", 1, 0, 2), "fe80::1"),
    (("2001:DB8::1", 9400, 0, 0), "2001:db8::1"),
    ("127.0.0.1", "127.0.0.1"),
    (None, ""),
])
def test_address_key(peer: object, key: str) -> None:
    assert address_key(peer) == key  # type: ignore[arg-type]


def test_unauthenticated_connections_are_limited_per_address() -> None:
    limits = ConnectionLimits(AddressLimitSettings(max_unauthenticated_per_address=3))
    assert [limits.open(A) for _ in range(4)] == [True, True, True, False]
    assert limits.open(B)  # another address is not affected
    limits.close(A, authenticated=False)
    assert limits.open(A)
    assert limits.unauthenticated(A) == 3


def test_logging_in_frees_an_unauthenticated_slot_and_takes_a_session() -> None:
    limits = ConnectionLimits(AddressLimitSettings(max_unauthenticated_per_address=2,
                                                   max_sessions_per_address=2))
    for _ in range(2):
        assert limits.open(A) and limits.authenticate(A)
    assert (limits.unauthenticated(A), limits.sessions(A)) == (0, 2)
    assert limits.open(A)
    assert not limits.authenticate(A)  # third session refused...
    assert limits.unauthenticated(A) == 1  # ...and the connection is still unauthenticated
    limits.close(A, authenticated=False)
    limits.close(A, authenticated=True)
    assert limits.open(A) and limits.authenticate(A)
    for authenticated in (True, True):
        limits.close(A, authenticated)
    assert len(limits) == 0  # no entries left behind


def test_closing_more_than_opened_does_not_go_negative() -> None:
    limits = ConnectionLimits()
    limits.close(A, authenticated=True)
    limits.close(A, authenticated=False)
    assert (limits.sessions(A), limits.unauthenticated(A), len(limits)) == (0, 0, 0)
    assert limits.unauthenticated_total == 0


def test_the_unauthenticated_total_is_the_sum_over_addresses() -> None:
    """What the TLS port counts its handshakes under way by, per address and in all."""
    limits = ConnectionLimits(AddressLimitSettings(max_unauthenticated_per_address=2))
    assert [limits.open(address) for address in (A, A, A, B)] == [True, True, False, True]
    assert limits.unauthenticated_total == 3  # the refused one is not counted
    assert limits.authenticate(A)
    assert limits.unauthenticated_total == 2
    limits.close(B, authenticated=False)
    limits.close(B, authenticated=False)  # once too often: nothing more released
    limits.close(A, authenticated=True)
    assert limits.unauthenticated_total == 1
    limits.close(A, authenticated=False)
    assert (limits.unauthenticated_total, len(limits)) == (0, 0)


@pytest.mark.parametrize("bad", [
    {"max_sessions_per_address": 0},
    {"max_unauthenticated_per_address": -1},
    {"recvbegin_burst": True},
    {"refusal_log_interval": 0},
    {"recvbegin_rate": -1.0},
])
def test_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AddressLimitSettings(**bad)  # type: ignore[arg-type]


def test_refusals_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    log = RefusalLog(interval=60.0)
    with caplog.at_level(logging.WARNING, logger="app.server.addr_limits"):
        first = log.refused(A, "too many unauthenticated connections", 0.0)
        quiet = [log.refused(A, "too many unauthenticated connections", t / 1000)
                 for t in range(1, 10_000)]  # within 10 s
        other = log.refused(B, "too many sessions", 1.0)
        later = log.refused(A, "too many unauthenticated connections", 61.0)
    assert first == f"refused {A}: too many unauthenticated connections"
    assert quiet == [None] * 9_999
    assert other == f"refused {B}: too many sessions"
    assert later == f"refused {A} 10000 more times in 61 s: too many unauthenticated connections"
    assert [r.getMessage() for r in caplog.records] == [first, other, later]


def test_the_timer_reports_what_the_interval_held_back() -> None:
    log = RefusalLog(interval=60.0)
    log.refused(A, "limit", 0.0)
    log.refused(B, "limit", 10.0)
    for _ in range(5):
        log.refused(A, "limit", 30.0)
    assert log.next_deadline() == 60.0
    assert log.handle_timer(59.0) == []
    assert log.handle_timer(60.0) == [f"refused {A} 5 more times in 60 s: limit"]
    assert log.next_deadline() == 70.0
    assert log.handle_timer(70.0) == []  # B had nothing held back
    assert len(log) == 0 and log.next_deadline() is None
    assert log.refused(A, "limit", 80.0) == f"refused {A}: limit"


def test_refusal_log_is_bounded() -> None:
    log = RefusalLog(interval=60.0, max_tracked=100)
    for n in range(5000):
        log.refused(f"10.{n // 250}.{n % 250}.1", "limit", 0.0)
    assert len(log) == 100


def test_recvbegin_bucket_allows_a_burst_then_the_rate() -> None:
    buckets = RecvBeginBuckets(rate=10.0, burst=5)
    assert [buckets.allow(A, 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert buckets.allow(B, 0.0)  # per address
    assert not buckets.allow(A, 0.05)
    assert buckets.allow(A, 0.1)
    assert not buckets.allow(A, 0.1)
    allowed = sum(buckets.allow(A, 1.0 + n / 1000) for n in range(1000))  # 1000/s for 1 s
    assert allowed == pytest.approx(5 + 10, abs=1)


def test_recvbegin_buckets_are_forgotten_when_full_and_bounded() -> None:
    buckets = RecvBeginBuckets(rate=10.0, burst=5, max_tracked=100)
    buckets.allow(A, 0.0)
    assert buckets.next_deadline() == pytest.approx(0.1)
    buckets.handle_timer(0.05)
    assert len(buckets) == 1
    buckets.handle_timer(0.1)
    assert len(buckets) == 0
    for n in range(1000):
        buckets.allow(f"10.0.{n // 250}.{n % 250}", 1.0)
    assert len(buckets) == 100


def test_buckets_from_settings() -> None:
    buckets = RecvBeginBuckets.from_settings(AddressLimitSettings(recvbegin_rate=1.0,
                                                                  recvbegin_burst=2))
    assert [buckets.allow(A, 0.0) for _ in range(3)] == [True, True, False]


def test_the_byte_budget_pauses_reading_until_it_is_paid_back() -> None:
    budget = ByteBudget(rate=1000.0, burst=4000, now=0.0)
    assert budget.spend(4000, 0.0) == 0.0  # the burst
    assert budget.spend(500, 0.0) == pytest.approx(0.5)  # 500 bytes over at 1000/s
    assert budget.spend(0, 0.5) == 0.0  # paid back
    assert budget.spend(1000, 10.0) == 0.0  # refilled, never above the burst
    assert budget.spend(3500, 10.0) == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [{"read_burst": 0}, {"login_read_rate": 0},
                                 {"read_rate": -1.0}, {"login_read_burst": 1.5}])
def test_byte_budget_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ServerSettings(**bad)  # type: ignore[arg-type]


def test_the_login_budget_is_replaced_by_the_sessions_at_login() -> None:
    settings = ServerSettings(auth="open", login_read_rate=10.0, login_read_burst=70000,
                              read_rate=1e6, read_burst=10**6)
    state = ServerState(Directory.demo(), settings)
    assert state.connect(1, "127.0.0.1", 0.0)
    login = b"<message type='request' seq='1' module='MID_SESSION'>" \
            b"<login uid='alice' token='x' version='1'/></message>"
    state.receive_data(1, encode_frame(login), 0.0)
    assert 1 in state.sessions
    assert state.read_pause(1, 500000, 0.0) == 0.0  # the session's budget now
    assert state.connect(2, "127.0.0.1", 0.0)
    assert state.read_pause(2, 70010, 0.0) == pytest.approx(1.0)  # 10 bytes over at 10/s
