"""Extension presence on ServerState: contacts' status and ringing calls, virtual time."""

from __future__ import annotations

import pytest
from server_fixtures import G58, sample_directory

from app.protocol import ErrCode, InterphoneChanged, InterphoneId
from app.protocol.presence import (
    CallAction,
    CallNotice,
    CallNoticeType,
    CallRequest,
    CallResult,
    ContactPresence,
    PresenceChanged,
    PresenceSyncRequest,
    PresenceSyncResult,
    RingState,
)
from app.server import Directory, ServerSettings, ServerState
from app.server.outbox import Outbox, Refused

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)
CHAT = InterphoneId.chat("alice", "bob")
T0 = 1000.0


@pytest.fixture
def state() -> ServerState:
    return ServerState(sample_directory(), SETTINGS, udp_port=9400)


def login(state: ServerState, uid: str, sid: int, *, presence: bool = True) -> Outbox:
    return state.login(sid, uid, f"pw-{uid}", "127.0.0.1",
                       ("presence",) if presence else ()).outbox


def extension_messages(outbox: Outbox, sid: int) -> list[object]:
    return [m.body for s, m in outbox.messages if s == sid
            and isinstance(m.body, PresenceChanged | CallNotice)]


def test_only_sessions_asking_are_granted_presence(state: ServerState) -> None:
    base = state.login(1, "alice", "pw-alice", "127.0.0.1").reply
    asked = state.login(2, "bob", "pw-bob", "127.0.0.1", ("presence",)).reply
    assert base.features == () and asked.features == ("presence",)
    with pytest.raises(Refused) as info:
        state.presence.presence_sync(state.sessions[1])
    assert info.value.errcode == ErrCode.BAD_REQUEST


def test_sync_lists_contacts_in_roster_order_with_status(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "carol", 2, presence=False)
    reply = state.presence.presence_sync(state.sessions[1]).reply
    assert reply == PresenceSyncResult((ContactPresence("bob", False), ContactPresence(
        "carol", True), ContactPresence("dave", False), ContactPresence("eve", False)))


def test_online_and_offline_reach_only_presence_sessions(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "carol", 2, presence=False)
    came = login(state, "bob", 3)
    assert extension_messages(came, 1) == [PresenceChanged("bob", True)]
    assert extension_messages(came, 2) == []  # a base session sees nothing new
    assert extension_messages(came, 3) == []  # not told about itself
    went = state.logout(3)
    assert extension_messages(went, 1) == [PresenceChanged("bob", False)]
    assert extension_messages(went, 2) == []


def test_a_login_elsewhere_is_no_status_change(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    again = login(state, "bob", 3)
    assert extension_messages(again, 1) == []


def ring(state: ServerState, now: float = T0) -> tuple[Outbox, CallResult]:
    joined = state.join(1, CHAT, now=now).outbox
    result = state.presence.call(state.sessions[1], CallRequest(CallAction.RING, CHAT), now)
    assert isinstance(result.reply, CallResult)
    joined.extend(result.outbox)
    return joined, result.reply


def test_joining_a_chat_rings_the_other_party_after_the_base_notification(state) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    outbox, reply = ring(state)
    assert reply == CallResult(CallAction.RING, CHAT, RingState.RINGING, 30)
    to_bob = [m.body for s, m in outbox.messages if s == 2]
    assert isinstance(to_bob[0], InterphoneChanged)  # base: joining a chat calls
    assert to_bob[1] == CallNotice(CallNoticeType.RINGING, CHAT, "alice", 30)
    assert extension_messages(outbox, 1) == []


def test_a_base_callee_is_rung_but_hears_only_the_base_contract(state) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2, presence=False)
    outbox, reply = ring(state)
    assert reply.state is RingState.RINGING
    assert [type(m.body) for s, m in outbox.messages if s == 2] == [InterphoneChanged]
    expired = state.handle_timer(T0 + 30)
    assert extension_messages(expired, 1) == [CallNotice(CallNoticeType.NO_ANSWER, CHAT)]
    assert extension_messages(expired, 2) == []


def test_offline_callee(state: ServerState) -> None:
    login(state, "alice", 1)
    _, reply = ring(state)
    assert reply.state is RingState.OFFLINE and not state.presence.rings


