"""A client's responses and notifications are never answered (docs/protocol-extensions.md
1.4.1): whatever they hold, decodable or not, with a seq or without; real server, real
sockets."""

from __future__ import annotations

import pytest
from server_fixtures import RawClient, running_server

from app.protocol import Ping

STRAY = [
    # decodable: messages this server itself sends
    b"<message type='notification' module='MID_SESSION'><kicked reason='x'/></message>",
    b"<message type='response' seq='s1' module='MID_SESSION'><ping/></message>",
    # not decodable as a notification or response: unknown element, module, or seq
    b"<message type='notification' module='MID_SESSION'><ping/></message>",
    b"<message type='notification' seq='s2' module='MID_SESSION'><ping/></message>",
    b"<message type='notification' seq='s3' module='MID_X'><foo/></message>",
    b"<message type=' notification ' seq='s4'><foo/><bar/></message>",
    b"<message type='notification' module='MID_INTERPHONE'><interphone id='group_5:8'/>"
    b"</message>",
    b"<message type='response' module='MID_SESSION'><foo/></message>",
    b"<message type='response' seq='s5'><foo/><bar/></message>",
    b"<message type='response' seq='s6' module='MID_INTERPHONE'>text<speak/></message>",
]


@pytest.mark.parametrize("logged_in", [False, True])
async def test_responses_and_notifications_from_a_client_get_no_answer(logged_in: bool) -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        if logged_in:
            await client.login("alice")
        for _ in range(2):  # 20 of them: none counts toward the 10 malformed frames
            for document in STRAY:
                client.send_xml(document)
        reply = await client.request(Ping())  # answered after everything sent before it
        assert reply.ok is logged_in  # (401 before the login)
        assert client.unmatched.empty() and client.undecodable.empty()
        assert not client.drain() and not client.eof.is_set()
        await client.close()
