"""Ctrl-C while ``interphone-cli`` (and ``interphone-server``) start, before they talk or serve.

Loading their modules takes a second or more on a busy machine; a Ctrl-C then printed a
``KeyboardInterrupt`` traceback of the import machinery. The tests hold the start at a
chosen import (a ``sitecustomize`` on ``PYTHONPATH`` that sleeps there, saying so on
stderr) and press Ctrl-C (SIGINT) while it waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "held at the import of"

HOOK = f'''
import importlib.abc, os, sys, time

class Hold(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("HOLD_AT_IMPORT"):
            sys.meta_path.remove(self)
            sys.stderr.write("{MARK} " + name + "\\n")
            sys.stderr.flush()
            time.sleep(float(os.environ.get("HOLD_SECONDS", "20")))
        return None

sys.meta_path.insert(0, Hold())
'''


def held_start(tmp_path: Path, module: str, *args: str) -> subprocess.Popen[str]:
    """``python -m MODULE ARGS`` held at its first import of ``module``'s dependency
    ``app.client`` / ``app.server.app`` (set by the caller through HOLD_AT_IMPORT)."""
    (tmp_path / "sitecustomize.py").write_text(HOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPHONE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    env["HOLD_AT_IMPORT"] = args[0]
    return subprocess.Popen([sys.executable, "-m", module, *args[1:]], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_when_held(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the hold, press Ctrl-C, and return the exit code and what stderr said
    after the hold's own line."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith(MARK), line
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, err


@pytest.mark.parametrize("held_at", ["app.client", "app.cli.commands"])
def test_cli_interrupted_while_loading_says_so_in_one_line(tmp_path: Path, held_at: str) -> None:
    proc = held_start(tmp_path, "app.cli", held_at, "--server", "127.0.0.1:9", "--uid",
                      "alice", "--token", "x", "sync")
    code, err = interrupt_when_held(proc)
    assert (code, err) == (130, "interphone-cli: interrupted\n")
