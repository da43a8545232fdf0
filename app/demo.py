"""The loopback demo, without Qt: the embedded server on a free loopback port, plus bots.

Everything runs in-process on the app's asyncio loop:

- ``echo`` sits in *Ops* and plays back every utterance of the user's;
- ``alice`` greets in *Ops* once, then answers each time the user has spoken there;
- ``carol`` speaks a clip in *Night shift* once, then again after each of the user's
  utterances in *Ops* (so the list shows activity elsewhere);
- ``bob`` calls the user one-to-one a while after the user first spoke (an incoming
  call), says hello and answers each of the user's utterances in that chat.

The bots introduce the demo in its first seconds and then speak only in answer to the
user: a demo left alone goes quiet, as a real team's channel does (and uses next to no
CPU; issue "always-on": the demo, joined, nobody talking, stays under 1 % of a core).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from app.audio.wavio import AudioFileError, read_wav
from app.bundle_paths import clips
from app.client import ClientError, InterphoneClient
from app.client.events import ModelEvent, SpeakerChanged
from app.headless.bots import EchoBot, PlayerBot
from app.protocol import InterphoneId
from app.server import Directory, InterphoneServer

logger = logging.getLogger(__name__)

BotT = TypeVar("BotT", EchoBot, PlayerBot)

DEMO_UID = "me"
DEMO_TOKEN = "demo"
DEMO_INTERPHONE = "group_58"  # "Ops"
NIGHT_SHIFT = "discuss_12"


@dataclass(frozen=True, slots=True)
class DemoTimings:
    """When the bots speak, in seconds (tests shorten them); None: never."""

    alice_greets_after: float | None = 2.0  # after the start
    carol_first_after: float | None = 5.0  # after the start
    alice_answers_after: float | None = 1.5  # after the user's utterance in Ops
    carol_follows_after: float | None = 6.0  # after the user's utterance in Ops
    bob_calls_after: float | None = 8.0  # after the user's first utterance in Ops
    bob_answers_after: float = 1.5  # after bob called, and after each utterance to him
    # unprompted, for screenshots: alice and carol speak every so often, bob calls anyway
    alice_every: float | None = None
    carol_every: float | None = None
    bob_calls_at: float | None = None  # after the start


def load_clip(name_part: str) -> np.ndarray:
    """The first clip whose file name contains ``name_part`` (a chirp if none loads)."""
    for path in clips():
        if name_part in path.stem:
            try:
                return read_wav(path)
            except (AudioFileError, OSError) as exc:
                logger.warning("clip %s unreadable: %s", path, exc)
    t = np.arange(48000) / 48000
    return (0.3 * np.sin(2 * np.pi * (400 + 300 * t) * t)).astype(np.float32)


def after_utterances(client: InterphoneClient, uid: str, interphone: str,
                     then: Callable[[], None]) -> Callable[[], None]:
    """Call ``then()`` each time ``uid`` stops speaking in ``interphone``, as ``client``'s
    model sees it; returns the function that stops watching."""
    speaking = False

    def on_event(event: ModelEvent) -> None:
        nonlocal speaking
        if not isinstance(event, SpeakerChanged) or str(event.id) != interphone:
            return
        was, speaking = speaking, event.uid == uid
        if was and not speaking:
            then()

    return client.model.subscribe(on_event)


@dataclass
class DemoWorld:
    """The running demo server and its bots; :meth:`stop` ends all of it."""

    server: InterphoneServer
    timings: DemoTimings
    clients: list[InterphoneClient] = field(default_factory=list)
    bots: list[EchoBot | PlayerBot] = field(default_factory=list)
    alice: PlayerBot | None = None
    carol: PlayerBot | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _unsubscribe: list[Callable[[], None]] = field(default_factory=list)
    _bob_called: bool = False

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def echo(self) -> EchoBot:
        return next(bot for bot in self.bots if isinstance(bot, EchoBot))

    @classmethod
    async def start(cls, timings: DemoTimings | None = None) -> DemoWorld:
        server = InterphoneServer(Directory.demo(), host="127.0.0.1", port=0)
        await server.start()
        world = cls(server, timings or DemoTimings())
        timings = world.timings
        try:
            echo = await world._member("echo", DEMO_INTERPHONE)
            world._run(EchoBot(echo, only_from=DEMO_UID))
            alice = await world._member("alice", DEMO_INTERPHONE)
            world.alice = world._run(PlayerBot(alice, load_clip("alice"),
                                                      every=timings.alice_every))
            carol = await world._member("carol", NIGHT_SHIFT)
            world.carol = world._run(PlayerBot(carol, load_clip("carol"),
                                                      every=timings.carol_every))
            world.alice.say_later(timings.alice_greets_after)
            world.carol.say_later(timings.carol_first_after)
            world._unsubscribe.append(
                after_utterances(echo, DEMO_UID, DEMO_INTERPHONE, world._user_spoke))
            if timings.bob_calls_at is not None:
                world._bob_will_call(timings.bob_calls_at)
        except BaseException:
            await world.stop()
            raise
        logger.info("demo server on 127.0.0.1:%d with %d bots", server.port, len(world.bots))
        return world

    async def _member(self, uid: str, interphone: str | None) -> InterphoneClient:
        client = InterphoneClient("127.0.0.1", self.server.port, uid, DEMO_TOKEN, reconnect=False)
        self.clients.append(client)
        await client.connect()
        if interphone is not None:
            await client.join(interphone)
        return client

    def _run(self, bot: BotT) -> BotT:
        self.bots.append(bot)
        bot.start()
        return bot

    def _user_spoke(self) -> None:
        """The user's utterance in Ops ended (seen by the echo bot's client)."""
        timings = self.timings
        if self.alice is not None:
            self.alice.say_later(timings.alice_answers_after)
        if self.carol is not None:
            self.carol.say_later(timings.carol_follows_after)
        if timings.bob_calls_after is not None:
            self._bob_will_call(timings.bob_calls_after)

    def _bob_will_call(self, after: float) -> None:
        if not self._bob_called:
            self._bob_called = True
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._bob_calls(after), name="demo-bob"))

    async def _bob_calls(self, after: float) -> None:
        await asyncio.sleep(after)
        chat = str(InterphoneId.chat("bob", DEMO_UID))
        try:
            client = await self._member("bob", chat)
        except ClientError as exc:
            logger.warning("demo call from bob failed: %s", exc)
            return
        bob = self._run(PlayerBot(client, load_clip("bob"), every=None))
        answers = self.timings.bob_answers_after
        bob.say_later(answers)
        self._unsubscribe.append(
            after_utterances(client, DEMO_UID, chat, lambda: bob.say_later(answers)))

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for bot in self.bots:
            await bot.stop()
        for client in self.clients:
            await client.close()
        await self.server.stop()
