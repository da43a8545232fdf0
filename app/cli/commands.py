"""The commands of ``interphone-cli``; each is a coroutine taking the parsed arguments.

User-facing failures raise :class:`CliError` (one line, exit code 1); the
client's own errors are turned into one-liners by ``__main__``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import ssl
import sys
import wave
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO

import numpy as np

from app.audio.codec import float_to_int16
from app.audio.constants import SAMPLE_RATE
from app.audio.wavio import AudioFileError, read_wav
from app.client import (
    ClientError,
    ConnectionChanged,
    ConnectionState,
    EmergencyChanged,
    FloorBusy,
    FloorChanged,
    FloorState,
    InterphoneClient,
    ModelEvent,
    NotAllowed,
    NotFound,
    QueueLeft,
    RemovedFromInterphone,
    ServerError,
    SpeakerChanged,
    StoreChanged,
)
from app.client.asked_features import asked_features
from app.client.failures import os_words
from app.client.media import AudioCallback
from app.client.trust import TrustPolicy, client_context
from app.headless.bots import EchoBot, PlayerBot
from app.headless.feedback import follow_feedback, start_reporting
from app.headless.mix_clock import MixClock
from app.headless.talker import Progress, split_frames, transmit_pcm
from app.protocol import InterphoneId, InterphoneInfo
from app.protocol.features import EMERGENCY, FLOOR_QUEUE

logger = logging.getLogger(__name__)


class CliError(Exception):
    """A failure to report as one line on stderr, exit code 1."""


def load_audio(path: str) -> np.ndarray:
    """Read any WAV file as 48 kHz mono float32, or raise a one-line CliError."""
    try:
        pcm = read_wav(path)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (AudioFileError, OSError, ValueError) as exc:
        raise CliError(f"{path}: not a readable WAV audio file ({exc})") from None
    if pcm.size == 0:
        raise CliError(f"{path}: the file holds no audio")
    return pcm


class WavWriter:
    """48 kHz mono 16-bit WAV written frame by frame; the header is final after close()."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.samples = 0
        # opened here, not by wave.open(path): a wave.Wave_write whose open failed prints
        # "Exception ignored ... AttributeError" from its __del__ on the way out
        try:
            self._handle: BinaryIO | None = open(path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise self._cannot_write(exc) from None
        self._file: wave.Wave_write | None = wave.open(self._handle, "wb")  # noqa: SIM115
        self._file.setnchannels(1)
        self._file.setsampwidth(2)
        self._file.setframerate(SAMPLE_RATE)

    def write(self, pcm: np.ndarray) -> None:
        if self._file is None:
            return
        try:
            self._file.writeframes(float_to_int16(pcm).astype("<i2").tobytes())
        except OSError as exc:
            file, self._file = self._file, None
            handle, self._handle = self._handle, None
            with contextlib.suppress(OSError):
                file.close()
            with contextlib.suppress(OSError):
                if handle is not None:
                    handle.close()
            raise self._cannot_write(exc) from None
        self.samples += len(pcm)

    def close(self) -> None:
        file, self._file = self._file, None
        handle, self._handle = self._handle, None
        try:
            if file is not None:
                file.close()  # writes the final header
        except OSError as exc:
            raise self._cannot_write(exc) from None
        finally:
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()

    def _cannot_write(self, exc: OSError) -> CliError:
        return CliError(f"{self.path}: cannot write ({exc.strerror or exc})")


def info_json(info: InterphoneInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(info.id),
        "attach_type": info.attach_type.value,
        "attach_id": info.attach_id,
        "member_count": info.member_count,
        "speaker": info.speaker,
    }
    if info.members is not None:
        data["members"] = list(info.members)
    return data


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


@contextlib.asynccontextmanager
async def connected(args: argparse.Namespace, *, reconnect: bool = False
                    ) -> AsyncIterator[InterphoneClient]:
    """A connected client; it asks for the floor extensions (queue, priority, emergency):
    the server grants what it offers, and the commands fall back to the base contract."""
    (host, port), *fallbacks = args.server
    trust: TrustPolicy | None = getattr(args, "trust", None)
    try:
        context = client_context(trust) if trust is not None else None
    except ssl.SSLError:  # read, but not a certificate (ssl.SSLError is an OSError too)
        raise CliError(f"--ca-file {trust.ca_file if trust else ''}: no CA certificate in it "
                       "(give the CA's certificate in PEM, the file with -----BEGIN "
                       "CERTIFICATE-----)") from None
    except OSError as exc:  # an unreadable --ca-file
        raise CliError(f"--ca-file {trust.ca_file if trust else ''}: cannot read it "
                       f"({os_words(exc)})") from None
    client = InterphoneClient(host, port, args.uid, args.token, reconnect=reconnect,
                              request_timeout=args.timeout, connect_timeout=args.timeout,
                              fallbacks=fallbacks, ssl=context,
                              media_addr=getattr(args, "media_via", None),
                              features=asked_features(
                                  tls=context is not None,
                                  feedback=not getattr(args, "no_feedback", False)))
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def until_session_ends(client: InterphoneClient) -> str:
    """Wait until the session reaches a final state (kicked, refused); returns the reason."""
    ended = asyncio.Event()

    def watch(event: ModelEvent) -> None:
        if isinstance(event, ConnectionChanged) and event.state.final:
            ended.set()

    unsubscribe = client.model.subscribe(watch)
    try:
        if not client.model.connection.final:
            await ended.wait()
        return f"{client.model.connection.value}: {client.model.connection_detail}"
    finally:
        unsubscribe()


class RemovalWatch:
    """Whether the server takes us out of ``interphone`` (a directory reload), from the
    moment this is made: made before the join, it misses no removal that comes before
    the command starts waiting (a reload right after the join)."""

    def __init__(self, client: InterphoneClient, interphone: InterphoneId) -> None:
        self.interphone = interphone
        self.removed = asyncio.Event()
        self._unsubscribe = client.model.subscribe(self._watch)

    def _watch(self, event: ModelEvent) -> None:
        if isinstance(event, RemovedFromInterphone) and event.id == self.interphone:
            self.removed.set()

    def close(self) -> None:
        self._unsubscribe()


async def run_until_stopped(client: InterphoneClient, work: asyncio.Future[Any],
                            stop: asyncio.Event | None,
                            removed: RemovalWatch | None = None) -> None:
    """Await ``work`` until it ends or ``stop`` is set (Ctrl-C); fail if the session ends
    or the server removes us from ``removed``'s interphone."""
    watcher = asyncio.ensure_future(until_session_ends(client))
    stopper = asyncio.ensure_future(stop.wait() if stop is not None else asyncio.Event().wait())
    removal = asyncio.ensure_future(removed.removed.wait() if removed is not None
                                    else asyncio.Event().wait())
    waiters = {work, watcher, stopper, removal}
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
        for task in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if watcher in done and work not in done:
        raise CliError(f"session ended ({watcher.result()})")
    if removed is not None and removal in done and work not in done:
        raise CliError(f"removed from {removed.interphone} by the server: the directory no "
                       f"longer lets {client.uid} in it")
    if work in done and not work.cancelled():
        work.result()


# ---- commands ------------------------------------------------------------------------------


async def cmd_sync(args: argparse.Namespace) -> int:
    async with connected(args) as client:
        infos = await client.sync()
    print_json([info_json(info) for info in infos])
    return 0


async def cmd_members(args: argparse.Namespace) -> int:
    async with connected(args) as client:
        info = await client.members(args.id)
    data = info_json(info)
    data.setdefault("members", [])
    print_json(data)
    return 0


async def cmd_talk(args: argparse.Namespace) -> int:
    pcm = load_audio(args.wav)
    total = len(split_frames(pcm, args.frame_ms))
    queue, emergency = getattr(args, "queue", False), getattr(args, "emergency", False)
    async with connected(args) as client:
        await client.join(args.id)
        if queue and FLOOR_QUEUE not in client.features:
            print("the server offers no queue: asking once", file=sys.stderr)
        if emergency and EMERGENCY not in client.features:
            raise CliError("the server offers no emergency calls")
        unsubscribe = client.model.subscribe(report_queue)
        lost: list[FloorChanged] = []  # why the floor ended under us (the first word)
        unsubscribe_lost = client.model.subscribe(
            lambda event: lost.append(event) if isinstance(event, FloorChanged)
            and event.reason in ("revoked", "disconnected") else None)
        policy = follow_feedback(client, args.bitrate)
        progress = Progress()
        granted = False
        try:
            try:
                granted = await client.talk_start(queue=queue, emergency=emergency)
                if not granted:
                    if lost and lost[0].reason == "disconnected":  # (a server that stops)
                        raise CliError("the connection was lost while waiting for the floor "
                                       f"of {args.id}")
                    raise CliError("the request for the floor was cancelled")
            except FloorBusy as exc:
                who = exc.holder or "someone else"
                full = " and the line is full" if exc.reason == "queue_full" else ""
                raise CliError(f"floor busy: {who} is speaking in {args.id}{full}") from None
            except QueueLeft as exc:
                raise CliError(f"gave up waiting for the floor of {args.id} ({exc.reason})"
                               ) from None
            finally:
                unsubscribe()
            try:
                sent = await transmit_pcm(client, pcm, frame_ms=args.frame_ms,
                                          bitrate=args.bitrate, fec_policy=policy,
                                          progress=progress)
            finally:
                await client.talk_stop()
        except asyncio.CancelledError:  # Ctrl-C: main says "interrupted", and this
            args.interrupted_detail = (
                f"after {progress.sent * args.frame_ms / 1000:.2f} s of "
                f"{total * args.frame_ms / 1000:.2f} s sent to {args.id}" if granted
                else f"while waiting for the floor of {args.id}: nothing was sent")
            raise
        finally:
            unsubscribe_lost()
        seconds = sent * args.frame_ms / 1000
        if sent < total:
            after = f"floor lost after {seconds:.1f} s of {total * args.frame_ms / 1000:.1f} s"
            connection = client.model.connection
            if connection.final:  # kicked (the account removed, signed in elsewhere)
                raise CliError(f"{after}: session ended ({connection.value}: "
                               f"{client.model.connection_detail})")
            why = floor_lost_reason(lost[0] if lost else None)
            if why == "the connection was lost" and "not answered" in \
                    client.model.connection_detail:
                # a link that died under the talk: found out by the checks while talking
                # (2 s apart, 10 s of no answer), the audio sent meanwhile went nowhere
                why += (": the server stopped answering, so the last 10 s or so of it may "
                        "not have been relayed")
            raise CliError(f"{after} ({why})")
        await still_answering(client, args.id, seconds)
        alone = not [uid for uid in client.model.members if uid != args.uid]
    print(f"sent {seconds:.2f} s ({sent} frames of {args.frame_ms} ms) to {args.id}")
    if alone:  # e.g. a chat with someone offline: it went through, and nobody heard it
        print(f"nobody else was in {args.id} to hear it", file=sys.stderr)
    return 0


async def still_answering(client: InterphoneClient, interphone: InterphoneId,
                          seconds: float) -> None:
    """After a talk, one request to the server: a server that hung meanwhile (its process
    stopped, its host gone, its connection still open) relayed nothing since, and the
    release of the floor went unanswered without a word, so "sent" would claim what
    nobody may have heard."""
    try:
        await client.members(interphone)
    except ServerError:
        pass  # it answers: whatever it said, it is there
    except ClientError as exc:
        raise CliError(f"the server stopped answering during the talk of {seconds:.1f} s to "
                       f"{interphone} ({exc}): what went out after that was not relayed"
                       ) from None


def floor_lost_reason(event: FloorChanged | None) -> str:
    """Why the floor ended under a talk: what the server said (floor extensions), else
    what is known."""
    if event is None:
        return "revoked by the server or connection lost"
    if event.reason == "disconnected":
        return "the connection was lost"
    return {
        "preempted": f"taken over by {event.by}" if event.by else "taken over",
        "time_limit": "the talk time limit was reached",
        "silence": "nothing was heard for too long",
        "shutdown": "the server is shutting down",
    }.get(event.cause, "revoked by the server")


def report_queue(event: ModelEvent) -> None:
    """While ``talk --queue`` waits: its place in line, on stderr."""
    if isinstance(event, FloorChanged) and event.state is FloorState.QUEUED:
        where = "next" if event.position <= 1 else f"position {event.position}"
        print(f"waiting in line: {where}", file=sys.stderr)


async def cmd_emergency(args: argparse.Namespace) -> int:
    async with connected(args) as client:
        if EMERGENCY not in client.features:
            raise CliError("the server offers no emergency calls")
        await client.join(args.id)
        try:
            if args.cancel:
                raised_by = await client.cancel_emergency(args.id)
                print(f"emergency of {raised_by} on {args.id} cancelled")
                return 0
            raised_by = await client.raise_emergency(args.id)
            print(f"emergency raised on {args.id} by {raised_by}", flush=True)
        except NotFound:
            raise CliError(f"no emergency is raised on {args.id}") from None
        except NotAllowed:
            raise CliError("only its raiser or a dispatcher may cancel the emergency") from None
        if alone_in(client, args.id):
            await keep_raised_while_alone(client, args)
    return 0


def alone_in(client: InterphoneClient, interphone: InterphoneId) -> bool:
    """Nobody but us is in ``interphone`` (joined: the talk target)."""
    info = client.model.interphone(interphone)
    others = [uid for uid in client.model.members if uid != client.uid]
    return not others and (info is None or info.member_count <= 1)


async def keep_raised_while_alone(client: InterphoneClient, args: argparse.Namespace) -> None:
    """``emergency ID`` with nobody else in ID. An emergency outlives its raiser's leaving,
    not the interphone's end, and leaving would end it: stay in ID until someone joins
    (it then stays raised without us), it is cancelled, ``--seconds`` pass or Ctrl-C."""
    where = str(args.id)
    print(f"nobody else is in {where} to hear it: staying in {where} to keep the emergency "
          "raised until someone joins (Ctrl-C to leave; the emergency ends with it)",
          file=sys.stderr, flush=True)
    changed = asyncio.Event()
    cancelled_by: list[str] = []
    lost: list[str] = []

    def watch(event: ModelEvent) -> None:
        if isinstance(event, EmergencyChanged) and event.id == args.id and not event.raised_by:
            cancelled_by.append(event.cancelled_by)
            changed.set()
        elif isinstance(event, ConnectionChanged) and event.state in (
                ConnectionState.DISCONNECTED, ConnectionState.RECONNECTING):
            lost.append(event.detail)  # (a final state ends run_until_stopped itself)
            changed.set()
        elif not alone_in(client, args.id):
            changed.set()

    async def company() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), getattr(args, "seconds", None))

    unsubscribe = client.model.subscribe(watch)
    args.ends_on_interrupt = True  # Ctrl-C: leave, exit 0
    try:
        await run_until_stopped(client, asyncio.ensure_future(company()),
                                getattr(args, "stop", None))
    finally:
        args.ends_on_interrupt = False
        unsubscribe()
    if lost:
        raise CliError(f"{lost[0] or 'the connection was lost'}: nobody else was in {where}, "
                       "so the emergency ends with this session (raise it again)")
    if cancelled_by:
        print(f"the emergency on {where} was cancelled by {cancelled_by[0] or 'the server'}",
              file=sys.stderr)
    elif not alone_in(client, args.id):
        others = ", ".join(uid for uid in client.model.members if uid != client.uid)
        print(f"{others or 'someone'} joined {where}: the emergency stays raised",
              file=sys.stderr)
    else:
        print(f"leaving {where}: nobody else came, so the emergency ends with it",
              file=sys.stderr)


