"""``interphone-server`` / ``python -m app.server``: run the server until SIGINT or SIGTERM.

SIGHUP re-reads the ``--config`` file in a thread and serves it (see
:mod:`app.server.directory_reload`,
:meth:`app.server.state.ServerState.replace_directory`); a file that is not valid
is refused with its line named and the directory in use stays.

Exit codes: 0 after a clean shutdown, 1 if the port cannot be bound (or the store
reached, or, a node of several, the others gave it up: it must start again as a new
node), 2 for a bad command line or configuration file (the message names the line), or
a store that refuses the node's password or commands, 130 for a Ctrl-C before it serves
(while it loads, at the ``--hash-token`` prompt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib
import logging
import math
import os
import re
import signal
import ssl
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

if hasattr(signal, "SIGHUP") and (__name__ == "__main__"
                                  or Path(sys.argv[0]).name == "interphone-server"):
    # A reload asked while it starts (`systemctl reload` just after `start`) ended it
    # without a word (SIGHUP's default); it reads the file after these imports anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

try:  # loading these takes a second or more on a busy machine: Ctrl-C then is no error
    from redis.asyncio.connection import parse_url
    from redis.exceptions import (
        AuthenticationError,
        AuthenticationWrongNumberOfArgsError,
        NoPermissionError,
        RedisError,
    )

    from app import __version__
    from app.protocol.limits import DEFAULT_PORT
    from app.server.app import InterphoneServer, MetricsUnavailable
    from app.server.binding import BindError
    from app.server.directory import Directory, DirectoryError, hash_token
    from app.server.directory_reload import DirectoryReloads
    from app.server.fd_limit import ensure_open_files
    from app.server.logs import LOG_FORMATS, configure_logging
    from app.server.metrics import parse_listen_address
    from app.server.redis_store import RedisStore
    from app.server.tls import TlsOptions, TlsSetupError, load_server_context
    from app.stdout_sink import drop_stdout
except KeyboardInterrupt:
    print("interphone-server: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

log = logging.getLogger("app.server")

STORE_REFUSALS = (AuthenticationError, AuthenticationWrongNumberOfArgsError, NoPermissionError)
"""What the store answers a node whose ``--store`` user, password or ACL is wrong."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="interphone-server",
        description="Interphone push-to-talk server: TCP signaling and UDP media on one port.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="directory TOML file (without it: a built-in demo, open mode)")
    parser.add_argument("--host", action="append", default=None,
                        help="address to listen on, TCP and UDP (default 127.0.0.1); may be "
                             "repeated; \"::\" is dual-stack (IPv6 and IPv4), \"\" every "
                             "address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP and UDP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    parser.add_argument("--store", metavar="URL",
                        help="share the state with other nodes through Redis "
                             "(redis://HOST:6379/0); without it everything stays in memory")
    parser.add_argument("--node-id", metavar="NAME", default="",
                        help="this node's name in the store's logs (default node-N)")
    parser.add_argument("--node-address", metavar="ADDRESS", default="",
                        help="with --store: where the other nodes send audio for this node's "
                             "listeners (default: --host, or the host name's address when "
                             "--host is a wildcard)")
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="TLS on the signaling port with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument("--tls-self-signed", metavar="DIR",
                        help="TLS with a self-signed certificate made once in DIR and reused")
    parser.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                        help="text lines (default) or one JSON object per line")
    parser.add_argument("--metrics", metavar="HOST:PORT",
                        help="serve Prometheus metrics at http://HOST:PORT/metrics "
                             "([::1]:PORT for IPv6, :PORT for every address)")
    parser.add_argument("--hash-token", action="store_true",
                        help="read a token on stdin, print its token_hash form, and exit")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number")
    if args.store and not args.store.startswith(("redis://", "rediss://", "unix://")):
        parser.error(f"--store {args.store}: expected redis://HOST:PORT/DB")
    if args.store:
        try:  # (what the Redis client would raise at the first connection, as a traceback)
            parse_url(args.store)
        except ValueError as exc:
            parser.error(f"--store {args.store}: {exc}")
        database = urllib.parse.urlsplit(args.store).path
        if not args.store.startswith("unix://") and not re.fullmatch(r"/?[0-9]*", database):
            # the Redis client reads "/x" as database 0 and "/1/2" as 12: nodes told
            # different things would share one log, or not, without a word
            parser.error(f"--store {args.store}: the database after the port must be a "
                         f"number (redis://HOST:PORT/0), not {database[1:]!r}")
    args.host = args.host if args.host is not None else ["127.0.0.1"]
    if args.metrics is not None:
        try:
            args.metrics = parse_listen_address(args.metrics)
        except ValueError as exc:
            parser.error(f"--metrics: {exc}")
    return args


def make_store(url: str | None, name: str) -> RedisStore | None:
    """The Redis store of ``--store`` (heartbeat period and TTL tunable by environment:
    INTERPHONE_NODE_BEAT, INTERPHONE_NODE_TTL, seconds; INTERPHONE_CLUSTER_KEY, the
    operator's key for the audio the nodes forward to each other, the same on every node)."""
    if not url:
        return None
    return RedisStore(url, name, beat=_seconds("INTERPHONE_NODE_BEAT", 1.0),
                      ttl=_seconds("INTERPHONE_NODE_TTL", 3.0),
                      cluster_key=os.environ.get("INTERPHONE_CLUSTER_KEY", "").encode())


