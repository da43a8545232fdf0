"""Entry point of ``interphone-cli`` and ``python -m app.cli``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    raise NotImplementedError


if __name__ == "__main__":
    sys.exit(main())
