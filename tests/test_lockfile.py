"""requirements/constraints.txt pins every dependency pyproject.toml names, inside its range.

scripts/dev.sh and the packaging scripts install with ``-c requirements/constraints.txt``;
a dependency added to pyproject.toml without re-running scripts/lock.sh would float.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK_EXTRAS = ("dev", "packaging")


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert version, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _locked_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in LOCK_EXTRAS:
        names += project["optional-dependencies"][extra]
    return [Requirement(text) for text in names]


@pytest.mark.parametrize("requirement", _locked_requirements(), ids=str)
def test_every_dependency_is_pinned_inside_its_range(requirement: Requirement) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate():
        pytest.skip(f"not installed on this platform: {requirement.marker}")
    pins = _pins()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is not in constraints.txt: run scripts/lock.sh"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"{requirement.name}=={pins[name]} is outside {requirement.specifier}: run scripts/lock.sh")


def test_dev_setup_and_packaging_install_with_the_constraints() -> None:
    for script in ("scripts/dev.sh", "packaging/build_linux.sh", "packaging/build_macos.sh",
                   "packaging/build_windows.ps1"):
        assert "requirements/constraints.txt" in (ROOT / script).read_text(), script
