"""What the installers take in, checked against the source tree without building.

The build itself is slow (tests/test_packaging.py); these read the PyInstaller
spec, the runtime hooks, the .deb's control data and the desktop entry, so that a
module the app imports only by name, a runtime hook left out of an executable, a
library the bundle leaves to the system or a menu entry shown twice is caught in
every test run.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "interphone.spec"
HOOKS = ROOT / "packaging" / "hooks"


def spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return node.value
    raise AssertionError(f"{name} is not assigned in {SPEC.name}")


def strings(node: ast.AST) -> set[str]:
    return {sub.value for sub in ast.walk(node)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str)}


def analyses(tree: ast.Module, at_least: int = 2) -> list[ast.Call]:
    """The Analysis calls (the GUI's and, in a loop, the console tools')."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "Analysis"]
    assert len(calls) >= at_least
    return calls


def keyword(call: ast.Call, name: str) -> ast.expr:
    return next(item.value for item in call.keywords if item.arg == name)


def names_imported_by_name() -> dict[str, str]:
    """``importlib.import_module("X")`` in app/: X -> the file that does it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "import_module" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found[node.args[0].value] = str(path.relative_to(ROOT))
    return found


def test_the_app_imports_uvloop_by_name() -> None:
    """The premise of the next test: the scan finds the server's optional loop."""
    assert names_imported_by_name().get("uvloop") == "app/server/__main__.py"


def test_modules_the_app_imports_by_name_are_hidden_imports_of_the_spec() -> None:
    """PyInstaller follows ``import`` statements only: a module imported by name is
    left out unless the spec names it; the bundled server then ran on asyncio's
    loop instead of uvloop's, without a word but its start-up line."""
    tree = spec_tree()
    dynamic = strings(assigned(tree, "DYNAMIC_IMPORTS"))
    missing = {name: where for name, where in names_imported_by_name().items()
               if name not in dynamic}
    assert not missing, f"add to DYNAMIC_IMPORTS in {SPEC.name}: {missing}"
    # The console tools' Analysis (the server's among them) takes them in.
    (loop,) = [node for node in tree.body if isinstance(node, ast.For)
               and ast.unparse(node.iter) == "CONSOLE_TOOLS.items()"]
    (tools,) = analyses(ast.Module(body=loop.body, type_ignores=[]), at_least=1)
    assert "DYNAMIC_IMPORTS" in ast.unparse(keyword(tools, "hiddenimports"))


def test_every_runtime_hook_runs_in_every_executable() -> None:
    tree = spec_tree()
    listed = {Path(value).name for value in strings(assigned(tree, "RUNTIME_HOOKS"))
              if value.endswith(".py")}
    assert listed == {path.name for path in HOOKS.glob("*.py")}
    for call in analyses(tree):
        assert ast.unparse(keyword(call, "runtime_hooks")) == "RUNTIME_HOOKS"


# --- the CA certificates of other distributions ---------------------------------------------
def ca_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rthook_ca", HOOKS / "rthook_ca_certificates.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not frozen: it only defines its functions
    return module


def test_on_a_distribution_laid_out_otherwise_the_bundle_finds_its_ca_bundle(tmp_path) -> None:
    """Debian's OpenSSL (the bundle's) looks in /usr/lib/ssl; Fedora keeps the CA
    bundle in /etc/pki/tls/certs: the hook exports it as SSL_CERT_FILE."""
    fedora = tmp_path / "etc" / "pki" / "tls" / "certs" / "ca-bundle.crt"
    fedora.parent.mkdir(parents=True)
    fedora.write_text("-----BEGIN CERTIFICATE-----\n")
    missing = tmp_path / "usr" / "lib" / "ssl"
    chosen = ca_hook().ca_bundle_to_use(
        {}, str(missing / "cert.pem"), str(missing / "certs"),
        [str(tmp_path / "etc" / "ssl" / "certs" / "ca-certificates.crt"), str(fedora)])
    assert chosen == str(fedora)


