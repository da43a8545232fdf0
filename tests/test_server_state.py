"""The server's rules, tested directly on ServerState: no sockets, no clock."""

from __future__ import annotations

import pytest
from server_fixtures import D12, G58, GALL, sample_directory

from app.protocol import ErrCode, InterphoneId, Message
from app.protocol.messages import (
    InterphoneChanged,
    JoinResult,
    Kicked,
    LoginResult,
    MembersResult,
    QuitResult,
    SpeakResult,
    SyncResult,
)
from app.server import Directory, ServerSettings, ServerState
from app.server.outbox import Outbox, Refused
from app.server.state import MEMBER_LIST_LIMIT

SETTINGS = ServerSettings(auth="token", max_talk=60, keepalive=15, silence_timeout=5)


def make_state(settings: ServerSettings = SETTINGS, directory: Directory | None = None
               ) -> ServerState:
    return ServerState(directory or sample_directory(), settings, udp_port=9400)


def logged(state: ServerState, *uids: str) -> dict[str, int]:
    sids = {}
    for uid in uids:
        sid = 100 + len(state.sessions)
        state.login(sid, uid, f"pw-{uid}", "127.0.0.1")
        sids[uid] = sid
    return sids


def alice_speaking_beside_bob() -> tuple[ServerState, dict[str, int]]:
    """A state where alice and bob are in G58 and alice holds its floor (since 0): the
    state and their sessions."""
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.join(sids["alice"], G58)
    state.join(sids["bob"], G58)
    state.speak(sids["alice"], G58, True, 0.0)
    return state, sids


def changes(outbox: Outbox, sid: int) -> list[InterphoneChanged]:
    return [m.body for s, m in outbox.messages
            if s == sid and isinstance(m.body, InterphoneChanged)]


def refused(code: ErrCode, call, *args) -> Refused:
    with pytest.raises(Refused) as info:
        call(*args)
    assert info.value.errcode == code, info.value.errmsg
    return info.value


# ---- login ---------------------------------------------------------------------------------


def test_login_answers_roster_and_settings() -> None:
    state = make_state()
    result = state.login(1, "alice", "pw-alice", "127.0.0.1")
    reply = result.reply
    assert isinstance(reply, LoginResult)
    assert (reply.uid, reply.udp_port, reply.keepalive, reply.max_talk) == ("alice", 9400, 15, 60)
    kinds = {(e.kind, e.id) for e in reply.roster}
    assert kinds == {("group", "58"), ("group", "all"), ("discuss", "12"), ("contact", "bob"),
                     ("contact", "carol"), ("contact", "dave"), ("contact", "eve")}
    assert "login uid=alice session=1 peer=127.0.0.1" in result.outbox.log_lines


@pytest.mark.parametrize(("uid", "token"), [("alice", "wrong"), ("mallory", "pw-mallory"),
                                            ("alice", "")])
def test_token_mode_refuses_bad_credentials(uid: str, token: str) -> None:
    refused(ErrCode.UNAUTHORIZED, make_state().login, 1, uid, token, "127.0.0.1")


def test_open_mode_lets_any_uid_in_with_star_groups_and_all_contacts() -> None:
    state = make_state(SETTINGS.with_overrides(auth="open"))
    reply = state.login(1, "stranger", "anything", "127.0.0.1").reply
    assert isinstance(reply, LoginResult)
    assert {(e.kind, e.id) for e in reply.roster} == {
        ("group", "all"), *(("contact", u) for u in ("alice", "bob", "carol", "dave", "eve"))}


def test_second_login_kicks_the_first_and_ends_its_memberships_first() -> None:
    state, sids = alice_speaking_beside_bob()
    result = state.login(999, "alice", "pw-alice", "127.0.0.1")
    first = result.outbox.messages[0]
    assert first == (sids["alice"], Message.notification(Kicked("login_elsewhere")))
    assert result.outbox.closes == [sids["alice"]]
    # bob hears alice leave (and the floor go) before the new session exists
    (note,) = changes(result.outbox, sids["bob"])
    assert (note.info.member_count, note.info.speaker, note.info.members) == (1, "", ("bob",))
    assert all(sid != 999 for sid, _ in result.outbox.messages)
    assert sids["alice"] not in state.sessions
    assert state.by_uid["alice"] == 999
    assert state.interphones[G58].members == {"bob": sids["bob"]}


