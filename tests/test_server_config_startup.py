"""Signals while ``interphone-server`` starts: Ctrl-C while its modules load or at the
``--hash-token`` prompt (each was a ``KeyboardInterrupt`` traceback), a reload's SIGHUP
while it loads (it ended the server)."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest
from test_cli_startup import MARK, ROOT, held_start, interrupt_when_held


def test_server_interrupted_while_loading_stops_without_a_traceback(tmp_path: Path) -> None:
    proc = held_start(tmp_path, "app.server", "app.server.app", "--port", "0")
    code, err = interrupt_when_held(proc)
    assert (code, err) == (130, "interphone-server: interrupted\n")


def at_the_hash_token_prompt(keys: bytes) -> tuple[str, int]:
    """``interphone-server --hash-token`` at a terminal of its own: ``keys`` typed at its
    ``token:`` prompt; what the terminal showed and the exit code."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the server at a terminal of its own
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "app.server", "--hash-token"])
    output = b""
    try:
        deadline = time.monotonic() + 30
        while b"token:" not in output:
            assert time.monotonic() < deadline, output
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                output += os.read(fd, 1024)
        os.write(fd, keys)
        while True:
            ready, _, _ = select.select([fd], [], [], 15)
            assert ready, output
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return (output.decode(errors="replace").replace("\r\n", "\n"),
            os.waitstatus_to_exitcode(status))


def test_hash_token_prompt_interrupted_says_so_in_one_line() -> None:
    """``interphone-server --hash-token`` at a terminal asks ``token:``; Ctrl-C there ended
    in a traceback from getpass."""
    text, code = at_the_hash_token_prompt(b"\x03")  # as the terminal sends SIGINT
    assert "Traceback" not in text
    assert text.rstrip().endswith("interphone-server: interrupted")
    assert code == 130


def test_hash_token_prompt_ended_with_ctrl_d_is_an_empty_token() -> None:
    """Ctrl-D (end of input) at the prompt ended in an EOFError traceback."""
    text, code = at_the_hash_token_prompt(b"\x04")
    assert "Traceback" not in text
    assert text.rstrip().endswith("interphone-server: --hash-token: the token is empty")
    assert code == 2


def test_a_reload_asked_while_it_loads_does_not_end_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`systemctl reload` just after `start` (SIGHUP before the server handles it) ended
    the server with no log line: SIGHUP's default action."""
    monkeypatch.setenv("HOLD_SECONDS", "1.5")
    proc = held_start(tmp_path, "app.server", "app.server.app", "--port", "0")
    assert proc.stderr is not None
    try:
        assert proc.stderr.readline().startswith(MARK)
        proc.send_signal(signal.SIGHUP)
        while "serving on" not in (line := proc.stderr.readline()):
            assert line, f"the server ended: {proc.wait(10)}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
