"""Guard against the PySide6 6.12 / CPython 3.11 `none_dealloc` crash (the pin in pyproject.toml).

Every Qt call that returns nothing leaked a reference to None in that release;
a few thousand calls kill the interpreter. An upgrade that brings it back must
fail here, not in users' sessions.
"""

from __future__ import annotations

import subprocess
import sys

LOOP = """
from PySide6.QtCore import QObject
obj = QObject()
for _ in range(60000):
    obj.setObjectName("x")
print("survived")
"""


def test_void_qt_calls_do_not_exhaust_none_refcount() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout
