"""The directory file as the server reads it (``--config``), its tokens, ``--hash-token``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_empty_token_is_refused_with_its_line(tmp_path: Path) -> None:
    """``token = ""`` with auth = "token" let anyone log in as that user with an empty
    token, without a word, while a user with no token at all is warned about."""
    config = tmp_path / "directory.toml"
    config.write_text('[server]\nauth = "token"\n[[users]]\nuid = "alice"\ntoken = ""\n')
    result = subprocess.run([sys.executable, "-m", "app.server", "--config", str(config),
                             "--port", "0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: bad configuration: {config}, line 5: user 'alice' has an empty "
        "token, which anyone matches: give a token, or none to keep 'alice' from logging in")


def test_a_hash_that_cannot_be_written_is_one_line() -> None:
    """`echo x | interphone-server --hash-token > /dev/full` ended in an OSError traceback."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "app.server", "--hash-token"], cwd=ROOT,
                                input="x\n", stdout=full, stderr=subprocess.PIPE, text=True,
                                timeout=20)
    assert (result.returncode, result.stderr) == (
        1, "interphone-server: --hash-token: cannot write the hash: No space left on device\n")


def test_a_file_that_cannot_be_read_says_why_in_words(tmp_path: Path) -> None:
    """It said "missing.toml: cannot read the file: [Errno 2] No such file or directory:
    'missing.toml'", the path twice and Python's errno."""
    missing = tmp_path / "missing.toml"
    result = subprocess.run([sys.executable, "-m", "app.server", "--config", str(missing),
                             "--port", "0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=20)
    assert (result.returncode, result.stderr) == (
        2, f"interphone-server: bad configuration: {missing}: cannot read the file: No such "
        "file or directory\n")
