"""The Linux installer build: bundle, tarball and the two .deb, and the bundle's --self-test.

Builds with ``packaging/build_linux.sh`` into a temporary folder (its build
venv is ``build/venv-pack``, made on first use from pyproject.toml), then runs
the bundle's self-test in a clean environment. To prove the bundle needs
neither libopus nor PortAudio from the system, one run hides the system's
copies: in a private mount namespace (``unshare --mount``, as root) the real
library files are covered by ``/dev/null``, so any attempt to load them fails.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 900
MAX_BUNDLE_MIB = 230  # measured 211 MiB; a jump means something unwanted
SYSTEM_LIBRARIES = ("libopus.so.0", "libportaudio.so.2")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux bundle"),
    pytest.mark.timeout(BUILD_TIMEOUT + 120),
]


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no venv, no PYTHONPATH, no LD_LIBRARY_PATH."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        **extra,
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")  # private: other builds may run at the same time
    script = ROOT / "packaging" / "build_linux.sh"
    result = subprocess.run(
        ["bash", str(script), "--dist", str(out), "--work", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    print(result.stderr[-1500:])
    return out


@pytest.fixture(scope="module")
def bundle(dist: Path) -> Path:
    return dist / "Interphone"


def self_test(executable: Path, wrapper: list[str] | None = None) -> list[str]:
    """Run ``executable --self-test``; return its stdout lines after checking the verdict."""
    result = subprocess.run(
        [*(wrapper or []), str(executable), "--self-test"],
        env=clean_env(), capture_output=True, text=True, timeout=120, cwd="/",
    )
    report = f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, report
    assert lines and lines[-1].startswith("self-test: ok ("), report
    for noise in ("Exception ignored", "Traceback"):
        assert noise not in result.stderr, report
    return lines


def reported(lines: list[str], step: str) -> str:
    return next(line.split(": ", 1)[1] for line in lines if line.strip().startswith(f"{step}:"))


def system_library(name: str) -> Path:
    listing = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if fields and fields[0] == name and "=>" in fields:
            return Path(fields[-1]).resolve()
    pytest.skip(f"{name} is not installed on this machine")


def test_bundle_holds_the_app_its_resources_and_its_native_libraries(bundle: Path) -> None:
    internal = bundle / "_internal"
    assert os.access(bundle / "Interphone", os.X_OK)
    for name in SYSTEM_LIBRARIES:
        assert (internal / name).is_file(), name
    assert (internal / "resources" / "icons" / "app.svg").is_file()
    assert list((internal / "PySide6" / "Qt" / "translations").glob("qtbase_*.qm"))
    assert (internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so").is_file()
    assert (internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqwayland.so").is_file()


@pytest.mark.parametrize(
    "unwanted",
    ["libQt6WebEngineCore", "libQt6Quick", "libQt6Qml", "libQt6Pdf", "libQt6Network",
     "libQt6Multimedia", "libQt6Sql", "libQt63D", "libtk", "_tkinter", "libgtk", "libcairo"],
)
def test_bundle_leaves_out_what_the_app_does_not_use(bundle: Path, unwanted: str) -> None:
    found = [str(path.relative_to(bundle)) for path in bundle.rglob(f"{unwanted}*")]
    assert not found


def test_bundle_has_no_dangling_links(bundle: Path) -> None:
    dangling = [str(path.relative_to(bundle)) for path in bundle.rglob("*")
                if path.is_symlink() and not path.exists()]
    assert not dangling


def test_bundle_size_stays_lean(bundle: Path) -> None:
    size = sum(path.lstat().st_size for path in bundle.rglob("*") if not path.is_dir())
    print(f"bundle size: {size / 2**20:.0f} MiB")
    assert size < MAX_BUNDLE_MIB * 2**20


# Libraries the desktop bundle takes from the system (FROM_THE_SYSTEM in the spec): Debian
# 12's copies broke on newer distributions (docs/deploy.md).
FROM_THE_SYSTEM = ("libstdc++.so.6", "libgcc_s.so.1", "libfontconfig.so.1", "libfreetype.so.6",
                   "libasound.so.2")


def test_bundle_takes_libstdcxx_fontconfig_and_alsa_from_the_system(bundle: Path) -> None:
    stems = tuple(name.split(".so")[0] + ".so" for name in FROM_THE_SYSTEM)
    found = [str(path.relative_to(bundle)) for path in bundle.rglob("*")
             if path.name.startswith(stems)]
    assert not found
    # What links them finds the system's (the bundle's folder first, as its executables
    # set LD_LIBRARY_PATH).
    internal = bundle / "_internal"
    users = [internal / "libQt6Gui.so.6", internal / "libportaudio.so.2"]
    result = subprocess.run(["ldd", *map(str, users)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(internal)})
    resolved = {line.split()[0]: line.split("=>")[1].strip() for line in result.stdout.splitlines()
                if "=>" in line}
    for name in FROM_THE_SYSTEM:
        assert name in resolved and not resolved[name].startswith(("not found", str(bundle))), (
            name, resolved.get(name))


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_bundle_ships_the_server_and_the_cli_which_talk_to_each_other(
    bundle: Path, tmp_path: Path
) -> None:
    """The bundled interphone-server serves the example directory; the bundled CLI syncs."""
    server_and_cli_talk(bundle, tmp_path)


def server_and_cli_talk(bundle: Path, tmp_path: Path) -> None:
    for tool in ("interphone-server", "interphone-cli"):
        assert os.access(bundle / tool, os.X_OK), tool
    port = free_tcp_port()
    server = subprocess.Popen(
        [str(bundle / "interphone-server"), "--config", str(ROOT / "app/server/example.toml"),
         "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/")
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        result = subprocess.run(
            [str(bundle / "interphone-cli"), "--server", f"127.0.0.1:{port}", "--uid", "alice",
             "--token", "pw-alice", "sync"],
            env=clean_env(), capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert isinstance(json.loads(result.stdout), list), result.stdout
        refused = subprocess.run(
            [str(bundle / "interphone-cli"), "--server", f"127.0.0.1:{port}", "--uid", "alice",
             "--token", "wrong", "sync"],
            env=clean_env(), capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output[-3000:]
    # uvloop is imported by name (DYNAMIC_IMPORTS in the spec): left out, the server
    # falls back to asyncio's loop and says only this.
    assert "event loop: uvloop" in output, output[-3000:]


def test_bundle_self_test_loads_its_own_libopus_and_portaudio(bundle: Path) -> None:
    lines = self_test(bundle / "Interphone")
    opus = Path(reported(lines, "libopus"))
    assert opus.is_relative_to(bundle), lines
    assert f"PortAudio {bundle}" in reported(lines, "audio devices"), lines


@pytest.fixture(scope="module")
def hide_system_libraries() -> list[str]:
    """A command prefix that runs its command with the system's libraries masked."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mask the system libraries")
    targets = [str(system_library(name)) for name in SYSTEM_LIBRARIES]
    mounts = " && ".join(f"mount --bind /dev/null {target}" for target in targets)
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", f"{mounts} && true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.strip()}")
    return ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "masked"]