def _seconds(variable: str, default: float) -> float:
    """A positive number of seconds from the environment (ValueError naming it if not)."""
    text = os.environ.get(variable, "")
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{variable}={text!r} is not a number of seconds")
    return value


def reload_directory(reloads: DirectoryReloads | None) -> None:
    """SIGHUP: read the ``--config`` file again (in a thread) and serve it, or keep the
    directory in use if the file is not valid (the log names the line)."""
    if reloads is None:
        log.warning("SIGHUP: no --config to reload (serving the built-in demo directory)")
        return
    reloads.request()


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


async def serve(directory: Directory, hosts: list[str], port: int, *,
                config: str | None = None, metrics: tuple[str, int] | None = None,
                store: RedisStore | None = None, tls: ssl.SSLContext | None = None,
                node_address: str = "") -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    server = InterphoneServer(directory, host=hosts, port=port, metrics=metrics,
                              media_thread=True, store=store, tls=tls,
                              node_address=node_address or None)
    handlers: list[tuple[signal.Signals, Callable[[], object]]] = [
        (signal.SIGINT, stop.set), (signal.SIGTERM, stop.set)]
    reloads = DirectoryReloads(server, config) if config is not None else None
    if hasattr(signal, "SIGHUP"):
        handlers.append((signal.SIGHUP, lambda: reload_directory(reloads)))
    for sig, handler in handlers:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:  # the signal handlers go with serve(), however it ends
        try:
            await server.start()
        except (MetricsUnavailable, BindError) as exc:
            log.error("%s", exc)
            return 1
        except OSError as exc:
            log.error("cannot listen on %s port %d: %s", ", ".join(hosts), port,
                      exc.strerror or exc)
            return 1
        except STORE_REFUSALS as exc:  # a wrong password or ACL: trying again cannot mend it
            log.error("the store %s refused this node: %s (check the user and password in "
                      "--store, and the ACL its user has: docs/deploy.md)",
                      store.safe_url if store else "", exc)
            return 2
        except RedisError as exc:
            log.error("cannot reach the store %s: %s", store.safe_url if store else "", exc)
            return 1
        start_again = False
        stopping = asyncio.ensure_future(stop.wait())
        waits = [stopping]
        if store is not None:  # given up by the others, or its store link broken: it starts again
            waits.append(asyncio.ensure_future(store.given_up.wait()))
            waits.append(asyncio.ensure_future(store.failed.wait()))
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            # what came first decides the exit code: a stop signal during the shutdown of a
            # node given up (or whose store link broke) must not turn its 1 into a 0
            start_again = stopping not in done
            log.info("shutting down")
        finally:
            for waiting in waits:
                waiting.cancel()
            if reloads is not None:
                reloads.cancel()  # a directory read meanwhile is not served
            await server.stop()
    finally:
        if reloads is not None:
            reloads.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
    if start_again:
        log.error("exiting with code 1 to start again as a new node (a supervisor such as "
                  "the .deb's unit restarts it)")
        return 1
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when the optional ``fast`` extra is installed."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _refuse(log_format: str, problem: str) -> None:
    """Why the server does not start, once logging is set up: one line on standard error,
    ``interphone-server: PROBLEM``, or with ``--log-format json`` a JSON object like every
    other line (a log collector parses them all, the one that matters most included)."""
    if log_format == "json":
        log.error("%s", problem)
    else:
        print(f"interphone-server: {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before it serves: at the --hash-token prompt, say
        print("interphone-server: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.hash_token:
        try:
            token = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline()
        except EOFError:  # Ctrl-D at the prompt
            token = ""
        token = token.rstrip("\r\n")
        if not token:  # (Enter alone at the prompt, an empty pipe): a hash anyone matches
            print("interphone-server: --hash-token: the token is empty", file=sys.stderr)
            return 2
        try:
            print(hash_token(token), flush=True)
        except OSError as exc:  # (`> /dev/full`, a closed pipe)
            drop_stdout()
            print(f"interphone-server: --hash-token: cannot write the hash: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
    configure_logging(args.log_level, args.log_format)
    if args.config:
        try:
            directory = Directory.from_toml_file(args.config)
        except DirectoryError as exc:
            _refuse(args.log_format, f"bad configuration: {exc}")
            return 2
    else:
        directory = Directory.demo()
        log.warning("no --config: serving the built-in demo directory in open mode "
                    "(any uid may log in with any token)")
    short = ensure_open_files(directory.settings.max_sessions)
    if short is not None:
        log.warning("%s", short)
    options = tls_options(args, directory, Path(args.config).parent if args.config else None)
    context: ssl.SSLContext | None = None
    if options.enabled:
        try:
            context, fingerprint = load_server_context(options)
        except (TlsSetupError, OSError, ssl.SSLError) as exc:
            _refuse(args.log_format, f"TLS: {exc}")
            return 2
        log.info("TLS on; certificate SHA-256 fingerprint %s", fingerprint)
    if not args.store and (args.node_id or args.node_address):
        log.warning("--node-id and --node-address are for a node of several (with --store): "
                    "ignored")
    try:
        store = make_store(args.store, args.node_id)
    except ValueError as exc:
        _refuse(args.log_format, f"bad configuration: {exc}")
        return 2
    factory = _loop_factory()
    log.info("event loop: %s", "uvloop" if factory else "asyncio default")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(serve(directory, args.host, args.port, config=args.config,
                                    metrics=args.metrics,
                                    store=store,
                                    tls=context, node_address=args.node_address))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown, or no signal handlers
        return 0


if __name__ == "__main__":
    sys.exit(main())