def test_answer_by_joining(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    ring(state)
    answered = state.join(2, CHAT, now=T0 + 3).outbox
    assert extension_messages(answered, 1) == [CallNotice(CallNoticeType.ANSWERED, CHAT)]
    assert state.handle_timer(T0 + 31).messages == []  # the ring's timer is spent
    again = state.presence.call(state.sessions[1], CallRequest(CallAction.RING, CHAT), T0 + 4)
    assert again.reply.state is RingState.ANSWERED


def test_decline_tells_the_caller(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    ring(state)
    declined = state.presence.call(state.sessions[2], CallRequest(CallAction.DECLINE, CHAT),
                                   T0 + 2)
    assert declined.reply == CallResult(CallAction.DECLINE, CHAT)
    assert extension_messages(declined.outbox, 1) == [CallNotice(CallNoticeType.DECLINED, CHAT)]
    with pytest.raises(Refused) as info:  # nothing rings any more
        state.presence.call(state.sessions[2], CallRequest(CallAction.DECLINE, CHAT), T0 + 3)
    assert info.value.errcode == ErrCode.NOT_FOUND


def test_no_answer_after_the_timeout_tells_both(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    ring(state)
    assert state.next_deadline() is not None and state.next_deadline() <= T0 + 30
    assert state.handle_timer(T0 + 29.9).messages == []
    expired = state.handle_timer(T0 + 30)
    assert extension_messages(expired, 1) == [CallNotice(CallNoticeType.NO_ANSWER, CHAT)]
    assert extension_messages(expired, 2) == [
        CallNotice(CallNoticeType.ENDED, CHAT, reason="no_answer")]


def test_callee_going_offline_while_ringing(state: ServerState) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    ring(state)
    gone = state.logout(2)
    assert extension_messages(gone, 1) == [CallNotice(CallNoticeType.OFFLINE, CHAT),
                                           PresenceChanged("bob", False)]


@pytest.mark.parametrize("how", ["quit", "cancel", "logout"])
def test_caller_giving_up_stops_the_ring(state: ServerState, how: str) -> None:
    login(state, "alice", 1)
    login(state, "bob", 2)
    ring(state)
    if how == "quit":
        outbox = state.quit(1, CHAT).outbox
    elif how == "cancel":
        outbox = state.presence.call(state.sessions[1], CallRequest(CallAction.CANCEL, CHAT),
                                     T0 + 1).outbox
    else:
        outbox = state.logout(1)
    assert CallNotice(CallNoticeType.ENDED, CHAT, reason="cancelled") in extension_messages(
        outbox, 2)
    assert not state.presence.rings


@pytest.mark.parametrize(("uid", "interphone", "code"), [
    ("alice", G58, ErrCode.BAD_REQUEST),  # not a chat
    ("carol", CHAT, ErrCode.FORBIDDEN),  # not a party
    ("alice", CHAT, ErrCode.FORBIDDEN),  # a party, but not in the chat yet
])
def test_ring_refusals(state: ServerState, uid: str, interphone: InterphoneId,
                       code: ErrCode) -> None:
    login(state, uid, 1)
    with pytest.raises(Refused) as info:
        state.presence.call(state.sessions[1], CallRequest(CallAction.RING, interphone), T0)
    assert info.value.errcode == code


def test_presence_request_of_a_base_session_is_answered_400_over_the_wire(state) -> None:
    from app.protocol import Message, decode_message, encode_frame, encode_message
    state.connect(1, "127.0.0.1", T0)
    state.login(1, "alice", "pw-alice", "127.0.0.1")
    data = encode_frame(encode_message(Message.request("9", PresenceSyncRequest())))
    outbox = state.receive_data(1, data, T0)
    (to, answer), = outbox.messages
    assert to == 1
    decoded = decode_message(encode_message(answer))
    assert decoded.seq == "9" and decoded.module == "MID_SESSION"
    assert decoded.body.errcode == ErrCode.BAD_REQUEST


def _open_directory(*uids: str) -> Directory:
    users = "".join(f'[[users]]\nuid = "{uid}"\ntoken = "pw-{uid}"\n\n' for uid in uids)
    return Directory.from_toml_text('[server]\nauth = "open"\n\n' + users, source="open.toml")


def test_open_auth_a_user_a_reload_removes_is_watched_until_its_session_ends() -> None:
    """With ``auth = "open"`` a reload that removes bob from the directory does not end his
    session: his contacts still watch him until it ends (extension presence, "Terms"), so
    they are told he went offline, not left believing him online (and a later reload that
    lists him again would not tell them either)."""
    state = ServerState(_open_directory("alice", "bob"), SETTINGS.with_overrides(auth="open"),
                        udp_port=9400)
    login(state, "alice", 1)
    login(state, "bob", 2, presence=False)
    state.replace_directory(_open_directory("alice"), T0)
    assert 2 in state.sessions  # open: nobody is kicked
    went = state.logout(2)
    assert extension_messages(went, 1) == [PresenceChanged("bob", False)]
    state.replace_directory(_open_directory("alice", "bob"), T0)
    assert state.presence.presence_sync(state.sessions[1]).reply == PresenceSyncResult(
        (ContactPresence("bob", False),))
