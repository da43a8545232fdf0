"""ClientSession byte by byte: no sockets, no clock (``now`` is passed in)."""

from __future__ import annotations

import pytest
from client_fixtures import events, logged_in_session, sent, wire

from app.client.errors import LocalProtocolError, RemoteProtocolError
from app.client.session import (
    PATIENCE,
    ClientSession,
    ConnectionClosed,
    NotificationReceived,
    RequestRefused,
    RequestTimedOut,
    ResponseReceived,
    ResponseUnreadable,
    SessionKicked,
    SessionState,
)
from app.protocol import (
    ErrorReply,
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    Kicked,
    Login,
    LoginResult,
    MembersRequest,
    MembersResult,
    Message,
    MessageKind,
    Ping,
    SpeakRequest,
    SyncRequest,
    SyncResult,
)

G58 = InterphoneId.group("58")
CHANGED = InterphoneChanged(InterphoneInfo(G58, "58", 1, "", ("me",)))


def frame_bytes(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


# ---- login first ---------------------------------------------------------------------------


def test_login_is_the_first_request_and_its_bytes() -> None:
    session = ClientSession("sung", "secret")
    assert session.state is SessionState.LOGGED_OUT
    with pytest.raises(LocalProtocolError, match="login must succeed first"):
        session.send_request(SyncRequest(()), now=0.0)
    assert session.data_to_send() == b""  # nothing went out

    seq = session.login(now=0.0)
    [message] = sent(session)
    assert message == Message.request(seq, Login("sung", "secret"))
    assert session.state is SessionState.LOGGING_IN
    with pytest.raises(LocalProtocolError):
        session.send_request(Ping(), now=0.0)  # not while the login is in flight
    with pytest.raises(LocalProtocolError):
        session.login(now=0.0)  # one login at a time

    result = LoginResult("sung", 9400, 15, 60)
    session.receive_data(wire(Message.response(seq, result)))
    assert events(session) == [ResponseReceived(seq, Login("sung", "secret"), result)]
    assert session.logged_in and session.login_result == result
    assert session.features == frozenset()  # asked for none, granted none
    session.send_request(SyncRequest(()), now=0.0)
    assert [m.body for m in sent(session)] == [SyncRequest(())]


def test_a_refused_login_can_be_tried_again() -> None:
    session = ClientSession("sung", "wrong")
    seq = session.login(now=0.0)
    refusal = ErrorReply("login", 401, "login refused")
    session.receive_data(wire(Message.response(seq, refusal)))
    assert events(session) == [RequestRefused(seq, Login("sung", "wrong"), refusal)]
    assert session.state is SessionState.LOGGED_OUT
    assert session.next_deadline() is None  # no keepalive for a session not logged in
    with pytest.raises(LocalProtocolError):
        session.send_request(Ping(), now=1.0)
    again = session.login(now=1.0)
    assert again != seq


@pytest.mark.parametrize("body", [Login("me", "t"), LoginResult("me", 1, 1, 1), Kicked(),
                                  SyncResult(()), CHANGED])
def test_only_request_bodies_may_be_sent(body) -> None:
    session = logged_in_session()
    with pytest.raises(LocalProtocolError):
        session.send_request(body, now=1.0)
    assert session.data_to_send() == b""


def test_a_request_too_large_to_frame_is_local_misuse_not_a_peer_error() -> None:
    session = ClientSession("me", "x" * 70_000)
    with pytest.raises(LocalProtocolError) as info:
        session.login(now=0.0)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, RemoteProtocolError)
    assert session.state is SessionState.LOGGED_OUT and session.pending == ()


def test_seqs_are_fresh_for_every_request() -> None:
    session = logged_in_session()
    seqs = [session.send_request(Ping(), now=1.0) for _ in range(5)]
    assert len(set(seqs)) == 5
    assert [(m.kind, m.seq) for m in sent(session)] == [(MessageKind.REQUEST, s) for s in seqs]


# ---- answers -------------------------------------------------------------------------------


