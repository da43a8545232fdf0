"""The UDP media side of :class:`~app.client.client.InterphoneClient`: opening the
:class:`~app.client.media.MediaEndpoint` for each connection, sending audio while granted,
handing received audio to ``on_audio`` / ``on_interphone_audio`` / the audio sink, the
frames sent to ``on_sent_audio``, voice keys (extension media-auth) and the loss measured
per speaker.

A mixin over :class:`~app.client.client_core.ClientCore`, whose attributes it uses.
"""

from __future__ import annotations

import asyncio
import logging

from app.client.client_core import ClientCore, InterphoneAudio
from app.client.connection import SignalingConnection
from app.client.errors import ClientError
from app.client.events import (
    FloorState,
    JoinedChanged,
    JoinedSpeakerChanged,
    ModelEvent,
    RemovedFromInterphone,
    SpeakerChanged,
)
from app.client.handoff import Handoff
from app.client.media import InterphoneAudioCallback, MediaEndpoint
from app.protocol.features import MEDIA_AUTH
from app.protocol.ids import InterphoneId
from app.protocol.media_crypto import SECRET_BYTES, decode_b64
from app.protocol.messages import JoinResult, LoginResult, MediaKeyNotice, Ping

logger = logging.getLogger(__name__)

HEARD_WAIT_S = 0.5
"""How long after another member starts speaking in a joined interphone audio must have
come, else our media address is registered again (it may have changed)."""


def media_secret_of(login: LoginResult) -> bytes | None:
    """The media secret when the server granted media-auth with a valid one, else None
    (base contract, plain media)."""
    if MEDIA_AUTH not in login.features or not login.media_secret:
        return None
    try:
        return decode_b64(login.media_secret, SECRET_BYTES)
    except ValueError:
        logger.warning("media-auth granted with a malformed media secret: plain media")
        return None