def test_relogin_on_same_session_is_harmless_and_other_uid_is_refused() -> None:
    state = make_state()
    state.login(1, "alice", "pw-alice", "127.0.0.1")
    assert not state.login(1, "alice", "pw-alice", "127.0.0.1").outbox.messages
    refused(ErrCode.FORBIDDEN, state.login, 1, "bob", "pw-bob", "127.0.0.1")


def test_requests_before_login_are_refused() -> None:
    refused(ErrCode.UNAUTHORIZED, make_state().join, 5, G58)


# ---- sync and members ----------------------------------------------------------------------


def test_sync_lists_active_visible_ids_plus_active_chats() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob", "eve")
    state.join(sids["bob"], G58)
    chat = InterphoneId.chat("eve", "alice")
    state.join(sids["eve"], chat)
    reply = state.sync(sids["alice"], (G58, D12, InterphoneId.group("nope"))).reply
    assert isinstance(reply, SyncResult)
    assert [(str(i.id), i.attach_id, i.member_count) for i in reply.interphones] == [
        ("group_58", "58", 1), ("chat_alice:eve", "eve", 1)]
    assert state.sessions[sids["alice"]].subscriptions == {G58: None, D12: None}


def test_sync_leaves_out_ids_the_user_may_not_see() -> None:
    state = make_state()
    sids = logged(state, "dave", "alice")
    state.join(sids["alice"], G58)
    reply = state.sync(sids["dave"], (G58, InterphoneId.chat("alice", "bob"))).reply
    assert reply == SyncResult(())
    assert state.sessions[sids["dave"]].subscriptions == {}


def test_sync_replaces_the_subscription_set() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.sync(sids["alice"], (G58,))
    assert changes(state.join(sids["bob"], G58).outbox, sids["alice"])
    state.sync(sids["alice"], (D12,))
    assert not changes(state.join(sids["bob"], GALL).outbox, sids["alice"])
    assert not changes(state.quit(sids["bob"], G58).outbox, sids["alice"])
    assert changes(state.join(sids["bob"], D12).outbox, sids["alice"])


def test_members_of_inactive_and_active_interphones() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    reply = state.members(sids["alice"], G58).reply
    assert isinstance(reply, MembersResult)
    assert (reply.info.member_count, reply.info.members, reply.info.speaker) == (0, (), "")
    state.join(sids["bob"], G58)
    state.join(sids["alice"], G58)
    state.speak(sids["bob"], G58, True, 0.0)
    info = state.members(sids["alice"], G58).reply.info
    assert (info.member_count, info.members, info.speaker) == (2, ("bob", "alice"), "bob")
    refused(ErrCode.FORBIDDEN, state.members, sids["alice"], InterphoneId.group("zzz"))


# ---- join and quit -------------------------------------------------------------------------


def test_join_answers_member_list_and_notifies() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.join(sids["alice"], G58)
    result = state.join(sids["bob"], G58, "bob")
    assert isinstance(result.reply, JoinResult)
    assert result.reply.info.members == ("alice", "bob")
    for uid in ("alice", "bob"):
        (note,) = changes(result.outbox, sids[uid])
        assert note.info.members == ("alice", "bob")


def test_join_twice_is_harmless() -> None:
    state = make_state()
    sids = logged(state, "alice")
    first = state.join(sids["alice"], G58)
    second = state.join(sids["alice"], G58)
    assert first.reply == second.reply
    assert not second.outbox.messages


@pytest.mark.parametrize(("uid", "interphone", "member"), [
    ("alice", G58, "bob"),                               # acting for another uid
    ("dave", G58, None),                                 # not in the group
    ("eve", D12, None),                                  # not in the discussion
    ("alice", InterphoneId.group("unknown"), None),      # no such group
    ("alice", InterphoneId.chat("bob", "carol"), None),  # not a party of the chat
    ("alice", InterphoneId.chat("alice", "mallory"), None),  # token mode: unknown party
])
def test_join_refusals(uid: str, interphone: InterphoneId, member: str | None) -> None:
    state = make_state()
    sids = logged(state, uid)
    refused(ErrCode.FORBIDDEN, state.join, sids[uid], interphone, member)
    assert interphone not in state.interphones