def test_a_refusal_keeps_the_request_and_the_error() -> None:
    session = logged_in_session()
    seq = session.send_request(SpeakRequest(True, G58), now=1.0)
    busy = ErrorReply("speak", 409, "lixx is speaking", "on", "group_58")
    session.receive_data(wire(Message.response(seq, busy)))
    assert events(session) == [RequestRefused(seq, SpeakRequest(True, G58), busy)]
    assert session.pending == ()


def test_an_answer_of_the_wrong_kind_is_a_peer_error() -> None:
    session = logged_in_session()
    seq = session.send_request(JoinRequest(G58), now=1.0)
    session.receive_data(wire(Message.response(seq, SyncResult(()))))
    [event] = events(session)
    assert isinstance(event, ResponseUnreadable) and event.seq == seq
    assert isinstance(event.error, RemoteProtocolError)
    assert str(event.error) == "answered with SyncResult"  # (the request: event.request)
    assert session.logged_in  # the session goes on


def test_an_unreadable_answer_fails_its_request_only() -> None:
    session = logged_in_session()
    seq = session.send_request(MembersRequest(G58), now=1.0)
    broken = (f"<message type='response' seq='{seq}' module='MID_INTERPHONE'>"
              "<interphone type='sync' id='group_58' member_count='x'/></message>").encode()
    session.receive_data(frame_bytes(broken) + wire(Message.notification(CHANGED)))
    taken = events(session)
    assert [type(e) for e in taken] == [ResponseUnreadable, NotificationReceived]
    assert taken[0].seq == seq  # type: ignore[union-attr]


def test_garbage_without_a_pending_seq_is_ignored() -> None:
    session = logged_in_session()
    seq = session.send_request(Ping(), now=1.0)
    session.receive_data(frame_bytes(b"<not xml") + frame_bytes(b"<message/>")
                         + wire(Message.response("999", Ping()),  # nobody asked
                                Message.frame_error("bad frame"),
                                Message.request("7", Ping()),  # servers do not ask
                                Message.response(seq, Ping())))
    assert events(session) == [ResponseReceived(seq, Ping(), Ping())]
    assert session.logged_in


def test_a_cancelled_request_ignores_its_late_answer() -> None:
    session = logged_in_session()
    seq = session.send_request(JoinRequest(G58), now=1.0)
    session.cancel(seq)
    assert session.pending == ()
    session.receive_data(wire(Message.response(seq, JoinResult(CHANGED.info))))
    assert events(session) == []


# ---- timers --------------------------------------------------------------------------------


def test_a_request_times_out_at_its_deadline_and_a_late_answer_is_ignored() -> None:
    session = logged_in_session(request_timeout=5.0)
    seq = session.send_request(SyncRequest(()), now=10.0, timeout=2.0)
    assert session.next_deadline() == 12.0
    session.handle_timer(11.999)
    assert events(session) == []
    session.handle_timer(12.0)
    assert events(session) == [RequestTimedOut(seq, SyncRequest(()), 2.0)]
    session.receive_data(wire(Message.response(seq, SyncResult(()))))
    assert events(session) == []


def test_a_silent_login_times_out() -> None:
    session = ClientSession("me", "t", request_timeout=0.3)
    seq = session.login(now=0.0)
    assert session.next_deadline() == 0.3
    session.handle_timer(0.3)
    assert events(session) == [RequestTimedOut(seq, Login("me", "t"), 0.3)]
    assert session.state is SessionState.LOGGED_OUT


def test_keepalive_pings_after_keepalive_seconds_of_silence() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    assert session.next_deadline() == 15.0
    session.handle_timer(14.9)
    assert sent(session) == []
    session.handle_timer(15.0)
    [ping] = sent(session)
    assert ping.kind is MessageKind.REQUEST and ping.body == Ping()
    assert session.pings_sent == 1
    session.receive_data(wire(Message.response(ping.seq, Ping())))
    assert events(session) == []  # the session answers its own pings
    assert session.next_deadline() == 30.0


def test_any_request_postpones_the_ping() -> None:
    session = logged_in_session(now=0.0, keepalive=15)
    seq = session.send_request(SyncRequest(()), now=10.0)
    assert sent(session) == [Message.request(seq, SyncRequest(()))]
    session.receive_data(wire(Message.response(seq, SyncResult(()))))
    assert session.next_deadline() == 25.0
    session.handle_timer(15.0)
    assert sent(session) == [] and session.pings_sent == 0
    session.handle_timer(25.0)
    assert [m.body for m in sent(session)] == [Ping()]


