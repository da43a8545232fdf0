"""TurnDriver: the one turn machine driven against the real embedded server, no Qt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from client_fixtures import Clients, wait_until
from test_client_floor_ext import (
    FEATURES,
    OPS,
    floor_server,
    members,
    revoked_in_the_read_of_the_grant,
)

from app.client import FloorChanged, FloorOutcome, FloorState
from app.client.turn import EndReason, TurnConfig, TurnPhase, TurnTone
from app.client.turn import Press as TurnPress
from app.client.turn_driver import TurnDriver

pytest_plugins = ["client_fixtures"]


class Recorder:
    def __init__(self) -> None:
        self.transmit: list[bool] = []
        self.tones: list[TurnTone] = []
        self.ended: list[tuple[EndReason, str]] = []

    def callbacks(self) -> dict[str, Any]:
        return {"on_transmit": self.transmit.append, "on_tone": self.tones.append,
                "on_ended": lambda reason, by: self.ended.append((reason, by))}


def drive(client: Any, **config: Any) -> tuple[TurnDriver, Recorder]:
    """A driver of ``client``'s turn (a 60 s limit, a 50 ms release delay unless told),
    and what it did."""
    settings = TurnConfig(**{"max_talk": 60, "release_delay": 0.05, **config})
    seen = Recorder()
    return TurnDriver(client, config=lambda: settings, **seen.callbacks()), seen


async def test_held_key_with_auto_repeat_makes_one_request_then_queue_and_pre_emption(
        clients: Clients):
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await alice.talk_start()
        seen = Recorder()
        config = TurnConfig(max_talk=60, release_delay=0.05, queue=False)
        driver = TurnDriver(bob, config=lambda: config, **seen.callbacks())
        try:
            driver.press()
            for _ in range(20):  # flagless auto-repeat: release/press pairs
                await asyncio.sleep(0.02)
                driver.release()
                driver.press()
            await wait_until(lambda: driver.machine.phase is TurnPhase.BUSY, what="busy")
            assert driver.requests == 1 and seen.tones == [TurnTone.BUSY]
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
            # with queueing: wait in line, then the turn comes with its own cue
            config = TurnConfig(max_talk=60, release_delay=0.05, queue=True)
            driver.press()
            await wait_until(lambda: driver.machine.phase is TurnPhase.QUEUED, what="queued")
            await alice.talk_stop()
            await wait_until(lambda: seen.transmit == [True], what="transmitting")
            assert seen.tones[-2:] == [TurnTone.QUEUED, TurnTone.YOUR_TURN]
            assert server.state.interphones[OPS].holder == "bob"
            # alice's emergency cuts bob off with the reason and the pre-empter
            assert await alice.talk_start(emergency=True)
            await wait_until(lambda: seen.ended, what="cut off")
            assert seen.ended == [(EndReason.PREEMPTED, "alice")]
            assert seen.transmit == [True, False] and seen.tones[-1] is TurnTone.PREEMPTED
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
            assert driver.requests == 2
        finally:
            await driver.close()


@pytest.mark.parametrize("queued", [False, True])
async def test_a_grant_revoked_in_the_same_read_ends_the_turn(clients: Clients, queued: bool):
    """The grant (the speak answer, or from the line the granted notice) and a pre-emption
    read together. The turn starts and ends with the reason, in that order: it does not
    stay "talking" while someone else holds the floor, nor miss the revocation because it
    came before talk_start returned."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        if queued:
            assert await alice.talk_start()
        grants = revoked_in_the_read_of_the_grant(bob, by="disp")
        driver, seen = drive(bob, queue=queued)
        try:
            driver.press()
            if queued:
                await wait_until(lambda: driver.machine.phase is TurnPhase.QUEUED, what="queued")
                await alice.talk_stop()
            await wait_until(lambda: seen.ended, what="cut off")
            await wait_until(lambda: not driver.busy, what="talk_start returned")
            assert len(grants) == 1
            assert seen.ended == [(EndReason.PREEMPTED, "disp")]
            assert driver.machine.phase is TurnPhase.REVOKED
            assert seen.transmit == [True, False]
            first = TurnTone.YOUR_TURN if queued else TurnTone.PERMIT
            assert seen.tones[-2:] == [first, TurnTone.PREEMPTED]
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
            assert driver.requests == 1
        finally:
            await driver.close()


async def test_a_wait_in_line_that_times_out_ends_the_turn_once(clients: Clients):
    """The machine hears of the line from the model: queued (the place is the model's),
    then the server's ``left``: the turn ends once, with the reason, and the floor shows
    who still holds it."""
    async with floor_server(queue_timeout=0.3) as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await alice.talk_start()
        driver, seen = drive(bob, queue=True)
        try:
            driver.press()
            await wait_until(lambda: driver.machine.phase is TurnPhase.QUEUED, what="queued")
            assert bob.model.queue_position == 1
            await wait_until(lambda: seen.ended, what="left the line")
            await wait_until(lambda: not driver.busy, what="talk_start returned")
            assert seen.ended == [(EndReason.QUEUE_EXPIRED, "")]
            assert driver.machine.phase is TurnPhase.REVOKED
            assert driver.machine.view(0.0).reason is EndReason.QUEUE_EXPIRED
            assert seen.tones == [TurnTone.QUEUED, TurnTone.BUSY] and seen.transmit == []
            assert (bob.model.floor, bob.model.floor_holder) == (FloorState.BUSY, "alice")
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
            assert driver.requests == 1
        finally:
            await driver.close()


