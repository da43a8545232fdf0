"""ClientModel as a pure state machine: responses and notifications in, events out."""

from __future__ import annotations

import pytest

from app.client import (
    ClientModel,
    ConnectionChanged,
    ConnectionState,
    FloorChanged,
    FloorOutcome,
    FloorState,
    IncomingCall,
    InterphoneEnded,
    InterphoneUpdated,
    JoinedChanged,
    MembersChanged,
    RosterChanged,
    SpeakerChanged,
)
from app.protocol import InterphoneId, InterphoneInfo, LoginResult, RosterEntry

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
CHAT = InterphoneId.chat("me", "lxx")


def info(interphone=G58, members=("me",), speaker="", *, count=None, listed=True):
    return InterphoneInfo(interphone, interphone.attach_id_for("me"),
                          len(members) if count is None else count, speaker,
                          tuple(members) if listed else None)


@pytest.fixture
def model():
    now = [100.0]
    m = ClientModel("me", clock=lambda: now[0])
    m.events = []  # type: ignore[attr-defined]
    m.subscribe(m.events.append)  # type: ignore[attr-defined]
    return m


def joined(model, *members, speaker=""):
    model.apply_joined(info(G58, members or ("me",), speaker))
    model.events.clear()
    return model


def test_login_sets_roster_and_timers(model):
    roster = (RosterEntry("group", "58", "Ops"), RosterEntry("discuss", "12", "Night"),
              RosterEntry("contact", "lxx", "Li"))
    model.apply_login(LoginResult("me", 9400, 7, 30, roster))
    assert model.roster_ids() == (G58, D12)
    assert (model.keepalive, model.max_talk) == (7, 30)
    assert [c.id for c in model.contacts] == ["lxx"]
    assert model.events == [RosterChanged(roster)]
    model.apply_login(LoginResult("me", 9400, 7, 30, roster))
    assert len(model.events) == 1  # same roster: no event


def test_connection_events_only_on_change(model):
    model.set_connection(ConnectionState.CONNECTING)
    model.set_connection(ConnectionState.CONNECTING)
    model.set_connection(ConnectionState.KICKED, "login_elsewhere")
    assert model.events == [ConnectionChanged(ConnectionState.CONNECTING),
                            ConnectionChanged(ConnectionState.KICKED, "login_elsewhere")]
    assert model.connection.final and model.connection_detail == "login_elsewhere"


def test_sync_replaces_the_live_set_but_keeps_the_joined_one(model):
    model.apply_sync([info(D12, ("a", "b"), listed=False)])
    joined(model, "me")
    model.apply_sync([])
    assert set(model.interphones) == {G58}
    assert model.events == [InterphoneEnded(D12)]


def test_join_then_notifications_drive_members_and_speaker(model):
    model.apply_joined(info(G58, ("me", "bob"), "bob"))
    assert model.joined == G58 and model.members == ("me", "bob")
    assert model.floor is FloorState.BUSY and model.floor_holder == "bob"
    assert model.speaker_since is None  # bob spoke before the join: since when is unknown
    kinds = [type(e) for e in model.events]
    assert kinds[:2] == [JoinedChanged, InterphoneUpdated]
    assert SpeakerChanged in kinds and MembersChanged in kinds
    model.events.clear()
    assert model.apply_info(info(G58, ("me",), "")) is False
    assert model.members == ("me",) and model.speaker == "" and model.floor is FloorState.IDLE
    assert model.events == [InterphoneUpdated(G58), MembersChanged(G58, ("me",)),
                            SpeakerChanged(G58, "", None), FloorChanged(FloorState.IDLE)]
    model.apply_info(info(G58, ("me", "bob"), "bob"))  # a speech seen from its start
    assert model.speaker == "bob" and model.speaker_since == 100.0


@pytest.mark.parametrize(
    ("count", "listed", "stale"),
    [
        (3, True, False),  # member list given
        (3, False, True),  # count changed, no list: refresh
        (2, False, False),  # count unchanged, no list: nothing to refresh
    ],
)
def test_count_only_notifications_ask_for_a_refresh(model, count, listed, stale):
    joined(model, "me", "bob")
    members = ("me", "bob", "carol") if listed else ("me", "bob")
    assert model.apply_info(info(G58, members, count=count, listed=listed)) is stale


