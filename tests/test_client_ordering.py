"""Responses and notifications are applied to the model in wire order (no sockets).

A server may write a response and the notification that follows it in one TCP
segment, so the notification is read before the task awaiting the response
resumes. The session gives both back as events in wire order, and the model,
fed those events one by one, must end in the newest state. Applying the
response when the awaiting task resumes (after the notification) is the bug
these tests would catch.
"""

from __future__ import annotations

from client_fixtures import events, logged_in_session, sent, wire

from app.client import ClientModel
from app.client.session import NotificationReceived, ResponseReceived, SessionEvent
from app.protocol import (
    InterphoneChanged,
    InterphoneId,
    InterphoneInfo,
    JoinRequest,
    JoinResult,
    MembersRequest,
    MembersResult,
    Message,
)

OPS = InterphoneId.group("58")


def info(members: list[str], *, with_members: bool = True, count: int | None = None
         ) -> InterphoneInfo:
    return InterphoneInfo(OPS, "58", len(members) if count is None else count, "",
                          tuple(members) if with_members else None)


def apply_all(model: ClientModel, taken: list[SessionEvent]) -> list[InterphoneId | None]:
    """What the client does with each event: apply its body, note stale member lists."""
    stale = []
    for event in taken:
        assert isinstance(event, ResponseReceived | NotificationReceived)
        stale.append(model.apply_body(event.body))
    return stale


def test_notification_right_behind_the_join_response_is_not_lost() -> None:
    session = logged_in_session("me")
    model = ClientModel("me")
    seq = session.send_request(JoinRequest(OPS, "me"), now=1.0)
    assert [m.body for m in sent(session)] == [JoinRequest(OPS, "me")]
    model.expect_join(OPS)

    session.receive_data(wire(
        Message.response(seq, JoinResult(info(["me", "a"]))),
        Message.notification(InterphoneChanged(info(["me", "a", "b"]))),
    ))
    taken = events(session)
    assert [type(e) for e in taken] == [ResponseReceived, NotificationReceived]
    assert isinstance(taken[0], ResponseReceived) and taken[0].seq == seq

    apply_all(model, taken)
    assert model.members == ("me", "a", "b")
    assert model.interphones[OPS].member_count == 3


def test_response_and_notification_split_anywhere_keep_their_order() -> None:
    data = wire(Message.response("2", JoinResult(info(["me"]))),
                Message.notification(InterphoneChanged(info(["me", "a"]))))
    for cut in range(1, len(data)):
        session = logged_in_session("me")
        assert session.send_request(JoinRequest(OPS), now=1.0) == "2"
        session.receive_data(data[:cut])
        session.receive_data(data[cut:])
        assert [type(e) for e in events(session)] == [ResponseReceived, NotificationReceived]


def test_count_only_change_behind_a_members_answer_asks_again() -> None:
    session = logged_in_session("me")
    model = ClientModel("me")
    join = session.send_request(JoinRequest(OPS, "me"), now=1.0)
    # Joined, then a count-only change: the member list is stale.
    session.receive_data(wire(
        Message.response(join, JoinResult(info(["me"]))),
        Message.notification(InterphoneChanged(info([], with_members=False, count=3))),
    ))
    assert apply_all(model, events(session)) == [None, OPS]

    # The refresh's answer is already old when read: another member came in behind it.
    refresh = session.send_request(MembersRequest(OPS), now=2.0)
    session.receive_data(wire(
        Message.response(refresh, MembersResult(info(["me", "a", "b"]))),
        Message.notification(InterphoneChanged(info([], with_members=False, count=4))),
    ))
    assert apply_all(model, events(session)) == [None, OPS]  # ask again
    assert model.members == ("me", "a", "b")
    assert model.interphones[OPS].member_count == 4

    again = session.send_request(MembersRequest(OPS), now=3.0)
    session.receive_data(wire(Message.response(again, MembersResult(info(["me", "a", "b",
                                                                          "c"])))))
    assert apply_all(model, events(session)) == [None]  # in line with the server now
    assert model.members == ("me", "a", "b", "c")


def test_answers_to_pipelined_requests_match_by_seq_not_by_order() -> None:
    session = logged_in_session("me")
    first = session.send_request(MembersRequest(OPS), now=1.0)
    second = session.send_request(JoinRequest(OPS), now=1.0)
    assert first != second
    session.receive_data(wire(Message.response(second, JoinResult(info(["me"]))),
                              Message.response(first, MembersResult(info([])))))
    taken = events(session)
    assert [(e.seq, type(e.request)) for e in taken
            if isinstance(e, ResponseReceived)] == [(second, JoinRequest),
                                                    (first, MembersRequest)]
