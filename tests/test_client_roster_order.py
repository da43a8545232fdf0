"""Extension roster: a directory reload's ``<roster>`` notice and the change notification
that removes us from a joined group, in every order a client can read them.

One server sends the removal first, then the roster (docs/protocol-extensions.md). With
several nodes the node that reloads tells its sessions their roster at once while the
removal goes through the shared log, and a later reload may list the group again before
that removal arrives. The model's final state must not depend on the order.
"""

from __future__ import annotations

import pytest

from app.client import (
    ClientModel,
    ConnectionState,
    JoinedSetChanged,
    RemovedFromInterphone,
    RosterChanged,
)
from app.protocol import InterphoneChanged, InterphoneId, InterphoneInfo, LoginResult, RosterEntry
from app.protocol.features import ROSTER
from app.protocol.messages import Body, RosterNotice

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
OPS = RosterEntry("group", "58", "Ops")
NIGHT = RosterEntry("discuss", "12", "Night")
BOB = RosterEntry("contact", "bob", "Bob")
WITH_58 = (OPS, NIGHT, BOB)
WITHOUT_58 = (NIGHT, BOB)

REMOVAL = InterphoneChanged(InterphoneInfo(G58, G58.attach_id_for("me"), 1, "", ("bob",)))
ROSTER_WITHOUT = RosterNotice(WITHOUT_58, "Me")
ROSTER_WITH = RosterNotice(WITH_58, "Me")


def _in_both(features: tuple[str, ...]) -> tuple[ClientModel, list[object]]:
    """Logged in with ``features``, joined to D12 then G58 (the talk target)."""
    model = ClientModel("me")
    model.apply_login(LoginResult("me", 9400, 15, 60, WITH_58, features=features, name="Me"))
    model.set_connection(ConnectionState.CONNECTED)
    for interphone, members in ((D12, ("me",)), (G58, ("me", "bob"))):
        model.expect_join(interphone)
        model.apply_joined(InterphoneInfo(interphone, interphone.attach_id_for("me"),
                                          len(members), "", members))
    events: list[object] = []
    model.subscribe(events.append)
    return model, events


def _read(model: ClientModel, bodies: tuple[Body, ...]) -> None:
    for body in bodies:
        model.apply_body(body)


def _group_ids(model: ClientModel) -> list[str]:
    return [entry.id for entry in model.groups]


@pytest.mark.parametrize("order", [(REMOVAL, ROSTER_WITHOUT), (ROSTER_WITHOUT, REMOVAL)],
                         ids=["removal-first (one node)", "roster-first (its node, several)"])
def test_a_reload_that_removes_us_ends_the_same_in_either_order(order: tuple[Body, ...]) -> None:
    model, events = _in_both((ROSTER,))
    _read(model, order)
    assert not model.is_joined(G58) and model.joined_ids == (D12,)
    assert model.talk_target == D12
    assert _group_ids(model) == []
    assert model.interphone(G58) is None  # what we knew of it went with it
    assert [e for e in events if isinstance(e, RemovedFromInterphone)] == [
        RemovedFromInterphone(G58, True)]
    assert [e for e in events if isinstance(e, RosterChanged)] == [RosterChanged(WITHOUT_58)]


@pytest.mark.parametrize("order", [
    (REMOVAL, ROSTER_WITHOUT, ROSTER_WITH),
    (ROSTER_WITHOUT, REMOVAL, ROSTER_WITH),
    (ROSTER_WITHOUT, ROSTER_WITH, REMOVAL),
], ids=["one node", "several, removal between", "several, removal last"])
def test_a_group_listed_again_by_a_later_reload_stays_listed_whatever_the_order(
        order: tuple[Body, ...]) -> None:
    """A first reload takes us out of Ops, a second one puts us back before the first
    one's removal reached us (several nodes): we are out of it, and may join it again."""
    model, events = _in_both((ROSTER,))
    _read(model, order)
    assert not model.is_joined(G58) and model.joined_ids == (D12,)
    assert _group_ids(model) == ["58"]
    assert model.roster == WITH_58
    assert [e for e in events if isinstance(e, RemovedFromInterphone)] == [
        RemovedFromInterphone(G58, True)]
    assert [e for e in events if isinstance(e, JoinedSetChanged)] == [JoinedSetChanged((D12,))]


def test_without_the_extension_a_removal_drops_the_group_from_the_roster() -> None:
    """The base contract has no roster notice: the removal is the only word (1.6)."""
    model, events = _in_both(())
    _read(model, (REMOVAL,))
    assert not model.is_joined(G58)
    assert _group_ids(model) == []
    assert model.interphone(G58) is None
    assert [e for e in events if isinstance(e, RosterChanged)] == [RosterChanged(WITHOUT_58)]
