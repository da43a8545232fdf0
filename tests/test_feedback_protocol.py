"""Extension ``feedback``: its messages on the wire and the server's rules (no sockets)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from server_fixtures import G58, sample_directory

from app.protocol import ErrCode, InterphoneId, Message, ProtocolError
from app.protocol.features import KNOWN_FEATURES
from app.protocol.messages import FeedbackNotice, QualityAck, QualityReport
from app.protocol.xmlcodec import decode_message, encode_message
from app.server import ServerSettings, ServerState
from app.server.feedback import MIN_GAP_SECONDS, RESEND_SECONDS, WINDOW_SECONDS, percentile_90
from app.server.outbox import Outbox, Refused

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)


def test_feedback_is_a_known_feature() -> None:
    assert "feedback" in KNOWN_FEATURES


def test_quality_report_round_trips_with_the_documented_attributes() -> None:
    report = QualityReport(G58, "alice", 4.8, 17.25, late=1, concealed=3, recovered=12,
                           packets=250)
    wire = encode_message(Message.request("31", report))
    assert wire == (b'<message type="request" seq="31" module="MID_INTERPHONE">'
                    b'<quality id="group_58" speaker="alice" loss="4.8" jitter="17.25" '
                    b'late="1" concealed="3" recovered="12" packets="250"/></message>')
    assert decode_message(wire).body == report


def test_feedback_notice_and_ack_round_trip() -> None:
    notice = FeedbackNotice(G58, 3, 10.0, 4.5, 20.0)
    wire = encode_message(Message.notification(notice))
    assert b'<feedback id="group_58" listeners="3" worst="10" p90="4.5" jitter="20"/>' in wire
    assert decode_message(wire).body == notice
    ack = encode_message(Message.response("31", QualityAck(G58)))
    assert decode_message(ack).body == QualityAck(G58)


@pytest.mark.parametrize("jitter", [100000.0, 100000.01, 250000.0, 2e9])
def test_a_huge_jitter_measure_is_sent_as_the_greatest_accepted(jitter: float) -> None:
    # a stream stalled for minutes (a laptop that slept) must not make the report
    # malformed: refused with 400 and counted towards closing the session
    report = QualityReport(G58, "alice", 5.0, jitter)
    wire = encode_message(Message.request("31", report))
    assert b'jitter="100000"' in wire
    assert decode_message(wire).body == QualityReport(G58, "alice", 5.0, 100000.0)
    notice = encode_message(Message.notification(FeedbackNotice(G58, 1, 5.0, 5.0, jitter)))
    assert decode_message(notice).body == FeedbackNotice(G58, 1, 5.0, 5.0, 100000.0)


def test_only_loss_is_required_and_counts_default_to_zero() -> None:
    xml = (b"<message type='request' seq='1' module='MID_INTERPHONE'>"
           b"<quality id='group_58' speaker='alice' loss=' 0.5 '/></message>")
    assert decode_message(xml).body == QualityReport(G58, "alice", 0.5)


@pytest.mark.parametrize("loss", ["", "-1", "100.5", "1e3", "4,8", "0x10", "1.2345", "nan",
                                  "٣"])
def test_bad_loss_values_are_malformed(loss: str) -> None:
    xml = (f"<message type='request' seq='1' module='MID_INTERPHONE'>"
           f"<quality id='group_58' speaker='alice' loss='{loss}'/></message>").encode()
    with pytest.raises(ProtocolError) as info:
        decode_message(xml)
    assert info.value.errcode == ErrCode.BAD_REQUEST
    assert info.value.seq == "1"


def test_percentile_90_is_nearest_rank() -> None:
    assert percentile_90([]) == 0.0
    assert percentile_90([3.0]) == 3.0
    assert percentile_90([0.0] * 9 + [10.0]) == 0.0  # 1 listener of 10: p90 ignores it
    assert percentile_90([0.0] * 8 + [5.0, 10.0]) == 5.0
    assert percentile_90([float(i) for i in range(1, 21)]) == 18.0


# ---- server rules ---------------------------------------------------------------------------


def make_state() -> ServerState:
    return ServerState(sample_directory(), SETTINGS, udp_port=9400)


def log_in(state: ServerState, uid: str, *, feedback: bool = True) -> int:
    sid = 100 + len(state.sessions)
    state.login(sid, uid, f"pw-{uid}", "127.0.0.1", ("feedback",) if feedback else ())
    return sid


def notices(outbox: Outbox, sid: int | None = None) -> list[FeedbackNotice]:
    return [m.body for s, m in outbox.messages
            if isinstance(m.body, FeedbackNotice) and (sid is None or s == sid)]


def room(*, talker_feedback: bool = True) -> tuple[ServerState, dict[str, int]]:
    """alice holds the floor of group_58; bob and carol listen."""
    state = make_state()
    sids = {"alice": log_in(state, "alice", feedback=talker_feedback),
            "bob": log_in(state, "bob"), "carol": log_in(state, "carol")}
    for sid in sids.values():
        state.join(sid, G58)
    state.speak(sids["alice"], G58, True, 0.0)
    return state, sids


def test_login_grants_feedback_when_asked_and_not_otherwise() -> None:
    state = make_state()
    asked = state.login(1, "alice", "pw-alice", "127.0.0.1", ("feedback",)).reply
    plain = state.login(2, "bob", "pw-bob", "127.0.0.1").reply
    assert asked.features == ("feedback",)  # type: ignore[union-attr]
    assert plain.features == ()  # type: ignore[union-attr]


def test_a_report_reaches_the_holder_as_worst_and_p90() -> None:
    state, sids = room()
    result = state.quality_report(sids["bob"], QualityReport(G58, "alice", 5.0, 12.0), 1.0)
    assert result.reply == QualityAck(G58)
    assert notices(result.outbox) == [FeedbackNotice(G58, 1, 5.0, 5.0, 12.0)]
    assert result.outbox.messages[0][0] == sids["alice"]
    result = state.quality_report(sids["carol"], QualityReport(G58, "alice", 0.0, 30.0), 1.2)
    # carol's clean report changes p90 (2 listeners: rank 2 = 5.0) not worst: nothing new
    # to say within RESEND_SECONDS.
    assert notices(result.outbox) == []
    later = 1.0 + RESEND_SECONDS
    result = state.quality_report(sids["carol"], QualityReport(G58, "alice", 0.0, 30.0), later)
    assert notices(result.outbox) == [FeedbackNotice(G58, 2, 5.0, 5.0, 30.0)]


def test_a_change_of_loss_is_sent_at_once() -> None:
    state, sids = room()
    state.quality_report(sids["bob"], QualityReport(G58, "alice", 0.0), 1.0)
    result = state.quality_report(sids["bob"], QualityReport(G58, "alice", 3.0), 1.1)
    assert [n.worst_pct for n in notices(result.outbox)] == [3.0]


def test_reports_older_than_the_window_no_longer_count() -> None:
    state, sids = room()
    state.quality_report(sids["bob"], QualityReport(G58, "alice", 20.0), 1.0)
    result = state.quality_report(sids["carol"], QualityReport(G58, "alice", 1.0),
                                  1.0 + WINDOW_SECONDS + 0.1)
    assert notices(result.outbox) == [FeedbackNotice(G58, 1, 1.0, 1.0, 0.0)]


def test_reports_about_someone_else_or_by_the_holder_are_ignored() -> None:
    state, sids = room()
    for sid, speaker in ((sids["bob"], "carol"), (sids["alice"], "alice")):
        result = state.quality_report(sid, QualityReport(G58, speaker, 50.0), 1.0)
        assert result.reply == QualityAck(G58)
        assert notices(result.outbox) == []
    state.speak(sids["alice"], G58, False, 2.0)
    result = state.quality_report(sids["bob"], QualityReport(G58, "alice", 50.0), 2.1)
    assert result.reply == QualityAck(G58) and notices(result.outbox) == []


def test_a_holder_without_the_extension_is_told_nothing() -> None:
    state, sids = room(talker_feedback=False)
    result = state.quality_report(sids["bob"], QualityReport(G58, "alice", 50.0), 1.0)
    assert result.reply == QualityAck(G58)
    assert result.outbox.messages == []


def test_a_session_without_the_extension_gets_400_as_for_an_unknown_request() -> None:
    state, _sids = room()
    dave = log_in(state, "carol", feedback=False)  # carol again, on a new connection
    state.join(dave, G58)
    with pytest.raises(Refused) as info:
        state.quality_report(dave, QualityReport(G58, "alice", 5.0), 1.0)
    assert info.value.errcode == ErrCode.BAD_REQUEST


def test_a_non_member_gets_403() -> None:
    state, _sids = room()
    eve = log_in(state, "eve")
    with pytest.raises(Refused) as info:
        state.quality_report(eve, QualityReport(G58, "alice", 5.0), 1.0)
    assert info.value.errcode == ErrCode.FORBIDDEN
    with pytest.raises(Refused) as info:
        state.quality_report(eve, QualityReport(InterphoneId.parse("group_all"), "x", 5.0), 1.0)
    assert info.value.errcode == ErrCode.FORBIDDEN


def test_over_the_wire_of_the_state_a_base_session_sees_400() -> None:
    state, _sids = room()
    plain = 999
    state.connect(plain, "127.0.0.1", 0.0)
    from app.protocol import encode_frame
    from app.protocol.messages import Login
    state.receive_data(plain, encode_frame(encode_message(
        Message.request("1", Login("eve", "pw-eve")))), 0.0)
    out = state.receive_data(plain, encode_frame(encode_message(
        Message.request("2", QualityReport(G58, "alice", 5.0)))), 0.0)
    (sid, reply), = out.messages
    assert sid == plain and reply.seq == "2" and not reply.ok
    assert reply.body.errcode == ErrCode.BAD_REQUEST  # type: ignore[union-attr]
    # in the request's own element, as the base contract answers any element it does
    # not know (never the bare <error> meant for a frame without a usable seq)
    assert encode_message(reply) == (
        b'<message type="response" seq="2" module="MID_INTERPHONE">'
        b'<quality id="group_58" errcode="400" errmsg="unknown request &lt;quality&gt;"/>'
        b'</message>')


def test_over_the_wire_a_non_member_is_refused_in_the_quality_element() -> None:
    state, _sids = room()
    from app.protocol import encode_frame
    from app.protocol.messages import Login
    state.connect(998, "127.0.0.1", 0.0)
    state.receive_data(998, encode_frame(encode_message(
        Message.request("1", Login("eve", "pw-eve", features=("feedback",))))), 0.0)
    out = state.receive_data(998, encode_frame(encode_message(
        Message.request("2", QualityReport(G58, "alice", 5.0)))), 0.0)
    (_sid, reply), = out.messages
    assert encode_message(reply) == (
        b'<message type="response" seq="2" module="MID_INTERPHONE">'
        b'<quality id="group_58" errcode="403" errmsg="eve is not a member of group_58"/>'
        b'</message>')


def test_interphone_end_forgets_its_reports() -> None:
    state, sids = room()
    state.quality_report(sids["bob"], QualityReport(G58, "alice", 5.0), 1.0)
    for sid in sids.values():
        state.quit(sid, G58)
    assert state.feedback._boards == {}


# ---- the gap between notices sent for a change ------------------------------------------------


def flap(state: ServerState, sids: dict[str, int], start: float, seconds: float,
         rate: float = 20.0) -> list[tuple[float, FeedbackNotice]]:
    """bob alternates 0 % and 100 % loss at ``rate`` reports a second, the server's timer
    run whenever it is due: every notice alice gets, with its time."""
    told: list[tuple[float, FeedbackNotice]] = []
    for n in range(round(seconds * rate)):
        now = start + n / rate
        due = state.next_deadline()
        while due is not None and due <= now:
            told += [(due, x) for x in notices(state.handle_timer(due), sids["alice"])]
            due = state.next_deadline()
        result = state.quality_report(sids["bob"], QualityReport(G58, "alice",
                                                                 100.0 * (n % 2)), now)
        told += [(now, x) for x in notices(result.outbox, sids["alice"])]
    return told


def test_a_flapping_listener_gets_the_holder_one_notice_per_gap() -> None:
    """A listener alternating 0 % and 100 % got the talker a notice at every report (20 a
    second here), and the talker's encoder followed each."""
    state, sids = room()
    told = flap(state, sids, 1.0, 2.0)
    times = [at for at, _ in told]
    assert len(told) <= 1 + 1 + round(2.0 / MIN_GAP_SECONDS), times
    changes = times[1:]  # (the first notice to a holder goes at once, as the first change)
    assert all(b - a >= MIN_GAP_SECONDS - 1e-9 for a, b in pairwise(changes)), times


