"""What docs/protocol-extensions.md 1.6 and 1.3 promise where the floor extensions or a
repeated login meet the base rules: a removal by a directory reload sends no ``revoked``
or ``left``, and a repeated login on the same connection is not checked again. Real
server, real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from server_fixtures import G58, TEST_TOML, RawClient, running_server

from app.protocol import InterphoneChanged, Login, LoginResult, SpeakRequest
from app.protocol.messages import ErrorReply, FloorNotice, FloorNoticeType, SpeakResult
from app.server import Directory
from tests.test_cluster_extensions import KINDS, client_with, close_all, spread_of

FEATURES = ("floor-queue", "priority", "emergency")
WITHOUT_ALICE_AND_BOB = TEST_TOML.replace(
    'members = ["alice", "bob", "carol"]', 'members = ["carol"]', 1)


async def _client(port: int, uid: str) -> RawClient:
    raw = await RawClient.connect(port)
    reply = await raw.request(Login(uid, f"pw-{uid}", features=FEATURES))
    assert reply.ok and isinstance(reply.body, LoginResult), reply
    raw.uid = uid
    return raw


async def test_a_removed_holder_and_waiter_get_no_floor_notice() -> None:
    async with running_server() as server:
        alice, bob, carol = [await _client(server.port, uid) for uid in ("alice", "bob", "carol")]
        for raw in (alice, bob, carol):
            await raw.join(G58)
        assert (await alice.request(SpeakRequest(True, G58))).ok
        assert (await bob.request(SpeakRequest(True, G58, queue=True))).body == SpeakResult(
            True, G58, True, 1)
        assert (await carol.request(SpeakRequest(True, G58, queue=True))).body == SpeakResult(
            True, G58, True, 2)
        await asyncio.sleep(0.1)
        for raw in (alice, bob, carol):
            raw.drain()
        server.replace_directory(Directory.from_toml_text(WITHOUT_ALICE_AND_BOB,
                                                          source="t.toml"))
        seen = []  # carol, left alone in the line, is granted the floor
        while not any(isinstance(m.body, InterphoneChanged) and m.body.info.speaker == "carol"
                      for m in seen):
            seen += [await carol.next_notification()]
        speakers = [m.body.info.speaker for m in seen if isinstance(m.body, InterphoneChanged)]
        assert speakers == ["carol"]  # straight from alice: bob never held it
        await alice.request(SpeakRequest(False, G58))  # a round trip: all is told before
        await bob.request(SpeakRequest(False, G58))
        for removed in (alice, bob):
            told = removed.drain()
            assert told and all(isinstance(m.body, InterphoneChanged) for m in told), told
            assert removed.uid not in told[-1].body.info.members
            assert {m.body.info.speaker for m in told} == {"carol"}
            assert not any(isinstance(m.body, FloorNotice) for m in told)
        for raw in (alice, bob, carol):
            await raw.close()


async def test_a_repeated_login_is_not_checked_again() -> None:
    async with running_server() as server:
        alice = await _client(server.port, "alice")
        reply = await alice.request(Login("alice", "not-her-token", features=("presence",)))
        assert reply.ok and isinstance(reply.body, LoginResult)
        assert reply.body.features == FEATURES_SORTED
        refused = (await alice.request(Login("bob", "pw-bob"))).body
        assert isinstance(refused, ErrorReply) and refused.errcode == 403
        await alice.close()


FEATURES_SORTED = tuple(sorted(FEATURES))


async def _until(raw: RawClient, wanted: Callable[[object], bool]) -> list[object]:
    """Every notification body up to the first ``wanted`` accepts, that one included."""
    bodies: list[object] = []
    while not bodies or not wanted(bodies[-1]):
        bodies.append((await raw.next_notification(5.0)).body)
    return bodies


@pytest.mark.parametrize("kind", KINDS)
async def test_on_every_node_a_floor_freed_by_a_reload_skips_those_it_removes(
        kind: str, tmp_path: Path) -> None:
    """The same through the shared log (each node reloads its copy of the file): alice
    (holding) and bob (waiting, on the other node) are taken out of the group; carol, on
    alice's node, is granted the floor; nobody ever sees bob hold it."""
    async with spread_of(kind, tmp_path) as spread:
        alice = await client_with(spread.port(0), "alice", *FEATURES)
        bob = await client_with(spread.port(1), "bob", *FEATURES)
        carol = await client_with(spread.port(0), "carol", *FEATURES)
        for raw in (alice, bob, carol):
            await raw.join(G58)
        assert (await alice.request(SpeakRequest(True, G58))).ok
        assert (await bob.request(SpeakRequest(True, G58, queue=True))).ok
        assert (await carol.request(SpeakRequest(True, G58, queue=True))).ok
        new = Directory.from_toml_text(WITHOUT_ALICE_AND_BOB, source="new.toml")
        for node in spread.nodes:
            node.replace_directory(new)
        told = {raw.uid: await _until(raw, lambda b: isinstance(b, FloorNotice)
                                      and b.type is FloorNoticeType.GRANTED)
                for raw in (carol,)}
        for raw in (alice, bob):
            told[raw.uid] = await _until(raw, lambda b, uid=raw.uid: isinstance(
                b, InterphoneChanged) and uid not in b.info.members)
        await carol.request(SpeakRequest(False, G58))  # a round trip: the rest was told
        for raw in (alice, bob, carol):
            told[raw.uid] += [m.body for m in raw.drain()]
        assert not any(isinstance(b, InterphoneChanged) and b.info.speaker == "bob"
                       for bodies in told.values() for b in bodies), told
        assert not any(isinstance(b, FloorNotice) for b in told["bob"] + told["alice"]), told
        await close_all(alice, bob, carol)
