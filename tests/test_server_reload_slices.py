"""A directory reload that changes every session's roster (extension roster) tells the
notices a slice of sessions at a time: the event loop serves other clients between two
slices (a reload telling 465 sessions a roster of a thousand contacts held it 4-7 s), in
the documented order (the removals' change notifications first), and a second reload
first tells what is left of the first's (the real server, raw clients)."""

from __future__ import annotations

import asyncio

import pytest
from server_fixtures import RawClient, running_server

from app.protocol import InterphoneId
from app.protocol.messages import InterphoneChanged, Login, MembersRequest, RosterNotice
from app.server import Directory, roster_slices

USERS = 24
ALL = InterphoneId.group("all")


def directory(extra: str = "", members: str = '["*"]') -> Directory:
    lines = ["[server]", 'auth = "open"']
    for n in range(USERS):
        lines += ["[[users]]", f'uid = "u{n:02d}"', f'name = "User {n:02d}"']
    if extra:
        lines += ["[[users]]", f'uid = "{extra}"', f'name = "{extra}"']
    lines += ["[[groups]]", 'id = "all"', 'name = "Everyone"', f"members = {members}"]
    return Directory.from_toml_text("\n".join(lines), source=f"{extra or 'first'}.toml")


class OrderedClient(RawClient):
    """A raw client that also records every message in the order it arrived."""

    def _dispatch(self, message):  # type: ignore[no-untyped-def]
        self.arrived = [*getattr(self, "arrived", []), message]
        if hasattr(self, "on_arrival"):
            self.on_arrival(message)
        super()._dispatch(message)


async def roster_clients(port: int) -> list[OrderedClient]:
    clients = []
    for n in range(USERS):  # one after the other: the last logged in is told last
        client = OrderedClient(*await asyncio.open_connection("127.0.0.1", port))
        reply = await client.request(Login(f"u{n:02d}", "", features=("roster",)))
        assert reply.ok, reply
        clients.append(client)
    return clients


def rosters(client: OrderedClient) -> list[RosterNotice]:
    return [m.body for m in getattr(client, "arrived", []) if isinstance(m.body, RosterNotice)]


async def test_a_request_sent_during_a_reload_is_answered_before_its_last_roster_notice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster_slices, "ROSTER_SLICE", 4)
    async with running_server(directory()) as server:
        clients = await roster_clients(server.port)
        last = clients[-1]
        before = len(last.arrived)
        answer = asyncio.ensure_future(last.request(MembersRequest(ALL), timeout=10))
        await asyncio.sleep(0)  # the request is written (into the socket), not yet read
        server.replace_directory(directory("newbie"))  # every roster gains a contact
        await answer
        await asyncio.wait_for(_told(clients, 1), 10)
        arrived = last.arrived[before:]
        kinds = [type(m.body).__name__ for m in arrived]
        # the server read and answered it between two slices, before telling the last
        assert kinds.index("MembersResult") < kinds.index("RosterNotice"), kinds
        for client in clients:
            assert "newbie" in [e.id for e in rosters(client)[-1].roster]
        for client in clients:
            await client.close()


async def test_a_slice_ends_when_its_time_is_up_and_others_are_answered_meanwhile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster_slices, "ROSTER_SLICE", 1000)  # no bound by count
    monkeypatch.setattr(roster_slices, "SLICE_SECONDS", 0.0)  # a session per slice
    timeline: list[tuple[str, OrderedClient]] = []
    async with running_server(directory()) as server:
        clients = await roster_clients(server.port)
        first, last = clients[0], clients[-1]
        answer: list[asyncio.Future[object]] = []
        for client in clients:
            def arrived(message, client=client):  # type: ignore[no-untyped-def]
                timeline.append((type(message.body).__name__, client))
                if client is first and isinstance(message.body, RosterNotice):
                    # asked as soon as the first slice is read
                    answer.append(asyncio.ensure_future(first.request(MembersRequest(ALL),
                                                                      timeout=10)))
            client.on_arrival = arrived  # type: ignore[attr-defined]
        server.replace_directory(directory("newbie"))
        await asyncio.wait_for(_told(clients, 1), 10)
        await asyncio.wait_for(answer[0], 10)
        events = [(kind, client) for kind, client in timeline]
        answered = events.index(("MembersResult", first))
        assert answered < events.index(("RosterNotice", last)), events
        for client in clients:
            await client.close()


async def _told(clients: list[OrderedClient], count: int) -> None:
    while any(len(rosters(c)) < count for c in clients):
        await asyncio.sleep(0.01)


async def test_a_second_reload_first_tells_the_first_ones_notices_then_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster_slices, "ROSTER_SLICE", 4)
    async with running_server(directory()) as server:
        clients = await roster_clients(server.port)
        await clients[-1].join(ALL)
        server.replace_directory(directory("newbie"))
        assert server.rosters is not None and server.rosters.pending == USERS
        # u02-u23 leave "all": their change notification comes before their roster notice
        server.replace_directory(directory("newbie2", '["u00", "u01"]'))
        await asyncio.wait_for(_told(clients, 2), 10)
        for client in clients:
            first, second = rosters(client)  # each reload's, in order
            assert "newbie" in [e.id for e in first.roster]
            assert "newbie2" in [e.id for e in second.roster]
            assert "newbie" not in [e.id for e in second.roster]
            assert ("all" in [e.id for e in second.roster]) == (client in clients[:2])
        last = clients[-1]
        bodies = [m.body for m in last.arrived]
        left = max(n for n, b in enumerate(bodies) if isinstance(b, InterphoneChanged))
        assert "u23" not in (bodies[left].info.members or ())
        assert bodies.index(rosters(last)[-1]) > left
        for client in clients:
            await client.close()
