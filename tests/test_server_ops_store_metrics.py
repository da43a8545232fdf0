"""``--metrics`` on a node of a cluster: the scrape has the node's round trip to Redis
(``interphone_store_latency_seconds{node}``, listed in docs/deploy.md); start-up errors
that name what failed (a busy metrics port, a missing TLS file)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_server_ops_metrics import samples, scrape

from app.server import InterphoneServer
from app.server.app import MetricsUnavailable
from app.server.tls import TlsOptions, TlsSetupError, load_server_context, server_context
from tests.redis_fixtures import RedisProcess, cluster_node, redis_server  # noqa: F401
from tests.server_fixtures import FAST, TEST_TOML, sample_directory

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(60)


async def test_a_node_reports_its_round_trip_to_the_store(
        redis_server: RedisProcess) -> None:  # noqa: F811
    node = cluster_node(redis_server.url, "node-a", metrics=("127.0.0.1", 0))
    await node.start()
    try:
        assert node.metrics is not None
        key = ("interphone_store_latency_seconds", (("node", "node-a"),))
        found: dict = {}
        for _ in range(100):  # the first heartbeat comes right after the start
            found = samples((await scrape(node.metrics.port))[1])
            if key in found:
                break
            await asyncio.sleep(0.05)
        latency = found[key]
        assert 0 < latency < 5
    finally:
        await node.stop()


async def test_one_server_has_no_store_latency() -> None:
    async with InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                                metrics=("127.0.0.1", 0)) as server:
        assert server.metrics is not None
        found = samples((await scrape(server.metrics.port))[1])
        assert "interphone_sessions" in {name for name, _ in found}
        assert not [key for key in found if key[0] == "interphone_store_latency_seconds"]


async def test_a_busy_metrics_port_is_named_as_such() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        server = InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                                  settings=FAST, metrics=("127.0.0.1", taken))
        with pytest.raises(MetricsUnavailable) as caught:
            await server.start()
    assert str(caught.value) == f"cannot serve metrics on 127.0.0.1:{taken}: Address already in use"
    assert not server.running  # the signaling port was let go again


def test_a_busy_metrics_port_is_the_only_thing_the_start_says(tmp_path: Path) -> None:
    """The start said "serving on ..." and "stopped" before the error: a reader of the
    journal saw a server that had been up."""
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "app.server", "--config", str(config),
                                 "--host", "127.0.0.1", "--port", "0",
                                 "--metrics", f"127.0.0.1:{taken}"],
                                cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].endswith(f"cannot serve metrics on 127.0.0.1:{taken}: "
                              f"Address already in use"), lines[-1]
    assert not [line for line in lines if "serving on" in line or "stopped" in line], lines
    assert [line for line in lines if " ERROR " in line] == [lines[-1]]


async def test_a_busy_signaling_port_lets_the_metrics_port_go() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = InterphoneServer(sample_directory(), host="127.0.0.1",
                                  port=busy.getsockname()[1], settings=FAST,
                                  metrics=("127.0.0.1", metrics_port))
        with pytest.raises(OSError):
            await server.start()
    assert not server.running and server.metrics is None
    with socket.socket() as again:  # (bound first, closed again when the start failed)
        again.bind(("127.0.0.1", metrics_port))


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    assert context is not None
    for cert, key, missing in (("nope.crt", "nope.key", "nope.crt"),
                               (tmp_path / "server.crt", "nope.key", "nope.key")):
        with pytest.raises(TlsSetupError, match=f"cannot read {missing}: no such file"):
            server_context(cert, key)
