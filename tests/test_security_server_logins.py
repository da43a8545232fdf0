"""Logins through the server: token checks off the loop, back-off, per-address limits."""

from __future__ import annotations

import asyncio
import logging

import pytest
from server_fixtures import FAST, TEST_TOML, RawClient, running_server

from app.protocol.framing import encode_frame
from app.protocol.messages import Login, Ping
from app.server import Directory
from app.server.directory import hash_token

ITERATIONS = 200_000  # a wrong hashed login costs a real hash (tens of ms)


def hashed_directory() -> Directory:
    text = TEST_TOML.replace('token = "pw-alice"',
                             f'token_hash = "{hash_token("pw-alice", iterations=ITERATIONS)}"')
    return Directory.from_toml_text(text)


def login_xml(seq: str, uid: str, token: str) -> bytes:
    return encode_frame(f"<message type='request' seq='{seq}' module='MID_SESSION'>"
                        f"<login uid='{uid}' token='{token}' version='1'/></message>".encode())


async def test_a_flood_of_wrong_hashed_logins_does_not_delay_another_sessions_ping() -> None:
    async with running_server(hashed_directory()) as server:
        bob = await RawClient.connect(server.port)
        await bob.login("bob")
        attackers = [await RawClient.connect(server.port) for _ in range(4)]
        wrong = [asyncio.create_task(a.request(Login("alice", f"guess{n}"), timeout=30))
                 for n, a in enumerate(attackers)]
        await asyncio.sleep(0)
        ping = asyncio.create_task(bob.request(Ping(), timeout=30))
        done, _ = await asyncio.wait([ping, *wrong], return_when=asyncio.FIRST_COMPLETED)
        assert ping in done  # the ping overtook every wrong login being hashed
        replies = await asyncio.gather(*wrong)
        assert all(not r.ok and r.body.errcode in (401, 429) for r in replies)
        for client in (bob, *attackers):
            await client.close()


async def test_frames_sent_behind_a_login_are_answered_after_it_in_order() -> None:
    async with running_server(hashed_directory()) as server:
        alice = await RawClient.connect(server.port)
        loop = asyncio.get_running_loop()
        login, ping = loop.create_future(), loop.create_future()
        alice.waiting["1"], alice.waiting["2"] = login, ping
        alice.send_raw(login_xml("1", "alice", "pw-alice") + encode_frame(
            b"<message type='request' seq='2' module='MID_SESSION'><ping/></message>"))
        assert (await asyncio.wait_for(login, 30)).ok
        assert (await asyncio.wait_for(ping, 30)).ok  # not 401: it waited for the login
        await alice.close()


async def test_back_off_after_five_wrong_logins_answers_429() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        codes = []
        for n in range(6):
            reply = await client.request(Login("carol", f"wrong{n}"))
            codes.append(reply.body.errcode)
        assert codes[:5] == [401] * 5 and codes[5] == 429
        await client.close()


async def test_unauthenticated_connections_per_address_are_capped_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with running_server(max_unauthenticated_per_address=2) as server:
        held = [await RawClient.connect(server.port) for _ in range(2)]
        refused = [await RawClient.connect(server.port) for _ in range(5)]
        for client in refused:
            assert await client.closed_by_server(timeout=5)
        lines = [r.message for r in caplog.records if "too many connections" in r.message]
        assert len(lines) == 1
        await held[0].login("alice")  # a login frees its unauthenticated place
        again = await RawClient.connect(server.port)
        await again.login("bob")
        for client in (*held, *refused, again):
            await client.close()


async def test_sessions_per_address_are_capped_with_429() -> None:
    async with running_server(max_sessions_per_address=1) as server:
        alice = await RawClient.connect(server.port)
        await alice.login("alice")
        bob = await RawClient.connect(server.port)
        reply = await bob.request(Login("bob", "pw-bob"))
        assert not reply.ok and reply.body.errcode == 429
        assert await bob.closed_by_server(timeout=5)
        again = await RawClient.connect(server.port)  # alice again: replaces her own session
        await again.login("alice")
        assert await alice.closed_by_server(timeout=5)
        for client in (alice, bob, again):
            await client.close()


def test_fast_settings_are_generous() -> None:
    assert FAST.max_unauthenticated_per_address >= 1000
