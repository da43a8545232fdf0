"""The Prometheus endpoint, scraped over HTTP from a running server with real clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from server_fixtures import FAST, G58, RawClient, UdpPeer, sample_directory

from app.protocol import AudioPacket, RecvBeginPacket, parse_packet
from app.protocol.messages import InterphoneChanged
from app.server import InterphoneServer
from app.server.metrics import (
    FRESH_BURST,
    FRESH_RATE,
    MetricsEndpoint,
    parse_listen_address,
    store_latency_family,
)


async def scrape(port: int, path: str = "/metrics", method: str = "GET") -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return head, body


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def joined(port: int, uid: str) -> tuple[RawClient, UdpPeer]:
    client = await RawClient.connect(port)
    await client.login(uid)
    await client.join(G58)
    peer = await UdpPeer.open(port)
    peer.send(RecvBeginPacket("group_58", uid).serialize())
    assert parse_packet(await peer.recv(2.0)) == RecvBeginPacket("group_58", uid)
    return client, peer


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9401", ("127.0.0.1", 9401)),
    ("[::1]:9401", ("::1", 9401)),
    (":9401", ("", 9401)),
])
def test_listen_address_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["9401", "::1:9401", "host:port", "host:70000"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen_address(text)


@pytest.mark.parametrize("media_thread", [False, True], ids=["loop-relay", "media-thread"])
async def test_scrape_counts_sessions_floor_relay_drops_and_revocations(
        media_thread: bool) -> None:
    settings = FAST.with_overrides(silence_timeout=0.3)
    async with InterphoneServer(sample_directory(), port=0, settings=settings,
                                metrics=("127.0.0.1", 0), media_thread=media_thread) as server:
        assert server.metrics is not None
        server.collector.add_source(lambda: [store_latency_family({"node-a": 0.0025})])
        metrics_port = server.metrics.port
        head, body = await scrape(metrics_port)
        assert head.startswith("HTTP/1.0 200") and "text/plain" in head
        before = samples(body)
        assert value(before, "interphone_sessions") == 0
        assert value(before, "interphone_floor_revocations_total", reason="silence") == 0

        alice, alice_udp = await joined(server.port, "alice")
        bob, bob_udp = await joined(server.port, "bob")
        assert (await alice.speak(G58)).ok
        packets = [AudioPacket("group_58", "alice", n, bytes(40 + n)).serialize()
                   for n in range(3)]
        for packet in packets:
            alice_udp.send(packet)
            assert await bob_udp.recv(2.0) == packet
        bob_udp.send(b"\x00" * 3)  # not a packet
        bob_udp.send(AudioPacket("group_58", "bob", 0, b"x").serialize())  # not the holder
        bob_udp.send(b"\x00" * 1500)  # over 1,400 bytes
        await asyncio.sleep(0.05)  # let the loop take the datagrams in (no timing asserted)

        found = samples((await scrape(metrics_port))[1])
        assert value(found, "interphone_sessions") == 2
        assert value(found, "interphone_connections") == 2
        assert value(found, "interphone_interphones") == 1
        assert value(found, "interphone_interphone_members") == 2
        assert value(found, "interphone_floors_held") == 1
        assert value(found, "interphone_floor_grants_total") == 1
        assert value(found, "interphone_relayed_packets_total") == 3
        assert value(found, "interphone_relayed_bytes_total") == sum(map(len, packets))
        assert value(found, "interphone_dropped_datagrams_total", reason="malformed") == 1
        assert value(found, "interphone_dropped_datagrams_total", reason="not_admitted") == 1
        assert value(found, "interphone_dropped_datagrams_total", reason="oversize") == 1
        assert value(found, "interphone_notification_queue_depth") == 0
        assert value(found, "interphone_store_latency_seconds", node="node-a") == 0.0025
        assert any(name.startswith("process_") or name.startswith("python_")
                   for name, _ in found)

        for speaker in ("alice", ""):  # the grant, then the holder falls silent: revoked
            while True:
                message = await bob.next_notification(5)
                if isinstance(message.body, InterphoneChanged) \
                        and message.body.info.speaker == speaker:
                    break
        found = samples((await scrape(metrics_port))[1])
        assert value(found, "interphone_floor_revocations_total", reason="silence") == 1
        assert value(found, "interphone_floors_held") == 0
        for client in (alice, bob):
            await client.close()
        for peer in (alice_udp, bob_udp):
            peer.close()


async def test_only_metrics_is_served() -> None:
    async with InterphoneServer(sample_directory(), port=0, settings=FAST,
                                metrics=("127.0.0.1", 0)) as server:
        assert server.metrics is not None
        head, _ = await scrape(server.metrics.port, "/secret")
        assert head.startswith("HTTP/1.0 404")
        head, _ = await scrape(server.metrics.port, "/metrics", "POST")
        assert head.startswith("HTTP/1.0 405")
    assert server.metrics is None  # stopped with the server


async def test_a_failing_source_does_not_break_the_scrape() -> None:
    def broken() -> list:
        raise RuntimeError("store unreachable")

    async with InterphoneServer(sample_directory(), port=0, settings=FAST,
                                metrics=("127.0.0.1", 0)) as server:
        assert server.metrics is not None
        server.collector.add_source(broken)
        head, body = await scrape(server.metrics.port)
        assert head.startswith("HTTP/1.0 200") and "interphone_sessions 0.0" in body


class CountingCollector(Collector):
    """One gauge whose value is the number of times the registry was collected."""

    def __init__(self) -> None:
        self.collected = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.collected += 1
        yield GaugeMetricFamily("test_collections", "collections", value=self.collected)


async def test_a_flood_of_scrapes_is_answered_from_the_last_collection() -> None:
    """Each GET collected every figure again on the event loop that serves signaling:
    700 a second took 77 % of a core. Beyond ``FRESH_BURST`` and ``FRESH_RATE`` a second,
    the last collection is sent again; a monitoring system's scrapes stay fresh."""
    counting = CountingCollector()
    registry = CollectorRegistry()
    registry.register(counting)
    endpoint = MetricsEndpoint(registry)
    await endpoint.start("127.0.0.1", 0)
    try:
        started = time.monotonic()
        seen = []
        for _ in range(FRESH_BURST):  # a few scrapes: each one fresh
            head, body = await scrape(endpoint.port)
            assert head.startswith("HTTP/1.0 200")
            seen.append(value(samples(body), "test_collections"))
        assert seen == list(range(1, FRESH_BURST + 1))
        for _ in range(150):
            head, body = await scrape(endpoint.port)
            assert head.startswith("HTTP/1.0 200") and "test_collections" in body
        elapsed = time.monotonic() - started
        assert counting.collected <= FRESH_BURST + FRESH_RATE * elapsed + 1
        await asyncio.sleep(1.5 / FRESH_RATE)  # the budget refills: fresh again
        before = counting.collected
        _, body = await scrape(endpoint.port)
        assert value(samples(body), "test_collections") == before + 1
    finally:
        await endpoint.stop()
