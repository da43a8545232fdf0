"""``interphone-cli``'s one error line when the server cannot be reached or does not
answer: the cause in words, then what to check."""

from __future__ import annotations

from client_fixtures import free_port
from test_cli_commands import cli


async def test_tls_to_a_closed_port_says_connection_refused():
    """With --tls it said "cannot connect to 127.0.0.1:PORT: Connect call failed
    ('127.0.0.1', PORT)", asyncio's words, where the plain client said "Connection
    refused"."""
    port = free_port()
    code, out, err = await cli("--tls", "sync", port=port)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"interphone-cli: error: cannot connect to 127.0.0.1:{port}: Connection refused"), err