def test_a_change_held_back_is_sent_when_due_with_the_figures_of_then() -> None:
    state, sids = room()
    bob = sids["bob"]
    state.quality_report(bob, QualityReport(G58, "alice", 0.0), 1.0)  # first: at once
    result = state.quality_report(bob, QualityReport(G58, "alice", 40.0), 1.05)
    assert [n.worst_pct for n in notices(result.outbox)] == [40.0]  # first change: at once
    result = state.quality_report(bob, QualityReport(G58, "alice", 10.0), 1.1)
    assert notices(result.outbox) == []  # held back
    assert state.next_deadline() == pytest.approx(1.05 + MIN_GAP_SECONDS)
    result = state.quality_report(bob, QualityReport(G58, "alice", 20.0), 1.2)
    assert notices(result.outbox) == []
    out = state.handle_timer(1.05 + MIN_GAP_SECONDS)
    assert [(n.worst_pct, s) for s, n in ((s, m.body) for s, m in out.messages)
            if isinstance(n, FeedbackNotice)] == [(20.0, sids["alice"])]
    # a change held back that came back to the figures last told is not sent
    state.quality_report(bob, QualityReport(G58, "alice", 90.0), 1.35)
    state.quality_report(bob, QualityReport(G58, "alice", 20.0), 1.4)
    assert notices(state.handle_timer(1.3 + MIN_GAP_SECONDS)) == []
    assert state.feedback.next_deadline() is None


