"""In-process talking partners: :class:`EchoBot` and :class:`PlayerBot`.

Both drive a connected :class:`~app.client.InterphoneClient` that has joined an
interphone (the GUI's demo mode gives each bot its own client)::

    bot = EchoBot(client)        # plays back each utterance it hears
    bot.start()
    ...
    await bot.stop()

A bot owns ``client.on_audio`` while it runs; it never closes the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np

from app.audio.codec import packet_ms
from app.audio.constants import DEFAULT_BITRATE, DEFAULT_FRAME_MS
from app.audio.fec_policy import FecPolicy
from app.audio.talker_stream import decode_utterance
from app.client.client import InterphoneClient
from app.client.errors import ClientError
from app.client.events import FloorChanged, FloorState, ModelEvent, SpeakerChanged
from app.client.turn import TurnConfig, TurnPhase
from app.client.turn_driver import TurnDriver
from app.headless.feedback import follow_feedback
from app.headless.talker import transmit_pcm
from app.protocol.features import FLOOR_QUEUE

logger = logging.getLogger(__name__)

_FLOOR_ATTEMPTS = 3
_FLOOR_RETRY_DELAY = 0.5
_AT_REST = (TurnPhase.IDLE, TurnPhase.BUSY, TurnPhase.DENIED, TurnPhase.REVOKED)


class _Bot:
    def __init__(self, client: InterphoneClient, frame_ms: int, bitrate: int) -> None:
        self.client = client
        self.frame_ms = frame_ms
        self.bitrate = bitrate
        self.utterances_sent = 0
        self._task: asyncio.Task[None] | None = None
        self._policy: FecPolicy | None = None

    def _fec_policy(self) -> FecPolicy:
        """The FEC policy the bot's encoder follows (fed by the feedback extension,
        when the client was granted it; otherwise it stays at no FEC)."""
        if self._policy is None:
            self._policy = follow_feedback(self.client, self.bitrate)
        return self._policy

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the bot's task on the running loop (idempotent)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=type(self).__name__)

    async def stop(self) -> None:
        """Stop and wait for the task; releases the floor if the bot held it."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        raise NotImplementedError

    async def speak(self, pcm: np.ndarray) -> bool:
        """Take the floor through the client's turn machine, as a held talk key would
        (waiting in line where the server offers ``floor-queue``, else a few presses if
        busy), send ``pcm`` in real time, release."""
        changed = asyncio.Event()
        driver = TurnDriver(self.client, config=self._turn_config, on_change=changed.set)
        refusals: list[FloorChanged] = []
        unsubscribe = self.client.model.subscribe(
            lambda event: refusals.append(event) if isinstance(event, FloorChanged)
            and event.state in (FloorState.BUSY, FloorState.DENIED) else None)
        try:
            for attempt in range(_FLOOR_ATTEMPTS):
                driver.press()
                if await self._settled(driver, changed):
                    sent = await transmit_pcm(self.client, pcm, frame_ms=self.frame_ms,
                                              bitrate=self.bitrate,
                                              fec_policy=self._fec_policy())
                    if sent:
                        self.utterances_sent += 1
                    driver.release()
                    await self._settled(driver, changed)
                    return True
                logger.debug("floor not granted (%s), try %d", driver.machine.phase,
                             attempt + 1)
                driver.release()
                await self._settled(driver, changed)
                await asyncio.sleep(_FLOOR_RETRY_DELAY)
            self._tell_not_granted(refusals[-1] if refusals else None)
            return False
        finally:
            unsubscribe()
            await driver.close()
            with contextlib.suppress(ClientError):
                await self.client.talk_stop()  # harmless when already released

    def _tell_not_granted(self, refusal: FloorChanged | None) -> None:
        """Someone else speaking is the usual reason and said at INFO; a refusal for any
        other reason (the server's store away, a permission, a rate limit) is a WARNING,
        or a bot whose turns all fail would say nothing."""
        where = str(self.client.model.joined or "its interphone")
        if refusal is not None and refusal.state is FloorState.BUSY:
            logger.info("no turn in %s after %d tries: %s is speaking", where,
                        _FLOOR_ATTEMPTS, refusal.holder or "someone")
            return
        why = refusal.reason if refusal is not None and refusal.reason else "no reason given"
        logger.warning("the floor of %s was refused %d times (%s); the bot tries again "
                       "at its next turn", where, _FLOOR_ATTEMPTS, why)

    def _turn_config(self) -> TurnConfig:
        return TurnConfig(max_talk=float(self.client.model.max_talk or 60), release_delay=0.0,
                          queue=FLOOR_QUEUE in self.client.features)

    @staticmethod
    async def _settled(driver: TurnDriver, changed: asyncio.Event) -> bool:
        """Wait until the turn is transmitting (True) or at rest without it (False)."""
        while True:
            machine = driver.machine
            if machine.transmitting:
                return True
            if not driver.busy and machine.phase in _AT_REST:
                return False
            changed.clear()
            await changed.wait()