def test_floor_grant_release_and_revocation(model):
    joined(model, "me", "bob")
    model.floor_requesting()
    model.apply_info(info(G58, ("me", "bob"), "me"))  # grant notification before the answer
    assert model.floor is FloorState.REQUESTING
    model.floor_granted()
    assert model.floor is FloorState.TALKING and model.speaker == "me"
    model.events.clear()
    model.apply_info(info(G58, ("me", "bob"), ""))  # the server took the floor away
    assert model.floor is FloorState.IDLE
    assert FloorChanged(FloorState.IDLE, "", "revoked",
                        outcome=FloorOutcome.REVOKED) in model.events


def test_revocation_to_another_speaker_is_busy(model):
    joined(model, "me", "bob")
    model.floor_requesting()
    model.floor_granted()
    model.apply_info(info(G58, ("me", "bob"), "bob"))
    assert (model.floor, model.floor_holder) == (FloorState.BUSY, "bob")


def test_refusals(model):
    joined(model, "me", "bob", speaker="bob")
    model.floor_requesting()
    model.floor_refused(holder="bob", busy=True, reason="bob is speaking")
    assert (model.floor, model.floor_holder) == (FloorState.BUSY, "bob")
    model.floor_requesting()
    model.floor_refused(busy=False, reason="not a member")
    assert model.floor is FloorState.DENIED
    assert model.events[-1] == FloorChanged(FloorState.DENIED, "", "not a member",
                                            outcome=FloorOutcome.REFUSED)
    model.apply_info(info(G58, ("me", "bob"), ""))  # the speaker changed: denial is over
    assert model.floor is FloorState.IDLE


def test_release_clears_our_speaker_state(model):
    joined(model, "me")
    model.floor_requesting()
    model.floor_granted()
    model.floor_released()
    assert model.floor is FloorState.IDLE and model.speaker == ""
    assert model.events[-1] == FloorChanged(FloorState.IDLE, "", "released",
                                            outcome=FloorOutcome.RELEASED)


def outcomes(model):
    return [(e.state, e.outcome) for e in model.events if isinstance(e, FloorChanged)]


def test_every_floor_change_says_what_became_of_our_request(model):
    """``outcome`` tells a request's end from another's turn, and a refusal, a request
    given up, a wait in line ended or a grant given back from one another, whatever the
    state and the reason's words (a refusal's reason is the server's text)."""
    S, W = FloorState, FloorOutcome
    joined(model, "me", "bob", speaker="bob")
    model.floor_requesting()
    model.floor_refused(holder="bob", busy=True, reason="bob is speaking")
    model.floor_requesting()
    model.floor_queued(2)
    model.floor_queued(1)
    model.floor_released("left_queue", cause="timeout")
    model.floor_requesting()
    model.floor_queued(1)
    model.floor_released("cancelled")  # talk_start cancelled
    model.floor_requesting()
    model.floor_released("released")  # talk_stop before any answer
    model.apply_info(info(G58, ("me", "bob"), ""))  # bob stopped: nobody's request
    model.floor_requesting()
    model.floor_refused(busy=False, reason="revoked")  # the server's words
    assert outcomes(model) == [
        (S.REQUESTING, W.REQUESTED), (S.BUSY, W.REFUSED_BUSY),
        (S.REQUESTING, W.REQUESTED), (S.QUEUED, W.QUEUED), (S.QUEUED, W.MOVED),
        (S.BUSY, W.LEFT_QUEUE),
        (S.REQUESTING, W.REQUESTED), (S.QUEUED, W.QUEUED), (S.BUSY, W.CANCELLED),
        (S.REQUESTING, W.REQUESTED), (S.BUSY, W.CANCELLED),
        (S.IDLE, W.NONE),
        (S.REQUESTING, W.REQUESTED), (S.DENIED, W.REFUSED)]
    model.events.clear()
    model.floor_requesting()
    model.floor_granted()
    model.floor_released("released")
    model.floor_requesting()
    model.floor_granted()
    model.ending_floor("disconnected")
    model.floor_requesting()
    model.apply_left(info(G58, ("bob",), "", listed=False))
    assert outcomes(model) == [
        (S.REQUESTING, W.REQUESTED), (S.TALKING, W.GRANTED), (S.IDLE, W.RELEASED),
        (S.REQUESTING, W.REQUESTED), (S.TALKING, W.GRANTED), (S.IDLE, W.DISCONNECTED),
        (S.REQUESTING, W.REQUESTED), (S.IDLE, W.ENDED)]


