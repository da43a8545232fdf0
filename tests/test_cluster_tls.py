"""A cluster of nodes serving TLS: a client that asks for media-auth (what the CLI and the
desktop app do over TLS) logs in on any node (media_encryption = "required" by default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.client import InterphoneClient
from app.client.asked_features import asked_features
from app.client.trust import TrustPolicy, client_context
from app.server import InterphoneServer
from app.server.tls import TlsOptions, load_server_context
from tests.redis_fixtures import RedisProcess, node_store, redis_server  # noqa: F401
from tests.server_fixtures import FAST, sample_directory

pytestmark = pytest.mark.timeout(60)


async def test_a_media_auth_client_logs_in_on_a_tls_cluster_node(
        redis_server: RedisProcess, tmp_path: Path) -> None:  # noqa: F811
    context, fingerprint = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    nodes = [InterphoneServer(sample_directory(), host="127.0.0.1", port=0, settings=FAST,
                              store=node_store(redis_server.url, name), tls=context)
             for name in ("a", "b")]
    try:
        for node in nodes:
            await node.start()
        for node in nodes:
            client = InterphoneClient(
                "127.0.0.1", node.port, "alice", "pw-alice", reconnect=False,
                ssl=client_context(TrustPolicy(pin=fingerprint)),
                features=asked_features(tls=True))
            try:
                await client.connect()  # refused "media-auth required" before the fix
                assert "media-auth" in client.features
            finally:
                await client.close()
    finally:
        for node in nodes:
            await node.stop()


async def test_a_tls_node_warns_that_encrypted_voice_does_not_cross_nodes(
        redis_server: RedisProcess, tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    context, _ = load_server_context(TlsOptions(self_signed_dir=tmp_path))
    for encryption, warned in (("required", True), ("off", False)):
        caplog.clear()
        node = InterphoneServer(sample_directory(), host="127.0.0.1", port=0,
                                settings=FAST.with_overrides(media_encryption=encryption),
                                store=node_store(redis_server.url, "a"), tls=context)
        await node.start()
        await node.stop()
        found = [r.getMessage() for r in caplog.records
                 if "does not cross nodes" in r.getMessage()]
        assert bool(found) is warned, (encryption, found)
        if warned:
            assert 'media_encryption = required' in found[0] and '"off"' in found[0]
