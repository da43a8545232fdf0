"""The client with the ``coalesce`` extension (the product clients ask for it by default):
its model must end at the interphone's real state whatever intermediate states were
skipped."""

from __future__ import annotations

import asyncio

import pytest

from app.client import ClientModel, InterphoneClient
from app.client.asked_features import asked_features
from app.protocol import InterphoneId, InterphoneInfo, LoginResult, RosterEntry
from app.protocol.features import COALESCE
from app.protocol.messages import MembersResult
from app.ui.sign_in_flow import Credentials
from tests.server_fixtures import GALL, running_server

pytestmark = pytest.mark.timeout(60)

G58 = InterphoneId.group("58")


def model_granted(*features: str) -> ClientModel:
    model = ClientModel("me", clock=lambda: 100.0)
    model.apply_login(LoginResult("me", 9400, 15, 60, (RosterEntry("group", "58", "Ops"),),
                                  features=features))
    return model


def count_only(members: tuple[str, ...]) -> InterphoneInfo:
    return InterphoneInfo(G58, G58.attach_id_for("me"), len(members), "", None)


def listed(members: tuple[str, ...]) -> InterphoneInfo:
    return InterphoneInfo(G58, G58.attach_id_for("me"), len(members), "", members)


def test_a_coalesced_count_does_not_vouch_for_a_member_list_known_before() -> None:
    # alice left and carol joined within one window: one notification, count unchanged
    model = model_granted(COALESCE)
    model.apply_body(MembersResult(listed(("alice", "bob"))))
    model.apply_info(count_only(("bob", "carol")))
    known = model.interphone(G58)
    assert known is not None and known.member_count == 2
    assert known.members is None  # unknown now: not the stale ("alice", "bob")


def test_without_coalesce_an_unchanged_count_keeps_the_list() -> None:
    # base contract: every change is told, so an equal count means the same members
    model = model_granted()
    model.apply_body(MembersResult(listed(("alice", "bob"))))
    model.apply_info(count_only(("alice", "bob")))
    known = model.interphone(G58)
    assert known is not None and known.members == ("alice", "bob")


def test_the_product_clients_ask_for_coalesce() -> None:
    assert COALESCE in asked_features(tls=False)
    assert COALESCE in asked_features(tls=True, presence=True)
    gui = Credentials("127.0.0.1", 9400, "alice", "pw").client()
    assert COALESCE in gui._features


async def test_a_storm_of_coalescing_clients_ends_with_every_model_complete() -> None:
    uids = ["alice", "bob", "carol", "dave", "eve"]
    async with running_server() as server:
        clients = [InterphoneClient("127.0.0.1", server.port, uid, f"pw-{uid}",
                                    reconnect=False, features=asked_features(tls=False))
                   for uid in uids]
        for client in clients:
            await client.connect()
            assert COALESCE in client.features
        await asyncio.gather(*(c.join(GALL) for c in clients))
        await until(lambda: all(c.model.members == tuple(uids) or
                                sorted(c.model.members) == sorted(uids) for c in clients))
        leaving = clients[1:3]
        await asyncio.gather(*(c.leave(GALL) for c in leaving))
        stay = sorted(c.uid for c in clients if c not in leaving)
        await until(lambda: all(sorted(c.model.members) == stay
                                for c in clients if c not in leaving))
        for client in clients:
            await client.close()


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the models did not converge"
        await asyncio.sleep(0.02)
