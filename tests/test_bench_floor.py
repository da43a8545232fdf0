"""bench/floor.py runs and measures what it says (no timing thresholds: the machine is
shared; its targets are checked by running it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_floor_bench_quick_prints_one_json_result() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "floor" and result["quick"] is True
    for key in ("handover_ms", "preemption_start_ms", "preemption_stop_ms"):
        summary = result[key]
        assert summary["n"] == 8 and 0 <= summary["p50"] <= summary["p95"] <= summary["max"]
    assert result["preemption_old_packets_after_new"] == 0
    assert [h["requests"] for h in result["held_key"]] == [1, 1]
    assert [h["phase_while_held"] for h in result["held_key"]] == ["busy", "queued"]
