"""Standard output that can no longer be written, for the console programs."""

from __future__ import annotations

import contextlib
import os
import sys


def drop_stdout() -> None:
    """Send what is left of standard output nowhere (its reader went, the disk is full),
    so that the interpreter's flush at exit does not fail again with "Exception
    ignored"."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
