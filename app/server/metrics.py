"""The Prometheus endpoint: ``interphone-server --metrics HOST:PORT`` serves ``GET /metrics``.

Nothing is counted for Prometheus on the hot path: :class:`ServerCollector`
reads, at each scrape, what the state, the signaling hub and the relay already
keep (dict sizes, plain integer counters), and turns it into metric families.
The scrape is answered on the event loop's thread (:class:`MetricsEndpoint`,
a small asyncio HTTP responder), so it reads the state between two events,
never while a handler is changing it.

Metrics (all prefixed ``interphone_``): ``ready`` (1 while the server serves as it
should, 0 while it does not: a node still connecting to its store or catching up with
the shared log, or one whose store is unreachable), ``connections``, ``sessions``,
``interphones``, ``interphone_members``, ``floors_held`` (gauges; the last four are
left out until the state is complete, rather than reported as a part of it);
``floor_grants_total``, ``floor_revocations_total{reason}``,
``relayed_packets_total``, ``relayed_bytes_total``,
``dropped_datagrams_total{reason}`` (counters); ``notification_queue_depth``
and ``notification_queue_bytes`` (gauges: what waits behind full TCP buffers);
plus the process and Python collectors of ``prometheus_client``.

``GET /ready`` answers ``200 ready`` or ``503 not ready: REASON`` (the same judgement as
``interphone_ready``), for a load balancer's or an orchestrator's health check.

Other parts add their own families with :meth:`ServerCollector.add_source`: a
callable returning metric families, called at each scrape on the loop's thread.
:func:`store_latency_family` is the one meant for the Redis store's per-node
latency (``interphone_store_latency_seconds{node}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from app.server.ratelimit import TokenBucket

if TYPE_CHECKING:
    from app.server.app import InterphoneServer

log = logging.getLogger(__name__)

MetricSource = Callable[[], Iterable[Metric]]
_REQUEST_TIMEOUT = 5.0
_MAX_REQUEST = 8192
FRESH_RATE = 5.0
"""Scrapes per second answered with newly collected figures, after ``FRESH_BURST``;
beyond, the last ones are sent again: collecting costs about a millisecond of the event
loop that also serves signaling, and 700 GETs a second took 77 % of a core."""
FRESH_BURST = 20


def parse_listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (every address) -> (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [::1]:9401")
    return host, int(port_text)


def store_latency_family(latencies: Mapping[str, float]) -> GaugeMetricFamily:
    """``interphone_store_latency_seconds{node}``: the last round trip to the store (Redis)
    measured by each node; for a source given to :meth:`ServerCollector.add_source`."""
    family = GaugeMetricFamily("interphone_store_latency_seconds",
                               "Last measured round trip to the shared store, per node",
                               labels=["node"])
    for node, seconds in sorted(latencies.items()):
        family.add_metric([node], seconds)
    return family


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _by_reason(name: str, documentation: str, counts: Mapping[str, int],
               kind: type[CounterMetricFamily] = CounterMetricFamily) -> Metric:
    family = kind(name, documentation, labels=["reason"])
    for reason, count in sorted(counts.items()):
        family.add_metric([reason], count)
    return family


class ServerCollector(Collector):
    """Reads a running :class:`InterphoneServer` at each scrape (see the module)."""

    def __init__(self, server: InterphoneServer) -> None:
        self.server = server
        self._sources: list[MetricSource] = []

    def add_source(self, source: MetricSource) -> None:
        """More families at each scrape (called on the loop's thread; an error is logged
        and that source skipped, the rest of the scrape goes on)."""
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        server = self.server
        state = server.state
        yield _gauge("interphone_ready", "1 while the server serves as it should (listening; "
                     "a node of several: caught up with the shared log, its store reachable)",
                     0 if server.not_ready() else 1)
        yield _gauge("interphone_connections", "Open TCP connections, logged in or not",
                     len(state.peers))
        if server.state_complete:  # (else a part of the cluster's: left out, not a wrong 0)
            yield _gauge("interphone_sessions", "Logged-in sessions", len(state.sessions))
            yield _gauge("interphone_interphones", "Active interphones (one member or more)",
                         len(state.interphones))
            yield _gauge("interphone_interphone_members", "Members of all active interphones",
                         sum(len(record.members) for record in state.interphones.values()))
            yield _gauge("interphone_floors_held", "Interphones whose floor is granted",
                         sum(1 for record in state.interphones.values() if record.holder))
        yield _counter("interphone_floor_grants", "Floor grants since the start",
                       state.grants_total)
        yield _by_reason("interphone_floor_revocations",
                         "Floor grants revoked by the server, by reason (max_talk, silence)",
                         {"max_talk": 0, "silence": 0, **state.revocations})
        relay = relay_counters(server)
        yield _counter("interphone_relayed_packets", "Audio packets relayed (each once, "
                       "whatever the number of listeners)", relay["packets"])
        yield _counter("interphone_relayed_bytes", "Bytes of the audio packets relayed",
                       relay["bytes"])
        yield _by_reason("interphone_dropped_datagrams", "UDP datagrams dropped, by reason",
                         relay["dropped"])
        depth, queued = notification_queue(server)
        yield _gauge("interphone_notification_queue_depth",
                     "Frames waiting behind full TCP write buffers, all sessions", depth)
        yield _gauge("interphone_notification_queue_bytes",
                     "Bytes waiting behind full TCP write buffers, all sessions", queued)
        for source in list(self._sources):
            try:
                yield from source()
            except Exception:
                log.exception("a metrics source failed")


def relay_counters(server: InterphoneServer) -> dict[str, Any]:
    """Packets and bytes relayed, datagrams dropped by reason, from the relay (whose
    figures include its transport's own when the media thread serves it)."""
    relay = server.relay
    if relay is None:
        return {"packets": 0, "bytes": 0, "dropped": {}}
    return {"packets": relay.relayed, "bytes": relay.relayed_bytes, "dropped": relay.drops}


def notification_queue(server: InterphoneServer) -> tuple[int, int]:
    hub = server.hub
    if hub is None:
        return 0, 0
    depth = queued = 0
    for conn in hub.connections.values():
        depth += len(conn.pending)
        queued += conn.pending_bytes
    return depth, queued


def make_registry(collector: ServerCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    with contextlib.suppress(Exception):  # e.g. no /proc: the process metrics are optional
        ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def _always_ready() -> str:
    return ""


class MetricsEndpoint:
    """``GET /metrics`` and ``GET /ready`` over HTTP/1.0 on the event loop (one response
    per connection). ``not_ready``: why the server is not ready, empty when it is."""

    def __init__(self, registry: CollectorRegistry,
                 not_ready: Callable[[], str] = _always_ready) -> None:
        self.registry = registry
        self.not_ready = not_ready
        self._server: asyncio.Server | None = None
        self.port = 0
        self._fresh = TokenBucket(FRESH_RATE, FRESH_BURST, time.monotonic())
        self._last = b""

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host or None, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            writer.close()
            return
        request = head[:_MAX_REQUEST].split(b"\r\n", 1)[0].split()
        method, path = [*request, b"", b""][:2]
        path = path.split(b"?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            status, body, kind = "405 Method Not Allowed", b"GET only\n", "text/plain"
        elif path == b"/ready":
            why = self.not_ready()
            status = "503 Service Unavailable" if why else "200 OK"
            body, kind = (f"not ready: {why}\n" if why else "ready\n").encode(), "text/plain"
        elif path not in (b"/metrics", b"/"):
            status, body, kind = "404 Not Found", b"try /metrics or /ready\n", "text/plain"
        else:
            status, kind = "200 OK", CONTENT_TYPE_LATEST
            body = self._exposition()
        header = (f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with contextlib.suppress(ConnectionError):
            writer.write(header + (b"" if method == b"HEAD" else body))
            await writer.drain()
        writer.close()

    def _exposition(self) -> bytes:
        """The metrics, collected again unless scrapes come faster than a monitoring
        system's ever do (``FRESH_RATE``): then the last collection's."""
        if self._fresh.take(time.monotonic()) or not self._last:
            self._last = generate_latest(self.registry)
        return self._last
