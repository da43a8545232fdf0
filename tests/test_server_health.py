"""Extension health on ServerState directly (times passed in, no sockets): the store's
reachability, as the driver reports it, is told to the sessions granted ``health`` of
this node and to nobody else; a login while it is unreachable is followed by the notice."""

from __future__ import annotations

from server_fixtures import sample_directory
from server_model import request_frame

from app.protocol import encode_message
from app.protocol.features import HEALTH, KNOWN_FEATURES
from app.protocol.health import HealthNotice, StoreState
from app.protocol.messages import Login, LoginResult, Message, MessageKind
from app.server import ServerSettings, ServerState
from app.server.outbox import Outbox

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)
UNREACHABLE = Message.notification(HealthNotice(StoreState.UNREACHABLE))
OK = Message.notification(HealthNotice(StoreState.OK))


def logged_in(asks: dict[str, tuple[str, ...]], now: float = 100.0) -> tuple[ServerState,
                                                                             dict[str, int]]:
    """A state with one connection per uid, logged in with the features it asks."""
    state = ServerState(sample_directory(), SETTINGS, udp_port=9400)
    sids = {}
    for sid, (uid, features) in enumerate(asks.items(), start=1):
        sids[uid] = sid
        assert state.connect(sid, "127.0.0.1", now)
        state.receive_data(sid, request_frame("1", Login(uid, f"pw-{uid}", features=features)),
                           now)
        assert state.sessions[sid].uid == uid
    return state, sids


def to(outbox: Outbox, sid: int) -> list[Message]:
    return [m for s, m in outbox.messages if s == sid]


def test_health_is_offered_and_granted_when_asked() -> None:
    assert HEALTH in KNOWN_FEATURES
    state, sids = logged_in({"alice": (HEALTH,), "bob": ()})
    assert state.sessions[sids["alice"]].features == {HEALTH}
    assert state.sessions[sids["bob"]].features == frozenset()


def test_the_outage_and_its_end_are_told_to_sessions_granted_health_only() -> None:
    state, sids = logged_in({"alice": (HEALTH,), "bob": (), "carol": ("coalesce", HEALTH)})
    gone = state.store_reachability(False, 200.0)
    assert to(gone, sids["alice"]) == [UNREACHABLE] and to(gone, sids["carol"]) == [UNREACHABLE]
    assert to(gone, sids["bob"]) == []
    assert [s for s, _ in gone.messages] == [sids["alice"], sids["carol"]]  # login order
    assert state.store_unreachable_since == 200.0

    # the same state again (another error of the same outage) tells nothing
    assert state.store_reachability(False, 201.0).messages == []
    assert state.store_unreachable_since == 200.0

    back = state.store_reachability(True, 230.0)
    assert to(back, sids["alice"]) == [OK] and to(back, sids["carol"]) == [OK]
    assert to(back, sids["bob"]) == []
    assert state.store_unreachable_since is None
    assert state.store_reachability(True, 231.0).messages == []


def test_a_healthy_store_says_nothing_and_a_session_of_another_node_is_not_told() -> None:
    state, sids = logged_in({"alice": (HEALTH,)})
    assert state.store_reachability(True, 150.0).messages == []  # never unreachable
    # a session that is only in the replicated tables (no connection on this node)
    state.login(99, "bob", "pw-bob", "127.0.0.1", (HEALTH,))
    assert 99 not in state.peers
    assert [s for s, _ in state.store_reachability(False, 160.0).messages] == [sids["alice"]]


def test_a_login_while_the_store_is_unreachable_is_followed_by_the_notice() -> None:
    state, sids = logged_in({"alice": (HEALTH,), "bob": ()})
    state.store_reachability(False, 200.0)
    for uid, told in (("alice", [UNREACHABLE]), ("bob", [])):
        sid = sids[uid]
        again = state.receive_data(
            sid, request_frame("2", Login(uid, f"pw-{uid}", features=(HEALTH,))), 205.0)
        messages = to(again, sid)
        assert messages[0].kind is MessageKind.RESPONSE
        assert isinstance(messages[0].body, LoginResult)  # the set granted first
        assert messages[1:] == told

    # a new connection logging in (a node without a shared log answers it) is told too
    assert state.connect(7, "127.0.0.1", 206.0)
    first = to(state.receive_data(7, request_frame("1", Login("carol", "pw-carol",
                                                             features=(HEALTH,))), 206.0), 7)
    assert [type(m.body) for m in first] == [LoginResult, HealthNotice] and first[1] == UNREACHABLE
    state.store_reachability(True, 210.0)
    assert state.connect(8, "127.0.0.1", 211.0)
    later = to(state.receive_data(8, request_frame("1", Login("dave", "pw-dave",
                                                             features=(HEALTH,))), 211.0), 8)
    assert [type(m.body) for m in later] == [LoginResult]


def test_a_base_session_gets_the_same_bytes_through_an_outage() -> None:
    def bytes_to_bob() -> list[bytes]:
        state, sids = logged_in({"alice": (HEALTH,), "bob": ()})
        outbox = Outbox()
        outbox.extend(state.store_reachability(False, 200.0))
        outbox.extend(state.receive_data(
            sids["bob"], request_frame("2", Login("bob", "pw-bob")), 201.0))
        outbox.extend(state.store_reachability(True, 230.0))
        return [encode_message(m) for m in to(outbox, sids["bob"])]

    def bytes_without_outage() -> list[bytes]:
        state, sids = logged_in({"alice": (HEALTH,), "bob": ()})
        outbox = state.receive_data(sids["bob"], request_frame("2", Login("bob", "pw-bob")),
                                    201.0)
        return [encode_message(m) for m in to(outbox, sids["bob"])]

    assert bytes_to_bob() == bytes_without_outage()
    assert len(bytes_to_bob()) == 1  # the repeated login's response only
