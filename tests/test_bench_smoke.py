"""Every benchmark under bench/ without a test of its own runs, for real, at its smallest
sizes: a real server process, real sockets, real libopus, the same path its full run
takes. Each must exit 0 and print, on its last line, one JSON object with the keys that
docs/performance.md (rendered by bench/run_all.py), docs/latency.md and
docs/audio-quality.md cite, with sane values (counts > 0, percentages within 0..100,
latencies > 0). No threshold on speed: the machine is shared, and the targets are
checked by running the benchmarks in full."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import run_all
from bench.audio_quality import missing_tools

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CPUS = os.cpu_count() or 1

Result = dict[str, Any]


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0


def pct(value: Any, cores: int = 1) -> bool:
    return isinstance(value, int | float) and 0 <= value <= 100 * cores


def ordered(*values: float) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


def run_bench(args: list[str], timeout: float = 120) -> Result:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    result: Result = json.loads(last)
    return result


def rendered(name: str, result: Result) -> list[tuple[str, str, str, str]]:
    """The rows docs/performance.md shows for ``result`` (a KeyError if a key it cites is
    missing), as bench/run_all.py renders them."""
    rows = run_all.target_rows({name: result})
    run_all.details({name: result})
    return rows


# --- the checks, one per benchmark -----------------------------------------------------------
def check_access(r: Result) -> None:
    assert ordered(0.0, r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"])
    assert r["p50_ms"] > 0 and r["client_p50_ms"] > 0
    assert ordered(r["client_p50_ms"], r["client_p95_ms"])
    assert r["samples"] == 20 and r["members"] == 5
    assert positive(r["busy_pps"]) and r["busy_listeners"] == 2
    assert any("floor access p95" in row[0] for row in rendered("access", r))


def check_join_storm(r: Result) -> None:
    assert r["clients"] == 20 and r["converged"] == 20 and r["join_errors"] == 0
    assert positive(r["seconds"]) and positive(r["all_joined_s"])
    assert positive(r["first_full_s"])
    assert positive(r["notifications"]) and positive(r["server_cpu_s"])
    assert any("join storm of 20" in row[0] for row in rendered("join_storm", r))


def check_cpu(r: Result) -> None:
    assert pct(r["talk_cpu_pct"], CPUS) and r["talk_cpu_pct"] > 0
    assert pct(r["listen_cpu_pct"], CPUS) and r["listen_cpu_pct"] > 0
    assert positive(r["talk_tx_pps"]) and positive(r["listen_rx_pps"])
    assert r["idle_sessions"] == 20 and positive(r["server_rss_mb_before"])
    assert isinstance(r["server_rss_mb_per_1000"], int | float)
    assert len([row for row in rendered("cpu", r) if "client CPU" in row[0]]) == 2


def check_latency_encryption(r: Result) -> None:
    assert r["bench"] == "latency_encryption" and r["media_auth_negotiated"] is True
    for key in ("m2e_p50_ms_plain", "m2e_p50_ms_encrypted", "m2e_p95_ms_plain",
                "m2e_p95_ms_encrypted", "transit_p50_us_plain", "transit_p50_us_encrypted",
                "tls_login_p95_ms", "tls_login_p50_ms", "plain_login_p95_ms"):
        assert positive(r[key]), key
    assert r["clicks_found_plain"] > 0 and r["clicks_found_encrypted"] > 0
    assert len(r["pair_deltas_ms"]) == 1 and r["logins"] == 3
    assert isinstance(r["encrypted_m2e_delta_ms"], float)
    assert isinstance(r["encrypted_transit_delta_ms"], float)
    rows = rendered("latency_encryption", r)
    assert any("login over TLS" in row[0] for row in rows)


def check_flood(r: Result) -> None:
    assert positive(r["garbage_pps"]) and positive(r["legit_sent"])
    assert pct(r["legit_loss_pct"]) and pct(r["legit_not_relayed_pct"])
    assert pct(r["flood_answered_429_pct"])
    assert positive(r["legit_login_p95_ms"]) and positive(r["legit_logins"])
    assert positive(r["login_flood_rate"]) and positive(r["tls_login_p95_ms"])
    assert isinstance(r["floors_revoked"], int) and r["floors_revoked"] >= 0
    assert pct(r["talk_loss_pct_during_login_flood"])
    rows = rendered("flood", r)
    assert any("garbage datagrams/s" in row[0] for row in rows)
    assert any("floors revoked" in row[0] for row in rows)


def check_login_flood(r: Result) -> None:
    assert r["bench"] == "login_flood"
    assert positive(r["flood_rate"]) and positive(r["flood_logins"]) and positive(r["hash_ms"])
    assert r["workers"] >= 1
    assert pct(r["flood_busy_pct"]) and pct(r["fifo_flood_busy_pct"])
    for key in ("legit_remembered_p95_ms", "legit_cold_p95_ms", "legit_new_address_p95_ms",
                "fifo_new_address_p95_ms", "loop_lag_p95_ms"):
        assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] >= 0, key
    assert positive(r["legit_new_address_logins"]) and positive(r["fifo_new_address_logins"])
    assert r["legit_new_address_busy"] >= 0 and r["fifo_new_address_busy"] >= 0


def check_idle(r: Result) -> None:
    assert r["joined_interphones"] == 3 and r["presses"] == 2
    for key in ("listen_cpu_pct", "listen_hidden_cpu_pct", "talk_cpu_pct",
                "sim_card_output_floor_cpu_pct", "sim_card_input_floor_cpu_pct"):
        assert pct(r[key], CPUS) and r[key] > 0, key
    assert pct(r["idle_cpu_pct"], CPUS)
    assert ordered(0.0, r["press_to_packet_p50_ms"], r["press_to_packet_p95_ms"],
                   r["press_to_packet_max_ms"]) and r["press_to_packet_p50_ms"] > 0
    for threads in ("listen_threads_cpu_pct", "listen_hidden_threads_cpu_pct"):
        assert {"gui", "media-rx", "clocked-output"} <= set(r[threads])
    assert {"gui", "clocked-input"} <= set(r["talk_threads_cpu_pct"])
    rows = rendered("idle", r)
    assert any("desktop app talking" in row[0] for row in rows)
    assert any("key press" in row[0] for row in rows)


def check_wake_floor(r: Result) -> None:
    skipped = r.get("skipped", {})
    for variant in ("c_sleep", "python_sleep", "clocked_card", "sounddevice_jack"):
        assert positive(r.get(f"{variant}_us")) or variant in skipped, variant
    assert positive(r["python_sleep_us"]) and positive(r["clocked_card_us"])
    assert pct(r["floor_listen_cpu_pct"]) and r["floor_listen_cpu_pct"] > 0
    assert any("wake-up" in row[0] for row in rendered("wake_floor", r))


def check_latency(r: Result) -> None:
    assert r["clicks"] == 4 and r["clicks_found"] == 4 and r["server"] == "subprocess"
    assert ordered(r["min_ms"], r["p50_ms"], r["p95_ms"], r["max_ms"]) and r["min_ms"] > 0
    assert positive(r["packets_received"]) and r["packets_lost"] == 0
    assert any("mouth-to-ear p95" in row[0] for row in rendered("latency", r))


def check_listen_work(r: Result) -> None:
    for key in ("rx_us_per_packet", "output_us_per_frame", "paced_work_us_per_frame",
                "sleeps_cpu_us_per_frame", "one_wake_work_us_per_frame"):
        assert positive(r[key]), key
    for key in ("work_listen_cpu_pct", "paced_listen_cpu_pct", "one_wake_listen_cpu_pct"):
        assert pct(r[key], CPUS) and r[key] > 0, key
    rows = rendered("listen_work", r)
    assert any("listening's own work" in row[0] for row in rows)
    assert any("one wake-up a frame" in row[0] for row in rows)


def check_cluster(r: Result) -> None:
    assert r["nodes"] == 2 and r["clients"] == 20 and r["converged"] == 20
    assert r["join_errors"] == 0
    for key in ("seconds", "server_answered_all_s", "cross_node_access_p95_ms",
                "failover_seconds", "scaling"):
        assert positive(r[key]), key
    # None when a node was billed no clock tick of CPU in so short a window
    projected = r["scaling_per_cpu_projected"]
    assert projected is None or positive(projected)
    assert ordered(0.0, r["hop_ms"]["p50"], r["hop_ms"]["p95"]) and r["hop_ms"]["p50"] > 0
    one = r["storm_one_node"]
    assert one["clients"] == 20 and one["converged"] == 20 and positive(one["seconds"])
    for mode in ("one_node", "spread"):
        assert positive(r["relay"][mode]["delivered_per_s"])
    rows = rendered("cluster", r)
    assert len(rows) == 5, rows


def check_media_crypto(r: Result) -> None:
    assert r["bench"] == "media_crypto" and r["packets"] == 200
    for key in ("seal_us", "open_us", "plain_serialize_us", "plain_parse_us",
                "relay_check_us", "plain_peek_us", "recvbegin_verify_us",
                "forged_recvbegin_us", "garbage_type_check_us"):
        assert positive(r[key]), key


def check_listen_ab(r: Result) -> None:
    assert r["bench"] == "listen_ab" and r["rounds"] == 1 and r["A"] == r["B"] == str(ROOT)
    for key in ("cpu_pct", "clocked-output", "media-rx"):
        for side in ("A", "B"):
            assert pct(r[f"{key}_{side}"], CPUS) and r[f"{key}_{side}"] > 0, (key, side)
        assert len(r[f"{key}_diffs"]) == 1
    for key in ("clocked-output", "media-rx"):
        assert positive(r[f"{key}_us_per_wake_A"]) and positive(r[f"{key}_us_per_wake_B"])


def pesq_score(value: Any) -> bool:
    return isinstance(value, float) and 1.0 <= value <= 4.7  # PESQ-WB's MOS-LQO scale


def check_audio_quality(r: Result) -> None:
    assert r["bench"] == "audio_quality" and len(r["rows"]) == 1
    row = r["rows"][0]
    assert row["lang"] == "en" and row["loss_pct"] == 5.0 and pesq_score(row["plc_only"])
    settings = [key for key in row if key.startswith("perc")]
    assert settings
    for key in [*settings, "policy"]:
        assert pesq_score(row[key]["pesq"]) and 0 <= row[key]["lbrr_share"] <= 1, key
    assert row["policy"]["bitrate"] > 0


def check_speech_e2e(r: Result) -> None:
    assert r["loss_pct"] == 5.0 and pct(r["link_loss_pct"])
    assert positive(r["packets"]) and positive(r["sent"]) and r["lost_packets"] >= 0
    for key in ("pesq_e2e", "pesq_codec_ceiling", "pesq_codec_plc_only", "pesq_codec_fec10",
                "pesq_codec_policy"):
        assert pesq_score(r[key]), key
    for key in ("e2e_over_ceiling", "e2e_over_fec_ref", "e2e_over_plc_ref"):
        assert positive(r[key]), key
    assert 0 <= r["fec_share"] <= 1 and pct(r["listener"]["loss_pct"])
    assert positive(r["listener"]["packets"])


def check_run_all(r: Result) -> None:
    """bench/run_all.py --smoke --only join_storm: run_all's own path, and join_storm's."""
    assert r["benchmark"] == "join_storm"
    check_join_storm(r)


# --- the cases -------------------------------------------------------------------------------
def smoke(name: str) -> list[str]:
    """bench/run_all.py --smoke's command for ``name``, without the interpreter."""
    return run_all.command(name, quick=False, smoke=True)[1:]


