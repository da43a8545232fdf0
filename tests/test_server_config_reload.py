"""``kill -HUP`` of ``interphone-server --config FILE``: what the reload's log line says."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from server_fixtures import start_server_process, stop_server_process

TOML = '''[server]
auth = "token"
max_talk = {max_talk}
[[users]]
uid = "alice"
token = "pw-alice"
'''


async def reloaded(process: asyncio.subprocess.Process) -> str:
    """SIGHUP, then the reload's log line."""
    assert process.stderr is not None
    process.send_signal(signal.SIGHUP)
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
        assert line, "the server exited"
        if "directory reloaded" in line or "reload refused" in line:
            return line


async def test_a_setting_put_back_as_at_the_start_is_no_change(tmp_path: Path) -> None:
    """Edited (max_talk 60 -> 30), reloaded, then put back (60) and reloaded: the second
    reload said "[server] settings changed 1 (max_talk): kept until the next start", as if
    a restart were still needed, where the server runs with 60 all along."""
    config = tmp_path / "directory.toml"
    config.write_text(TOML.format(max_talk=60))
    process, _, _ = await start_server_process("--config", str(config))
    try:
        config.write_text(TOML.format(max_talk=30))
        assert "[server] settings changed 1 (max_talk): kept until the next start" in \
            await reloaded(process)
        config.write_text(TOML.format(max_talk=60))
        assert "directory reloaded: no change;" in await reloaded(process)
    finally:
        await stop_server_process(process)
