"""MediaEndpoint: the client's UDP socket for audio (PROTOCOL.md section 5).

It registers where this uid receives audio (recvbegin, acknowledged by the
server, retried) for each joined interphone, refreshes each registration every
keepalive interval, sends audiopackets to the talk target with a per-utterance
``seq`` and a crc, and delivers the valid audio of every joined interphone from
other members to a callback, with the interphone's id. Per-speaker
loss is measured from ``seq`` gaps (:class:`LossMeter`).

Opened with :meth:`MediaEndpoint.open`, the socket is read by a thread of its own
(:mod:`app.client.media_thread`): ``datagram_received`` runs there. An
``audio_sink`` (thread-safe, e.g. the mixer's ``receive``) is called right there
for every valid audio packet, in arrival order, so playback does not wait for the
event loop; ``on_audio`` is still called for every packet, in order, on the loop:
at once when no sink is set, else in batches every ``SINK_BATCH_S`` (its work is
bookkeeping then: two loop wake-ups per batch instead of one per packet).
Acknowledgements are handed to the loop too.

Polled mode (:meth:`MediaEndpoint.set_polled`): an owner that wakes up regularly anyway
(the desktop app's view tick, 10 times a second while audio plays) calls :meth:`flush`
each time; the receive thread then only queues the packets for ``on_audio`` and never
wakes the loop for them. Switching it off delivers what waits and posts batches again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from app.client.handoff import Handoff
from app.client.media_auth import ClientMediaAuth, HeardAudio, RecvBeginAcked
from app.client.media_drops import (
    FOREIGN,
    MALFORMED,
    NOT_JOINED,
    OWN,
    UNASKED_ACK,
    UNAUTHENTIC,
    DropLog,
)
from app.client.media_thread import ThreadedDatagramTransport, bind_ephemeral
from app.protocol import PacketError, RecvBeginPacket, parse_packet
from app.protocol.udp import AudioPacker, AudioReader

logger = logging.getLogger(__name__)

AudioCallback = Callable[[str, int, bytes], None]
"""``on_audio(uid, seq, opus_packet)``: one audiopacket of another member."""

InterphoneAudioCallback = Callable[[str, str, int, bytes], None]
"""``on_audio(interphone, uid, seq, opus_packet)``: the same with the interphone's id text."""

SentAudioCallback = Callable[[str, int, bytes], None]
"""``on_sent(interphone, seq, opus_packet)``: one frame of ours, as it went out."""

MediaAddress = tuple[str, int]
"""The server's media (host, port); what asyncio reports as a datagram's source may
carry IPv6 flow and scope fields behind them, which are not looked at."""

MAX_METERED_SPEAKERS = 256
"""Speakers whose loss is measured at most (the oldest is forgotten first)."""

# Sequence numbers that fall this far below the highest seen start a new utterance.
_RESTART_GAP = 50
CONFIRM_TRIES = 10
CONFIRM_WAIT_S = 0.25
"""A registration's series of tries left unanswered (3 for the periodic refresh, 5 for a
join) is followed by ``CONFIRM_TRIES`` more, each waiting ``CONFIRM_WAIT_S`` for its answer,
before the endpoint says that the server answers none (:attr:`MediaEndpoint.reachable`
False: "no audio: UDP blocked"). Alone, a series lost on a lossy path said so: at 30 %
loss each way (a try fails at 51 %) 13 % of the refreshes, one every keepalive, lost all 3
tries, and the window told a talker heard all along that no audio went either way; with
the 10 more, 0.016 % (at 20 % loss each way, 0.0002 %). A path really blocked is told
2.5 s later. At most 15 recvbegins in 6 s, under media-auth's bucket per address (20 a
second, 40 at once)."""


@dataclass(slots=True)
class MediaStats:
    tx_packets: int = 0
    rx_packets: int = 0
    rx_dropped: int = 0  # bad crc, malformed, foreign interphone, own uid, unknown source,
    # an ack of a registration never asked for
    acks: int = 0