def test_masking_really_breaks_the_system_libraries(hide_system_libraries: list[str]) -> None:
    """The control: with the mask, Python from the build venv cannot load them."""
    code = (
        "import ctypes, sys\n"
        f"for name in {SYSTEM_LIBRARIES!r}:\n"
        "    try:\n"
        "        ctypes.CDLL(name)\n"
        "    except OSError:\n"
        "        continue\n"
        "    sys.exit(name + ' still loads')\n"
    )
    result = subprocess.run([*hide_system_libraries, sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bundle_works_without_the_system_libopus_and_portaudio(
    bundle: Path, hide_system_libraries: list[str]
) -> None:
    lines = self_test(bundle / "Interphone", wrapper=hide_system_libraries)
    assert Path(reported(lines, "libopus")).is_relative_to(bundle), lines
    assert f"PortAudio {bundle}" in reported(lines, "audio devices"), lines


def test_tarball_unpacks_to_a_bundle_that_runs_anywhere(dist: Path, tmp_path: Path) -> None:
    (tarball,) = dist.glob("Interphone-*-linux-*.tar.gz")
    with tarfile.open(tarball) as archive:
        # The "tar" filter (no absolute paths, no links out) came in Python 3.11.4.
        safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        archive.extractall(tmp_path, **safe)
    moved = tmp_path / "Interphone"
    lines = self_test(moved / "Interphone")
    assert Path(reported(lines, "libopus")).is_relative_to(moved), lines


def deb_contents(deb: Path) -> dict[str, str]:
    """``dpkg-deb --contents``: each path (``./opt/...``) with its mode, ``->`` target
    included for a link."""
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)],
                             capture_output=True, text=True, check=True).stdout
    entries = {}
    for line in listing.splitlines():
        mode, _owner, _size, _day, _time, path = line.split(maxsplit=5)
        entries[path] = mode
    return entries


