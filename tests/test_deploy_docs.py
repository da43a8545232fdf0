"""The examples of README.md and docs/deploy.md that the server reads, as written."""

from __future__ import annotations

import re
from pathlib import Path

from app.server.directory import Directory

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_directory_example_loads(tmp_path: Path) -> None:
    """Copied as written it was refused: its groups named bob, carol and dave, whom it did
    not list among its users."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Server directory"):]
    block = re.search(r"```toml\n(.*?)```", section, flags=re.S)
    assert block is not None
    config = tmp_path / "directory.toml"
    config.write_text(block.group(1))
    directory = Directory.from_toml_file(config)
    assert set(directory.users) == {"alice", "bob", "carol", "dave"}
    assert directory.users["bob"].token_matches("secret")  # as docs/deploy.md's checks use