def test_a_single_change_after_a_quiet_spell_goes_at_once() -> None:
    state, sids = room()
    bob = sids["bob"]
    for n in range(4):  # clean reports once a second: a notice each (resent)
        state.quality_report(bob, QualityReport(G58, "alice", 0.0), 1.0 + n)
    result = state.quality_report(bob, QualityReport(G58, "alice", 8.0), 4.1)
    assert [n.worst_pct for n in notices(result.outbox)] == [8.0]


def test_a_held_change_is_not_sent_once_the_floor_changed_hands() -> None:
    state, sids = room()
    bob = sids["bob"]
    state.quality_report(bob, QualityReport(G58, "alice", 0.0), 1.0)
    state.quality_report(bob, QualityReport(G58, "alice", 40.0), 1.05)
    state.quality_report(bob, QualityReport(G58, "alice", 0.0), 1.1)  # held back
    state.speak(sids["alice"], G58, False, 1.15)
    assert notices(state.handle_timer(1.05 + MIN_GAP_SECONDS)) == []
    assert state.feedback.next_deadline() is None


def test_a_holder_back_on_a_new_session_is_told_at_once() -> None:
    """Notices were remembered by uid: alice, back on a new connection and holding the
    floor again within the second, was told nothing until the figures changed or a second
    had passed, her new encoder knowing nothing of the loss meanwhile."""
    state, sids = room()
    state.quality_report(sids["bob"], QualityReport(G58, "alice", 5.0), 1.0)
    state.logout(sids["alice"])
    state.login(500, "alice", "pw-alice", "127.0.0.1", ("feedback",))
    state.join(500, G58)
    state.speak(500, G58, True, 1.2)
    result = state.quality_report(sids["bob"], QualityReport(G58, "alice", 5.0), 1.3)
    assert [(s, m.body.worst_pct) for s, m in result.outbox.messages
            if isinstance(m.body, FeedbackNotice)] == [(500, 5.0)]
