"""Extension ``feedback`` over real sockets: a listener behind a lossy UDP link reports,
the server tells the talker, the talker's encoder turns FEC on and its packets carry LBRR.

No timing threshold is asserted (shared machine): the 2 s reaction target is measured by
bench/speech_e2e.py; here the reaction must merely happen, and only because of the loss.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from audio_helpers import speech_like
from client_fixtures import running_server, wait_until

from app.audio.codec import packet_has_lbrr
from app.audio.talker_stream import TalkerQuality
from app.client import InterphoneClient
from app.client.client import FEEDBACK
from app.client.events import FloorState
from app.client.feedback import QualityReporter
from app.headless.feedback import follow_feedback, start_reporting
from app.headless.mix_clock import MixClock
from app.headless.talker import transmit_pcm
from app.protocol.messages import FeedbackNotice

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.impair import ImpairedLink, Impairment

pytest_plugins = ["client_fixtures"]

G58 = "group_58"
SECONDS = 5.0


async def talk_to_listener(port: int, loss: float, *, feedback: bool = True
                           ) -> tuple[list[tuple[float, bytes]], list[FeedbackNotice], int]:
    """alice talks SECONDS of speech; bob listens through an impaired downlink and reports;
    carol listens on a clean link and records what alice's packets carry (time, payload)."""
    features = (FEEDBACK,) if feedback else ()
    async with ImpairedLink(("127.0.0.1", port), downlink=Impairment(loss=loss),
                            seed=3) as link:
        alice = InterphoneClient("127.0.0.1", port, "alice", "pw-alice", features=features)
        bob = InterphoneClient("127.0.0.1", port, "bob", "pw-bob", features=features,
                               media_addr=link.front)
        carol = InterphoneClient("127.0.0.1", port, "carol", "pw-carol")
        clients = (alice, bob, carol)
        loop = asyncio.get_running_loop()
        heard: list[tuple[float, bytes]] = []
        notices: list[FeedbackNotice] = []
        try:
            for client in clients:
                await client.connect()
                await client.join(G58)
            assert (FEEDBACK in alice.features) is feedback
            clock = MixClock(lambda pcm: None)
            bob.on_audio = clock.on_audio
            carol.on_audio = lambda uid, seq, payload: heard.append((loop.time(), payload))
            mixing = asyncio.ensure_future(clock.run())
            reporting = start_reporting(bob, clock, interval=0.5)
            policy = follow_feedback(alice)
            alice_feedback = alice.on_feedback
            assert alice_feedback is not None

            def record(notice: FeedbackNotice) -> None:
                notices.append(notice)
                alice_feedback(notice)

            alice.on_feedback = record
            assert await alice.talk_start()
            await wait_until(lambda: bob.model.speaker == "alice", what="bob sees alice")
            sent = await transmit_pcm(alice, speech_like(SECONDS, seed=5), fec_policy=policy)
            await alice.talk_stop()
            assert alice.model.floor is FloorState.IDLE
            reporting.cancel()
            mixing.cancel()
            for task in (reporting, mixing):
                with pytest.raises(asyncio.CancelledError):
                    await task
        finally:
            for client in clients:
                await client.close()
        return heard, notices, sent


async def test_a_lossy_listener_turns_the_talkers_fec_on() -> None:
    async with running_server() as server:
        heard, notices, sent = await talk_to_listener(server.port, 0.10)
    assert len(heard) > 0.9 * sent
    assert notices, "the talker was never told what its listener loses"
    assert max(n.worst_pct for n in notices) > 0.5
    assert all(n.listeners == 1 for n in notices)
    flags = [packet_has_lbrr(payload) for _, payload in heard]
    first = flags.index(True)  # raises if FEC never came
    assert first > 0, "FEC was on before any report"
    assert sum(flags[first:]) > 0.5 * len(flags[first:])


async def test_without_the_extension_nothing_is_reported_and_no_fec_is_sent() -> None:
    async with running_server() as server:
        heard, notices, sent = await talk_to_listener(server.port, 0.10, feedback=False)
    assert len(heard) > 0.9 * sent
    assert notices == []
    assert not any(packet_has_lbrr(payload) for _, payload in heard)


async def test_a_clean_link_keeps_fec_off() -> None:
    async with running_server() as server:
        heard, notices, _ = await talk_to_listener(server.port, 0.0)
    assert notices and all(n.worst_pct == 0.0 for n in notices)
    assert not any(packet_has_lbrr(payload) for _, payload in heard)


def figures(slots: int, loss_pct: float) -> TalkerQuality:
    return TalkerQuality(packets=slots, bad_packets=0, fec_packets=0, frames_played=slots,
                         slots=slots, lost=0, late=0, loss_pct=loss_pct,
                         recent_loss_pct=loss_pct, jitter_ms=4.0, concealed=0,
                         fec_recovered=0, stalls=0, faded=0, dropped=0, inserted=0,
                         decode_errors=0,
                         target_delay_ms=20.0)


async def test_reporter_reports_each_interval_and_at_once_when_loss_appears() -> None:
    async with running_server() as server:
        alice = InterphoneClient("127.0.0.1", server.port, "alice", "pw-alice",
                                 features=(FEEDBACK,))
        bob = InterphoneClient("127.0.0.1", server.port, "bob", "pw-bob", features=(FEEDBACK,))
        got: list[FeedbackNotice] = []
        try:
            for client in (alice, bob):
                await client.connect()
                await client.join(G58)
            alice.on_feedback = got.append
            assert await alice.talk_start()
            await wait_until(lambda: bob.model.speaker == "alice", what="bob sees alice")
            now: dict[str, TalkerQuality] = {}
            reporter = QualityReporter(bob, lambda: now, interval=1.0)

            async def tick(at: float, slots: int, loss: float) -> bool:
                now["alice"] = figures(slots, loss)
                sent = reporter.tick(at)
                await wait_until(lambda: not bob._report_tasks)
                return sent

            assert not reporter.tick(0.0)  # nothing heard yet
            assert await tick(0.0, 10, 0.0)  # first figures: reported
            assert not await tick(0.25, 20, 0.0)  # not due
            assert await tick(0.5, 30, 3.0)  # loss appeared: at once
            assert not await tick(0.75, 40, 4.0)  # still lossy: waits for the interval
            assert await tick(1.6, 40, 4.0)  # due
            assert not await tick(2.7, 40, 4.0)  # due, but no audio flowed since
            await wait_until(lambda: len(got) >= 2, what="notices")
            assert [n.worst_pct for n in got][:2] == [0.0, 3.0]
            assert reporter.reports_sent == 3
        finally:
            for client in (alice, bob):
                await client.close()


async def test_report_quality_needs_the_extension_a_speaker_and_not_ourselves() -> None:
    async with running_server() as server:
        plain = InterphoneClient("127.0.0.1", server.port, "bob", "pw-bob")
        alice = InterphoneClient("127.0.0.1", server.port, "alice", "pw-alice",
                                 features=(FEEDBACK,))
        try:
            await plain.connect()
            await alice.connect()
            assert not alice.report_quality("bob", 5.0)  # not joined
            await plain.join(G58)
            await alice.join(G58)
            assert not plain.report_quality("alice", 5.0)  # no extension
            assert not alice.report_quality("alice", 5.0)  # ourselves
            assert alice.report_quality("bob", 5.0)  # ignored by the server: nobody speaks
        finally:
            await plain.close()
            await alice.close()
