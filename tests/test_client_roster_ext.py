"""Extension roster (docs/protocol-extensions.md): the login response names the user
(their own display name), and a directory reload that changes a session's roster or name
sends it the whole roster again, so a group it may no longer see leaves the client's list
without a restart. Without the extension the client drops a roster group the server
refuses with 403. Real server on 127.0.0.1, real clients."""

from __future__ import annotations

import pytest
from client_fixtures import CLIENT_TOML, EventLog, running_server, wait_until

from app.client import NotAllowed, RosterChanged
from app.client.asked_features import asked_features
from app.protocol import InterphoneId, decode_message, encode_message
from app.protocol.features import KNOWN_FEATURES, ROSTER
from app.protocol.messages import LoginResult, Message, RosterEntry, RosterNotice
from app.protocol.presence import PRESENCE
from app.server import Directory

pytest_plugins = ["client_fixtures"]

G58 = InterphoneId.group("58")
D12 = InterphoneId.discuss("12")
ALICE_OUT_OF_58 = Directory.from_toml_text(
    CLIENT_TOML.replace('members = ["alice", "bob", "carol"]', 'members = ["bob", "carol"]'),
    source="reloaded.toml")
ALICE_RENAMED = Directory.from_toml_text(
    CLIENT_TOML.replace('name = "Alice"', 'name = "Alice Li"'), source="renamed.toml")
CAROL_RENAMED = Directory.from_toml_text(
    CLIENT_TOML.replace('name = "Carol"', 'name = "Carol Wu"'), source="carol.toml")
DAVE_ADDED = Directory.from_toml_text(
    CLIENT_TOML.replace('[[groups]]', '[[users]]\nuid = "dave"\nname = "Dave"\n'
                        'token = "pw-dave"\n\n[[groups]]', 1), source="dave.toml")


def group_ids(client) -> list[str]:
    return [entry.id for entry in client.model.groups]


def test_the_notice_and_the_name_survive_the_wire() -> None:
    roster = (RosterEntry("group", "58", "Ops"), RosterEntry("contact", "bob", "Bob"))
    for message in (Message.notification(RosterNotice(roster, "Alice")),
                    Message.response("1", LoginResult("alice", 9400, 15, 60, roster,
                                                      (ROSTER,), name="Alice"))):
        assert decode_message(encode_message(message)) == message
    assert ROSTER in KNOWN_FEATURES and ROSTER in asked_features(tls=False)
    # a session that asked for nothing sees the base login response: no name attribute
    base = encode_message(Message.response("1", LoginResult("alice", 9400, 15, 60, roster)))
    assert b" name=\"Alice\"" not in base and b"<login uid=\"alice\" udp_port" in base


async def test_the_login_response_names_the_user_only_when_asked(clients) -> None:
    async with running_server() as server:
        asked = await clients.connect(server.port, "alice", features=(ROSTER,))
        plain = await clients.connect(server.port, "bob")
        assert asked.model.name == "Alice"
        assert plain.model.name == ""  # the base contract: no name
        assert "alice" not in [e.id for e in asked.model.contacts]  # not a contact of ours


async def test_a_reload_without_us_in_a_group_we_did_not_join_drops_it_at_once(
        clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=(ROSTER,))
        await alice.join(D12)
        assert "58" in group_ids(alice)
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        await wait_until(lambda: "58" not in group_ids(alice), what="58 dropped")
        assert len(log.of(RosterChanged)) == 1
        assert alice.joined_ids == (D12,) and alice.model.name == "Alice"
        with pytest.raises(NotAllowed):  # (the server refuses it, as the list now says)
            await alice.join(G58)
        # a rename reaches the session too
        server.replace_directory(ALICE_RENAMED)
        await wait_until(lambda: alice.model.name == "Alice Li", what="renamed")
        assert "58" in group_ids(alice)  # back in Ops with the reload after
        bob = await clients.connect(server.port, "bob")
        await bob.join(G58)  # alice synced the new roster: she watches Ops again
        await wait_until(lambda: alice.model.interphone(G58) is not None, what="ops watched")


async def test_a_reload_that_leaves_a_roster_unchanged_tells_it_nothing(clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=(ROSTER,))
        bob = await clients.connect(server.port, "bob", features=(ROSTER,))
        alice_log, bob_log = EventLog(alice), EventLog(bob)
        server.replace_directory(ALICE_OUT_OF_58)  # bob's roster is the same
        await wait_until(lambda: "58" not in group_ids(alice), what="58 dropped")
        server.replace_directory(CAROL_RENAMED)  # a contact of both renamed, 58 back
        await wait_until(lambda: len(bob_log.of(RosterChanged)) == 1, what="bob told")
        await wait_until(lambda: len(alice_log.of(RosterChanged)) == 2, what="alice told")
        assert ("contact", "carol", "Carol Wu") in [(e.kind, e.id, e.name)
                                                     for e in bob.model.roster]


async def test_a_contact_a_reload_adds_shows_its_status_changes(clients) -> None:
    """With presence too: dave, added by a reload, becomes alice's contact. When he logs
    in, and out, alice is told (the server follows the new roster's contacts, not the
    ones of alice's login)."""
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice", features=(ROSTER, PRESENCE))
        server.replace_directory(DAVE_ADDED)
        await wait_until(lambda: "dave" in [e.id for e in alice.model.contacts],
                         what="dave listed")
        dave = await clients.connect(server.port, "dave")
        await wait_until(lambda: alice.model.presence.get("dave") is True,
                         what="dave shown online")
        await dave.close()
        await wait_until(lambda: alice.model.presence.get("dave") is False,
                         what="dave shown offline")


async def test_a_contact_a_reload_adds_while_online_is_shown_online(clients) -> None:
    """Open mode: dave is online before a reload makes him alice's contact. Alice asks the
    contacts' status again on the new roster, so dave shows online at once (not unknown
    until his next change)."""
    async with running_server(auth="open") as server:
        alice = await clients.connect(server.port, "alice", features=(ROSTER, PRESENCE))
        await clients.connect(server.port, "dave")
        assert "dave" not in alice.model.presence
        server.replace_directory(DAVE_ADDED)
        await wait_until(lambda: alice.model.presence.get("dave") is True,
                         what="dave shown online")


async def test_without_the_extension_a_refused_join_drops_the_group(clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        log = EventLog(alice)
        server.replace_directory(ALICE_OUT_OF_58)
        with pytest.raises(NotAllowed):
            await alice.join(G58)
        assert "58" not in group_ids(alice)
        assert log.of(RosterChanged) == [RosterChanged(alice.model.roster)]
        assert alice.model.interphone(G58) is None and alice.joined_ids == ()


async def test_without_the_extension_a_refused_member_list_drops_the_group(clients) -> None:
    async with running_server() as server:
        alice = await clients.connect(server.port, "alice")
        server.replace_directory(ALICE_OUT_OF_58)
        with pytest.raises(NotAllowed):  # what selecting the row asks
            await alice.members(G58)
        assert "58" not in group_ids(alice) and "12" in [e.id for e in alice.model.discussions]
