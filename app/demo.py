"""The loopback demo, without Qt: the embedded server on a free loopback port, plus bots.

Everything runs in-process on the app's asyncio loop:

- ``echo`` sits in *Ops* and plays back every utterance it hears;
- ``alice`` speaks a clip in *Ops* now and then;
- ``carol`` speaks a clip in *Night shift* (so the list shows activity elsewhere);
- ``bob`` calls the user one-to-one after a while (an incoming call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np

from app.audio.wavio import AudioFileError, read_wav
from app.bundle_paths import clips
from app.client import ClientError, InterphoneClient
from app.headless.bots import EchoBot, PlayerBot
from app.protocol import InterphoneId
from app.server import Directory, InterphoneServer

logger = logging.getLogger(__name__)

DEMO_UID = "me"
DEMO_TOKEN = "demo"
DEMO_INTERPHONE = "group_58"  # "Ops"
NIGHT_SHIFT = "discuss_12"


@dataclass(frozen=True, slots=True)
class DemoTimings:
    """Seconds between bot utterances (tests shorten them)."""

    alice_every: float = 11.0
    carol_every: float = 6.0
    bob_calls_after: float | None = 25.0
    bob_every: float = 9.0


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


@dataclass
class DemoWorld:
    """The running demo server and its bots; :meth:`stop` ends all of it."""

    server: InterphoneServer
    timings: DemoTimings
    clients: list[InterphoneClient] = field(default_factory=list)
    bots: list[EchoBot | PlayerBot] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

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
        try:
            echo = await world._member("echo", DEMO_INTERPHONE)
            world._run(EchoBot(echo))
            alice = await world._member("alice", DEMO_INTERPHONE)
            world._run(PlayerBot(alice, load_clip("alice"), every=world.timings.alice_every))
            carol = await world._member("carol", NIGHT_SHIFT)
            world._run(PlayerBot(carol, load_clip("carol"), every=world.timings.carol_every))
            if world.timings.bob_calls_after is not None:
                world._tasks.append(asyncio.get_running_loop().create_task(
                    world._bob_calls(world.timings.bob_calls_after), name="demo-bob"))
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

    def _run(self, bot: EchoBot | PlayerBot) -> None:
        self.bots.append(bot)
        bot.start()

    async def _bob_calls(self, after: float) -> None:
        await asyncio.sleep(after)
        try:
            bob = await self._member("bob", str(InterphoneId.chat("bob", DEMO_UID)))
        except ClientError as exc:
            logger.warning("demo call from bob failed: %s", exc)
            return
        self._run(PlayerBot(bob, load_clip("bob"), every=self.timings.bob_every))

    async def stop(self) -> None:
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