def needs_speech() -> list[pytest.MarkDecorator]:
    why = missing_tools()
    return [pytest.mark.skipif(why is not None, reason=f"{why}")]


CASES: list[tuple[str, list[str], Callable[[Result], None], list[pytest.MarkDecorator]]] = [
    ("access", smoke("access"), check_access, []),
    ("cpu", smoke("cpu"), check_cpu, []),
    ("latency_encryption", smoke("latency_encryption"), check_latency_encryption, []),
    ("flood", smoke("flood"), check_flood, []),
    ("login_flood", smoke("login_flood"), check_login_flood, []),
    ("idle", smoke("idle"), check_idle, []),
    ("wake_floor", smoke("wake_floor"), check_wake_floor, []),
    ("cluster", smoke("cluster"), check_cluster, []),
    ("latency", smoke("latency"), check_latency, []),
    ("listen_work", smoke("listen_work"), check_listen_work, []),
    ("media_crypto", [str(BENCH / "media_crypto.py"), "--packets", "200"],
     check_media_crypto, []),
    ("listen_ab", [str(BENCH / "listen_ab.py"), ".", ".", "--rounds", "1",  # relative
                   "--seconds", "0.5"], check_listen_ab,
     [pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(),
                         reason="listen_ab runs each worktree's .venv/bin/python")]),
    ("audio_quality", [str(BENCH / "audio_quality.py"), "--smoke"], check_audio_quality,
     needs_speech()),
    ("speech_e2e", [str(BENCH / "speech_e2e.py"), "--seconds", "3", "--loss", "5"],
     check_speech_e2e, needs_speech()),
    ("run_all-join_storm", [str(BENCH / "run_all.py"), "--smoke", "--only", "join_storm"],
     check_run_all, []),
]


