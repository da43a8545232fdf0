"""interphone-server on a port taken for one protocol only: the line names which."""

from __future__ import annotations

import socket

import pytest

from tests.redis_fixtures import free_port
from tests.test_server_cli import run_cli


@pytest.mark.parametrize(("kind", "protocol"), [(socket.SOCK_DGRAM, "UDP"),
                                                (socket.SOCK_STREAM, "TCP")])
def test_a_port_taken_names_the_protocol_that_is_taken(kind: socket.SocketKind,
                                                       protocol: str) -> None:
    """With only UDP taken the line said "port N: Address already in use", and the
    operator found nobody listening on TCP port N."""
    port = free_port()
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        result = run_cli("--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port} ({protocol}): Address already in use" \
        in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