def report_connection(interphone: str) -> Callable[[ModelEvent], None]:
    """``listen`` and ``bot``: a line on stderr when the connection is lost (they keep
    reconnecting, and ``listen`` records silence meanwhile) and one when it is back."""
    lost = False

    def report(event: ModelEvent) -> None:
        nonlocal lost
        if not isinstance(event, ConnectionChanged):
            return
        if event.state is ConnectionState.RECONNECTING and not lost:
            lost = True
            print(f"{event.detail or 'connection lost'}: reconnecting", file=sys.stderr)
        elif event.state is ConnectionState.CONNECTED and lost:
            lost = False
            print(f"reconnected: back in {interphone}", file=sys.stderr)
    return report


MIN_SILENT = 1.0
"""Seconds a transmission must last for ``listen`` to say that none of its audio came."""


class SpeakerReport:
    """``listen``: one stderr line per transmission heard, in order (the floor's change,
    told on the signaling connection), and one more when a transmission ended without a
    single audio packet (UDP blocked on the way, or nodes of a cluster that refuse each
    other's audio): "heard" alone does not prove that audio gets through. And one when the
    server says it cannot reach its database, and when it can again (extension health):
    a listener that hears nobody for a while knows why."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.packets: dict[str, int] = {}  # speaker -> audio packets received
        self._current = ""  # the speaker of the transmission under way
        self._at_start = 0  # its packets when it began
        self._since = 0.0  # (loop time) when it began
        self._held: list[str] | None = []  # lines before "listening to ..." (see ``begin``)

    def begin(self) -> None:
        """Print the lines held while joining, after the "listening to ..." line: a
        speaker already talking at the join was said before it."""
        held, self._held = self._held or [], None
        for line in held:
            print(line, file=sys.stderr)

    def _say(self, line: str) -> None:
        if self._held is not None:
            self._held.append(line)
        else:
            print(line, file=sys.stderr)

    def __call__(self, event: ModelEvent) -> None:
        if isinstance(event, StoreChanged):
            self._say("the server reaches its database again" if event.available else
                      "the server cannot reach its database: joins and turns are refused "
                      "for now")
            return
        if not isinstance(event, SpeakerChanged) or event.uid == self._current:
            return
        self.ended()
        self._current = event.uid
        if event.uid:
            self._at_start = self.packets.get(event.uid, 0)
            self._since = asyncio.get_running_loop().time()
            at = self._since - self.started
            self._say(f"heard {event.uid} at {at:.2f} s")

    def counting(self, on_audio: AudioCallback) -> AudioCallback:
        """``on_audio`` that also counts each speaker's packets."""
        def count(uid: str, seq: int, payload: bytes) -> None:
            self.packets[uid] = self.packets.get(uid, 0) + 1
            on_audio(uid, seq, payload)
        return count

    def ended(self) -> None:
        """The transmission under way (if any) ends: say so if none of its audio came in the
        MIN_SILENT seconds or more it lasted (a talk key pressed and let go at once sends
        none, nor has audio come yet at a transmission's first instant)."""
        uid, self._current = self._current, ""
        lasted = asyncio.get_running_loop().time() - self._since
        if uid and lasted >= MIN_SILENT and self.packets.get(uid, 0) == self._at_start:
            self._say(f"no audio arrived from {uid} in that transmission (UDP blocked on "
                      "the way, or a node of a cluster that refuses another's audio: see "
                      "docs/deploy.md, Checking a deployment)")