def test_leaving_resets_everything_of_the_joined_interphone(model):
    joined(model, "me", "bob", speaker="bob")
    model.apply_left(info(G58, ("bob",), "bob", listed=False))
    assert (model.joined, model.members, model.speaker) == (None, (), "")
    assert model.floor is FloorState.IDLE
    assert JoinedChanged(None) in model.events and MembersChanged(G58, ()) in model.events
    assert model.interphone(G58).member_count == 1


@pytest.mark.parametrize(
    ("members", "count", "joining", "rings"),
    [
        (("lxx",), 1, None, True),  # lxx calls us
        (None, 1, None, True),  # count-only view: still a call
        (("lxx", "me"), 2, None, False),  # we are in it already
        (("lxx",), 1, CHAT, False),  # our own join in flight
    ],
)
def test_incoming_call(model, members, count, joining, rings):
    model.expect_join(joining)
    listed = members is not None
    model.apply_info(info(CHAT, members or ("lxx",), count=count, listed=listed))
    calls = [e for e in model.events if isinstance(e, IncomingCall)]
    assert calls == ([IncomingCall(CHAT, "lxx")] if rings else [])


def test_a_call_rings_once_until_it_ends(model):
    model.apply_info(info(CHAT, ("lxx",)))
    model.apply_info(info(CHAT, ("lxx",), "lxx"))  # lxx starts speaking: no new ring
    model.apply_info(info(CHAT, (), count=0))
    model.apply_info(info(CHAT, ("lxx",)))
    assert len([e for e in model.events if isinstance(e, IncomingCall)]) == 2


def test_events_arrive_after_the_whole_change(model):
    seen = []
    model.subscribe(lambda e: seen.append((type(e).__name__, model.floor, model.speaker)))
    model.apply_joined(info(G58, ("me", "bob"), "bob"))
    assert seen and all((f, s) == (FloorState.BUSY, "bob") for _, f, s in seen)


def test_a_failing_subscriber_does_not_stop_the_others(model, caplog):
    def broken(event):
        raise RuntimeError("boom")

    model.subscribe(broken)
    after = []
    model.subscribe(after.append)
    model.set_connection(ConnectionState.CONNECTING)
    assert after == [ConnectionChanged(ConnectionState.CONNECTING)]
    assert "boom" in caplog.text


def test_unsubscribe(model):
    seen = []
    unsubscribe = model.subscribe(seen.append)
    unsubscribe()
    unsubscribe()
    model.set_connection(ConnectionState.CONNECTING)
    assert seen == []


@pytest.mark.parametrize("coalesced", [False, True], ids=["base", "coalesce"])
def test_a_sync_keeps_the_member_lists_of_joined_interphones_it_counts_alike(
        model, coalesced):
    """A sync answers with counts only: a joined interphone other than the talk target
    kept no list after one (with extension coalesce), and its panel read "Join to see
    who is in" for good. The list is kept while the count agrees, else it is to ask for."""
    model.apply_login(LoginResult("me", 9400, 7, 30, features=("coalesce",) if coalesced
                                  else ()))
    model.apply_joined(info(D12, ("me",)))  # the talk target
    model.apply_joined(info(G58, ("me", "bob")))
    model.set_talk_target(D12)
    model.apply_sync([info(G58, count=2, listed=False), info(D12, listed=False)])
    kept = model.interphone(G58)
    assert kept is not None and kept.members == ("me", "bob")
    assert model.unlisted_joined() == ()
    model.apply_sync([info(G58, count=3, listed=False), info(D12, listed=False)])
    changed = model.interphone(G58)
    assert changed is not None and changed.member_count == 3
    assert changed.members is None and model.unlisted_joined() == (G58,)