def test_open_mode_chat_with_anyone() -> None:
    state = make_state(SETTINGS.with_overrides(auth="open"))
    state.login(1, "x1", "", "127.0.0.1")
    state.login(2, "x2", "", "127.0.0.1")
    result = state.join(1, InterphoneId.chat("x2", "x1"))
    assert [m.body.info.attach_id for s, m in result.outbox.messages] == ["x2", "x1"]
    assert [s for s, _ in result.outbox.messages] == [1, 2]


def test_quit_releases_floor_ends_at_zero_and_404_when_not_in() -> None:
    state, sids = alice_speaking_beside_bob()
    result = state.quit(sids["alice"], G58, "alice")
    assert isinstance(result.reply, QuitResult)
    assert (result.reply.info.member_count, result.reply.info.speaker) == (1, "")
    (note,) = changes(result.outbox, sids["bob"])
    assert (note.info.speaker, note.info.members) == ("", ("bob",))
    refused(ErrCode.NOT_FOUND, state.quit, sids["alice"], G58)
    refused(ErrCode.FORBIDDEN, state.quit, sids["alice"], G58, "bob")
    state.quit(sids["bob"], G58)
    assert G58 not in state.interphones and "group_58" not in state.routes


def test_fan_out_reaches_members_watchers_and_chat_parties_once_each() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob", "carol")
    chat = InterphoneId.chat("alice", "bob")
    state.sync(sids["bob"], (chat,))  # a watcher who is also a party: still once
    result = state.join(sids["alice"], chat)
    recipients = [s for s, _ in result.outbox.messages]
    assert recipients == [sids["alice"], sids["bob"]]
    state.sync(sids["carol"], (G58,))
    state.join(sids["bob"], G58)
    result = state.join(sids["alice"], G58)
    recipients = [s for s, _ in result.outbox.messages]
    assert sorted(recipients) == sorted([sids["alice"], sids["bob"], sids["carol"]])
    by_sid = {s: m.body.info for s, m in result.outbox.messages}
    assert by_sid[sids["carol"]].members is None  # watcher: count only
    assert by_sid[sids["bob"]].members == ("bob", "alice")


def test_one_message_object_per_view_is_reused() -> None:
    state = make_state(SETTINGS.with_overrides(auth="open"))
    for n in range(10):
        state.login(n, f"u{n}", "", "127.0.0.1")
        state.join(n, GALL)
    state.login(99, "w", "", "127.0.0.1")
    state.sync(99, (GALL,))
    result = state.speak(0, GALL, True, 0.0)
    objects = {id(m) for _, m in result.outbox.messages}
    assert len(result.outbox.messages) == 11 and len(objects) == 2


def test_big_interphones_notify_members_count_only() -> None:
    state = make_state(SETTINGS.with_overrides(auth="open"))
    for n in range(MEMBER_LIST_LIMIT + 1):
        state.login(n, f"u{n}", "", "127.0.0.1")
        result = state.join(n, GALL)
    note = result.outbox.messages[0][1].body
    assert note.info.member_count == MEMBER_LIST_LIMIT + 1 and note.info.members is None
    assert len(result.reply.info.members) == MEMBER_LIST_LIMIT + 1  # the response still lists


def test_member_limit_answers_413() -> None:
    state = make_state(SETTINGS.with_overrides(auth="open"))
    for n in range(500):
        state.login(n, f"u{n}", "", "127.0.0.1")
        state.join(n, GALL)
    state.login(500, "late", "", "127.0.0.1")
    refused(ErrCode.TOO_LARGE, state.join, 500, GALL)


# ---- floor ---------------------------------------------------------------------------------


def test_speak_grant_busy_and_off() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob", "carol")
    for uid in ("alice", "bob"):
        state.join(sids[uid], G58)
    result = state.speak(sids["alice"], G58, True, 0.0)
    assert result.reply == SpeakResult(True, G58)
    assert changes(result.outbox, sids["bob"])[0].info.speaker == "alice"
    assert not state.speak(sids["alice"], G58, True, 1.0).outbox.messages  # already holder
    error = refused(ErrCode.FLOOR_BUSY, state.speak, sids["bob"], G58, True, 1.0)
    assert error.errmsg == "alice is speaking"
    assert not state.speak(sids["bob"], G58, False, 1.0).outbox.messages  # harmless off
    refused(ErrCode.FORBIDDEN, state.speak, sids["carol"], G58, True, 1.0)
    result = state.speak(sids["alice"], G58, False, 2.0)
    assert changes(result.outbox, sids["bob"])[0].info.speaker == ""
    assert state.speak(sids["bob"], G58, True, 2.0).reply == SpeakResult(True, G58)


