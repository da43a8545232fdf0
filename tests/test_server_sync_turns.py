"""Presence syncs (extension presence) are answered a few per turn of the event loop:
after a reload's roster notices every client asks one (a thousand contacts each), and
answered all in one turn they held the loop for seconds. Those past the turn's bound wait
for the next turns, other clients' requests are answered between, and each session's
answers keep the order of its requests (PROTOCOL.md) (the real server, raw clients)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from server_fixtures import RawClient, everyone_directory, running_server

from app.protocol import InterphoneId
from app.protocol.framing import encode_frame
from app.protocol.messages import Login, MembersRequest, Message
from app.protocol.presence import PresenceSyncRequest, PresenceSyncResult
from app.protocol.xmlcodec import encode_message
from app.server import tcp

USERS = 16
ALL = InterphoneId.group("all")


def frame(seq: str, body: object) -> bytes:
    return encode_frame(encode_message(Message.request(seq, body)))  # type: ignore[arg-type]


async def presence_client(port: int, n: int) -> RawClient:
    """A raw client logged in as user ``n`` with the extension presence."""
    client = await RawClient.connect(port)
    reply = await client.request(Login(f"u{n:02d}", "", features=("presence",)))
    assert reply.ok, reply
    return client


@asynccontextmanager
async def first_sync_taken(
        monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[RawClient, RawClient]]:
    """One sync per turn and two presence clients, the first's sync ``a`` sent: it takes
    this turn's one, what the second sends in the same turn waits behind it."""
    monkeypatch.setattr(tcp, "SYNCS_PER_TURN", 1)
    async with running_server(everyone_directory(USERS + 1)) as server:
        first, second = await presence_client(server.port, 0), \
            await presence_client(server.port, 1)
        first.send_raw(frame("a", PresenceSyncRequest()))
        try:
            yield first, second
        finally:
            for client in (first, second):
                await client.close()


async def test_syncs_past_a_turn_s_bound_wait_and_another_client_is_answered_between(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp, "SYNCS_PER_TURN", 1)
    async with running_server(everyone_directory(USERS + 1)) as server:
        clients = []
        for n in range(USERS):
            clients.append(await presence_client(server.port, n))
        other = await RawClient.connect(server.port)
        assert (await other.request(Login(f"u{USERS:02d}", ""))).ok
        syncs = [asyncio.ensure_future(c.request(PresenceSyncRequest(), timeout=10))
                 for c in clients]
        await asyncio.sleep(0)  # every sync written, read by the server in one turn
        members = await other.request(MembersRequest(ALL), timeout=10)
        assert members.ok, members
        # answered while syncs still wait for later turns
        assert not all(s.done() for s in syncs)
        state = server.state
        assert state.deferred_sids
        for answer in await asyncio.gather(*syncs):
            assert answer.ok and isinstance(answer.body, PresenceSyncResult), answer
        assert not state.deferred_sids
        for client in [*clients, other]:
            await client.close()


async def test_a_session_s_answers_keep_the_order_of_its_requests_across_turns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with first_sync_taken(monkeypatch) as (first, second):
        # the second's sync waits, and its members request and second sync (sent in the
        # same write) wait behind it
        second.send_raw(frame("s1", PresenceSyncRequest()) + frame("m", MembersRequest(ALL))
                        + frame("s2", PresenceSyncRequest()))
        answers: list[Message] = []
        for _ in range(3):
            answers.append(await second.next_unmatched(timeout=10))
        assert [m.seq for m in answers] == ["s1", "m", "s2"], answers
        assert (await first.next_unmatched(timeout=10)).seq == "a"


async def test_requests_piped_behind_a_deferred_sync_are_all_answered_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # its reading pauses while they wait (no limit of a few dozen frames closes it)
    async with first_sync_taken(monkeypatch) as (_, second):
        piped = [frame("s", PresenceSyncRequest())]
        piped += [frame(f"m{n}", MembersRequest(ALL)) for n in range(60)]
        second.send_raw(b"".join(piped))
        seqs = [(await second.next_unmatched(timeout=10)).seq for _ in range(61)]
        assert seqs == ["s", *[f"m{n}" for n in range(60)]]
        assert not await second.closed_by_server(timeout=0.2)
