"""The :class:`InterphoneServer`: state, TCP signaling and the UDP relay on one port number."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Sequence
from types import TracebackType

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.server.binding import bound_socket, describe, listen_addresses, udp_address
from app.server.directory import Directory
from app.server.login_guard import FailedLogins, LoginGuard, TokenVerifier
from app.server.media_thread import MediaThread
from app.server.metrics import (
    MetricsEndpoint,
    ServerCollector,
    make_registry,
    store_latency_family,
)
from app.server.node_auth import NodeAuth
from app.server.redis_store import RedisStore
from app.server.relay import MediaRelay
from app.server.replica import Replica, first_session_id
from app.server.roster_slices import RosterSlices
from app.server.settings import ServerSettings
from app.server.state import ServerState
from app.server.tcp import SignalingServer
from app.server.tls import HANDSHAKE_TIMEOUT
from app.server.tls_port import TlsListener

log = logging.getLogger("app.server")

WILDCARD_HOSTS = ("", "0.0.0.0", "::")

_BIND_ATTEMPTS = 20
_STOP_GRACE = 1.0
LISTEN_BACKLOG = 1024
"""Pending TCP connections the kernel queues (asyncio's default, 100, makes a crowd that
reconnects at once after a restart wait for SYN retransmissions)."""
UDP_RCVBUF = 1 << 20
"""Receive buffer of the relay socket: the default (~200 KB, ~200 small datagrams) overflows
when the process is descheduled for a few tens of ms on a busy host; capped by the kernel's
``net.core.rmem_max``."""


def _reason(exc: OSError) -> str:
    """``Address already in use``, as for the signaling port, not the event loop's
    "error while attempting to bind on address ('127.0.0.1', 9401): address already in use"
    (a name that cannot be resolved keeps its resolver's words)."""
    if exc.errno and exc.errno > 0 and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


class MetricsUnavailable(OSError):
    """The ``--metrics`` address could not be bound (nothing else was started)."""


class InterphoneServer:
    """The embedded server. ``settings`` (if given) override the directory's.

    ``store``: None keeps everything in this process (the default); a
    :class:`~app.server.redis_store.RedisStore` makes this server one node of several
    sharing that store (``node_address``: where the other nodes' relays reach this
    one's, by default ``host``).

    ``host`` is one address or several (see :mod:`app.server.binding`: ``::`` is
    dual-stack, ``""`` every address); ``metrics`` a (host, port) for the Prometheus
    endpoint (:mod:`app.server.metrics`), None for none.
    """

    def __init__(
        self,
        directory: Directory,
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 0,
        settings: ServerSettings | None = None,
        metrics: tuple[str, int] | None = None,
        media_thread: bool = True,
        *,
        store: RedisStore | None = None,
        node_address: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.directory = directory
        self.media_thread = media_thread  # the relay's socket in its own thread (media_thread.py)
        self.hosts: list[str] = [host] if isinstance(host, str) else list(host)
        self.host = self.hosts[0] if self.hosts else "127.0.0.1"
        self.port = port
        self.settings = settings or directory.settings
        self.tls = tls
        """The signaling port's TLS context (None: plain TCP)."""
        self.state = ServerState(directory, self.settings, tls=tls is not None)
        self.guard: LoginGuard | None = None
        self.store = store
        self.node_address = node_address
        self.hub: SignalingServer | None = None
        self.relay: MediaRelay | None = None
        self.collector = ServerCollector(self)
        if store is not None:
            self.collector.add_source(lambda: store_latencies(store))
        self.metrics_address = metrics
        self.metrics: MetricsEndpoint | None = None
        self._tcp: list[asyncio.Server | TlsListener] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._stopping: asyncio.Event | None = None  # a stop under way: set when it is over
        self.rosters: RosterSlices | None = None
        """A reload's roster notices still to be told, a slice at a time (once serving)."""

    @property
    def running(self) -> bool:
        return self._tcp is not None

    def not_ready(self) -> str:
        """Why this server does not serve its clients as it should right now (empty when it
        does): not listening yet (a node still connecting to its store) or any more, a node
        still catching up with the shared log, or one whose store is unreachable (changes
        refused). ``interphone_ready`` and ``GET /ready`` of the metrics endpoint."""
        if self._tcp is None:
            if self.hub is not None:
                return "stopped"
            return "connecting to the store" if self.store is not None else "starting"
        return self.store.not_ready() if self.store is not None else ""

    @property
    def state_complete(self) -> bool:
        """Whether the state holds every session and interphone it serves: listening, and
        on a node of several, caught up with the shared log (before that, its figures are
        a part of the cluster's: the metrics leave them out)."""
        return self._tcp is not None and (self.store is None or self.store.caught_up)

    async def start(self) -> None:
        """Bind the metrics endpoint if asked for, then TCP on every address and UDP, on the
        same port number (``port=0``: a free one for all). What cannot be bound raises
        before anything is announced, and what was bound is closed again."""
        if self._tcp is not None:
            raise RuntimeError("server already started")
        if self.metrics_address is not None:  # first: a busy port is the only thing said
            await self._start_metrics(self.metrics_address)
        try:
            await self._serve()
        except BaseException:
            if self.metrics is not None:
                await self.metrics.stop()
                self.metrics = None
            raise
        log.info("serving on %s port %d (tcp%s+udp), auth=%s", describe(self.hosts),
                 self.port, "+tls" if self.tls is not None else "", self.settings.auth)
        if self.metrics is not None and self.metrics_address is not None:
            log.info("metrics on http://%s:%d/metrics",
                     describe([self.metrics_address[0]]), self.metrics.port)

    async def _start_metrics(self, address: tuple[str, int]) -> None:
        endpoint = MetricsEndpoint(make_registry(self.collector), self.not_ready)
        try:
            await endpoint.start(*address)
        except OSError as exc:
            host, port = address
            raise MetricsUnavailable(f"cannot serve metrics on {describe([host])}:{port}: "
                                     f"{_reason(exc)}") from exc
        self.metrics = endpoint

    async def _serve(self) -> None:
        """The store, the signaling and media sockets, the relay."""
        loop = asyncio.get_running_loop()
        node = await self.store.connect() if self.store is not None else 0
        if self.store is not None:
            self.state.node_auth = NodeAuth(self.store.forward_key, node)
        hub = SignalingServer(self.state, loop, first_session_id(node))
        if self.settings.auth == "token":
            workers = max(1, min(2, (os.cpu_count() or 2) - 1))  # leave a core to the loop
            self.guard = LoginGuard(TokenVerifier.for_users(self.directory.users.values(),
                                                            workers=workers), FailedLogins())
            hub.use_login_guard(self.guard)
        addresses = listen_addresses(self.hosts)
        udp_where = udp_address(self.hosts)
        wanted = self.port
        for attempt in range(_BIND_ATTEMPTS):
            sockets: list[socket.socket] = []
            try:
                sockets.append(bound_socket(addresses[0], socket.SOCK_STREAM, wanted))
                port = sockets[0].getsockname()[1]
                for where in addresses[1:]:
                    sockets.append(bound_socket(where, socket.SOCK_STREAM, port))
                sockets.append(bound_socket(udp_where, socket.SOCK_DGRAM, port))
            except OSError:
                for sock in sockets:
                    sock.close()
                if wanted != 0 or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            break
        *tcp_sockets, udp_socket = sockets
        with contextlib.suppress(OSError):
            udp_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        self.state.udp_port = port  # (a login answered from the first connection names it)
        replica: Replica | None = None
        if self.store is not None:  # before the first connection is accepted: its requests
            # go through the shared log (answered once the store is attached, below)
            replica = Replica(self.state, node, (self._advertised_host(), port))
        tcp: list[asyncio.Server | TlsListener]
        if self.tls is not None:  # (a plain-text client is logged: tls_port)
            tcp = [TlsListener(loop, sock, hub.new_connection, self.tls, hub.plain_text_on_tls,
                               backlog=LISTEN_BACKLOG, handshake_timeout=HANDSHAKE_TIMEOUT,
                               admit=hub.handshake_admitted, release=hub.handshake_over,
                               on_failed=hub.tls_handshake_failed)
                   for sock in tcp_sockets]
        else:
            tcp = [await loop.create_server(hub.new_connection, sock=sock,
                                            backlog=LISTEN_BACKLOG)
                   for sock in tcp_sockets]
        udp: asyncio.DatagramTransport
        if self.media_thread:
            udp, relay = MediaThread.serve(hub, udp_socket)
        else:
            udp, relay = await loop.create_datagram_endpoint(lambda: MediaRelay(hub),
                                                             sock=udp_socket)
        self.hub, self.relay = hub, relay
        self.rosters = RosterSlices(self.state, hub.deliver)
        self._tcp, self._udp = tcp, udp
        self.port = port
        if self.store is not None and replica is not None:
            self.store.send_datagram = udp.sendto
            self.store.redeliver = relay.datagram_received
            advertised = replica.media_address[0]
            self.store.attach(replica, hub)
            log.info("node %d (%s, relay %s:%d) of the store %s%s", node, self.store.name,
                     advertised, port, self.store.safe_url,
                     ": its first node, a new cluster (a node meant to join running ones "
                     "names another Redis, or database, than theirs in --store)"
                     if node == 1 else "")
            self._warn_if_unreachable(advertised)
        if self.tls is None and self.state.media_encryption.offers():
            mode = self.state.media_encryption.value
            # interphone-cli and the desktop app ask for media-auth over TLS only
            locked_out = ("; interphone-cli and the desktop app ask for it over TLS only, so "
                          "none of them can log in (errcode 426): add TLS (--tls-cert and "
                          "--tls-key, or --tls-self-signed) or set media_encryption = \"off\""
                          if mode == "required" else "")
            log.warning("media_encryption = %s without TLS: media secrets and voice keys "
                        "cross the network in clear text%s", mode, locked_out)

    def replace_directory(self, directory: Directory) -> None:
        """Serve ``directory`` from now on (a reload): see
        :meth:`ServerState.replace_directory` (one node) or
        :meth:`~app.server.replica.Replica.replace_directory` (several: what it ends goes
        through the shared log); what it sets off is carried out here: what it ends at
        once, then the sessions' roster notices a slice at a time (:mod:`~app.server.
        roster_slices`), the loop serving others between two slices."""
        rosters = self.rosters
        if rosters is not None:
            rosters.finish()  # the previous reload's, of the directory it served
        self.directory = directory
        previous = self.state.directory
        now = asyncio.get_running_loop().time()
        replica = self.store.replica if self.store is not None else None
        told: list[int] | None = [] if rosters is not None else None
        outbox = (replica.replace_directory(directory, now, told) if replica is not None
                  else self.state.replace_directory(directory, now, told))
        if self.hub is None:
            for line in outbox.log_lines:
                log.info("%s", line)
            return
        self.hub.deliver(outbox)
        self.hub.reschedule()
        if rosters is not None and told:
            rosters.start(told, previous)

    async def stop(self) -> None:
        """Stop accepting, close every session (flushing what was queued), close the relay.

        A call while another is under way (a stop from another task) waits until it is
        over and does nothing more; one after it does nothing."""
        stopping = self._stopping
        if stopping is not None:
            await stopping.wait()
            return
        self._stopping = stopping = asyncio.Event()
        try:
            await self._stop()
        finally:
            self._stopping = None
            stopping.set()

    async def _stop(self) -> None:
        metrics, self.metrics = self.metrics, None
        if metrics is not None:
            await metrics.stop()
        tcp, udp, hub = self._tcp, self._udp, self.hub
        if tcp is None or hub is None:
            return
        if self.rosters is not None:
            self.rosters.cancel()  # (the sessions are about to close)
        self._tcp = None
        for listener in tcp:
            listener.close()
        hub.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _STOP_GRACE
        while hub.connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(hub.connections.values()):
            conn.abort()
        await asyncio.sleep(0)
        if udp is not None:
            udp.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(t.wait_closed() for t in tcp)), _STOP_GRACE)
        hub.close()
        if self.store is not None:
            await self.store.stop()
        if self.guard is not None:
            self.guard.close()
            self.guard = None
        log.info("stopped")

    def _advertised_host(self) -> str:
        if self.node_address:
            return self.node_address
        if self.host in WILDCARD_HOSTS:
            try:
                return socket.gethostbyname(socket.gethostname())
            except OSError:
                log.warning("cannot resolve this machine's host name %r for the address "
                            "other nodes send audio to: give --node-address ADDRESS",
                            socket.gethostname())
                return "127.0.0.1"
        return self.host

    def _warn_if_unreachable(self, relay: str) -> None:
        """A wildcard ``--host`` whose host name resolves to a loopback address (Debian's
        ``127.0.1.1``): other machines' nodes would send this node's audio there."""
        try:
            loopback = ipaddress.ip_address(relay).is_loopback
        except ValueError:
            return
        if loopback and not self.node_address and self.host in WILDCARD_HOSTS:
            log.warning("other nodes will send audio for this node's listeners to %s, the "
                        "loopback address this machine's host name %r resolves to: nodes on "
                        "other machines cannot reach it; give --node-address ADDRESS (an "
                        "address they reach)", relay, socket.gethostname())

    async def __aenter__(self) -> InterphoneServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def store_latencies(store: RedisStore) -> list[Metric]:
    """This node's last round trip to the shared store, labelled with its name (none
    before the first heartbeat or while the store cannot be reached), the other nodes
    serving another directory file, the nodes of the cluster, and the requests refused
    because the shared log could not take them."""
    latency = store.latency
    others = GaugeMetricFamily(
        "interphone_nodes_with_another_directory",
        "Other nodes that have served another directory file than this node for longer "
        "than a reload of every node takes (each must have the same)",
        value=store.other_directories)
    nodes = GaugeMetricFamily(
        "interphone_cluster_nodes", "Nodes of the cluster (this one included) in the store's "
        "node list at this node's last heartbeat: a node that died leaves it when given up",
        value=store.nodes)
    refused = CounterMetricFamily(
        "interphone_requests_refused", "Requests of clients refused because the shared log "
        "could not take them, by reason", labels=["reason"])
    refused.add_metric(["store_unavailable"],
                       store.replica.refused if store.replica is not None else 0)
    return [store_latency_family({} if latency is None else {store.name: latency}), others,
            nodes, refused]
