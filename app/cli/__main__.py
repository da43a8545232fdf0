"""Entry point of ``interphone-cli`` and ``python -m app.cli``.

Exit codes: 0 success, 1 runtime error (one line on stderr, no traceback),
2 usage error, 130 interrupted (the line "interrupted"; ``listen`` and ``bot`` end
normally on Ctrl-C once they are in their interphone, as does ``emergency`` while it stays
in its interphone to keep the emergency raised; before that, while connecting to a server
that may never answer, Ctrl-C interrupts them too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

try:  # loading these takes a second or more on a busy machine: Ctrl-C then is no error
    from app.audio.codec import CodecError
    from app.cli.args import ENV_TOKEN, parse_args
    from app.cli.commands import COMMANDS, CliError
    from app.client import ClientError, LoginRefused, ServerError
    from app.client.address import format_server_address
    from app.client.connection import TlsExpected
    from app.client.errors import RemoteProtocolError, failure_of
    from app.client.failures import FailureKind, OsReason, os_words
    from app.stdout_sink import drop_stdout
except KeyboardInterrupt:
    print("interphone-cli: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

MEDIA_AUTH_REQUIRED = 426
"""The login's errcode when the server demands encrypted voice the client did not ask for
(docs/protocol-extensions.md, media-auth)."""

_PROG = "interphone-cli"

NO_DATABASE = "the server cannot reach its database; try again in a moment"
"""A request refused with "store unavailable" (docs/protocol-extensions.md 1.8), as the
desktop app says it."""


async def _run(args: argparse.Namespace) -> int:
    """Run the command; Ctrl-C/SIGTERM end a command normally while it sets
    ``args.ends_on_interrupt`` (``listen``, ``bot`` and ``emergency`` once in their
    interphone), else cancel it."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    args.stop = asyncio.Event()
    args.ends_on_interrupt = False

    def interrupt() -> None:
        if args.ends_on_interrupt and not args.stop.is_set():
            args.stop.set()
        elif task is not None:
            task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows
            loop.add_signal_handler(signum, interrupt)
    return await COMMANDS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = parse_args(argv)  # exits 2 with a usage message on bad arguments
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format=f"{_PROG}: %(levelname)s: %(name)s: %(message)s")
    if not args.verbose:  # (the error line says it; -v for the client's own lines)
        logging.getLogger("app.client.store_watch").setLevel(logging.ERROR)
    try:
        code = asyncio.run(_run(args))
        sys.stdout.flush()  # (here, so that a failure to write is told as one)
        return code
    except (KeyboardInterrupt, asyncio.CancelledError):
        # (listen, bot and a lone emergency end normally instead: not here)
        detail = getattr(args, "interrupted_detail", "")  # what a cut-short talk sent
        print(f"{_PROG}: interrupted" + (f" {detail}" if detail else ""), file=sys.stderr)
        return 130
    except LoginRefused as exc:
        if failure_of(exc).kind is FailureKind.STORE_UNAVAILABLE:
            _fail(f"cannot log in as {args.uid!r} now: {NO_DATABASE}")
            return 1
        hint = "" if args.token else f" (no token was given: --token or ${ENV_TOKEN})"
        if exc.errcode == MEDIA_AUTH_REQUIRED and not args.tls:
            hint = (": the server demands encrypted voice (media_encryption = \"required\"), "
                    "which this client asks for over TLS only: try --tls")
        _fail(f"login refused for {args.uid!r}: {exc.reason or 'wrong uid or token'}{hint}")
    except TlsExpected as exc:
        _fail(f"{exc}: try --tls" if not args.tls else str(exc))
    except ServerError as exc:
        _fail(refusal_text(exc))
    except RemoteProtocolError as exc:  # e.g. a web server's port: "HTTP/1.1 400" is no frame
        host, port = args.server[0]
        _fail(f"{format_server_address(host, port)} does not answer as an Interphone server "
              f"({exc})")
    except (CliError, ClientError) as exc:
        _fail(described(exc, args))
    except CodecError as exc:  # libopus missing or unusable
        _fail(f"audio codec: {exc}")
    except BrokenPipeError:  # the reader of the output went (`| head`): quietly, as SIGPIPE
        drop_stdout()
    except OSError as exc:  # the output cannot be written (a full disk)
        drop_stdout()
        _fail(f"cannot write the output: {os_words(exc)}")
    return 1