@pytest.mark.parametrize("keepalive", [1, 15, 300])
def test_the_idle_rule_never_lets_the_server_see_3_keepalives_of_silence(keepalive) -> None:
    session = logged_in_session(now=0.0, keepalive=keepalive)
    last_tx, now = 0.0, 0.0
    while now < 40 * keepalive:
        now = session.next_deadline() or pytest.fail("no timer while logged in")
        session.handle_timer(now)
        for message in sent(session):
            assert now - last_tx <= keepalive  # well inside the server's 3 x keepalive
            last_tx = now
            session.receive_data(wire(Message.response(message.seq, Ping())))
    assert session.pings_sent >= 39


def test_an_unanswered_ping_closes_the_session() -> None:
    session = logged_in_session(now=0.0, keepalive=15, request_timeout=5.0)
    join = session.send_request(JoinRequest(G58), now=14.0, timeout=100.0)
    session.handle_timer(29.0)  # 15 s after the join: ping
    [ping] = sent(session)[-1:]
    assert ping.body == Ping() and session.next_deadline() == 34.0
    session.handle_timer(34.0)
    [closed] = events(session)
    assert isinstance(closed, ConnectionClosed)
    assert closed.reason == "ping not answered within 5 s" and closed.error is None
    assert closed.abandoned == (join,)  # the ping is the session's own
    assert session.closed and session.next_deadline() is None
    with pytest.raises(LocalProtocolError):
        session.send_request(Ping(), now=35.0)


def test_a_ping_queued_behind_messages_still_coming_is_waited_for_a_few_timeouts() -> None:
    """A burst of notifications read slower than it came (a busy machine): the ping's
    answer is behind them in the stream. The session closed as "ping not answered" while
    the server was plainly there; whole messages still coming now start the ping's
    timeout again, PATIENCE times at most; bytes that never end a frame do not."""
    session = logged_in_session(now=0.0, keepalive=15, request_timeout=5.0)
    session.handle_timer(15.0)
    [ping] = sent(session)
    for extension in range(PATIENCE):
        session.receive_data(wire(Message.notification(CHANGED)))
        session.handle_timer(session.next_deadline() or pytest.fail("no deadline"))
        assert not session.closed
        assert session.next_deadline() == 20.0 + 5.0 * (extension + 1)
    session.receive_data(wire(Message.notification(CHANGED)))
    session.handle_timer(20.0 + 5.0 * PATIENCE)  # a server that never answers
    assert session.closed
    assert session.close_reason == f"ping not answered within {5 * (1 + PATIENCE)} s"

    session = logged_in_session(now=0.0, keepalive=15, request_timeout=5.0)
    session.handle_timer(15.0)
    [ping] = sent(session)
    session.receive_data(wire(Message.notification(CHANGED)))
    session.handle_timer(20.0)  # extended once
    session.receive_data(wire(Message.response(ping.seq, Ping())))  # then answered
    assert not session.closed and session.next_deadline() == 30.0  # 15 s after the ping
    session.handle_timer(30.0)  # the next ping has its own patience
    assert [m.body for m in sent(session)] == [Ping()]
    session.receive_data(wire(Message.notification(CHANGED)))
    session.handle_timer(35.0)
    assert not session.closed and session.next_deadline() == 40.0


