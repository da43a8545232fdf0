"""The loopback demo's bots: they introduce the demo, then speak only in answer to the user."""

from __future__ import annotations

import asyncio

import numpy as np
from client_fixtures import wait_until

from app.client import InterphoneClient
from app.client.events import SpeakerChanged
from app.demo import DEMO_INTERPHONE, DEMO_TOKEN, DEMO_UID, DemoTimings, DemoWorld
from app.headless.talker import transmit_pcm

pytest_plugins = ["client_fixtures"]

FAST = DemoTimings(alice_greets_after=0.2, carol_first_after=None, alice_answers_after=0.3,
                   carol_follows_after=None, bob_calls_after=0.3, bob_answers_after=0.2)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 48000)) / 48000
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


async def test_the_bots_greet_go_quiet_and_answer_the_user() -> None:
    world = await DemoWorld.start(FAST)
    user = InterphoneClient("127.0.0.1", world.port, DEMO_UID, DEMO_TOKEN, reconnect=False)
    spoke: list[str] = []
    user.model.subscribe(lambda event: spoke.append(event.uid)
                         if isinstance(event, SpeakerChanged) and event.uid else None)
    try:
        await user.connect()
        await user.join(DEMO_INTERPHONE)
        await wait_until(lambda: spoke == ["alice"] and not user.model.speaker, timeout=10)
        await asyncio.sleep(2.0)  # left alone, the demo stays quiet
        assert spoke == ["alice"]
        assert not any(bot.client.uid == "bob" for bot in world.bots)  # no call unprompted

        assert await user.talk_start()
        await transmit_pcm(user, tone(0.6))
        await user.talk_stop()
        # the echo plays it back, alice answers, bob calls and says hello
        await wait_until(lambda: {"echo", "alice"} <= set(spoke[1:]), timeout=15)
        await wait_until(lambda: any(bot.client.uid == "bob" and bot.utterances_sent
                                     for bot in world.bots), timeout=15)
        assert spoke.count("alice") == 2  # one greeting, one answer: nothing else
    finally:
        await user.close()
        await world.stop()
