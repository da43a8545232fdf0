"""``interphone-server`` / ``python -m app.server``: run the server until SIGINT or SIGTERM.

Exit codes: 0 after a clean shutdown, 1 if the port cannot be bound, 2 for a
bad command line or configuration file (the message names the line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib
import logging
import signal
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

from app.protocol.limits import DEFAULT_PORT
from app.server.app import InterphoneServer
from app.server.directory import Directory, DirectoryError, hash_token
from app.server.tls import TlsOptions, TlsSetupError, load_server_context

log = logging.getLogger("app.server")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="interphone-server",
        description="Interphone push-to-talk server: TCP signaling and UDP media on one port.")
    parser.add_argument("--config", metavar="FILE",
                        help="directory TOML file (without it: a built-in demo, open mode)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP and UDP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="TLS on the signaling port with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument("--tls-self-signed", metavar="DIR",
                        help="TLS with a self-signed certificate made once in DIR and reused")
    parser.add_argument("--hash-token", action="store_true",
                        help="read a token on stdin, print its token_hash form, and exit")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number")
    return args


def tls_options(args: argparse.Namespace, directory: Directory,
                config_dir: Path | None) -> TlsOptions:
    """TLS from the command line, else from the TOML ``[server]`` table (paths there are
    relative to the file's directory)."""
    if args.tls_cert or args.tls_key or args.tls_self_signed:
        return TlsOptions(_path(args.tls_cert), _path(args.tls_key),
                          _path(args.tls_self_signed))
    settings = directory.settings

    def from_file(value: str) -> Path | None:
        if not value:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() or config_dir is None else config_dir / path

    return TlsOptions(from_file(settings.tls_cert), from_file(settings.tls_key),
                      from_file(settings.tls_self_signed))


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


async def serve(directory: Directory, host: str, port: int,
                tls: ssl.SSLContext | None = None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    server = InterphoneServer(directory, host=host, port=port, tls=tls,
                              media_thread=True)
    try:
        await server.start()
    except OSError as exc:
        log.error("cannot listen on %s port %d: %s", host, port, exc.strerror or exc)
        return 1
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        await server.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when the optional ``fast`` extra is installed."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.hash_token:
        token = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline()
        print(hash_token(token.rstrip("\r\n")))
        return 0
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.config:
        try:
            directory = Directory.from_toml_file(args.config)
        except DirectoryError as exc:
            print(f"interphone-server: bad configuration: {exc}", file=sys.stderr)
            return 2
    else:
        directory = Directory.demo()
        log.warning("no --config: serving the built-in demo directory in open mode "
                    "(any uid may log in with any token)")
    options = tls_options(args, directory, Path(args.config).parent if args.config else None)
    context: ssl.SSLContext | None = None
    if options.enabled:
        try:
            context, fingerprint = load_server_context(options)
        except (TlsSetupError, OSError, ssl.SSLError) as exc:
            print(f"interphone-server: TLS: {exc}", file=sys.stderr)
            return 2
        log.info("TLS on; certificate SHA-256 fingerprint %s", fingerprint)
    factory = _loop_factory()
    log.info("event loop: %s", "uvloop" if factory else "asyncio default")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(serve(directory, args.host, args.port, context))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown, or no signal handlers
        return 0


if __name__ == "__main__":
    sys.exit(main())