class LossMeter:
    """Loss of one speaker's packets from ``seq`` gaps, smoothed over utterances.

    Within an utterance, ``top - first + 1`` packets were expected by the time
    ``top`` arrived (a late joiner starts counting at its first packet); a seq
    that restarts (0, or far below ``top``) closes the utterance and folds its
    counts into a history that halves at each fold.
    """

    __slots__ = ("_first", "_got", "_hist_expected", "_hist_got", "_top")

    def __init__(self) -> None:
        self._first = -1
        self._top = -1
        self._got = 0
        self._hist_expected = 0.0
        self._hist_got = 0.0

    def add(self, seq: int) -> None:
        if self._top >= 0 and (seq == 0 or seq + _RESTART_GAP < self._top):
            self._fold()
        if self._first < 0 or seq < self._first:
            self._first = seq
        self._top = max(self._top, seq)
        self._got += 1

    def _expected(self) -> int:
        return self._top - self._first + 1 if self._top >= 0 else 0

    def _fold(self) -> None:
        expected = self._expected()
        self._hist_expected = self._hist_expected * 0.5 + expected
        self._hist_got = self._hist_got * 0.5 + min(self._got, expected)
        self._first = self._top = -1
        self._got = 0

    @property
    def loss_pct(self) -> float:
        current = self._expected()
        expected = self._hist_expected * 0.5 + current
        got = self._hist_got * 0.5 + min(self._got, current)
        if expected <= 0:
            return 0.0
        return max(0.0, 100.0 * (1.0 - got / expected))


