"""``app.protocol`` is sans-IO: no event loop, sockets, Qt or audio anywhere in it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import app.protocol

FORBIDDEN = ("asyncio", "socket", "selectors", "PySide6", "qasync", "sounddevice")
PACKAGE = Path(app.protocol.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_importing_the_package_loads_none_of_them():
    code = (
        "import json, sys\n"
        "import app.protocol, app.protocol.ids, app.protocol.messages, app.protocol.xmlcodec\n"
        "import app.protocol.framing, app.protocol.udp, app.protocol.errors, app.protocol.limits\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent.parent,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert "app.protocol.xmlcodec" in loaded  # the probe did import the package
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN or m == "_socket")
    assert bad == []


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in
            ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def test_sources_exist():
    names = {str(p.relative_to(PACKAGE)) for p in SOURCES}
    assert {"__init__.py", "ids.py", "messages.py", "xmlcodec/__init__.py", "framing.py",
            "udp.py", "errors.py", "limits.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_source_imports_none_of_them(path):
    imported = _imported_modules(path)
    assert not {m for m in imported if m.split(".")[0] in FORBIDDEN}
    # Only the XML codec (the package app.protocol.xmlcodec) may touch lxml.
    if path.relative_to(PACKAGE).parts[0] != "xmlcodec":
        assert not {m for m in imported if m.split(".")[0] == "lxml"}


def test_the_scanner_sees_imports():
    sample = Path(__file__)
    assert {"ast", "subprocess", "app.protocol"} <= _imported_modules(sample)
