"""The per-connection rules, byte-level on ServerState: no sockets, no event loop, no clock.

Bytes go in through ``receive_data(sid, data, now)``; what comes out is an Outbox
whose messages are encoded to the exact frames a socket would carry. Time only
moves when a test says so, through ``handle_timer(now)``.
"""

from __future__ import annotations

import pytest
from server_fixtures import G58, sample_directory

from app.protocol import (
    ErrCode,
    ErrorReply,
    JoinRequest,
    Kicked,
    Login,
    LoginResult,
    Message,
    MessageKind,
    Ping,
    SpeakRequest,
    decode_message,
    encode_frame,
    encode_message,
)
from app.server import ServerSettings, ServerState
from app.server.outbox import Outbox

SETTINGS = ServerSettings(auth="token", keepalive=15, login_timeout=10, rate_limit=1,
                          rate_burst=3, max_malformed=10, write_stall_timeout=30)
T0 = 1000.0
SID = 7


def frame(message: Message) -> bytes:
    return encode_frame(encode_message(message))


def request(seq: str, body: object) -> bytes:
    return frame(Message.request(seq, body))


LOGIN = request("1", Login("alice", "pw-alice"))


def make_state(settings: ServerSettings = SETTINGS) -> ServerState:
    state = ServerState(sample_directory(), settings, udp_port=9400)
    assert state.connect(SID, "127.0.0.1", T0)
    return state


def replies(outbox: Outbox, sid: int = SID) -> list[Message]:
    """What the peer would read: each message to ``sid`` through the wire format."""
    return [decode_message(encode_message(m)) for s, m in outbox.messages if s == sid]


def errcodes(outbox: Outbox) -> list[int | None]:
    return [m.body.errcode if isinstance(m.body, ErrorReply) else None for m in replies(outbox)]


# ---- framing ---------------------------------------------------------------------------------


def test_bytes_split_anywhere_make_the_same_answers() -> None:
    whole = make_state().receive_data(SID, LOGIN + request("2", Ping()), T0)
    state = make_state()
    data = LOGIN + request("2", Ping())
    pieces = [state.receive_data(SID, data[i:i + 5], T0) for i in range(0, len(data), 5)]
    split = [m for outbox in pieces for m in replies(outbox)]
    assert split == replies(whole)
    assert [m.seq for m in split] == ["1", "2"]
    assert isinstance(split[0].body, LoginResult) and split[1].body == Ping()


def test_an_oversize_frame_header_aborts_and_later_bytes_are_ignored() -> None:
    state = make_state()
    outbox = state.receive_data(SID, (65537).to_bytes(4, "big"), T0)
    assert outbox.aborts == [SID] and not outbox.closes and not outbox.messages
    assert not state.receive_data(SID, LOGIN, T0)


# ---- login first -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [Ping(), JoinRequest(G58), SpeakRequest(True, G58)])
def test_anything_but_login_before_login_is_refused_with_401(body) -> None:
    state = make_state()
    outbox = state.receive_data(SID, request("5", body), T0)
    [reply] = replies(outbox)
    assert reply.seq == "5" and reply.body.errcode == ErrCode.UNAUTHORIZED
    assert not outbox.closes and SID not in state.sessions
    outbox = state.receive_data(SID, LOGIN + request("6", body), T0 + 1)
    assert errcodes(outbox)[0] is None and SID in state.sessions


def test_a_refused_login_leaves_the_connection_open_and_not_logged_in() -> None:
    state = make_state()
    outbox = state.receive_data(SID, request("1", Login("alice", "wrong")), T0)
    assert errcodes(outbox) == [ErrCode.UNAUTHORIZED]
    assert errcodes(state.receive_data(SID, request("2", Ping()), T0)) == [401]


def test_responses_and_notifications_from_a_client_are_not_answered() -> None:
    state = make_state()
    stray = frame(Message.response("9", Ping())) + frame(Message.notification(Kicked()))
    assert not state.receive_data(SID, stray, T0).messages


# ---- timeouts --------------------------------------------------------------------------------


def test_no_login_within_the_login_timeout_closes() -> None:
    state = make_state()
    assert state.next_deadline() == T0 + 10
    assert not state.handle_timer(T0 + 9.99)
    outbox = state.handle_timer(T0 + 10)
    assert outbox.closes == [SID] and not outbox.aborts
    assert any("no login within 10s" in line for line in outbox.log_lines)
    assert not state.receive_data(SID, LOGIN, T0 + 10)  # closing: bytes ignored


def test_the_login_timeout_does_not_count_the_servers_own_token_check() -> None:
    """A login checked off the loop for longer than ``login_timeout`` (a slow hash on a
    loaded server, behind a flood of wrong logins) was closed as "no login within 10s"
    before its answer; the client's time starts again at a refusal."""
    state = make_state()
    state.check_tokens_off_loop = True
    outbox = state.receive_data(SID, LOGIN, T0 + 1)
    assert [check.session_id for check in outbox.login_checks] == [SID]
    assert not state.handle_timer(T0 + 30)  # still being checked: not closed
    refused = state.login_checked(SID, ErrCode.UNAUTHORIZED, "login refused", T0 + 31)
    assert errcodes(refused) == [ErrCode.UNAUTHORIZED] and not refused.closes
    assert state.next_deadline() == T0 + 31 + 10  # its time to log in again
    assert not state.handle_timer(T0 + 40.99)
    outbox = state.handle_timer(T0 + 41)
    assert outbox.closes == [SID]
    assert any("no login within 10s" in line for line in outbox.log_lines)

    state = make_state()
    state.check_tokens_off_loop = True
    state.receive_data(SID, LOGIN, T0 + 1)
    assert not state.handle_timer(T0 + 30)
    accepted = state.login_checked(SID, None, "", T0 + 31)
    assert [type(m.body) for m in replies(accepted)] == [LoginResult]
    assert not state.handle_timer(T0 + 45)  # logged in: only the idle timeout (46) is left


def test_a_logged_in_session_is_closed_after_three_keepalives_of_silence() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0 + 1)
    assert not state.handle_timer(T0 + 10)  # the login deadline no longer applies
    state.receive_data(SID, request("2", Ping()), T0 + 20)
    assert not state.handle_timer(T0 + 20 + 44.9)
    assert state.next_deadline() == T0 + 20 + 45
    outbox = state.handle_timer(T0 + 20 + 45)
    assert outbox.closes == [SID]
    assert any("idle for 45s" in line for line in outbox.log_lines)


def test_any_bytes_even_a_partial_frame_count_as_activity() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    state.receive_data(SID, b"\x00\x00", T0 + 40)
    assert not state.handle_timer(T0 + 45)
    assert state.handle_timer(T0 + 85).closes == [SID]


def test_a_peer_that_stops_reading_is_aborted_after_the_stall_timeout() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    state.writing_paused(SID, T0 + 1)
    assert not state.handle_timer(T0 + 30.9)  # an early wake-up is harmless
    assert state.next_deadline() == T0 + 31
    outbox = state.handle_timer(T0 + 31)
    assert outbox.aborts == [SID] and not outbox.closes


def test_resuming_output_stops_the_stall_clock() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    state.writing_paused(SID, T0 + 1)
    state.writing_resumed(SID)
    state.receive_data(SID, request("2", Ping()), T0 + 30)
    assert not state.handle_timer(T0 + 31)


def test_a_disconnected_peer_has_no_deadline_left() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    state.disconnect(SID)
    assert not state.handle_timer(T0 + 1000)
    assert state.next_deadline() is None


def test_the_server_refuses_connections_over_max_sessions() -> None:
    state = ServerState(sample_directory(), SETTINGS.with_overrides(max_sessions=2))
    assert state.connect(1, "127.0.0.1", T0) and state.connect(2, "127.0.0.1", T0)
    assert not state.connect(3, "127.0.0.1", T0)
    state.disconnect(1)
    assert state.connect(3, "127.0.0.1", T0)


# ---- malformed frames ------------------------------------------------------------------------


def test_malformed_frames_are_answered_and_the_tenth_closes_after_its_answer() -> None:
    state = make_state(SETTINGS.with_overrides(rate_burst=100))
    state.receive_data(SID, LOGIN, T0)
    for n in range(9):
        outbox = state.receive_data(SID, encode_frame(b"<not xml"), T0)
        [reply] = replies(outbox)
        assert reply.seq is None and reply.body.tag == "error" and reply.body.errcode == 400
        assert not outbox.closes, n
    # The tenth closes; a ping behind it in the same bytes is not answered.
    outbox = state.receive_data(SID, encode_frame(b"<x/>") + request("9", Ping()), T0)
    assert errcodes(outbox) == [400] and outbox.closes == [SID]
    assert any("10 malformed frames" in line for line in outbox.log_lines)


def test_well_formed_requests_that_do_not_decode_are_answered_and_not_counted() -> None:
    # PROTOCOL.md 1.1 closes a session after 10 frames that are not well-formed XML or
    # whose root is not <message>; a bad id or an unknown element is a 400, nothing more.
    state = make_state(SETTINGS.with_overrides(rate_burst=100))
    state.receive_data(SID, LOGIN, T0)
    bad_requests = [
        b"<message type='request' seq='%d' module='MID_INTERPHONE'>"
        b"<speak type='on' id='nogroup_%d'/></message>",
        b"<message type='request' seq='%d' module='MID_INTERPHONE'><dance n='%d'/></message>",
        b"<message type='request' seq='%d' module='MID_INTERPHONE'>"
        b"<speak type='up%d' id='group_58'/></message>",
    ]
    for n in range(30):
        outbox = state.receive_data(SID, encode_frame(bad_requests[n % 3] % (n, n)), T0)
        assert errcodes(outbox) == [400] and not outbox.closes, n
    outbox = state.receive_data(SID, request("99", Ping()), T0)
    assert errcodes(outbox) == [None] and not outbox.closes
    # and the count of frames that are not XML starts from zero
    for n in range(9):
        assert not state.receive_data(SID, encode_frame(b"<not xml"), T0).closes, n
    assert state.receive_data(SID, encode_frame(b"<not xml"), T0).closes == [SID]