def test_revoke_reasons_from_the_wire() -> None:
    from app.client.turn_driver import revoke_reason
    assert [revoke_reason(text) for text in ("time_limit", "silence", "preempted",
                                             "shutdown", "server", "warp")] == [
        EndReason.TIME_LIMIT, EndReason.SILENCE, EndReason.PREEMPTED, EndReason.SHUTDOWN,
        EndReason.SERVER, EndReason.SERVER]


async def test_a_bot_waits_in_line_through_the_turn_machine(clients: Clients):
    import numpy as np

    from app.headless.bots import PlayerBot

    async with floor_server() as server:
        alice, bot_client = [await clients.connect(server.port, uid, "x", features=FEATURES)
                             for uid in ("alice", "bot")]
        for client in (alice, bot_client):
            await client.join(OPS)
        assert await alice.talk_start()
        bot = PlayerBot(bot_client, np.zeros(4800, dtype=np.float32))
        speaking = asyncio.ensure_future(bot.speak(bot.pcm))
        await wait_until(lambda: server.state.interphones[OPS].floor.queue == ("bot",),
                         what="the bot in line")
        await alice.talk_stop()
        assert await asyncio.wait_for(speaking, 5) is True
        assert bot.utterances_sent == 1
        assert server.state.interphones[OPS].holder == ""  # released after speaking


async def test_a_refusal_reaches_the_machine_with_the_model_change(clients: Clients):
    """The machine hears of a refusal from the model's change (its ``outcome``), not when
    talk_start returns: whoever reads the model's change sees the turn refused too, never
    'busy' in the model beside 'requesting' in the turn."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await alice.talk_start()
        driver, seen = drive(bob, queue=False)
        phases: list[tuple[FloorOutcome, TurnPhase]] = []
        bob.model.subscribe(lambda event: phases.append((event.outcome, driver.machine.phase))
                            if isinstance(event, FloorChanged) else None)
        try:
            driver.press()
            await wait_until(lambda: not driver.busy, what="talk_start returned")
            assert phases == [(FloorOutcome.REQUESTED, TurnPhase.REQUESTING),
                              (FloorOutcome.REFUSED_BUSY, TurnPhase.BUSY)]
            assert seen.tones == [TurnTone.BUSY]
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
        finally:
            await driver.close()


async def test_pressing_again_right_after_leaving_the_line_waits_in_line_again(
        clients: Clients):
    """The key let go and pressed again at once while waiting in line: the machine leaves
    the line and asks again. The first request, given up by that release, ended as
    refused in the middle of the second one (its talk_start returned False), and the
    turn stood 'denied' with the key held and bob back in line. Only the model's
    outcome of the second request counts now."""
    async with floor_server() as server:
        alice, bob = await members(clients, server.port, "alice", "bob")
        assert await alice.talk_start()
        driver, seen = drive(bob, debounce=0.0, queue=True)
        try:
            driver.press()
            await wait_until(lambda: driver.machine.phase is TurnPhase.QUEUED, what="queued")
            driver.release()
            driver.press()
            await wait_until(lambda: len(seen.tones) == 2, what="the second answer")
            assert seen.tones == [TurnTone.QUEUED, TurnTone.QUEUED]
            assert driver.machine.phase is TurnPhase.QUEUED and driver.requests == 2
            assert server.state.interphones[OPS].floor.queue == ("bob",)
            await alice.talk_stop()
            await wait_until(lambda: seen.transmit == [True], what="transmitting")
            driver.release()
            await wait_until(lambda: driver.machine.phase is TurnPhase.IDLE, what="idle")
        finally:
            await driver.close()


async def test_a_request_that_changes_no_floor_still_ends_the_turn(clients: Clients):
    """talk_start fails before anything reaches the model (not joined): no floor change
    tells the machine, so the driver reads the model's floor once talk_start is over."""
    async with floor_server() as server:
        bob = await clients.connect(server.port, "bob", "x", features=FEATURES)
        driver, seen = drive(bob, queue=True)
        try:
            driver.press()
            await wait_until(lambda: not driver.busy, what="talk_start over")
            assert driver.machine.phase is TurnPhase.DENIED and seen.tones == [TurnTone.BUSY]
            assert bob.model.floor is FloorState.IDLE
        finally:
            await driver.close()


async def test_a_closed_driver_carries_nothing_out(clients: Clients):
    """A request task that ends while ``close`` cancels the others (the window closing in
    the middle of a turn) must not arm the timer or tell ``on_change``: its timer fired
    after the window was deleted."""
    async with floor_server() as server:
        [alice] = await members(clients, server.port, "alice")
        changes: list[int] = []
        driver, seen = drive(alice)
        driver.on_change = lambda: changes.append(1)
        await driver.close()
        driver.feed(TurnPress())  # what a late task's outcome does: nothing now
        assert driver._timer.armed_at is None
        assert changes == [] and driver.requests == 0 and seen.tones == []