def deb_file(deb: Path, path: str) -> str:
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile(path)
        assert member is not None, path
        return member.read().decode()


@pytest.fixture(scope="module")
def debs(dist: Path) -> dict[str, Path]:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    (desktop,) = dist.glob("interphone_*.deb")
    (server,) = dist.glob("interphone-server_*.deb")
    return {"interphone": desktop, "interphone-server": server}


def test_deb_installs_the_desktop_app_under_opt(debs: dict[str, Path], tmp_path: Path) -> None:
    deb = debs["interphone"]
    info = subprocess.run(["dpkg-deb", "--field", str(deb), "Package", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Package: interphone\n" in info
    assert "libopus" not in info and "portaudio" not in info  # both are bundled
    assert re.search(r"^Depends: libc6 \(>= \d+(\.\d+)+\), ", info, re.M), info
    # No maintainer script: dpkg triggers of hicolor-icon-theme and desktop-file-utils
    # refresh the icon cache and the menu's database.
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    assert sorted(path.name for path in control.iterdir()) == ["control"]
    contents = deb_contents(deb)
    for path in (
        "./opt/interphone/Interphone",
        "./usr/bin/interphone -> /opt/interphone/Interphone",
        "./usr/share/applications/interphone.desktop",
        "./usr/share/icons/hicolor/256x256/apps/interphone.png",
    ):
        assert path in contents, path
    # The server, the CLI, the unit and the directory are interphone-server's.
    for path in contents:
        assert "interphone-server" not in path and "interphone-cli" not in path, path
        assert not path.startswith(("./etc/", "./lib/systemd/")), path
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    lines = self_test(tmp_path / "opt" / "interphone" / "Interphone")
    assert Path(reported(lines, "libopus")).is_relative_to(tmp_path), lines


def test_server_deb_holds_the_server_the_cli_and_the_unit(
    debs: dict[str, Path], tmp_path: Path
) -> None:
    deb = debs["interphone-server"]
    contents = deb_contents(deb)
    for path in (
        "./opt/interphone-server/interphone-server",
        "./opt/interphone-server/interphone-cli",
        "./usr/bin/interphone-server -> /opt/interphone-server/interphone-server",
        "./usr/bin/interphone-cli -> /opt/interphone-server/interphone-cli",
        # Where the single .deb of earlier versions had them (operators' unit drop-ins).
        "./opt/interphone/interphone-server -> /opt/interphone-server/interphone-server",
        "./lib/systemd/system/interphone-server.service",
        "./etc/interphone/directory.toml",
        "./usr/share/doc/interphone-server/deploy.md",
    ):
        assert path in contents, path
    assert contents["./etc/interphone/directory.toml"] == "-rw-------"  # it holds tokens
    desktop_only = ("PySide6", "shiboken6", "libQt6", "libqxcb", "libqwayland", "portaudio",
                    "sounddevice", "/applications/", "/icons/", "/opt/interphone/Interphone")
    assert not [path for path in contents if any(part in path for part in desktop_only)]
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    assert (control / "conffiles").read_text().split() == ["/etc/interphone/directory.toml"]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(control / script, os.X_OK), script
        assert (control / script).read_bytes() == (
            ROOT / "packaging" / "debian" / f"interphone-server.{script}").read_bytes()
    fields = dict(line.split(": ", 1) for line in (control / "control").read_text().splitlines()
                  if ": " in line and not line.startswith(" "))
    assert fields["Package"] == "interphone-server"
    relations = {item.strip().split(" ")[0]: item.strip() for item in fields["Depends"].split(",")}
    depends = set(relations)
    # A libc6 older than the newest GLIBC_x.y symbol version its files need is refused.
    libc6 = re.fullmatch(r"libc6 \(>= (\d+(?:\.\d+)+)\)", relations["libc6"])
    assert libc6, fields["Depends"]
    assert relations["procps"] == "procps"  # /bin/kill, the unit's ExecReload
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "files")], check=True)
    needed = {name.decode() for path in (tmp_path / "files").rglob("*")
              if path.is_file() and not path.is_symlink()
              for name in re.findall(rb"\0GLIBC_(\d+(?:\.\d+)+)\0", path.read_bytes())}
    newest = max(needed, key=lambda version: [int(part) for part in version.split(".")])
    assert [int(part) for part in libc6.group(1).split(".")] >= [
        int(part) for part in newest.split(".")], (libc6.group(1), newest)
    display = ("libx", "libgl", "libegl", "libwayland", "libxcb", "libxkb", "libqt",
               "libfontconfig", "libdbus", "libasound", "libjack", "libportaudio", "libopus")
    assert not [name for name in depends if name.startswith(display)], depends
    unit = deb_file(deb, "./lib/systemd/system/interphone-server.service")
    executable = re.search(r"^ExecStart=(\S+)", unit, re.M)
    assert executable and "." + executable.group(1) in contents, unit
    assert "DynamicUser=yes" in unit
    documentation = re.search(r"^Documentation=file://(\S+)", unit, re.M)
    assert documentation and "." + documentation.group(1) in contents, unit


