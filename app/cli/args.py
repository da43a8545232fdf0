"""The command line of ``interphone-cli``: common options, then a command."""

from __future__ import annotations

import argparse
import os

from app import __version__
from app.audio.constants import ALLOWED_FRAME_MS, DEFAULT_BITRATE, DEFAULT_FRAME_MS
from app.client.address import parse_server_address, parse_server_list
from app.client.trust import TrustPolicy, normalize_fingerprint
from app.protocol import InterphoneId, ProtocolError
from app.protocol.ids import is_valid_name
from app.protocol.limits import DEFAULT_PORT

DEFAULT_HOST = "127.0.0.1"
ENV_UID = "INTERPHONE_UID"
ENV_TOKEN = "INTERPHONE_TOKEN"
ID_HELP = ("the interphone: group_ID, discuss_ID or chat_UID:UID (e.g. group_58; sync lists "
           "those someone is in)")


def server_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``:PORT`` or ``[v6]:PORT`` (an empty host is this machine)."""
    try:
        return parse_server_address(text, default_host=DEFAULT_HOST)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_list(text: str) -> list[tuple[str, int]]:
    """One address or several, comma-separated: the first, then the others on failure.

    Blank is refused, not read as the default address: it is most often an unset
    variable (``--server "$SERVER"``), and a quiet connection to this machine would hide it."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"empty server address (the default is {DEFAULT_HOST}:{DEFAULT_PORT}: "
            "leave --server out for it)")
    try:
        return parse_server_list(text, default_host=DEFAULT_HOST)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def interphone_id(text: str) -> InterphoneId:
    try:
        return InterphoneId.parse(text)
    except ProtocolError:
        raise argparse.ArgumentTypeError(
            f"bad interphone id {text!r} (expected group_ID, discuss_ID or chat_UID:UID)"
        ) from None


def bitrate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad bitrate {text!r}") from None
    if not 6000 <= value <= 510000:
        raise argparse.ArgumentTypeError("bitrate must be 6000..510000 bit/s")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number of seconds {text!r}") from None
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError("seconds must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interphone-cli",
        description="Command-line Interphone (push-to-talk) client.",
        epilog=f"uid and token default to ${ENV_UID} and ${ENV_TOKEN}.",
    )
    parser.add_argument("--server", type=server_list, default=[(DEFAULT_HOST, DEFAULT_PORT)],
                        metavar="HOST:PORT[,HOST:PORT...]",
                        help=f"server address (default {DEFAULT_HOST}:{DEFAULT_PORT}); several "
                             "nodes of one deployment: the others are tried when one fails")
    parser.add_argument("--uid", default=os.environ.get(ENV_UID), help="your user id")
    parser.add_argument("--token", default=os.environ.get(ENV_TOKEN, ""),
                        help="your login token")
    parser.add_argument("--frame-ms", type=int, choices=ALLOWED_FRAME_MS,
                        default=DEFAULT_FRAME_MS, help="Opus frame duration (default 20)")
    parser.add_argument("--bitrate", type=bitrate, default=DEFAULT_BITRATE,
                        help=f"Opus bitrate in bit/s (default {DEFAULT_BITRATE})")
    parser.add_argument("--timeout", type=positive_seconds, default=5.0,
                        help="seconds to wait for the server (default 5)")
    parser.add_argument("--tls", action="store_true",
                        help="TLS to the server (verified against the system's CA store unless "
                             "--ca-file or --tls-fingerprint)")
    parser.add_argument("--ca-file", metavar="FILE",
                        help="with --tls: trust only the CA certificates in FILE (PEM)")
    parser.add_argument("--tls-fingerprint", metavar="HEX",
                        help="with --tls: trust exactly the certificate with this SHA-256 "
                             "fingerprint (colons optional), as the server logs it")
    # Debugging and benchmarks (bench/speech_e2e.py): send UDP media to HOST:PORT, e.g. an
    # impairment proxy in front of the server's media port, instead of the server itself.
    parser.add_argument("--media-via", type=server_address, default=None,
                        metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--no-feedback", action="store_true",
                        help="do not exchange loss reports with the server (the talker's "
                             "FEC then stays off)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("sync", help="print the live interphones (someone is in them) as JSON")

    members = commands.add_parser("members", help="print members and speaker as JSON")
    members.add_argument("id", type=interphone_id, metavar="ID", help=ID_HELP)

    talk = commands.add_parser("talk", help="join, take the floor, stream a WAV file, release")
    talk.add_argument("id", type=interphone_id, metavar="ID", help=ID_HELP)
    talk.add_argument("--wav", required=True, metavar="FILE", help="audio to send")
    how = talk.add_mutually_exclusive_group()
    how.add_argument("--queue", action="store_true",
                     help="if the floor is busy, wait in line for it, then send")
    how.add_argument("--emergency", action="store_true",
                     help="raise an emergency on ID and take the floor at once")

    emergency = commands.add_parser(
        "emergency", help="raise an emergency on ID, or cancel it with --cancel",
        description="Raise an emergency on ID: it stays raised until its raiser or a "
                    "dispatcher cancels it, or ID ends. With nobody else in ID, leaving "
                    "would end it: the command then stays in ID (saying so on stderr) until "
                    "someone joins, it is cancelled, --seconds pass or Ctrl-C.")
    emergency.add_argument("id", type=interphone_id, metavar="ID", help=ID_HELP)
    emergency.add_argument("--cancel", action="store_true",
                           help="cancel it (its raiser or a dispatcher)")
    emergency.add_argument("--seconds", type=positive_seconds, default=None,
                           help="with nobody else in ID: stay at most this long (default: "
                                "until someone joins or Ctrl-C)")

    listen = commands.add_parser("listen", help="join and record what is heard to a WAV file")
    listen.add_argument("id", type=interphone_id, metavar="ID", help=ID_HELP)
    listen.add_argument("--wav", required=True, metavar="OUT", help="48 kHz mono 16-bit WAV")
    listen.add_argument("--seconds", type=positive_seconds, default=None,
                        help="stop after this long (default: until Ctrl-C)")

    bot = commands.add_parser("bot", help="stay in the interphone: echo each utterance, "
                                          "or speak a file periodically")
    bot.add_argument("id", type=interphone_id, metavar="ID", help=ID_HELP)
    bot.add_argument("--play", metavar="FILE", help="speak this WAV file instead of echoing")
    bot.add_argument("--every", type=positive_seconds, default=5.0,
                     help="seconds between plays with --play (default 5)")
    bot.add_argument("--seconds", type=positive_seconds, default=None,
                     help="stop after this long (default: until Ctrl-C)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.uid:
        parser.error(f"--uid is required (or set ${ENV_UID})")
    if not is_valid_name(args.uid):
        parser.error(f"bad uid {args.uid!r} (1..64 of A-Z a-z 0-9 . _ @ -)")
    args.trust = None
    if (args.ca_file or args.tls_fingerprint) and not args.tls:
        parser.error("--ca-file and --tls-fingerprint go with --tls")
    if args.ca_file and args.tls_fingerprint:
        parser.error("give either --ca-file or --tls-fingerprint, not both")
    if args.tls:
        try:
            pin = normalize_fingerprint(args.tls_fingerprint) if args.tls_fingerprint else None
        except ValueError as exc:
            parser.error(f"--tls-fingerprint: {exc}")
        args.trust = TrustPolicy(ca_file=args.ca_file, pin=pin)
    return args
