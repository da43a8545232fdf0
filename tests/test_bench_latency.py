"""bench/latency.py and bench/impair.py, quickly: the measurement works, not how fast it is.

No timing thresholds here (the machine is shared): the benchmark's targets
are checked by running it, see docs/latency.md.
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from waiting import wait_until

from app.audio.constants import SAMPLE_RATE
from bench.impair import ImpairedLink, Impairment
from bench.latency import (
    LatencyConfig,
    chirp,
    find_click,
    longest_silence_ms,
    measure,
    parse_args,
    phase_delay,
)

KEYS = {"p50_ms", "p95_ms", "max_ms", "frame_ms", "loss_pct", "jitter_ms", "floor_ms",
        "longest_gap_ms"}


def check_result(result: dict[str, object], config: LatencyConfig) -> None:
    assert result.keys() >= KEYS
    assert result["clicks_found"] == config.clicks or config.loss_pct > 0
    for key in ("p50_ms", "p95_ms", "max_ms"):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, result)
    assert result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]  # type: ignore[operator]
    assert result["frame_ms"] == config.frame_ms
    assert result["floor_ms"] == pytest.approx(2 * config.frame_ms + 6.5, abs=1.0)


async def test_clean_run_finds_every_click() -> None:
    config = LatencyConfig(clicks=4, spacing_s=0.25, server="inprocess")
    result = await measure(config)
    check_result(result, config)
    assert result["loss_pct"] == 0.0 and result["impair"] == "none"


async def test_impaired_run_goes_through_the_proxy() -> None:
    """media_addr sends both clients' media through ImpairedLinks; the server accepts it."""
    config = LatencyConfig(clicks=4, spacing_s=0.25, loss_pct=5, jitter_ms=10,
                           server="inprocess", seed=3)
    result = await measure(config)
    check_result(result, config)
    assert result["clicks_found"] >= 2
    assert result["packets_received"] > 50  # type: ignore[operator]
    assert "listener_link_loss_pct" in result and "talker_link_loss_pct" in result
    assert result["talker_link_loss_pct"] == 0.0  # only the listener's downlink is impaired


def test_find_click_locates_the_chirp_under_a_bed_tone() -> None:
    click = chirp()
    t = np.arange(9600) / SAMPLE_RATE
    played = (0.08 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    played[3210:3210 + len(click)] += 0.7 * click
    found = find_click(played, click)
    assert found is not None
    assert found[0] == 3210 and found[1] > 0.9


def test_longest_silence_counts_gaps_inside_the_talkspurt_only() -> None:
    ms = SAMPLE_RATE // 1000
    played = np.zeros(200 * ms, dtype=np.float32)
    played[50 * ms:150 * ms] = 0.1
    played[90 * ms:115 * ms] = 0.0  # a 25 ms hole
    assert longest_silence_ms(played, 20) == (25.0, 1)


async def test_impaired_link_drops_and_delays() -> None:
    loop = asyncio.get_running_loop()
    got: list[tuple[bytes, float]] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            got.append((data, loop.time()))

    sink_transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    server = sink_transport.get_extra_info("sockname")[:2]
    async with ImpairedLink(server, uplink=Impairment(0.5, 0.02), seed=7) as link:
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=link.front)
        sent_at = loop.time()
        for i in range(200):
            sender.sendto(i.to_bytes(2, "big"))
        stats = link.up_stats
        await wait_until(lambda: stats.passed + stats.dropped == 200 and len(got) == stats.passed,
                         what="every datagram dropped or delivered")
        sender.close()
    sink_transport.close()
    assert 60 < len(got) < 140
    assert link.up_stats.passed == len(got) and link.up_stats.dropped == 200 - len(got)
    assert max(when for _, when in got) - sent_at > 0.005  # delayed, not all at once
    order = [int.from_bytes(data, "big") for data, _ in got]
    assert order != sorted(order)  # independent delays reorder