def test_server_deb_alone_serves_the_cli_and_loads_no_display_library(
    debs: dict[str, Path], tmp_path: Path
) -> None:
    """Unpacked without the desktop package, the server serves and the CLI syncs; ldd over
    every ELF file names only libraries of the bundle or of libc6 (what Depends says)."""
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs["interphone-server"]), str(root)], check=True)
    folder = root / "opt" / "interphone-server"
    server_and_cli_talk(folder, tmp_path)
    elves = [path for path in folder.rglob("*") if path.is_file() and not path.is_symlink()
             and path.read_bytes()[:4] == b"\x7fELF"]
    assert len(elves) > 10
    loaded: set[str] = set()
    for path in elves:
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin",
                                     "LD_LIBRARY_PATH": str(folder / "_internal")})
        loaded |= {line.strip() for line in result.stdout.splitlines()
                   if "=>" in line and str(folder) not in line}
    unwanted = ("libX", "libxcb", "libGL", "libEGL", "libwayland", "libQt", "libasound")
    assert not [line for line in loaded if line.startswith(unwanted)], sorted(loaded)
    assert not [line for line in loaded if "not found" in line], sorted(loaded)


def test_the_two_debs_share_no_file_and_install_side_by_side(debs: dict[str, Path]) -> None:
    """dpkg refuses a file that two packages hold; directories may be shared."""
    files = {name: {path.split(" -> ")[0] for path, mode in deb_contents(deb).items()
                    if not mode.startswith("d")} for name, deb in debs.items()}
    assert files["interphone"] and files["interphone-server"]
    assert not files["interphone"] & files["interphone-server"]