class MediaEndpoint(asyncio.DatagramProtocol):
    """One UDP socket talking to the server's media port (use :meth:`open`)."""

    def __init__(self, server: MediaAddress, uid: str, on_audio: InterphoneAudioCallback,
                 media_secret: bytes | None = None) -> None:
        self._server = server
        self._uid = uid
        self._auth = (ClientMediaAuth(uid, media_secret, server)
                      if media_secret is not None else None)
        """media-auth (docs/protocol-extensions.md): signed recvbegin, sealed audio."""
        self._auth_lock = threading.Lock()
        self._on_audio = on_audio
        self._transport: asyncio.DatagramTransport | None = None
        self._interphone: str | None = None  # where send_audio goes (the talk target)
        self._registered: dict[str, asyncio.Task[None] | None] = {}  # id -> its refresh
        self._tx_seq = 0
        self._packer: AudioPacker | None = None  # the talk target's, made at its first frame
        self._audio_reader = AudioReader()
        # One event per call waiting for an ack: a registration and a refresh of the same
        # interphone may overlap, and the one cancelled must not take the other's away.
        self._ack_waiters: dict[str, set[asyncio.Event]] = {}
        self._meters: dict[str, LossMeter] = {}
        self.stats = MediaStats()
        self._drops = DropLog(logger)
        self.reachable: bool | None = None
        """Whether the server answers this endpoint's registrations: None until the first
        answer or the first registration left unanswered, then the latest of the two."""
        self.on_reachability: Callable[[bool], None] | None = None
        """Called on the loop when :attr:`reachable` changes; without one, the endpoint
        warns itself when it becomes False."""
        self.audio_sink: InterphoneAudioCallback | None = None
        """Called for every valid audio packet in the receiving thread (thread-safe!)."""
        self.on_sent: SentAudioCallback | None = None
        """Called with every audio frame sent, in the sending thread (thread-safe!)."""
        self._loop: asyncio.AbstractEventLoop | None = None  # set: datagrams come off-loop
        self._to_loop: Handoff[tuple[str, str, int, bytes]] = Handoff(
            lambda packet: self._on_audio(*packet), "received audio",
            post=lambda callback: self._on_loop(callback))

    @classmethod
    async def open(cls, host: str, port: int, uid: str, on_audio: InterphoneAudioCallback,
                   media_secret: bytes | None = None) -> MediaEndpoint:
        """Bind an ephemeral local port of ``host``'s address family; a thread receives;
        with the login's ``media_secret`` the endpoint speaks media-auth only."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        server = (str(address[0]), int(address[1]))
        endpoint = cls(server, uid, on_audio, media_secret)
        endpoint._loop = endpoint._to_loop.loop = loop
        transport = ThreadedDatagramTransport(bind_ephemeral(family), endpoint)
        endpoint.connection_made(transport)
        transport.start()
        return endpoint

    # ---- asyncio.DatagramProtocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP error (server media port unreachable?): %s", exc)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """One datagram: in the receive thread when opened with :meth:`open`."""
        auth = self._auth
        if addr[0] != self._server[0] or addr[1] != self._server[1]:
            self._drop(FOREIGN, addr)  # only the server's media address, no other port
            return
        if auth is not None:  # media-auth: genuine packets only
            with self._auth_lock:  # keys change on the loop, datagrams come in this thread
                heard = auth.datagram(data, addr, time.monotonic())
            if type(heard) is HeardAudio:
                if heard.id in self._registered:
                    self._received(heard.id, heard.uid, heard.seq, heard.frame)
                else:
                    self._drop(NOT_JOINED, addr)
            elif isinstance(heard, RecvBeginAcked):
                self._on_loop(self._acknowledged, heard.id)
            else:
                self._drop(UNAUTHENTIC, addr)
            return
        audio = self._audio_reader.read(data)
        if audio is not None:  # the common case, read without building a packet object
            interphone, uid, seq, frame = audio
            if interphone in self._registered and uid != self._uid:
                self._received(interphone, uid, seq, frame)
            else:
                self._drop(NOT_JOINED if uid != self._uid else OWN, addr)
            return
        try:
            packet = parse_packet(data)
        except PacketError as exc:
            logger.debug("dropping a datagram: %s", exc)
            self._drop(MALFORMED, addr)
            return
        if isinstance(packet, RecvBeginPacket):
            if packet.uid == self._uid and packet.id in self._registered:
                self._on_loop(self._acknowledged, packet.id)
            else:  # an ack for nothing we asked: not a sign that the path works
                self._drop(UNASKED_ACK, addr)
            return
        if packet.id not in self._registered or packet.uid == self._uid:
            self._drop(NOT_JOINED if packet.uid != self._uid else OWN, addr)
            return
        self._received(packet.id, packet.uid, packet.seq, packet.frame)

    def _drop(self, why: str, source: tuple[str | Any, int]) -> None:
        """A datagram not taken (in the receive thread): counted, and told now and then."""
        self.stats.rx_dropped += 1
        self._drops.note(why, source, time.monotonic())

    def _received(self, interphone: str, uid: str, seq: int, frame: bytes) -> None:
        """Valid audio (decrypted and verified under media-auth): the per-speaker meter,
        the ``audio_sink`` at once, ``on_audio`` on the loop."""
        self.stats.rx_packets += 1
        meter = self._meters.get(uid)
        if meter is None:
            if len(self._meters) >= MAX_METERED_SPEAKERS:
                self._meters.pop(next(iter(self._meters)))  # bounded per-peer state
            meter = self._meters[uid] = LossMeter()
        meter.add(seq)
        sink = self.audio_sink
        if sink is not None:
            try:
                sink(interphone, uid, seq, frame)
            except Exception:
                logger.exception("audio_sink failed")
        self._to_loop.put((interphone, uid, seq, frame), batch=sink is not None)

    # ---- on the loop -------------------------------------------------------------------

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            callback(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the client is going away
            loop.call_soon_threadsafe(callback, *args)

    def _acknowledged(self, interphone: str) -> None:
        self.stats.acks += 1
        self._set_reachable(True)
        for waiter in self._ack_waiters.get(interphone, ()):
            waiter.set()

    def flush(self) -> None:
        """On the loop: deliver to ``on_audio`` what the receive thread has handed over so
        far (the client calls it before each signaling event, so that audio received
        before, e.g., a speaker change reaches ``on_audio`` before the change; a polling
        owner calls it regularly, see :meth:`set_polled`)."""
        self._to_loop.flush()

    @property
    def polled(self) -> bool:
        """Whether an owner polls (:meth:`set_polled`)."""
        return self._to_loop.polled

    def set_polled(self, polled: bool) -> None:
        """On the loop. True: the owner calls :meth:`flush` regularly (e.g. 10 times a
        second), so the receive thread only queues ``on_audio``'s packets and schedules
        nothing on the loop for them (:meth:`Handoff.set_polled`)."""
        self._to_loop.set_polled(polled)

    # ---- API ---------------------------------------------------------------------------

    @property
    def server(self) -> MediaAddress:
        """The server's media address this endpoint registers with and sends to."""
        return self._server

    @property
    def interphone(self) -> str | None:
        """Where :meth:`send_audio` sends (the talk target), None when nowhere."""
        return self._interphone

    @property
    def interphones(self) -> tuple[str, ...]:
        """Every interphone whose audio is accepted (the joined ones), in order."""
        return tuple(self._registered)

    def talk_to(self, interphone: str | None) -> None:
        """Send audio to ``interphone`` (one of the registered ones) from now on."""
        self._interphone = interphone if interphone in self._registered else None

    async def register(self, interphone: str, *, interval: float,
                       attempts: int = 5, ack_timeout: float = 0.3,
                       talk: bool = True) -> bool:
        """Accept audio of ``interphone``, send recvbegin until acked, keep it refreshed;
        ``talk``: :meth:`send_audio` goes there from now on (as with :meth:`talk_to`).

        Returns True once the server acknowledged; False after ``attempts``
        unanswered tries (the periodic refresh keeps trying). Once no registration of
        this endpoint has been answered (:attr:`reachable` False), one try is made: each
        join into a blocked path would otherwise wait the whole series again.
        """
        self._stop_refresh(interphone)
        self._registered[interphone] = asyncio.get_running_loop().create_task(
            self._refresh(interphone, interval), name=f"interphone-recvbegin-{interphone}")
        if talk or self._interphone is None:
            self._interphone = interphone
        if self.reachable is False:
            attempts = 1
        return await self._recvbegin(interphone, attempts, ack_timeout)

    @property
    def authenticated(self) -> bool:
        """Whether this endpoint speaks media-auth (encrypted voice)."""
        return self._auth is not None

    def install_key(self, interphone: str, epoch: int, key_b64: str) -> None:
        """A ``<media_key>`` from the join response or a notification (media-auth)."""
        if self._auth is None:
            return
        try:
            with self._auth_lock:
                self._auth.install_key(interphone, epoch, key_b64, time.monotonic())
        except ValueError as exc:
            logger.warning("ignoring a malformed media key for %s: %s", interphone, exc)

    def unregister(self, interphone: str | None = None) -> None:
        """Stop accepting and refreshing ``interphone`` (after leaving it), or every one.

        A registration still waiting for its acknowledgement returns False at once.
        """
        for name in (list(self._registered) if interphone is None else [interphone]):
            self._stop_refresh(name)
            self._registered.pop(name, None)
            if self._auth is not None:
                with self._auth_lock:
                    self._auth.left(name)
            if self._interphone == name:
                self._interphone = None
            for waiter in self._ack_waiters.get(name, ()):
                waiter.set()

    def begin_utterance(self, grant: int = 0) -> None:
        """The next audiopacket carries seq 0 (call on each floor grant, with the speak
        response's ``grant`` under media-auth)."""
        self._tx_seq = 0
        if self._auth is not None and self._interphone is not None:
            if grant:
                self._auth.floor_granted(self._interphone, grant)
            else:
                self._auth.floor_released(self._interphone)  # no grant number: no audio

    def send_audio(self, payload: bytes) -> bool:
        """One Opus frame to the talk target; thread-safe (the app's audio input thread
        calls it), the loop changes the target and keys meanwhile."""
        transport, interphone = self._transport, self._interphone
        if transport is None or interphone is None:
            return False
        auth = self._auth
        try:
            if auth is not None:
                with self._auth_lock:
                    sealed = auth.seal_if_granted(interphone, self._tx_seq, payload)
                if sealed is None:  # no grant or no key (yet)
                    return False
                data = sealed
            else:
                packer = self._packer
                if packer is None or packer.id != interphone:
                    packer = self._packer = AudioPacker(interphone, self._uid)
                data = packer.pack(self._tx_seq, payload)
        except ValueError as exc:  # a frame that does not fit (AudioPacket.serialize)
            logger.warning("audio frame not sent: %s", exc)
            return False
        seq, self._tx_seq = self._tx_seq, self._tx_seq + 1
        transport.sendto(data, self._server)
        self.stats.tx_packets += 1
        on_sent = self.on_sent
        if on_sent is not None:
            on_sent(interphone, seq, payload)
        return True

    def loss_pct(self, uid: str) -> float:
        meter = self._meters.get(uid)
        return meter.loss_pct if meter is not None else 0.0

    def loss_by_speaker(self) -> dict[str, float]:
        return {uid: meter.loss_pct for uid, meter in self._meters.items()}

    async def aclose(self) -> None:
        tasks = [self._stop_refresh(name) for name in list(self._registered)]
        self._registered.clear()
        self._interphone = None
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._to_loop.clear()

    # ---- internals ---------------------------------------------------------------------

    async def _recvbegin(self, interphone: str, attempts: int, ack_timeout: float) -> bool:
        event = asyncio.Event()
        waiters = self._ack_waiters.setdefault(interphone, set())
        waiters.add(event)
        try:
            waits = [ack_timeout * (attempt + 1) for attempt in range(attempts)]
            if self.reachable is not False:  # not known blocked: confirmed before it is
                waits += [CONFIRM_WAIT_S] * CONFIRM_TRIES
            for attempt, wait in enumerate(waits):
                transport = self._transport
                if transport is None or interphone not in self._registered:
                    return False
                event.clear()
                packet = (self._auth.recvbegin(interphone) if self._auth is not None
                          else RecvBeginPacket(interphone, self._uid).serialize())
                transport.sendto(packet, self._server)
                try:
                    async with asyncio.timeout(wait):
                        await event.wait()
                    return interphone in self._registered  # False: unregistered meanwhile
                except TimeoutError:
                    logger.debug("recvbegin %s not acknowledged (try %d)", interphone, attempt + 1)
            logger.debug("recvbegin for %s never acknowledged", interphone)  # (see reachable)
            if self._transport is not None and interphone in self._registered:
                self._set_reachable(False)
            return False
        finally:
            waiters.discard(event)
            if not waiters and self._ack_waiters.get(interphone) is waiters:
                del self._ack_waiters[interphone]

    def _set_reachable(self, reachable: bool) -> None:
        if self.reachable is reachable:
            return
        self.reachable = reachable
        if self.on_reachability is not None:
            self.on_reachability(reachable)  # the owner tells UDP blocked from a server gone
        elif not reachable:
            logger.warning("the server answers none of this endpoint's registrations: no "
                           "audio either way (UDP to %s:%d blocked?)", *self._server[:2])

    def _stop_refresh(self, interphone: str) -> asyncio.Task[None] | None:
        task = self._registered.get(interphone)
        if task is not None:
            self._registered[interphone] = None
            task.cancel()
        return task

    async def _refresh(self, interphone: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._recvbegin(interphone, 3, 0.5)