def test_where_openssl_finds_its_own_certificates_the_hook_changes_nothing(tmp_path) -> None:
    hook = ca_hook()
    bundle = tmp_path / "ca.crt"
    bundle.write_text("x")
    (tmp_path / "certs").mkdir()
    assert hook.ca_bundle_to_use({}, str(bundle), None, [str(bundle)]) is None
    assert hook.ca_bundle_to_use({}, None, str(tmp_path / "certs"), [str(bundle)]) is None
    # The user's own choice wins, and with no CA bundle anywhere there is nothing to set.
    assert hook.ca_bundle_to_use({"SSL_CERT_FILE": "/mine.pem"}, None, None, [str(bundle)]) is None
    assert hook.ca_bundle_to_use({"SSL_CERT_DIR": "/mine"}, None, None, [str(bundle)]) is None
    assert hook.ca_bundle_to_use({}, None, None, [str(tmp_path / "none.crt")]) is None


def test_this_machines_openssl_needs_no_help() -> None:
    """The build machine's layout is left alone (its own paths exist)."""
    paths = ssl.get_default_verify_paths()
    assert ca_hook().ca_bundle_to_use({}, paths.openssl_cafile, paths.openssl_capath) is None


# --- the console tools alone (the interphone-server .deb) -----------------------------------
def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_modules_left_out_of_the_console_tools_use_the_sound_card() -> None:
    """The console tools are built without sounddevice and PortAudio (their .deb needs
    no ALSA): a module they take in that imported sounddevice would fail in them."""
    gui_only = tuple(strings(assigned(spec_tree(), "GUI_ONLY_MODULES")))
    users = set()
    for path in (ROOT / "app").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if "sounddevice" in imports_of(path):
            users.add(module)
    assert users and not [module for module in users if not module.startswith(gui_only)]


def test_the_console_tools_are_built_without_the_sound_card() -> None:
    tree = spec_tree()
    assert {"sounddevice", "_sounddevice_data"} <= strings(assigned(tree, "NO_SOUND_CARD"))
    assert "portaudio" in ast.unparse(assigned(tree, "TOOL_NATIVE"))
    (loop,) = [node for node in tree.body if isinstance(node, ast.For)
               and ast.unparse(node.iter) == "CONSOLE_TOOLS.items()"]
    (tools,) = analyses(ast.Module(body=loop.body, type_ignores=[]), at_least=1)
    assert ast.unparse(keyword(tools, "binaries")) == "TOOL_NATIVE"
    assert "NO_SOUND_CARD" in ast.unparse(keyword(tools, "excludes"))
    assert "GUI_ONLY_MODULES" in ast.unparse(keyword(tools, "hiddenimports"))


def test_the_console_bundle_collects_the_console_tools_alone() -> None:
    """dist/interphone-server, packaged as interphone-server: the tools' executables and
    their own Analysis' files, nothing of the desktop app's."""
    tree = spec_tree()
    assert strings(assigned(tree, "CONSOLE_BUNDLE")) == {"interphone-server"}
    (collect,) = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id == "COLLECT"
                  and ast.unparse(keyword(node, "name")) == "CONSOLE_BUNDLE"]
    parts = {ast.unparse(arg) for arg in collect.args}
    assert parts == {"*[tool_exe for tool_exe, _ in tools]",
                     "*[tool.binaries for _, tool in tools]", "*[tool.datas for _, tool in tools]"}


