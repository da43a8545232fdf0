"""``interphone-cli talk`` to a server that hangs mid-talk (its process stopped, its
connection still open): the talk must not end in "sent 2.00 s" and exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from client_fixtures import CLIENT_TOML, noise_bursts
from server_fixtures import start_server_process, stop_server_process
from test_cli_commands import finished, start_cli

from app.audio.wavio import write_wav


async def test_talk_to_a_server_that_hangs_mid_talk_fails(tmp_path: Path):
    config = tmp_path / "directory.toml"
    config.write_text(CLIENT_TOML)
    speech = tmp_path / "speech.wav"
    write_wav(speech, noise_bursts(2.0, seed=3))
    server, port, _ = await start_server_process("--config", str(config))
    assert server.stderr is not None
    stopped = False
    try:
        talk = await start_cli("--timeout", "1", "talk", "group_58", "--wav", str(speech),
                               port=port, uid="bob")
        while b"floor grant uid=bob" not in await asyncio.wait_for(
                server.stderr.readline(), 20):
            pass
        os.kill(server.pid, signal.SIGSTOP)
        stopped = True
        out, err = await finished(talk, 30)
    finally:
        if stopped:
            os.kill(server.pid, signal.SIGCONT)
        await stop_server_process(server)
    assert talk.returncode == 1, (out, err)
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("interphone-cli: error: the server stopped answering during "
                               "the talk of 2.0 s to group_58 ("), lines
    assert lines[0].endswith("): what went out after that was not relayed"), lines