def refusal_text(exc: ServerError) -> str:
    """A refused request in the user's words: "the server refused join: carol may not use
    group_99 (error 403)", not the client's "JoinRequest: error 403: ..."."""
    what = exc.request.removesuffix("Request").lower() or "the request"
    if failure_of(exc).kind is FailureKind.STORE_UNAVAILABLE:
        return f"{what} refused for now: {NO_DATABASE}"
    return f"the server refused {what}: {exc.errmsg or 'no reason given'} (error {exc.errcode})"


def described(exc: BaseException, args: argparse.Namespace) -> str:
    """The error's line: its own words, or words that fit the options given, then what
    to do."""
    failure = failure_of(exc)
    if failure.kind is FailureKind.TLS_UNKNOWN_ISSUER and args.ca_file:
        return (f"TLS to {failure.server}: unknown issuer ({failure.detail}): --ca-file "
                f"{args.ca_file} is not the CA that signed the server's certificate (or the "
                "server does not send the intermediate certificates with its own)")
    line = str(exc) + what_to_do(exc, args)
    if len(args.server) > 1 and failure.kind in UNREACHED:  # (each was tried in turn)
        line = f"none of the {len(args.server)} servers in --server could be reached; " \
            f"the last: {line}"
    return line


UNREACHED = (FailureKind.CANNOT_REACH, FailureKind.CANNOT_CONNECT, FailureKind.NO_ANSWER)
"""Failures after which the client tries the next server of the list."""


def what_to_do(exc: BaseException, args: argparse.Namespace) -> str:
    """The hint that follows a server that could not be reached or did not answer, so
    that the one line also says what to check ("" for any other error)."""
    failure = failure_of(exc)
    if failure.kind in (FailureKind.CANNOT_REACH, FailureKind.CANNOT_CONNECT):
        if failure.os_reason is OsReason.REFUSED:
            return " (nothing listens there: check the address and port in --server, " \
                "and that interphone-server runs)"
        if failure.os_reason is OsReason.UNKNOWN_HOST:
            return " (check the host name in --server)"
        return " (check the address in --server, and the network or firewall on the way)"
    if failure.kind is FailureKind.NO_ANSWER:
        return " (check the address in --server, and that a firewall lets TCP through " \
            "to its port; a slow network: raise --timeout)"
    if failure.kind is FailureKind.TLS_TIMED_OUT:
        return " (is it an Interphone server with TLS on, and not some other program on " \
            "that port? a busy server or a slow network: raise --timeout)"
    if failure.kind is FailureKind.TLS_FINGERPRINT_MISMATCH:
        return " (not the certificate pinned with --tls-fingerprint: if the server's was " \
            "renewed, pin the fingerprint it logs at start; if not, another machine may be " \
            "answering at that address)"
    if failure.kind is FailureKind.TLS_EXPIRED:
        return " (its operator must renew it and restart the server; meanwhile " \
            "--tls-fingerprint pins it whatever its dates)"
    if failure.kind is FailureKind.TLS_NAME_MISMATCH:
        return ": give --server a name the certificate names (its subjectAltName), or pin " \
            "the certificate with --tls-fingerprint"
    if failure.kind is FailureKind.REQUEST_TIMEOUT and failure.request == "Login":
        servers = ",".join(format_server_address(host, port) for host, port in args.server)
        return f" from {servers} (is it an Interphone server? a busy one: raise --timeout)"
    return ""


def _fail(message: str) -> None:
    print(f"{_PROG}: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
