"""bench/listen_work.py measures the app's listening path: every packet reaches the mixer
through the receive path and the output plays them decoded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import listen_work


def test_a_round_receives_and_plays_every_packet() -> None:
    packets = listen_work._packets(60)
    rx_us, out_us = listen_work.one_round(packets)
    assert rx_us > 0 and out_us > 0


def test_a_round_that_loses_its_packets_is_refused() -> None:
    packets = listen_work._packets(20)
    broken = [b"\\x00" + packet[1:] for packet in packets]  # a wrong crc: dropped
    with pytest.raises(RuntimeError, match="reached the mixer"):
        listen_work.one_round(broken)


def test_a_paced_round_plays_every_packet_at_the_apps_rhythm() -> None:
    packets = listen_work._packets(25)
    started = listen_work.time.monotonic()
    cpu_us, _ = listen_work.one_round(packets, paced=True)
    elapsed = listen_work.time.monotonic() - started
    assert cpu_us > 0
    assert elapsed >= 24 * listen_work.FRAME_S  # each frame waited for its place in time


def test_the_one_wake_bound_runs_the_whole_frame_after_one_sleep(
        monkeypatch: pytest.MonkeyPatch) -> None:
    packets = listen_work._packets(25)
    slept: list[float] = []
    real_sleep = listen_work.time.sleep

    def counted_sleep(delay: float) -> None:
        slept.append(delay)
        real_sleep(delay)

    monkeypatch.setattr(listen_work.time, "sleep", counted_sleep)
    listen_work.one_round(packets, True, listen_work.ONE_WAKE_OFFSETS_S)
    assert 0 < len(slept) <= len(packets)  # at most one sleep a frame: the parts run together
