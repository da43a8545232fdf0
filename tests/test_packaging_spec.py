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
import sys
from collections.abc import Callable
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
    # and procps: the unit's ExecReload is /bin/kill, absent from a minimal system
    assert control["Depends"] == "$server_depends, procps"
    assert "\nExecReload=/bin/kill -HUP $MAINPID\n" in (
        ROOT / "packaging" / "systemd" / "interphone-server.service").read_text()
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


# --- what the desktop bundle takes from the system ------------------------------------------
def spec_keep() -> Callable[[tuple[str, str, str]], bool]:
    """The spec's ``keep`` with the constants it reads, compiled alone (no PyInstaller)."""
    tree = spec_tree()
    wanted = [node for node in tree.body if
              (isinstance(node, ast.FunctionDef) and node.name == "keep")
              or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0])
                  in ("PLUGIN_EXCLUDES", "FROM_THE_SYSTEM"))]
    assert len(wanted) == 3
    namespace: dict[str, object] = {"os": os, "sys": sys}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(SPEC), "exec"), namespace)
    keep = namespace["keep"]
    assert callable(keep)
    return keep  # type: ignore[return-value]


# What Debian 12's copies broke on Debian 13 and sid (docs/deploy.md): the system's GL
# drivers need its newer libstdc++; fontconfig reads the system's configuration and caches;
# ALSA its configuration and plugins.
FROM_THE_SYSTEM = ("libstdc++.so.6", "libgcc_s.so.1", "libfontconfig.so.1", "libfreetype.so.6",
                   "libasound.so.2")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle's rule")
@pytest.mark.parametrize("name", FROM_THE_SYSTEM)
def test_the_desktop_bundle_takes_these_libraries_from_the_system(name: str) -> None:
    keep = spec_keep()
    assert not keep((name, f"/usr/lib/x86_64-linux-gnu/{name}", "BINARY"))
    assert not keep((name, f"{name}.1.2.3", "SYMLINK"))  # PyInstaller's link to it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle's rule")
def test_the_desktop_bundle_keeps_the_libraries_it_brings_itself() -> None:
    keep = spec_keep()
    for name in ("libQt6Gui.so.6", "libportaudio.so.2", "libjack.so.0", "libopus.so.0",
                 "libssl.so.3", "PySide6/Qt/plugins/platforms/libqxcb.so"):
        assert keep((name, f"/somewhere/{name}", "BINARY")), name


def test_the_console_tools_libraries_reach_the_desktop_bundle_through_the_same_rule() -> None:
    """The desktop bundle holds the console tools too: their libraries (libstdc++ and
    libgcc_s among them) must not bring back what the rule leaves out; the console
    bundle keeps them (nothing of the system's loads into the tools)."""
    tree = spec_tree()
    (collect,) = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id == "COLLECT"
                  and ast.unparse(keyword(node, "name")) == "NAME"]
    parts = {ast.unparse(arg) for arg in collect.args}
    assert "*[[entry for entry in tool.binaries if keep(entry)] for _, tool in tools]" in parts
    assert "*[tool.binaries for _, tool in tools]" not in parts
    for target in ("a.binaries", "a.datas"):
        values = [ast.unparse(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  and ast.unparse(node.targets[0]) == target]
        assert any("if keep(entry)" in value for value in values), target


def test_the_deb_depends_on_each_library_the_bundle_takes_from_the_system() -> None:
    packages = ast.literal_eval(assigned(spec_tree(), "FROM_THE_SYSTEM"))
    assert set(packages) == set(FROM_THE_SYSTEM)
    depends = relations(deb_control()["Depends"])
    missing = [package for package in packages.values() if {package} not in depends]
    assert not missing


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
