"""Start Interphone when the user logs in (the ``start_at_login`` setting).

Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/interphone.desktop``
(the freedesktop Desktop Application Autostart specification). Windows: the
``Interphone`` value of ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.
macOS: ``~/Library/LaunchAgents/org.interphone.Interphone.plist``. The Windows and
macOS entries are written by this code but have not been tried on those systems.
The app is started with ``--background`` (to the tray, no window).
"""

from __future__ import annotations

import contextlib
import logging
import os
import plistlib
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

APP_ID = "interphone"
MAC_LABEL = "org.interphone.Interphone"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
BACKGROUND_FLAG = "--background"


def launch_command(settings_file: Path | None = None) -> list[str]:
    """How to start this installation: the frozen executable, or ``python -m app``; with
    the settings file this run was given (``--settings``), else the login start would
    read other settings (not signed in: the sign-in dialog instead of the tray)."""
    command = [sys.executable] if getattr(sys, "frozen", False) else [
        sys.executable, "-m", "app"]
    command.append(BACKGROUND_FLAG)
    if settings_file is not None:
        command += ["--settings", str(settings_file.resolve())]
    return command


def desktop_entry(command: list[str]) -> str:
    exec_line = " ".join(shlex.quote(part) for part in command)
    return ("[Desktop Entry]\n"
            "Type=Application\n"
            "Name=Interphone\n"
            "Comment=Push-to-talk, in the background\n"
            f"Exec={exec_line}\n"
            "Icon=interphone\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n")


def xdg_autostart_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{APP_ID}.desktop"


def mac_agent_file() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{MAC_LABEL}.plist"


def set_start_at_login(enabled: bool, command: list[str] | None = None,
                       platform: str | None = None,
                       environ: Mapping[str, str] | None = None) -> Path | str:
    """Add (or remove) the login entry; returns where it lives. Raises OSError."""
    platform = sys.platform if platform is None else platform
    command = launch_command() if command is None else command
    if platform == "win32":
        return _windows_run_key(enabled, command)
    if platform == "darwin":
        path = mac_agent_file()
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(plistlib.dumps({"Label": MAC_LABEL, "ProgramArguments": command,
                                             "RunAtLoad": True}))
        else:
            path.unlink(missing_ok=True)
        return path
    path = xdg_autostart_file(environ)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(desktop_entry(command), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    logger.info("start at login %s: %s", "on" if enabled else "off", path)
    return path


def _windows_run_key(enabled: bool, command: list[str]) -> str:  # pragma: no cover - Windows
    import subprocess
    import winreg

    reg: Any = winreg  # typed for Windows only
    with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
        if enabled:
            reg.SetValueEx(key, "Interphone", 0, reg.REG_SZ, subprocess.list2cmdline(command))
        else:
            with contextlib.suppress(FileNotFoundError):
                reg.DeleteValue(key, "Interphone")
    return "HKCU\\" + RUN_KEY
