"""The .deb's maintainer scripts and the minimum versions in their Depends, run for real.

packaging/debian/interphone-server.{postinst,prerm,postrm} run with ``sh`` against a folder
(DPKG_ROOT, as ``dpkg --root --force-script-chrootless`` runs them), with and without
deb-systemd-helper on PATH, and the outcome is read from the folder; where systemd would
run, in a private mount namespace with its own /run. packaging/debian/versioned_depends.sh
runs over this machine's dpkg. No build: tests/test_packaging.py installs the built .deb.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build_script() -> str:
    return (ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")


# --- the interphone-server .deb's maintainer scripts -----------------------------------------
DEBIAN = ROOT / "packaging" / "debian"
UNIT = "interphone-server.service"
UNIT_FILE = Path("lib/systemd/system") / UNIT
WANTS = Path("etc/systemd/system/multi-user.target.wants") / UNIT
HELPER_STATE = Path("var/lib/systemd/deb-systemd-helper-enabled")
CONFFILE = Path("etc/interphone/directory.toml")


class System:
    """A Debian system in a folder, acted on as ``dpkg --root DIR --force-script-chrootless``
    does: the scripts run on this machine with DPKG_ROOT=DIR. With ``helpers``, PATH has
    deb-systemd-helper (init-system-helpers, essential on Debian); without, only the two
    programs the scripts may use besides (a Debian without init-system-helpers, a
    minimal container)."""

    def __init__(self, root: Path, helpers: bool) -> None:
        self.root = root
        self.bin = root.parent / "bin"
        self.bin.mkdir(exist_ok=True)
        for tool in ("rm", "rmdir"):
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        path = str(self.bin)
        if helpers:
            helper = shutil.which("deb-systemd-helper")
            if helper is None:
                pytest.skip("deb-systemd-helper (init-system-helpers) is not installed")
            path += ":" + str(Path(helper).parent)
        self.env = {"PATH": path, "DPKG_ROOT": str(root), "LANG": "C.UTF-8",
                    "DPKG_MAINTSCRIPT_PACKAGE": "interphone-server",
                    "DPKG_MAINTSCRIPT_ARCH": "amd64"}

    def run(self, script: str, *args: str) -> None:
        shell = shutil.which("sh")
        assert shell
        result = subprocess.run(
            [shell, str(DEBIAN / f"interphone-server.{script}"), *args],
            env={**self.env, "DPKG_MAINTSCRIPT_NAME": script}, capture_output=True, text=True,
            timeout=30)
        assert result.returncode == 0, f"{script} {args}: {result.stdout}{result.stderr}"

    def unpack(self) -> None:
        """The files the scripts deal with: the unit, and the conffile unless the operator's
        copy is there."""
        (self.root / UNIT_FILE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "packaging" / "systemd" / UNIT, self.root / UNIT_FILE)
        conffile = self.root / CONFFILE
        if not conffile.exists():
            conffile.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "app" / "server" / "example.toml", conffile)

    def install(self) -> None:
        self.unpack()
        self.run("postinst", "configure", "")

    def upgrade(self) -> None:
        """dpkg's order for an upgrade (the old and new scripts are the same here)."""
        self.run("prerm", "upgrade", "0.2.0")
        self.unpack()
        self.run("postrm", "upgrade", "0.2.0")
        self.run("postinst", "configure", "0.1.0")

    def remove(self) -> None:
        self.run("prerm", "remove")
        (self.root / UNIT_FILE).unlink()  # dpkg removes all but the conffiles
        self.run("postrm", "remove")

    def purge(self) -> None:
        (self.root / CONFFILE).unlink()  # then the conffiles
        self.run("postrm", "purge")

    def enable(self) -> None:
        """`systemctl enable`, offline (--root) where systemctl exists; else its link."""
        systemctl = shutil.which("systemctl")
        if systemctl:
            subprocess.run([systemctl, f"--root={self.root}", "enable", UNIT], check=True,
                           capture_output=True)
        else:
            (self.root / WANTS).parent.mkdir(parents=True, exist_ok=True)
            (self.root / WANTS).symlink_to("/" + str(UNIT_FILE))
        assert self.enabled()

    def enabled(self) -> bool:
        link = self.root / WANTS
        return link.is_symlink() and os.readlink(link) == "/" + str(UNIT_FILE)

    def serve(self) -> Path:
        """What systemd makes at the service's first start (StateDirectory= with
        DynamicUser=): /var/lib/private/interphone, and /var/lib/interphone linked to it."""
        state = self.root / "var/lib/private/interphone"
        (state / "tls").mkdir(parents=True)
        (state / "tls" / "server.key").write_text("key")
        (self.root / "var/lib/interphone").symlink_to("private/interphone")
        return state

    def leftovers(self) -> list[str]:
        """Every path under the root that names the package, its unit or its folders."""
        return sorted(str(path.relative_to(self.root)) for path in self.root.rglob("*")
                      if "interphone" in path.name)