async def cmd_listen(args: argparse.Namespace) -> int:
    """Record what is said; at the end one JSON line on stderr: quality per speaker."""
    writer = WavWriter(args.wav)
    clock: MixClock | None = None
    try:
        async with connected(args, reconnect=True) as client:
            # before the join: a speaker already talking, or starting meanwhile, is reported
            speakers = SpeakerReport(asyncio.get_running_loop().time())
            client.model.subscribe(speakers)
            client.model.subscribe(report_connection(args.id))
            removed = RemovalWatch(client, args.id)
            await client.join(args.id)
            clock = MixClock(writer.write, args.frame_ms)
            client.on_audio = speakers.counting(clock.on_audio)
            reporting = start_reporting(client, clock)
            print(f"listening to {args.id}, recording to {args.wav}", file=sys.stderr)
            speakers.begin()
            args.ends_on_interrupt = True  # from here, Ctrl-C ends it normally (before: 130)
            try:
                await run_until_stopped(client, asyncio.ensure_future(clock.run(args.seconds)),
                                        getattr(args, "stop", None), removed)
                speakers.ended()  # (--seconds over during a transmission)
            finally:
                removed.close()
                reporting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporting
    finally:
        writer.close()
        if clock is not None:
            clock.close()
            print(json.dumps({"quality": clock.speaker_summary()}, sort_keys=True),
                  file=sys.stderr)
            # also when it ends in an error (removed, kicked): what it recorded is kept
            print(f"wrote {writer.samples / SAMPLE_RATE:.2f} s to {args.wav}")
    return 0


