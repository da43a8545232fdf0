"""interphone-cli when a directory reload removes its user from the interphone it is in."""

from __future__ import annotations

import asyncio

import pytest
from client_fixtures import CLIENT_TOML, running_server, wait_until

from app.audio.wavio import read_wav
from app.cli.commands import CliError, RemovalWatch, run_until_stopped
from app.server import Directory
from tests.test_cli_commands import G58, finished, start_cli

pytest_plugins = ["client_fixtures"]

BOB_OUT_OF_58 = CLIENT_TOML.replace('members = ["alice", "bob", "carol"]',
                                    'members = ["alice", "carol"]')


async def test_listen_says_it_was_removed_and_stops(clients, tmp_path):
    out_wav = tmp_path / "heard.wav"
    async with running_server() as server:
        watcher = await clients.connect(server.port, "alice")
        await watcher.join(G58)
        proc = await start_cli("listen", "group_58", "--wav", str(out_wav), "--seconds", "30",
                               port=server.port, uid="bob")
        await wait_until(lambda: "bob" in watcher.model.members, timeout=5, what="listener in")
        server.replace_directory(Directory.from_toml_text(BOB_OUT_OF_58, source="new.toml"))
        # not 30 s of silence recorded as if still listening: it stops, and says why (a
        # reload this soon after the join came before listen waited for it, and was missed)
        out, err = await finished(proc, 10)
    assert proc.returncode == 1
    assert "removed from group_58 by the server" in err.decode()
    recorded = read_wav(out_wav)  # still a valid file
    # and said where it is, as at a normal end (it said nothing of it)
    assert out.decode() == f"wrote {len(recorded) / 48000:.2f} s to {out_wav}\n"


async def test_a_removal_before_the_command_waits_is_not_missed(clients):
    """The reload comes between the join and the moment listen (or bot) starts waiting:
    the removal was seen by nobody and the command went on to its end. The watch made
    before the join keeps it."""
    async with running_server() as server:
        bob = await clients.connect(server.port, "bob")
        removed = RemovalWatch(bob, G58)
        await bob.join(G58)
        server.replace_directory(Directory.from_toml_text(BOB_OUT_OF_58, source="new.toml"))
        await wait_until(lambda: not bob.model.is_joined(G58), timeout=5, what="removed")
        forever = asyncio.ensure_future(asyncio.Event().wait())
        with pytest.raises(CliError, match="removed from group_58 by the server"):
            await asyncio.wait_for(run_until_stopped(bob, forever, None, removed), 5)
        assert forever.cancelled()
        removed.close()