@pytest.fixture(params=[True, False], ids=["deb-systemd-helper", "no-helper"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> System:
    root = tmp_path / "root"
    root.mkdir()
    return System(root, helpers=request.param)


def test_a_new_install_leaves_the_service_disabled(system: System) -> None:
    system.install()
    assert (system.root / UNIT_FILE).is_file() and not system.enabled()
    wants = system.root / WANTS.parent
    assert not wants.exists() or not any(wants.iterdir())


def test_purge_removes_the_enabled_services_link_its_state_and_its_directory(
    system: System,
) -> None:
    """After `systemctl enable` and a run, remove keeps what an operator would want back
    (the directory, the state, the enablement); purge leaves nothing, no dangling link in
    multi-user.target.wants for systemd to trip over at boot."""
    system.install()
    system.enable()
    state = system.serve()
    system.remove()
    assert not (system.root / UNIT_FILE).exists()
    assert (system.root / CONFFILE).is_file()
    assert (state / "tls" / "server.key").is_file()
    assert (system.root / WANTS).is_symlink()
    system.purge()
    assert not os.path.lexists(system.root / WANTS)
    assert not os.path.lexists(system.root / "var/lib/interphone")
    assert not state.exists() and (system.root / "var/lib/private").is_dir()
    assert not (system.root / "etc/interphone").exists()
    assert system.leftovers() == []
    helper_state = system.root / HELPER_STATE
    assert not helper_state.exists() or not any(helper_state.rglob("*"))


def test_purge_of_a_service_never_enabled_nor_run(system: System) -> None:
    system.install()
    system.remove()
    system.purge()
    assert system.leftovers() == []


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
def test_an_upgrade_keeps_the_service_as_the_operator_left_it(
    system: System, enabled: bool
) -> None:
    system.install()
    if enabled:
        system.enable()
    state = system.serve()
    (system.root / CONFFILE).write_text("# the operator's directory\n")
    system.upgrade()
    system.upgrade()
    assert system.enabled() is enabled
    assert (system.root / CONFFILE).read_text() == "# the operator's directory\n"
    assert (state / "tls" / "server.key").is_file()


def test_the_takeover_from_the_single_package_keeps_its_enablement_and_purge_clears_it(
    system: System,
) -> None:
    """The single `interphone` package of earlier versions had the unit and no scripts: an
    operator enabled it with systemctl. interphone-server, installed over it, keeps that;
    its purge removes the link all the same (deb-systemd-helper never made it)."""
    system.unpack()
    system.enable()
    system.serve()
    system.run("postinst", "configure", "")
    assert system.enabled()
    system.upgrade()
    assert system.enabled()
    system.remove()
    system.purge()
    assert system.leftovers() == []


def test_the_maintainer_scripts_are_posix_sh_that_stop_at_the_first_error() -> None:
    for name in ("postinst", "prerm", "postrm"):
        script = DEBIAN / f"interphone-server.{name}"
        lines = script.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#!/bin/sh" and "set -e" in lines, name
        assert os.access(script, os.X_OK), name
        if shutil.which("dash"):
            done = subprocess.run(["dash", "-n", str(script)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    script = build_script()
    assert "for script in postinst prerm postrm; do" in script
    assert ('install -m 0755 "packaging/debian/interphone-server.$script" '
            '"$spkg/DEBIAN/$script"') in script


@pytest.fixture(scope="module")
def systemd_runs() -> list[str]:
    """A command prefix under which /run/systemd/system exists, as where systemd runs: a
    private mount namespace with its own /run (as root, with unshare). Nothing else of
    systemd is there: systemctl and deb-systemd-invoke are recording stand-ins."""
    tools = [shutil.which(name) for name in ("unshare", "sh", "mount", "mkdir")]
    if os.geteuid() != 0 or None in tools:
        pytest.skip("needs root and unshare for a /run of its own")
    unshare, shell, mount, mkdir = tools
    # Absolute paths: the scripts run with a PATH of their own.
    prefix = [unshare, "--mount", "--propagation", "private", shell, "-c",
              f'{mount} -t tmpfs tmpfs /run && {mkdir} -p /run/systemd/system && exec "$@"',
              "run"]
    probe = subprocess.run([*prefix, "test", "-d", "/run/systemd/system"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.strip()}")
    return prefix


def systemd_calls(prefix: list[str], tmp_path: Path, script: str, *args: str,
                  invoke: bool = True, dpkg_root: str = "") -> list[str]:
    """Run one script where systemd runs; return the systemctl and deb-systemd-invoke
    command lines it ran. PATH holds nothing else that acts on the system (no
    deb-systemd-helper), so that DPKG_ROOT="" cannot touch this machine's files."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls"
    bin_dir.mkdir(exist_ok=True)
    log.write_text("")
    tools = {"rm": shutil.which("rm"), "rmdir": shutil.which("rmdir")}
    for name, found in tools.items():
        if not (bin_dir / name).exists():
            assert found
            (bin_dir / name).symlink_to(found)
    for name in ("systemctl", "deb-systemd-invoke"):
        stub = bin_dir / name
        stub.unlink(missing_ok=True)
        if name == "systemctl" or invoke:
            stub.write_text(f'#!/bin/sh\necho "{name} $*" >>"{log}"\n')
            stub.chmod(0o755)
    shell = shutil.which("sh")
    assert shell
    result = subprocess.run(
        [*prefix, shell, str(DEBIAN / f"interphone-server.{script}"), *args],
        env={"PATH": str(bin_dir), "DPKG_ROOT": dpkg_root,
             "DPKG_MAINTSCRIPT_PACKAGE": "interphone-server", "DPKG_MAINTSCRIPT_NAME": script},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


RELOAD = "systemctl --system daemon-reload"


@pytest.mark.parametrize(("script", "args", "calls"), [
    ("postinst", ("configure", ""), [RELOAD, f"deb-systemd-invoke try-restart {UNIT}"]),
    ("postinst", ("configure", "0.1.0"), [RELOAD, f"deb-systemd-invoke try-restart {UNIT}"]),
    ("prerm", ("upgrade", "0.2.0"), []),
    ("prerm", ("remove",), [f"deb-systemd-invoke stop {UNIT}"]),
    ("postrm", ("upgrade", "0.2.0"), []),
    ("postrm", ("remove",), [RELOAD]),
], ids=["install", "upgrade", "prerm-upgrade", "prerm-remove", "postrm-upgrade", "remove"])
def test_where_systemd_runs_it_reloads_restarts_a_running_server_and_stops_it_on_removal(
    systemd_runs: list[str], tmp_path: Path, script: str, args: tuple[str, ...],
    calls: list[str],
) -> None:
    """An upgrade restarts a running server on the new files (try-restart: a stopped one
    stays stopped), a removal stops it before its files go, systemd forgets a removed unit."""
    assert systemd_calls(systemd_runs, tmp_path, script, *args) == calls


def test_without_deb_systemd_invoke_systemctl_does_it(
    systemd_runs: list[str], tmp_path: Path
) -> None:
    assert systemd_calls(systemd_runs, tmp_path, "prerm", "remove", invoke=False) == [
        f"systemctl stop {UNIT}"]
    assert systemd_calls(systemd_runs, tmp_path, "postinst", "configure", "0.1.0",
                         invoke=False) == [RELOAD, f"systemctl try-restart {UNIT}"]


def test_another_root_than_the_running_system_is_never_told_to_systemd(
    systemd_runs: list[str], tmp_path: Path
) -> None:
    """dpkg --root DIR: systemd runs, but not in DIR; the scripts leave it alone."""
    root = tmp_path / "root"
    root.mkdir()
    for script, args in (("postinst", ("configure", "0.1.0")), ("prerm", ("remove",)),
                         ("postrm", ("remove",)), ("postrm", ("purge",))):
        assert systemd_calls(systemd_runs, tmp_path, script, *args, dpkg_root=str(root)) == []


# --- minimum versions in the .deb's Depends --------------------------------------------------
def versioned_depends(*args: str) -> str:
    done = subprocess.run(["bash", str(DEBIAN / "versioned_depends.sh"), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@pytest.fixture(scope="module")
def packaged_elf() -> tuple[Path, str]:
    """dpkg, an ELF file of a package, and the highest GLIBC_x.y it needs, read from its
    bytes (the dynamic string table holds the names of the versions it needs)."""
    dpkg = shutil.which("dpkg")
    if dpkg is None or shutil.which("objdump") is None:
        pytest.skip("needs dpkg and objdump (binutils, which PyInstaller needs too)")
    path = Path(dpkg).resolve()
    names = re.findall(rb"\0GLIBC_(\d+(?:\.\d+)+)\0", path.read_bytes())
    assert names, path
    return path, max((name.decode() for name in names), key=version_key)


def test_libc6_gets_the_highest_glibc_version_the_files_need(
    packaged_elf: tuple[Path, str],
) -> None:
    """Without dpkg-shlibdeps: a libc6 older than that lacks a symbol version the files
    need, and they would not start. Other packages stay as listed."""
    path, highest = packaged_elf
    assert versioned_depends("--glibc-only", "libc6, libmd0, interphone-none", str(path)) == (
        f"libc6 (>= {highest}), libmd0, interphone-none")


def test_dpkg_shlibdeps_gives_each_package_the_version_its_symbols_need(
    packaged_elf: tuple[Path, str],
) -> None:
    if shutil.which("dpkg-shlibdeps") is None:
        pytest.skip("dpkg-shlibdeps (dpkg-dev) is not installed")
    path, highest = packaged_elf
    found = versioned_depends("libc6, libmd0, interphone-none", str(path))
    match = re.fullmatch(r"libc6 \(>= ([\d.]+)\), libmd0 \(>= [^)]+\), interphone-none", found)
    assert match, found
    # A symbol's minimum version in libc6's symbols file is never below its GLIBC_ node.
    assert version_key(match.group(1)) >= version_key(highest)


def test_both_debs_depend_on_versions_of_what_their_files_load() -> None:
    """The server's every package versioned over its staged ELF files; the desktop's libc6."""
    script = re.sub(r"\\\n\s*", "", build_script())  # continuation lines joined
    calls = re.findall(r'(\w+)="\$\(bash packaging/debian/versioned_depends.sh (.*)\)"$',
                       script, re.M)
    assert calls == [
        ("server_depends", '-l "$spkg/opt/interphone-server/_internal" "$server_depends" '
                           '$(elf_files "$spkg/opt/interphone-server")'),
        ("desktop_depends", '--glibc-only "$desktop_depends" $(elf_files "$pkg/opt/interphone")'),
    ]
