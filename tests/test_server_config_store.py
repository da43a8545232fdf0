"""``interphone-server --store URL``: a URL whose database is not a number is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("url", "shown"), [("redis://127.0.0.1:9/x", "x"),
                                            ("redis://127.0.0.1:9/1/2", "1/2")])
def test_a_database_that_is_not_a_number_is_a_usage_error(url: str, shown: str) -> None:
    """The Redis client read "/x" as database 0 and "/1/2" as 12, so the node went on with
    a database nobody wrote (its exit was 1, "cannot reach the store", here with port 9)."""
    result = subprocess.run([sys.executable, "-m", "app.server", "--port", "0", "--store", url],
                            cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"interphone-server: error: --store {url}: the database after the port must be a "
        f"number (redis://HOST:PORT/0), not {shown!r}")
