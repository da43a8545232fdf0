"""Layer rules: Qt lives in app/ui only; the engine, server and CLI run without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
QT_MODULES = ("PySide6", "shiboken6", "qasync")


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_outside_app_ui_imports_qt() -> None:
    offenders = [
        str(path.relative_to(APP.parent))
        for path in APP.rglob("*.py")
        if "ui" not in path.relative_to(APP).parts[:1]
        and _imported_roots(path) & set(QT_MODULES)
    ]
    assert offenders == []


@pytest.mark.parametrize("package", ["app.client", "app.audio", "app.server", "app.cli",
                                     "app.protocol", "app.selftest"])
def test_importing_the_engine_loads_no_qt(package: str) -> None:
    code = (
        f"import importlib, pkgutil, sys\n"
        f"root = importlib.import_module({package!r})\n"
        f"for info in pkgutil.walk_packages(getattr(root, '__path__', []), root.__name__ + '.'):\n"
        f"    importlib.import_module(info.name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        f"assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=APP.parent)
    assert result.returncode == 0, result.stderr[-2000:]