async def cmd_bot(args: argparse.Namespace) -> int:
    pcm = load_audio(args.play) if args.play else None
    async with connected(args, reconnect=True) as client:
        client.model.subscribe(report_connection(args.id))
        removed = RemovalWatch(client, args.id)
        await client.join(args.id)
        if pcm is not None:
            bot: EchoBot | PlayerBot = PlayerBot(client, pcm, args.every,
                                                 frame_ms=args.frame_ms, bitrate=args.bitrate)
        else:
            bot = EchoBot(client, frame_ms=args.frame_ms, bitrate=args.bitrate)
        bot.start()
        print(f"{type(bot).__name__} in {args.id}; Ctrl-C to stop", file=sys.stderr)
        args.ends_on_interrupt = True  # from here, Ctrl-C ends it normally (before: 130)
        try:
            wait = asyncio.sleep(args.seconds) if args.seconds else asyncio.Event().wait()
            await run_until_stopped(client, asyncio.ensure_future(wait),
                                    getattr(args, "stop", None), removed)
        finally:
            removed.close()
            await bot.stop()
    times = "once" if bot.utterances_sent == 1 else f"{bot.utterances_sent} times"
    print(f"{type(bot).__name__} spoke {times}")
    return 0


COMMANDS = {
    "sync": cmd_sync,
    "members": cmd_members,
    "talk": cmd_talk,
    "emergency": cmd_emergency,
    "listen": cmd_listen,
    "bot": cmd_bot,
}

