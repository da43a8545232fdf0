"""A TLS-terminating relay for the conformance suite (stdlib only, nothing from ``app``).

The conformance client speaks plain TCP from several threads; an ``ssl.SSLSocket``
must not be read and written from different threads at once. So the suite talks
plain text to this relay, whose single asyncio thread carries every byte over TLS
to the server's TLS port (certificate not verified: the suite tests the contract,
not the trust). The relay listens on another loopback address with the server's
port number, so the UDP port the login response names still is the TCP one; the
server sees the relay's connections from 127.0.0.1, as the suite's UDP sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading

RELAY_HOST = "127.0.0.2"


class TlsRelay:
    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port = port
        self.host = RELAY_HOST
        self._upstream = upstream
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="tls-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._server is None:
            raise RuntimeError("TLS relay did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        with contextlib.suppress(OSError):
            self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                *self._upstream, ssl=self._context, server_hostname="localhost")
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()  # a close on one side closes the other at once

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
