"""interphone-cli's help as a new user reads it."""

from __future__ import annotations

from tests.test_cli_commands import cli


async def test_the_id_help_does_not_promise_that_sync_lists_every_interphone():
    """`sync` answers with the live interphones only: a user with every group idle got
    `[]` after the help said "sync lists them"."""
    code, out, _ = await cli("listen", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "sync lists them" not in text
    assert "sync lists those someone is in" in text