def run_demo(bundle: Path, tmp_path: Path, wrapper: list[str], env: dict[str, str]) -> Path:
    """The real app from the bundle: the loopback demo, a screenshot, a clean exit."""
    shot = tmp_path / "demo.png"
    result = subprocess.run(
        [*wrapper, str(bundle / "Interphone"), "--demo", "--simulated-audio",
         "--settings", str(tmp_path / "settings.ini"), "--screenshot", str(shot),
         "--quit-after", "3"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for noise in ("Exception ignored", "Traceback", "could not load the Qt platform plugin"):
        assert noise not in output, output[-4000:]
    assert shot.is_file() and shot.stat().st_size > 10_000, output[-4000:]
    return shot


def test_bundle_runs_the_demo_and_quits_cleanly(bundle: Path, tmp_path: Path) -> None:
    run_demo(bundle, tmp_path, [], clean_env())


def test_bundle_shows_its_window_on_x11(bundle: Path, tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run (Debian xvfb) is not installed")
    env = clean_env()
    del env["QT_QPA_PLATFORM"]  # Qt's default on Linux: xcb, from the bundle
    run_demo(bundle, tmp_path, ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"], env)


UNIT = "interphone-server.service"
WANTS = Path("etc/systemd/system/multi-user.target.wants") / UNIT


def dpkg_in_a_folder(tmp_path: Path) -> tuple[Path, Callable[..., None]]:
    """An empty dpkg database in a folder, and a function running dpkg on it. The maintainer
    scripts run on this machine with DPKG_ROOT set (--force-script-chrootless); libc6 and
    the like are not in the folder (--force-depends); a conffile the operator edited is
    kept without a question (--force-confold, what apt asks with N as the default)."""
    if os.geteuid() != 0:
        pytest.skip("dpkg installs as root")
    root = tmp_path / "root"
    for folder in ("info", "updates", "triggers"):
        (root / "var/lib/dpkg" / folder).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()

    def run(*args: str) -> None:
        done = subprocess.run(
            ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
             "--force-confold", *args], capture_output=True, text=True, timeout=120,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        assert done.returncode == 0, done.stdout + done.stderr

    return root, run


def enable(root: Path) -> None:
    """`systemctl enable`, offline (--root) where systemctl exists; else the link it makes."""
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", f"--root={root}", "enable", UNIT], check=True,
                       capture_output=True)
    else:
        (root / WANTS).parent.mkdir(parents=True)
        (root / WANTS).symlink_to(f"/lib/systemd/system/{UNIT}")
    assert os.readlink(root / WANTS) == f"/lib/systemd/system/{UNIT}"


def test_server_deb_installed_enabled_and_purged_leaves_nothing(
    debs: dict[str, Path], tmp_path: Path
) -> None:
    """The real dpkg installs the .deb into a folder (--root, with the maintainer scripts
    run on this machine with DPKG_ROOT: --force-script-chrootless), the service is enabled
    as `systemctl enable` does and has run; a reinstall (an upgrade's steps) keeps it
    enabled, remove keeps the directory, the state and the enablement, purge removes all."""
    root, run = dpkg_in_a_folder(tmp_path)
    run("--install", str(debs["interphone-server"]))
    wants = root / WANTS
    assert (root / "lib/systemd/system" / UNIT).is_file() and not os.path.lexists(wants)
    enable(root)
    (root / "var/lib/private/interphone/tls").mkdir(parents=True)  # StateDirectory=, run once
    (root / "var/lib/interphone").symlink_to("private/interphone")

    run("--install", str(debs["interphone-server"]))
    assert os.readlink(wants) == f"/lib/systemd/system/{UNIT}"
    run("--remove", "interphone-server")
    assert not (root / "opt/interphone-server").exists()
    assert (root / "etc/interphone/directory.toml").is_file()
    assert (root / "var/lib/private/interphone/tls").is_dir() and wants.is_symlink()
    run("--purge", "interphone-server")
    left = sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if "interphone" in path.name and not path.is_relative_to(root / "var/lib/dpkg"))
    assert left == []
    assert not os.path.lexists(wants)


@pytest.mark.parametrize("alongside", [False, True], ids=["server", "server-and-desktop"])
def test_server_deb_takes_over_from_the_single_package_and_keeps_it_enabled(
    debs: dict[str, Path], tmp_path: Path, alongside: bool
) -> None:
    """Earlier versions had one `interphone` package with the unit, the directory, the
    server and the desktop app, and no maintainer script; its service enabled, its
    directory edited. On a server apt removes it for interphone-server (Breaks); on a
    desktop both new packages replace it. The enablement and the edits stay; the purge of
    interphone-server then leaves nothing."""
    old = tmp_path / "old"
    unit_text = (ROOT / "packaging/systemd" / UNIT).read_text()
    for path, text in (("lib/systemd/system/" + UNIT, unit_text),
                       ("etc/interphone/directory.toml", "# example\n"),
                       ("opt/interphone/interphone-server", "old"),
                       ("usr/share/applications/interphone.desktop", "old")):
        (old / path).parent.mkdir(parents=True, exist_ok=True)
        (old / path).write_text(text)
    (old / "DEBIAN").mkdir()
    (old / "DEBIAN/conffiles").write_text("/etc/interphone/directory.toml\n")
    (old / "DEBIAN/control").write_text(
        "Package: interphone\nVersion: 0.1.0\nArchitecture: all\n"
        "Maintainer: Interphone developers <interphone@localhost>\nDescription: the old one\n")
    old_deb = tmp_path / "old.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(old), str(old_deb)],
                   check=True, capture_output=True)
    root, run = dpkg_in_a_folder(tmp_path)
    run("--install", str(old_deb))
    enable(root)
    with (root / "etc/interphone/directory.toml").open("a") as directory:
        directory.write("# the operator's\n")

    if alongside:  # in apt's order: the upgrade that ends the Breaks first
        run("--install", str(debs["interphone"]))
        run("--install", str(debs["interphone-server"]))
    else:
        run("--remove", "interphone")
        run("--install", str(debs["interphone-server"]))
        run("--purge", "interphone")
    assert os.readlink(root / WANTS) == f"/lib/systemd/system/{UNIT}"
    assert (root / "lib/systemd/system" / UNIT).is_file()
    assert (root / "etc/interphone/directory.toml").read_text().endswith("# the operator's\n")
    run("--purge", "interphone-server")
    assert not os.path.lexists(root / WANTS) and not (root / "etc/interphone").exists()
