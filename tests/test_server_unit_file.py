"""The systemd unit the .deb installs (packaging/systemd/interphone-server.service), read
and checked with ``systemd-analyze verify`` where it is installed (no systemd needs to run)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "systemd" / "interphone-server.service"


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def test_a_bad_configuration_is_not_restarted_over_and_over(tmp_path: Path) -> None:
    """``Restart=on-failure`` restarted a server that exits 2 for a bad directory file every
    2 s until systemd's start limit, burying its one error line in the journal."""
    bad = tmp_path / "directory.toml"
    bad.write_text("[server]\nmax_talk = 'thirty'\n")
    result = subprocess.run([sys.executable, "-m", "app.server", "--config", str(bad),
                             "--port", "0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "line 2" in result.stderr
    service = service_section()
    assert service["Restart"] == "on-failure"
    assert "2" in service.get("RestartPreventExitStatus", "").split()


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    fake = tmp_path / "interphone-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/interphone/interphone-server", str(fake)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