class ClientMedia(ClientCore):
    """Audio in and out over the UDP endpoint of the current connection."""

    _audio_sink: InterphoneAudio | None
    _audio_polled: bool = False  # (set per instance by the audio_polled setter)
    _text_id_sink: InterphoneAudioCallback | None = None  # (set by set_audio_sink)
    _audio_ids: dict[str, InterphoneId]
    _media_addr: tuple[str, int] | None
    _registering: set[InterphoneId]
    _heard_checks: dict[InterphoneId, tuple[MediaEndpoint, int, float]]
    _sent_audio: Handoff[tuple[str, int, bytes]]
    on_sent_audio: InterphoneAudio | None
    """``on_sent_audio(interphone, our uid, seq, opus_packet)``: every frame this client
    sends, as it went out (its seq), on the loop, in batches like ``on_audio`` (polled
    with it, see :attr:`audio_polled`); every frame of a talk is delivered before the
    model tells that the floor is no longer ours (``FloorChanged``). None: none kept."""

    def loss_pct(self, uid: str) -> float:
        """Packet loss (%) measured from the seq gaps of ``uid``'s audio."""
        return self._media.loss_pct(uid) if self._media is not None else 0.0

    def max_loss_pct(self) -> float:
        """The worst loss over all speakers heard on the current connection."""
        if self._media is None:
            return 0.0
        return max(self._media.loss_by_speaker().values(), default=0.0)

    def send_audio(self, payload: bytes) -> bool:
        """Send one Opus packet while granted; otherwise drop it (counted) and return False."""
        media = self._media
        if self.model.floor is not FloorState.TALKING or media is None \
                or not media.send_audio(payload):  # False as well with no talk target
            self.stats.tx_dropped += 1
            return False
        self.stats.tx_packets += 1
        return True

    async def _open_media(self, conn: SignalingConnection, login: LoginResult) -> MediaEndpoint:
        """A fresh UDP endpoint towards the login's ``udp_port`` (or ``media_addr``)."""
        media_host, media_port = self._media_addr or (conn.peer_host or self.host,
                                                      login.udp_port)
        secret = media_secret_of(login)
        media = await MediaEndpoint.open(media_host, media_port, self.uid, self._on_media_audio,
                                         media_secret=secret)
        media.audio_sink = self._endpoint_sink()
        media.set_polled(self._audio_polled)
        media.on_sent = self._on_sent
        self._sent_audio.loop = asyncio.get_running_loop()
        media.on_reachability = lambda reachable: self._media_path(media, reachable)
        old_media, self._media = self._media, media
        if old_media is not None:
            await old_media.aclose()
        return media

    def _media_path(self, media: MediaEndpoint, reachable: bool) -> None:
        if media is not self._media:  # an endpoint of a connection gone
            return
        if reachable:
            self.model.set_media_reachable(True)
            return
        conn = self._conn
        if conn is not None and not conn.closed:
            self._tasks.spawn(self._confirm_udp_blocked(conn, media),
                              "interphone-udp-blocked-check")

    async def _confirm_udp_blocked(self, conn: SignalingConnection,
                                   media: MediaEndpoint) -> None:
        """The server answered none of the endpoint's registrations: UDP blocked on the
        way, or the whole server hung (a stopped process, a host gone), which the
        keepalive tells only later. A ping on the signaling tells the two apart before
        the user is told that UDP is blocked: answered, UDP alone fails; unanswered, the
        connection's loss says what happened and this says nothing."""
        try:
            await conn.request(Ping())
        except ClientError as exc:
            logger.debug("no UDP answer and the signaling failed too (%s): not UDP alone",
                         exc)
            return
        if media is self._media and media.reachable is False and not conn.closed:
            logger.warning("the server answers none of our media registrations though it "
                           "answers on TCP: no audio either way (UDP to %s:%d blocked?)",
                           *media.server[:2])
            self.model.set_media_reachable(False)

    def _install_media_key(self, body: object) -> None:
        """media-auth: a voice key from a join response or a notification, for a joined
        interphone only (a key for any other is ignored)."""
        notice = body.media_key if isinstance(body, JoinResult) else body
        media = self._media
        if (isinstance(notice, MediaKeyNotice) and media is not None
                and notice.id in self.model.joined_ids):
            media.install_key(str(notice.id), notice.epoch, notice.key)

    @property
    def audio_sink(self) -> InterphoneAudio | None:
        """The sink :meth:`set_audio_sink` installed (None: none)."""
        return self._audio_sink

    def set_audio_sink(self, sink: InterphoneAudio | None,
                       text_id_sink: InterphoneAudioCallback | None = None) -> None:
        """``sink(interphone, uid, seq, opus_packet)`` called for every audio packet in the
        media receive thread, before the loop hears of it (see :mod:`app.client.media`):
        it must be thread-safe (the mixer's ``receive`` is). While one is set,
        ``on_audio``/``on_interphone_audio`` are still called for every packet, in order,
        on the loop, but in batches (about every 0.25 s): use the sink to play. None: no
        sink.

        ``text_id_sink``, when given, is the same sink taking the interphone's id as its
        text (``str`` of the :class:`InterphoneId`), e.g. :meth:`AudioEngine.audio_sink
        <app.audio.pipeline.AudioEngine.audio_sink>`: it becomes the media endpoint's sink
        itself, no layer per packet in between, and is called instead of ``sink``."""
        self._audio_sink = sink
        self._text_id_sink = text_id_sink
        if self._media is not None:
            self._media.audio_sink = self._endpoint_sink()

    def _endpoint_sink(self) -> InterphoneAudioCallback | None:
        """The media endpoint's ``audio_sink``: the text-id sink, else one that hands
        :attr:`audio_sink` the parsed interphone id, else none."""
        if self._text_id_sink is not None:
            return self._text_id_sink
        return self._sink_media_audio if self._audio_sink is not None else None

    @property
    def audio_polled(self) -> bool:
        """Whether the owner calls :meth:`poll_audio` regularly (see
        :meth:`MediaEndpoint.set_polled <app.client.media.MediaEndpoint.set_polled>`):
        then received audio reaches ``on_audio`` at those polls (and before each
        signaling event), with no loop wake-up of its own. Off: what waits is delivered."""
        return self._audio_polled

    @audio_polled.setter
    def audio_polled(self, polled: bool) -> None:
        self._audio_polled = polled
        if self._media is not None:
            self._media.set_polled(polled)
        self._sent_audio.set_polled(polled)

    def poll_audio(self) -> None:
        """On the loop: deliver the audio received since the last poll to ``on_audio``,
        and the frames sent since to ``on_sent_audio``."""
        if self._media is not None:
            self._media.flush()
        self._sent_audio.flush()

    def _on_sent(self, interphone: str, seq: int, payload: bytes) -> None:
        """In the sending thread (the app's audio input thread)."""
        if self.on_sent_audio is not None:
            self._sent_audio.put((interphone, seq, payload))

    def _deliver_sent(self, interphone: str, seq: int, payload: bytes) -> None:
        callback = self.on_sent_audio
        if callback is not None:
            parsed = self._audio_ids.get(interphone)
            if parsed is None:
                parsed = self._audio_ids[interphone] = InterphoneId.parse(interphone)
            callback(parsed, self.uid, seq, payload)

    def _sink_media_audio(self, interphone: str, uid: str, seq: int, payload: bytes) -> None:
        """In the media receive thread."""
        sink = self._audio_sink
        if sink is None:
            return
        parsed = self._audio_ids.get(interphone)
        if parsed is None:
            parsed = self._audio_ids[interphone] = InterphoneId.parse(interphone)
        sink(parsed, uid, seq, payload)

    def _on_media_audio(self, interphone: str, uid: str, seq: int, payload: bytes) -> None:
        self.stats.rx_packets += 1
        callback = self.on_audio
        if callback is not None:
            callback(uid, seq, payload)
        with_id = self.on_interphone_audio
        if with_id is not None:
            parsed = self._audio_ids.get(interphone)
            if parsed is None:
                parsed = self._audio_ids[interphone] = InterphoneId.parse(interphone)
            with_id(parsed, uid, seq, payload)

    def _register_again(self, interphone: InterphoneId, *, unless_heard: bool = False) -> None:
        """Send the recvbegin of a joined interphone now rather than at the next refresh
        (every keepalive): our media address may have changed while the signaling stayed
        up (a NAT that gave the UDP flow a new port, its mapping renewed, or expired while
        the machine slept). The server then takes our audio, and sends us the others', only
        once the address is registered again, which its rules allow from the session's IP
        only (docs/security.md). Called as we ask for the floor (one recvbegin a press),
        at a wake-up, and (``unless_heard``) when another member starts speaking there:
        then only if no audio came within ``HEARD_WAIT_S`` (the address still works
        otherwise, and the listeners behind one office NAT do not all send one at each
        transmission). One check waits at a time per interphone, from the latest change
        on: a server flooding speaker changes does not start a task for each."""
        media = self._media
        if media is None or str(interphone) not in media.interphones:
            return
        if unless_heard:
            waiting = interphone in self._heard_checks
            self._heard_checks[interphone] = (
                media, media.stats.rx_packets,
                asyncio.get_running_loop().time() + HEARD_WAIT_S)
            if not waiting:
                self._tasks.spawn(self._register_unless_heard(interphone),
                                  f"interphone-register-unless-heard-{interphone}")
        elif interphone not in self._registering:
            self._registering.add(interphone)
            self._tasks.spawn(self._register_now(media, interphone),
                              f"interphone-register-again-{interphone}")

    async def _register_unless_heard(self, interphone: InterphoneId) -> None:
        """Wait until ``HEARD_WAIT_S`` after the latest speaker change (a later one moves
        the check), then register again if no audio came since it."""
        loop = asyncio.get_running_loop()
        try:
            while (delay := self._heard_checks[interphone][2] - loop.time()) > 0:
                await asyncio.sleep(delay)
        finally:
            media, heard, _ = self._heard_checks.pop(interphone)
        if media.stats.rx_packets == heard:
            self._register_again(interphone)

    async def _register_now(self, media: MediaEndpoint, interphone: InterphoneId) -> None:
        try:
            # still joined and registered on this endpoint (no await since the check: a
            # leave cannot come in between and be undone by the registration)
            if media is self._media and self.model.is_joined(interphone) \
                    and str(interphone) in media.interphones:
                await media.register(str(interphone), interval=self.model.keepalive,
                                     talk=self.model.talk_target == interphone)
        finally:
            self._registering.discard(interphone)

    def _on_model_event(self, event: ModelEvent) -> None:
        """The talk target moved (join, retarget, leave): audio goes there from now on. The
        server removed us from an interphone: as after a leave, no more recvbegin for it,
        and a wait in line there ends. Someone else starts speaking in a joined
        interphone: registered again (:meth:`_register_again`). Before any event (our
        floor's end, above all) is heard of, the frames sent so far reach
        ``on_sent_audio``: this client hears of every model event before anyone else."""
        self._sent_audio.flush()
        if isinstance(event, SpeakerChanged | JoinedSpeakerChanged):
            if event.uid and event.uid != self.uid:
                self._register_again(event.id, unless_heard=True)
        elif isinstance(event, JoinedChanged) and self._media is not None:
            self._media.talk_to(str(event.id) if event.id is not None else None)
        elif isinstance(event, RemovedFromInterphone):
            if self._media is not None:
                self._media.unregister(str(event.id))
            if event.talk_target:
                self._end_turn("removed")