def test_a_request_queued_behind_messages_still_coming_is_waited_for_a_few_timeouts() -> None:
    """The same patience for a request: a members request sent into a burst of
    notifications timed out while its answer was queued behind them, and the caller saw
    "no answer within 2 s" from a server that was plainly there."""
    session = logged_in_session(now=0.0, keepalive=60, request_timeout=2.0)
    seq = session.send_request(MembersRequest(G58), now=1.0)
    for extension in range(PATIENCE):
        session.receive_data(wire(Message.notification(CHANGED)))
        session.handle_timer(session.next_deadline() or pytest.fail("no deadline"))
        assert [e for e in events(session) if not isinstance(e, NotificationReceived)] == []
        assert session.next_deadline() == 3.0 + 2.0 * (extension + 1)
    session.receive_data(wire(Message.notification(CHANGED)))
    session.handle_timer(3.0 + 2.0 * PATIENCE)
    timed_out = [e for e in events(session) if isinstance(e, RequestTimedOut)]
    assert timed_out == [RequestTimedOut(seq, MembersRequest(G58), 2.0 * (1 + PATIENCE))]
    assert not session.closed  # a request's timeout does not close the session

    session = logged_in_session(now=0.0, keepalive=60, request_timeout=2.0)
    seq = session.send_request(MembersRequest(G58), now=1.0)
    session.receive_data(wire(Message.notification(CHANGED)))
    session.handle_timer(3.0)  # extended once
    answer = MembersResult(InterphoneInfo(G58, "58", 1, "", ("me",)))
    session.receive_data(wire(Message.response(seq, answer)))
    assert ResponseReceived(seq, MembersRequest(G58), answer) in events(session)

    session = logged_in_session(now=0.0, keepalive=60, request_timeout=2.0)
    seq = session.send_request(MembersRequest(G58), now=1.0)
    session.receive_data(frame_bytes(b"<message")[:-2])  # bytes, never a whole frame
    session.handle_timer(3.0)
    assert RequestTimedOut(seq, MembersRequest(G58), 2.0) in events(session)


def test_bytes_that_never_end_a_frame_do_not_keep_a_ping_waiting() -> None:
    session = logged_in_session(now=0.0, keepalive=15, request_timeout=5.0)
    session.handle_timer(15.0)
    session.receive_data(frame_bytes(b"<message")[:-2])  # a frame begun, never finished
    session.handle_timer(20.0)
    assert session.closed and session.close_reason == "ping not answered within 5 s"


def test_keepalive_can_be_overridden() -> None:
    session = logged_in_session(now=0.0, keepalive=15, ping_interval=2.0)
    assert session.ping_interval == 2.0 and session.next_deadline() == 2.0


# ---- the end of a session ------------------------------------------------------------------


def test_kicked_ends_the_session_and_abandons_pending_requests() -> None:
    session = logged_in_session()
    seq = session.send_request(MembersRequest(G58), now=1.0)
    session.receive_data(wire(Message.notification(Kicked("login_elsewhere")),
                              Message.notification(CHANGED)))
    assert events(session) == [SessionKicked("login_elsewhere"),
                               ConnectionClosed("kicked: login_elsewhere", (seq,))]
    assert session.closed


def test_an_oversized_frame_is_a_peer_error_that_closes() -> None:
    session = logged_in_session()
    seq = session.send_request(Ping(), now=1.0)
    session.receive_data((70_000).to_bytes(4, "big") + b"<")
    [closed] = events(session)
    assert isinstance(closed, ConnectionClosed) and closed.abandoned == (seq,)
    assert isinstance(closed.error, RemoteProtocolError)
    session.receive_data(wire(Message.notification(CHANGED)))
    assert events(session) == []  # nothing is read after that


def test_connection_lost_abandons_everything_once() -> None:
    session = logged_in_session()
    first = session.send_request(Ping(), now=1.0)
    second = session.send_request(SyncRequest(()), now=1.0)
    session.connection_lost("connection closed: reset")
    session.connection_lost("again")
    assert events(session) == [ConnectionClosed("connection closed: reset", (first, second))]
    assert session.data_to_send() == b""


# ---- login features ------------------------------------------------------------------------


def test_features_are_asked_for_at_login_and_only_asked_ones_count() -> None:
    session = ClientSession("me", "t", features=("queue", "presence", "queue"))
    seq = session.login(now=0.0)
    [login] = sent(session)
    assert login.body == Login("me", "t", features=("queue", "presence"))
    granted = LoginResult("me", 9400, 15, 60, features=("presence", "surprise"))
    session.receive_data(wire(Message.response(seq, granted)))
    assert session.features == frozenset({"presence"})  # "surprise" was never asked for


@pytest.mark.parametrize("name", ["Queue", "", "a b", "x" * 33])
def test_a_bad_feature_name_is_local_misuse(name: str) -> None:
    with pytest.raises(LocalProtocolError):
        ClientSession("me", "t", features=(name,))
