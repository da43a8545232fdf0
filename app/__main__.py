"""`interphone` / `python -m app`: the desktop app (the Qt window lives in app/ui)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    if "--self-test" in (sys.argv[1:] if argv is None else argv):
        from app.selftest import main as selftest

        return selftest()
    from app.ui.main import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
