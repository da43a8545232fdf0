"""scripts/dev.sh on the machine it has set up: it finds everything in place, every time
(a package it wrongly takes for missing makes each run call apt-get, which asks a
non-root user for the sudo password)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = 20

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("apt-get") is None,
    reason="dev.sh's package check is for Debian-like Linux")


def check() -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / "dev.sh"), "check"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_a_set_up_machine_lacks_nothing_on_every_run() -> None:
    for run in range(RUNS):
        done = check()
        assert (done.returncode, done.stdout) == (0, ""), (run, done.stdout, done.stderr)


def test_an_unknown_command_is_refused_with_the_usage() -> None:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "dev.sh"), "bogus"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "usage: bash scripts/dev.sh [demo|test|setup|check]" in done.stderr
