"""The :class:`InterphoneServer`: state, TCP signaling and the UDP relay on one port number."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from types import TracebackType

from app.server.directory import Directory
from app.server.login_guard import FailedLogins, LoginGuard, TokenVerifier
from app.server.media_thread import MediaThread
from app.server.relay import MediaRelay
from app.server.settings import ServerSettings
from app.server.state import ServerState
from app.server.tcp import SignalingServer
from app.server.tls import HANDSHAKE_TIMEOUT

log = logging.getLogger("app.server")

_BIND_ATTEMPTS = 20
_STOP_GRACE = 1.0
LISTEN_BACKLOG = 1024
"""Pending TCP connections the kernel queues (asyncio's default, 100, makes a crowd that
reconnects at once after a restart wait for SYN retransmissions)."""
UDP_RCVBUF = 1 << 20
"""Receive buffer of the relay socket: the default (~200 KB, ~200 small datagrams) overflows
when the process is descheduled for a few tens of ms on a busy host; capped by the kernel's
``net.core.rmem_max``."""


class InterphoneServer:
    """The embedded server. ``settings`` (if given) override the directory's."""

    def __init__(
        self,
        directory: Directory,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: ServerSettings | None = None,
        tls: ssl.SSLContext | None = None,
        media_thread: bool = False,
    ) -> None:
        self.directory = directory
        self.media_thread = media_thread  # the relay's socket in its own thread (media_thread.py)
        self.host = host
        self.port = port
        self.settings = settings or directory.settings
        self.tls = tls
        """The signaling port's TLS context (None: plain TCP)."""
        self.state = ServerState(directory, self.settings, tls=tls is not None)
        self.hub: SignalingServer | None = None
        self.guard: LoginGuard | None = None
        self.relay: MediaRelay | None = None
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None

    @property
    def running(self) -> bool:
        return self._tcp is not None

    async def start(self) -> None:
        """Bind TCP and UDP on the same port number (``port=0``: a free one for both)."""
        if self._tcp is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        hub = SignalingServer(self.state, loop)
        if self.settings.auth == "token":
            workers = max(1, min(2, (os.cpu_count() or 2) - 1))  # leave a core to the loop
            self.guard = LoginGuard(TokenVerifier.for_users(self.directory.users.values(),
                                                            workers=workers), FailedLogins())
            hub.use_login_guard(self.guard)
        wanted = self.port
        for attempt in range(_BIND_ATTEMPTS):
            tcp = await loop.create_server(
                hub.new_connection, self.host, wanted, backlog=LISTEN_BACKLOG, ssl=self.tls,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self.tls is not None else None)
            ports = {sock.getsockname()[1] for sock in tcp.sockets}
            port = tcp.sockets[0].getsockname()[1]
            try:
                if len(ports) != 1:
                    raise OSError(f"{self.host} bound to several ports {sorted(ports)}")
                udp: asyncio.DatagramTransport
                if self.media_thread:
                    udp, relay = MediaThread.open(hub, self.host, port)
                else:
                    udp, relay = await loop.create_datagram_endpoint(
                        lambda: MediaRelay(hub), local_addr=(self.host, port))
            except OSError:
                tcp.close()
                await tcp.wait_closed()
                if wanted != 0 or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            break
        sock = udp.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        self.hub, self.relay = hub, relay
        self._tcp, self._udp = tcp, udp
        self.port = port
        self.state.udp_port = port
        if self.tls is None and self.state.media_encryption.offers():
            log.warning("media_encryption = %s without TLS: media secrets and voice keys "
                        "cross the network in clear text", self.state.media_encryption.value)
        log.info("serving on %s port %d (tcp%s+udp), auth=%s", self.host, port,
                 "+tls" if self.tls is not None else "", self.settings.auth)

    async def stop(self) -> None:
        """Stop accepting, close every session (flushing what was queued), close the relay."""
        tcp, udp, hub = self._tcp, self._udp, self.hub
        if tcp is None or hub is None:
            return
        self._tcp = None
        tcp.close()
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
            await asyncio.wait_for(tcp.wait_closed(), _STOP_GRACE)
        hub.close()
        if self.guard is not None:
            self.guard.close()
            self.guard = None
        log.info("stopped")

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