def test_a_malformed_frame_with_a_readable_seq_is_answered_in_its_envelope() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    bad = (b"<message type='request' seq='4' module='MID_INTERPHONE'>"
           b"<speak type='up' id='group_58'/></message>")
    [reply] = replies(state.receive_data(SID, encode_frame(bad), T0))
    assert (reply.seq, reply.module, reply.body.tag, reply.body.errcode) == (
        "4", "MID_INTERPHONE", "speak", 400)


# ---- rate limit ------------------------------------------------------------------------------


def test_requests_over_the_rate_limit_get_429_in_their_own_envelope() -> None:
    state = make_state()  # burst 3, 1 per second
    pings = b"".join(request(str(n), Ping()) for n in range(2, 5))
    outbox = state.receive_data(SID, LOGIN + pings, T0)
    assert errcodes(outbox) == [None, None, None, ErrCode.TOO_MANY_REQUESTS]
    last = replies(outbox)[-1]
    assert (last.seq, last.body.tag) == ("4", "ping")
    assert not outbox.closes
    # The bucket refills with the clock passed in.
    assert errcodes(state.receive_data(SID, request("5", Ping()), T0 + 1)) == [None]


def test_a_rate_limited_frame_still_counts_if_malformed() -> None:
    state = make_state(SETTINGS.with_overrides(max_malformed=2, rate_burst=1))
    state.receive_data(SID, LOGIN, T0)
    outbox = state.receive_data(SID, encode_frame(b"?") + encode_frame(b"?"), T0)
    assert errcodes(outbox) == [400, 400] and outbox.closes == [SID]


# ---- login order and features ----------------------------------------------------------------


def test_a_second_login_of_a_uid_kicks_the_first_before_answering() -> None:
    state = make_state()
    state.receive_data(SID, LOGIN, T0)
    assert state.connect(8, "127.0.0.1", T0)
    outbox = state.receive_data(8, LOGIN, T0)
    order = [(sid, m.kind) for sid, m in outbox.messages]
    assert order == [(SID, MessageKind.NOTIFICATION), (8, MessageKind.RESPONSE)]
    assert outbox.closes == [SID]
    assert not state.receive_data(SID, request("2", Ping()), T0)  # the kicked one is closing


def test_a_login_asking_for_no_features_is_answered_without_the_attribute() -> None:
    state = make_state()
    outbox = state.receive_data(SID, LOGIN, T0)
    [(_, reply)] = outbox.messages
    assert b"features" not in encode_message(reply)
    assert state.sessions[SID].features == frozenset()


def test_only_features_the_server_knows_are_granted() -> None:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400,
                        features=frozenset({"queue", "presence"}))
    state.connect(SID, "127.0.0.1", T0)
    login = request("1", Login("alice", "pw-alice", features=("queue", "warp", "presence")))
    [reply] = replies(state.receive_data(SID, login, T0))
    assert reply.body.features == ("presence", "queue")
    assert state.sessions[SID].features == {"queue", "presence"}


def test_unknown_features_only_grant_nothing_and_leave_the_attribute_out() -> None:
    state = make_state()  # the default registry
    login = request("1", Login("alice", "pw-alice", features=("warp-drive",)))
    [(_, reply)] = state.receive_data(SID, login, T0).messages
    assert b"features" not in encode_message(reply)
    assert state.sessions[SID].features == frozenset()


def test_a_repeated_login_keeps_the_features_granted_first() -> None:
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400,
                        features=frozenset({"queue", "presence"}))
    state.connect(SID, "127.0.0.1", T0)
    state.receive_data(SID, request("1", Login("alice", "pw-alice", features=("queue",))), T0)
    again = request("2", Login("alice", "pw-alice", features=("presence",)))
    [reply] = replies(state.receive_data(SID, again, T0))
    assert reply.body.features == ("queue",)
    assert state.sessions[SID].features == {"queue"}


def test_a_features_attribute_over_the_attribute_limit_is_413() -> None:
    state = make_state()
    xml = ("<message type='request' seq='1' module='MID_SESSION'>"
           f"<login uid='alice' token='pw-alice' features='{'a ' * 600}'/></message>")
    [reply] = replies(state.receive_data(SID, encode_frame(xml.encode()), T0))
    assert (reply.seq, reply.body.tag, reply.body.errcode) == ("1", "login", 413)
    assert SID not in state.sessions