@pytest.mark.parametrize(("args", "check"), [
    pytest.param(args, check, id=name, marks=marks) for name, args, check, marks in CASES])
def test_benchmark_runs_and_prints_the_cited_keys(args: list[str],
                                                  check: Callable[[Result], None]) -> None:
    check(run_bench(args))


def test_every_benchmark_has_a_smoke_test() -> None:
    """A new script under bench/ gets a case here or a tests/test_bench_NAME.py."""
    covered = {part for name, *_ in CASES for part in name.split("-")}
    covered.add("latency_compare")  # latency_encryption's
    own = {path.stem.removeprefix("test_bench_")
           for path in (ROOT / "tests").glob("test_bench_*.py")}
    scripts = {path.stem for path in BENCH.glob("*.py") if not path.stem.startswith("_")}
    assert scripts - covered - own - {"impair"} == set()  # impair: test_bench_latency.py


@pytest.mark.parametrize("script", ["audio_quality.py", "speech_e2e.py"])
def test_speech_benchmarks_say_what_they_need(script: str, tmp_path: Path) -> None:
    """Without espeak-ng on PATH, one line saying what to install, not a traceback."""
    done = subprocess.run([sys.executable, str(BENCH / script)], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "needs espeak-ng on PATH" in done.stderr and "Traceback" not in done.stderr