def build_script() -> str:
    return (ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")


def server_deb_control() -> dict[str, str]:
    match = re.search(r'cat >"\$spkg/DEBIAN/control" <<CONTROL\n(.*?)\nCONTROL\n', build_script(),
                      re.S)
    assert match, "the interphone-server control heredoc of build_linux.sh"
    return control_fields(match.group(1))


def test_the_server_deb_depends_on_what_its_files_load_and_takes_over_the_old_deb() -> None:
    """Depends is what ldd finds the console tools load from the system (the build fails
    on a display or sound library); the files an older single interphone .deb held
    (commands, unit, directory) pass to interphone-server, which dpkg allows with
    Replaces, and Breaks makes that older package be upgraded with it."""
    control = server_deb_control()
    assert control["Package"] == "interphone-server"
    assert control["Depends"] == "$server_depends"
    assert control["Replaces"] == control["Breaks"] == "interphone (<< $version)"
    assert "Recommends" not in control  # no font for a server
    for pattern in ("libX", "libxcb", "libGL", "libwayland", "libQt", "libasound"):
        assert pattern in next(line for line in build_script().splitlines()
                               if line.lstrip().startswith("if grep -E '^(libX"))


def test_the_desktop_deb_installs_alone() -> None:
    """It does not depend on interphone-server (a desktop needs no server), only suggests it."""
    control = deb_control()
    assert "interphone-server" not in control["Depends"]
    assert control["Suggests"] == "interphone-server"


def test_the_unit_starts_the_server_where_the_server_deb_puts_it() -> None:
    script = build_script()
    assert 'cp -a "$console" "$spkg/opt/interphone-server"' in script
    assert 'cp docs/deploy.md "$spkg/usr/share/doc/interphone-server/"' in script
    unit = (ROOT / "packaging" / "systemd" / "interphone-server.service").read_text()
    assert "\nExecStart=/opt/interphone-server/interphone-server " in unit
    assert "\nDocumentation=file:///usr/share/doc/interphone-server/deploy.md\n" in unit


# --- the desktop .deb's dependencies ----------------------------------------------------------
def control_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith(" ") and ":" in line:
            name, value = line.split(":", 1)
            fields[name] = value.strip()
    return fields


def deb_control() -> dict[str, str]:
    """The desktop .deb's control fields, its Depends the list the build script versions."""
    script = build_script()
    match = re.search(r'cat >"\$pkg/DEBIAN/control" <<CONTROL\n(.*?)\nCONTROL\n', script, re.S)
    assert match, "the control heredoc of build_linux.sh"
    fields = control_fields(match.group(1))
    assert fields["Depends"] == "$desktop_depends"
    (listed,) = re.findall(r'^ *desktop_depends="([^"$]*)"$', script, re.M)
    fields["Depends"] = listed
    return fields


def relations(value: str) -> list[set[str]]:
    return [{choice.strip().split(" ")[0] for choice in item.split("|")}
            for item in value.split(",") if item.strip()]


@pytest.mark.parametrize("package", ["libwayland-client0", "libwayland-cursor0", "libwayland-egl1"])
def test_the_deb_depends_on_what_the_bundled_wayland_platform_loads(package: str) -> None:
    """Qt's Wayland platform plugin and its shell and EGL integrations link these;
    PyInstaller leaves them to the system, so the package must ask for them."""
    assert {package} in relations(deb_control()["Depends"])


def test_the_deb_recommends_a_cjk_font_and_does_not_require_one() -> None:
    """Without a CJK font the app stays in English and says why (app/ui/i18n.py):
    a font is recommended (apt installs it by default), not forced on a server."""
    control = deb_control()
    fonts = [choices for choices in relations(control["Recommends"]) if "fonts-noto-cjk" in choices]
    assert fonts
    assert not any(name.startswith("fonts-") for choices in relations(control["Depends"])
                   for name in choices)


def test_the_deb_leaves_libopus_and_portaudio_to_the_bundle() -> None:
    control = deb_control()
    everything = " ".join(control.get(field, "") for field in ("Depends", "Recommends"))
    assert "libopus" not in everything and "portaudio" not in everything


# --- the desktop entry (the .deb's and the AppImage's) -------------------------------------
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game",
                   "Graphics", "Network", "Office", "Science", "Settings", "System", "Utility"}


def desktop_entry(tmp_path: Path) -> Path:
    script = (ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")
    match = re.search(r"<<DESKTOP\n(.*?)\nDESKTOP\n", script, re.S)
    assert match, "the desktop entry heredoc of build_linux.sh"
    path = tmp_path / "interphone.desktop"
    path.write_text(match.group(1).replace("$1", "interphone") + "\n", encoding="utf-8")
    return path


def test_the_desktop_entry_names_one_main_category(tmp_path: Path) -> None:
    """Two main categories (Network and AudioVideo) put the app in two menus."""
    text = desktop_entry(tmp_path).read_text(encoding="utf-8")
    categories = next(line for line in text.splitlines()
                      if line.startswith("Categories="))[len("Categories="):]
    assert len(MAIN_CATEGORIES & set(categories.split(";"))) == 1, categories


def test_the_desktop_entry_is_valid(tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate (Debian desktop-file-utils) is not installed")
    done = subprocess.run([validate, str(desktop_entry(tmp_path))], capture_output=True,
                          text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


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