class PlayerBot(_Bot):
    """Speaks ``pcm`` (float32 48 kHz mono) every ``every`` seconds (None: never on its
    own) and when asked with :meth:`say_later`."""

    def __init__(self, client: InterphoneClient, pcm: np.ndarray, every: float | None = 5.0,
                 *, frame_ms: int = DEFAULT_FRAME_MS, bitrate: int = DEFAULT_BITRATE) -> None:
        super().__init__(client, frame_ms, bitrate)
        self.pcm = np.asarray(pcm, dtype=np.float32)
        self.every = every
        self._wanted = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()

    def say_later(self, delay: float | None) -> None:
        """Speak once ``delay`` seconds from now (None: not at all); requests that fall
        due while the bot speaks make one more utterance, not one each."""
        if delay is None:
            return
        loop = asyncio.get_running_loop()

        def due() -> None:
            self._timers.discard(handle)
            self._wanted.set()

        handle = loop.call_later(delay, due)
        self._timers.add(handle)

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), self.every)
                self._wanted.clear()
                await self.speak(self.pcm)
        finally:
            for handle in self._timers:
                handle.cancel()
            self._timers.clear()


class EchoBot(_Bot):
    """Records each utterance it hears and, once the speaker releases, plays it back.

    Utterances longer than ``max_seconds`` are cut; ``settle`` is how long it
    waits after the release for the last packets still in flight; ``only_from``: echo
    that user alone.
    """

    def __init__(self, client: InterphoneClient, *, frame_ms: int = DEFAULT_FRAME_MS,
                 bitrate: int = DEFAULT_BITRATE, max_seconds: float = 30.0,
                 settle: float = 0.2, only_from: str | None = None) -> None:
        super().__init__(client, frame_ms, bitrate)
        self.only_from = only_from  # echo this uid alone (None: everyone but itself)
        self.max_seconds = max_seconds
        self.settle = settle
        self._packets: dict[str, dict[int, bytes]] = {}
        self._finished: asyncio.Queue[str] = asyncio.Queue()
        self._recording = ""

    async def run(self) -> None:
        self.client.on_audio = self._on_audio
        unsubscribe = self.client.model.subscribe(self._on_event)
        try:
            while True:
                uid = await self._finished.get()
                await asyncio.sleep(self.settle)
                packets = self._packets.pop(uid, {})
                if not packets:
                    continue
                pcm = decode_utterance(packets)
                if pcm.size:
                    logger.info("echoing %.1f s from %s", pcm.size / 48000, uid)
                    await self.speak(pcm)
        finally:
            unsubscribe()
            if self.client.on_audio == self._on_audio:
                self.client.on_audio = None

    def _on_audio(self, uid: str, seq: int, payload: bytes) -> None:
        if uid == self.client.uid or self.only_from not in (None, uid):
            return
        packets = self._packets.setdefault(uid, {})
        duration = packet_ms(payload) or self.frame_ms
        if len(packets) * duration < self.max_seconds * 1000:
            packets[seq] = payload
        self._recording = uid

    def _on_event(self, event: ModelEvent) -> None:
        """The speaker changed: the one being recorded is done, unless it is the new
        speaker (its audio can come before the news that it speaks: UDP is not held
        behind TCP, and a busy loop may read either first)."""
        if not isinstance(event, SpeakerChanged):
            return
        previous = self._recording
        if previous == event.uid:
            return
        self._recording = ""
        if previous and previous != self.client.uid:
            self._finished.put_nowait(previous)


__all__ = ["EchoBot", "PlayerBot", "decode_utterance"]
