"""Extension health's notice on the wire (exact XML, round trip, bad input), the client
session that reads it only when granted, and the client's outage state it drives."""

from __future__ import annotations

import pytest

from app.client.asked_features import asked_features
from app.client.model import ClientModel
from app.client.session import (
    ClientSession,
    NotificationReceived,
    RequestRefused,
    ResponseReceived,
)
from app.client.store_outage import StoreOutage
from app.client.store_watch import StoreWatch
from app.client.tasks import TaskSet
from app.protocol import ErrCode, Message, ProtocolError, decode_message
from app.protocol import encode_message as encode
from app.protocol.features import HEALTH, KNOWN_FEATURES, is_feature_name
from app.protocol.health import HealthNotice, StoreState
from app.protocol.messages import ErrorReply, JoinRequest, LoginResult
from tests.client_fixtures import events, sent, wire
from tests.server_fixtures import G58

EXAMPLES = [
    (Message.notification(HealthNotice(StoreState.UNREACHABLE)),
     b'<message type="notification" module="MID_SESSION"><health store="unreachable"/>'
     b'</message>'),
    (Message.notification(HealthNotice(StoreState.OK)),
     b'<message type="notification" module="MID_SESSION"><health store="ok"/></message>'),
]


def test_the_name_is_a_feature_name_and_offered() -> None:
    assert is_feature_name(HEALTH) and HEALTH in KNOWN_FEATURES


@pytest.mark.parametrize(("message", "xml"), EXAMPLES)
def test_exact_xml_and_round_trip(message: Message, xml: bytes) -> None:
    assert encode(message) == xml
    assert decode_message(xml) == message


def test_what_the_notice_means() -> None:
    assert HealthNotice(StoreState.UNREACHABLE).degraded
    assert not HealthNotice(StoreState.OK).degraded


def test_unknown_attributes_are_ignored() -> None:
    assert decode_message(b"<message type='notification' module='MID_SESSION'>"
                          b"<health store='ok' since='12'/></message>") == EXAMPLES[1][0]


@pytest.mark.parametrize("xml", [
    b"<message type='notification' module='MID_SESSION'><health/></message>",
    b"<message type='notification' module='MID_SESSION'><health store='down'/></message>",
    b"<message type='notification' module='MID_SESSION'><health store='OK'/></message>",
    b"<message type='notification' module='MID_INTERPHONE'><health store='ok'/></message>",
    b"<message type='request' seq='3' module='MID_SESSION'><health store='ok'/></message>",
    b"<message type='response' seq='3' module='MID_SESSION'><health store='ok'/></message>",
])
def test_malformed_or_misplaced_notices_are_400(xml: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(xml)
    assert info.value.errcode == ErrCode.BAD_REQUEST


def test_it_is_only_ever_a_notification() -> None:
    with pytest.raises(ValueError):
        encode(Message.response("1", HealthNotice(StoreState.OK)))


def session_granted(granted: tuple[str, ...], asked: tuple[str, ...]) -> ClientSession:
    session = ClientSession("me", "token", features=asked)
    seq = session.login(0.0)
    assert sent(session)[0].body.features == asked  # type: ignore[union-attr]
    session.receive_data(wire(Message.response(seq, LoginResult("me", 9400, 15, 60, (),
                                                                features=granted))))
    assert [type(e) for e in events(session)] == [ResponseReceived]
    return session


@pytest.mark.parametrize(("granted", "asked", "heard"), [
    ((HEALTH,), (HEALTH,), True),
    ((), (HEALTH,), False),  # asked, not granted
    ((HEALTH,), (), False),  # granted without being asked: not ours to use
])
def test_a_session_hears_the_notice_only_when_granted(granted: tuple[str, ...],
                                                      asked: tuple[str, ...],
                                                      heard: bool) -> None:
    session = session_granted(granted, asked)
    notices = [m for m, _ in EXAMPLES]
    session.receive_data(wire(*notices))
    expected = [NotificationReceived(m.body) for m in notices] if heard else []
    assert events(session) == expected


def test_the_product_clients_ask_for_it() -> None:
    assert HEALTH in asked_features(tls=False)
    assert HEALTH in asked_features(tls=True, presence=True, feedback=False)


def test_an_outage_told_by_the_server_is_not_probed() -> None:
    outage = StoreOutage(2.0, 10.0)
    assert outage.told_unreachable() and outage.degraded and outage.probe_due() is None
    assert not outage.told_unreachable()  # told again: the same outage
    assert not outage.refused(5.0) and outage.probe_due() is None  # still the server's to say
    # an answer (to a request sent before the notice) does not end it; the "ok" does
    assert not outage.answered() and outage.degraded
    assert outage.reset() and not outage.degraded and not outage.told

    # told while probing after a refusal: the probe is no longer due
    assert outage.refused(20.0) and outage.probe_due() == 22.0
    assert not outage.told_unreachable() and outage.probe_due() is None and outage.degraded


async def test_a_notice_stops_the_probe_a_refusal_started_and_ok_runs_what_waited() -> None:
    model = ClientModel("me")
    tasks = TaskSet()
    probes: list[None] = []

    async def probe() -> None:
        probes.append(None)

    watch = StoreWatch(model, tasks, probe, (30.0, 60.0))  # (no probe due within the test)
    refused = ErrorReply("interphone", 500, "store unavailable: try again later")
    watch.seen(RequestRefused("4", JoinRequest(G58), refused))
    assert not model.store_available and watch._probing is not None
    done: list[str] = []
    assert watch.when_back("join", lambda: done.append("join"))

    watch.seen(NotificationReceived(HealthNotice(StoreState.UNREACHABLE)))
    assert watch._probing is None and not model.store_available  # the server will say
    watch.seen(NotificationReceived(HealthNotice(StoreState.OK)))
    assert model.store_available and done == ["join"] and probes == []
    watch.seen(NotificationReceived(HealthNotice(StoreState.OK)))  # nothing waits any more
    assert done == ["join"]
    await tasks.close()
