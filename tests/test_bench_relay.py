"""bench/relay.py's arithmetic and its encrypted and kernel-floor phases run and measure what
they say (no timing thresholds: the machine is shared; the targets are checked by
running the benchmark)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import _encrypted  # type: ignore[import-not-found]  # noqa: E402
import _kernel_floor  # type: ignore[import-not-found]  # noqa: E402
import relay  # type: ignore[import-not-found]  # noqa: E402


def _windows(*costs: float) -> list[dict[str, Any]]:
    return [{"us_per_packet": cost} for cost in costs]


def test_fit_line_recovers_fixed_and_per_listener() -> None:
    assert relay.fit_line({5: 120.0, 20: 180.0, 50: 300.0}) == pytest.approx((100.0, 4.0))


def test_floor_gap_compares_round_by_round() -> None:
    # the variant is 30 us + 1 us per listener above the floor in every round, while the
    # load moves both by up to 40 us from round to round
    floor = {n: _windows(80 + 3 * n, 120 + 3 * n, 90 + 3 * n) for n in (5, 20, 50)}
    variant = {n: _windows(110 + 4 * n, 150 + 4 * n, 120 + 4 * n) for n in (5, 20, 50)}
    gap = relay.floor_gap(variant, floor)
    assert gap["fixed_over_floor_us"] == pytest.approx(30.0)
    assert gap["per_listener_over_floor_us"] == pytest.approx(1.0)
    assert gap["fixed_vs_floor"] == pytest.approx(120 / 90, abs=1e-3)  # floor fit: 90 + 3 N
    assert gap["cost_vs_floor"]["5"] == pytest.approx(  # the median of the rounds' ratios
        statistics.median([130 / 95, 170 / 135, 140 / 105]), abs=1e-3)


def test_kernel_floor_sends_everything_it_times() -> None:
    floor = _kernel_floor.measure(targets=4, batches=2)
    assert floor["lost"] == 0 and floor["targets"] == 4
    assert floor["sendto_us"] > 0 and floor["sendmmsg_us"] > 0


@pytest.mark.slow
def test_encrypted_phase_relays_both_kinds(tmp_path: Path) -> None:
    result = _encrypted.measure(tmp_path, None, rooms=1, per_room=3, seconds=0.5, repeats=2)
    assert result["encrypted_ratio"] == pytest.approx(
        result["plain_us_per_packet"] / result["encrypted_us_per_packet"], abs=1e-3)
    for kind in ("plain", "encrypted"):
        windows = result["runs"][kind]
        assert len(windows) == 2
        assert all(w["relayed"] == w["sent"] > 0 for w in windows)  # every packet relayed
        assert result[f"{kind}_loss_pct"] == 0.0
