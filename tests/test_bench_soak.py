"""bench/soak.py's summary: memory growth net of the replay store, restarts rejoined,
audio heard after the last restart."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soak


def _samples(rss_per_sample: float, replay_per_sample: float, count: int = 30,
             joined: int = 3) -> list[dict]:
    return [{"t": 1000.0 + 10 * i, "rss_mb": 100 + rss_per_sample * i,
             "replay_mb": replay_per_sample * i, "gc_objects": 500 + 2 * i,
             "fds": 20, "threads": 15, "joined": joined, "heard": 30 * i,
             "cpu_pct": 4.0 if i < 20 else 6.0} for i in range(count)]


def test_growth_is_the_slope_of_memory_the_replay_store_does_not_explain() -> None:
    # 0.1 MB a sample (10 s): 36 MB an hour, all of it replayed audio: no growth
    flat = soak.summarize(_samples(0.1, 0.1), [])
    assert abs(flat["rss_growth_mb_per_hour"]) < 1e-6
    leaking = soak.summarize(_samples(0.1, 0.0), [])
    assert round(leaking["rss_growth_mb_per_hour"], 3) == 36.0
    assert leaking["gc_objects_growth_per_hour"] == 720
    assert leaking["cpu_pct_second_third"] == 4.0 and leaking["cpu_pct_last_third"] == 6.0


def test_restarts_count_as_rejoined_only_when_all_interphones_are_joined_again() -> None:
    samples = _samples(0.0, 0.0)
    assert soak.summarize(samples, [1050.0, 1150.0])["rejoined_after_restarts"] == 2
    for sample in samples[6:]:
        sample["joined"] = 2  # one interphone lost after the first restart
    result = soak.summarize(samples, [1050.0, 1150.0])
    assert result["rejoined_after_restarts"] == 0
    assert result["heard_after_last_restart"] is True
    for sample in samples[16:]:
        sample["heard"] = samples[16]["heard"]  # nothing heard after the last restart
    assert soak.summarize(samples, [1050.0, 1150.0])["heard_after_last_restart"] is False


def test_a_short_soak_restarts_the_server_and_the_app_rejoins_and_hears() -> None:
    """The script's own run, the shortest that restarts the server once: the app process
    (offscreen Qt, the simulated card), the team process and the server process."""
    from test_bench_smoke import run_bench

    r = run_bench([str(Path(soak.__file__)), "--minutes", "0.75", "--restart-every", "12"],
                  timeout=240)
    assert r["benchmark"] == "soak" and r["server_restarts"] == 1
    assert r["rejoined_after_restarts"] == 1 and r["heard_after_last_restart"] is True
    assert r["utterances"] > 0 and r["app_talks"] >= 1
    assert r["fds_end"] <= r["fds_start"] + 4 and r["threads_end"] <= r["threads_start"] + 4
    assert r["samples"] and all(s["joined"] == 3 for s in r["samples"][-1:])