@pytest.mark.parametrize(("audio_at", "revoked_at", "reason"), [
    ((), 5.0, "silence"),                    # no audio at all: grant + silence_timeout
    ((4.0,), 9.0, "silence"),                # last audio + silence_timeout
    (tuple(range(1, 70)), 60.0, "max_talk"),  # talking all along: max_talk
])
def test_floor_revocation(audio_at: tuple[float, ...], revoked_at: float, reason: str) -> None:
    state, sids = alice_speaking_beside_bob()
    record = state.interphones[G58]
    now = 0.0
    for at in audio_at:
        if at >= revoked_at:
            break
        now = at
        assert not state.handle_timer(now)
        record.last_audio_at = at
    assert not state.handle_timer(revoked_at - 0.01)
    outbox = state.handle_timer(revoked_at)
    assert changes(outbox, sids["bob"])[0].info.speaker == ""
    assert any(f"reason={reason}" in e for e in outbox.log_lines)
    assert record.holder == ""


def test_stale_timer_of_an_old_grant_does_nothing() -> None:
    state = make_state()
    sids = logged(state, "alice")
    state.join(sids["alice"], G58)
    state.speak(sids["alice"], G58, True, 0.0)
    state.speak(sids["alice"], G58, False, 1.0)
    state.speak(sids["alice"], G58, True, 3.0)
    assert not state.handle_timer(5.0)  # the first grant's deadline
    assert state.interphones[G58].holder == "alice"
    assert state.handle_timer(8.0)


def test_logout_revokes_floor_and_leaves_everything() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.join(sids["alice"], G58)
    state.join(sids["alice"], D12)
    state.join(sids["bob"], G58)
    state.speak(sids["alice"], G58, True, 0.0)
    outbox = state.logout(sids["alice"])
    assert [n.info.speaker for n in changes(outbox, sids["bob"])] == [""]
    assert D12 not in state.interphones
    assert "alice" not in state.by_uid
    assert not state.logout(sids["alice"])  # idempotent


# ---- media registration --------------------------------------------------------------------


def test_register_media_rules() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.join(sids["alice"], G58)
    assert state.register_media("group_58", "alice", ("127.0.0.1", 5000))
    assert state.interphones[G58].addrs == {"alice": ("127.0.0.1", 5000)}
    assert not state.register_media("group_58", "alice", ("127.0.0.2", 5000))  # wrong ip
    assert not state.register_media("group_58", "bob", ("127.0.0.1", 5001))  # not a member
    assert not state.register_media("group_59", "alice", ("127.0.0.1", 5000))  # inactive
    assert not state.register_media("garbage", "alice", ("127.0.0.1", 5000))
    state.quit(sids["alice"], G58)
    state.join(sids["alice"], G58)
    assert state.interphones[G58].addrs == {}  # registration ended with the quit


def test_fanout_follows_registrations_and_speaker() -> None:
    """The relay's cached fan-out list is rebuilt on every registration change."""
    state = make_state()
    sids = logged(state, "alice", "bob", "carol")
    for uid in sids:
        state.join(sids[uid], G58)
    a, b, c, b2 = (("127.0.0.1", port) for port in (5000, 5001, 5002, 5003))
    state.register_media("group_58", "alice", a)
    state.register_media("group_58", "bob", b)
    record = state.interphones[G58]
    assert record.fanout("alice") == (b,)
    state.register_media("group_58", "carol", c)
    assert record.fanout("alice") == (b, c)
    assert record.fanout("bob") == (a, c)
    state.register_media("group_58", "bob", b2)  # new address, same place in the order
    assert record.fanout("alice") == (b2, c)
    state.quit(sids["carol"], G58)
    assert record.fanout("alice") == (b2,)
    state.logout(sids["bob"])
    assert record.fanout("alice") == ()
    assert record.fanout("nobody") == (a,)


def test_register_media_accepts_either_chat_order() -> None:
    state = make_state()
    sids = logged(state, "alice", "bob")
    state.join(sids["bob"], InterphoneId.chat("alice", "bob"))
    assert state.register_media("chat_bob:alice", "bob", ("127.0.0.1", 7000))