async def test_on_demand_run_starts_the_listeners_output_with_the_first_packet() -> None:
    """--on-demand: the listener's engine is the app's; its output starts once, with the
    talker's first packet, and every click is still found."""
    config = LatencyConfig(clicks=4, spacing_s=0.25, server="inprocess", on_demand=True)
    result = await measure(config)
    check_result(result, config)
    assert result["listener_on_demand"] is True
    assert result["output_starts"] == 1


def test_cli_options() -> None:
    args = parse_args(["--quick", "--loss", "5", "--jitter", "20", "--frame-ms", "40",
                       "--clicks", "3"])
    assert (args.quick, args.loss, args.jitter, args.frame_ms, args.clicks) == \
        (True, 5.0, 20.0, 40, 3)
    assert not args.on_demand and parse_args(["--on-demand"]).on_demand
    with pytest.raises(SystemExit):
        parse_args(["--loss", "100"])
    with pytest.raises(ValueError):
        Impairment(loss=1.0)


async def test_encrypted_run_negotiates_media_auth_over_tls() -> None:
    """--encrypted: TLS pinned, media_encryption = "required", sealed voice end to end."""
    config = LatencyConfig(clicks=3, spacing_s=0.25, server="inprocess", encrypted=True)
    result = await measure(config)
    check_result(result, config)
    assert result["encrypted"] is True
    assert result["transit_p50_us"] > 0  # type: ignore[operator]


def test_phase_delay_lands_on_the_asked_phase_of_the_output_clock() -> None:
    """The talker's sound card starts ``phase`` after a tick of the listener's output
    clock, never sooner than ``minimum`` from now (the phase sets each run's latency)."""
    period = 0.005
    for now, phase in ((100.0123, 0.001), (100.0, 0.0049), (7.31, 0.0), (0.0011, 0.003)):
        delay = phase_delay(now, 3.0004, period, phase)
        assert delay >= 0.002
        assert delay < 0.002 + period
        assert (now + delay - 3.0004 - phase) % period == pytest.approx(0.0, abs=1e-9) or \
            (now + delay - 3.0004 - phase) % period == pytest.approx(period, abs=1e-9)
    config = LatencyConfig(seed=4)
    assert 0 <= config.phase_fraction < 1
    assert config.phase_fraction == LatencyConfig(seed=4).phase_fraction
    assert LatencyConfig(capture_phase=0.25).phase_fraction == 0.25
    assert config.output_block_s == pytest.approx(0.010)
    with pytest.raises(ValueError):
        LatencyConfig(capture_phase=1.0)


def test_compare_encryption_pairs_runs_at_one_capture_phase(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain and encrypted runs of a pair share the capture phase, the pairs spread it over
    the output block, and the delta is the median of the pairs' differences."""
    from bench import latency_compare

    configs: list[LatencyConfig] = []

    async def fake_measure(config: LatencyConfig) -> dict[str, object]:
        configs.append(config)
        p50 = 40.0 - 1000 * config.phase_fraction * config.output_block_s
        if config.encrypted:
            p50 += 0.1 + (5.0 if len(configs) == 8 else 0.0)  # one pair across the wrap
        return {"p50_ms": p50, "p95_ms": p50, "clicks_found": config.clicks,
                "transit_p50_us": 300.0, "first_transit_us": 500.0,
                "encrypted": config.encrypted}

    async def no_logins(kind: str, encrypted: bool, count: int) -> list[float]:
        return [0.001]

    monkeypatch.setattr(latency_compare, "measure", fake_measure)
    monkeypatch.setattr(latency_compare, "login_times", no_logins)
    args = parse_args(["--compare-encryption", "--runs", "5"])
    result = latency_compare.compare_encryption(args, 3)
    phases = [config.phase_fraction for config in configs]
    assert phases[0::2] == phases[1::2]
    assert [config.encrypted for config in configs] == [False, True] * 5
    assert sorted(phases[0::2]) == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert result["encrypted_m2e_delta_ms"] == pytest.approx(0.1)
