"""bench/reload_stall.py runs and measures what it says, on a small directory (no timing
thresholds: the machine is shared; its figures are read by running it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run_all

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_reload_stall_bench_prints_each_window_s_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reload_stall.py"), "--quick",
         *run_all.SMOKE["reload_stall"]],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "reload_stall" and result["quick"] is True
    for window in ("baseline", "reload", "drop"):
        assert result[f"{window}_answers"] > 0
        assert 0 < result[f"{window}_p50_answer_ms"] <= result[f"{window}_max_answer_ms"]
    # the reload changed every roster: each session was told its roster and synced again
    assert result["reload_rosters"] == result["reload_syncs"] == 30
    assert result["reload_served_s"] is not None
    assert result["drop_offline_told"] == result["drop_offline_expected"] == 10 * 20
    # docs/performance.md shows both windows (bench/run_all.py renders the table)
    rows = run_all.reload_stall_rows({"reload_stall": result})
    assert len(rows) == 2
    assert str(result["reload_max_answer_ms"]) in rows[0][1]
    assert str(result["drop_max_answer_ms"]) in rows[1][1]
