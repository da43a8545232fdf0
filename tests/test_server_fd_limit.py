"""The open-files limit at start: raised as far as ``max_sessions`` needs, else said
(a real ``interphone-server`` process started under a low limit)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import TEST_TOML

from app.server.fd_limit import needed

ROOT = Path(__file__).resolve().parent.parent


def start_under(tmp_path: Path, soft: int, hard: int) -> str:
    """The log of a server started with RLIMIT_NOFILE (soft, hard), stopped at once."""
    config = tmp_path / "directory.toml"
    config.write_text(TEST_TOML)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--config", str(config), "--port", "0"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "serving on" in line:
            break
    process.terminate()
    process.wait(10)
    return "".join(lines)


def test_a_hard_limit_too_low_for_max_sessions_is_warned_about(tmp_path: Path) -> None:
    """Out of descriptors the loop stopped accepting without a word: clients waited
    unanswered while the log said nothing."""
    log = start_under(tmp_path, 48, 100)
    assert "open files limit raised from 48 to 100" in log
    warning = next(line for line in log.splitlines() if "WARNING" in line)
    assert "the open files limit is 100 (hard limit 100)" in warning
    assert "max_sessions = 10000" in warning and "LimitNOFILE=" in warning


def test_a_low_soft_limit_is_raised_quietly(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < needed(10000):
        pytest.skip(f"the hard limit here ({hard}) is below what the test needs")
    log = start_under(tmp_path, 48, hard)
    assert f"open files limit raised from 48 to {needed(10000)}" in log
    assert "WARNING" not in log
