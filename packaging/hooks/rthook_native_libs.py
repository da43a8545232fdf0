"""PyInstaller runtime hook: load the bundle's own libopus and PortAudio first.

``opuslib_next`` and ``sounddevice`` look their native library up with
``ctypes.util.find_library`` when they are imported. Inside a bundle that
look-up searches the *system* (ldconfig, ``PATH``, Homebrew), so on a machine
without libopus or PortAudio the app would not start, and on one with them it
would silently load a different build than the one that was tested.

This hook runs before any application import and wraps ``find_library`` so
that ``"opus"`` and ``"portaudio"`` resolve to the files collected into the
bundle by ``packaging/interphone.spec``; every other name, and these two
when the bundle holds no copy, go to the original function. The chosen paths
are exported in ``INTERPHONE_BUNDLED_OPUS`` / ``INTERPHONE_BUNDLED_PORTAUDIO``
for diagnostics (``--self-test`` prints the library actually mapped).
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

# File names each library has in a bundle, per platform, most specific first.
_CANDIDATES: dict[str, dict[str, tuple[str, ...]]] = {
    "opus": {
        "linux": ("libopus.so.0", "libopus.so"),
        "darwin": ("libopus.0.dylib", "libopus.dylib"),
        "win32": ("opus.dll", "libopus-0.dll", "libopus.dll"),
    },
    "portaudio": {
        "linux": ("libportaudio.so.2", "libportaudio.so"),
        "darwin": ("libportaudio.2.dylib", "libportaudio.dylib"),
        "win32": ("libportaudio64bit.dll", "libportaudio32bit.dll", "libportaudio.dll"),
    },
}
# Folders of the bundle searched, relative to sys._MEIPASS (sounddevice's
# Windows and macOS wheels keep PortAudio in a data folder of their own).
_FOLDERS: tuple[str, ...] = (".", os.path.join("_sounddevice_data", "portaudio-binaries"))


def _bundled(name: str) -> str | None:
    base = Path(getattr(sys, "_MEIPASS", os.path.dirname(sys.executable)))
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    for filename in _CANDIDATES[name].get(platform, ()):
        for folder in _FOLDERS:
            path = base / folder / filename
            if path.is_file():
                return str(path)
    return None


def _install() -> None:
    bundled = {name: _bundled(name) for name in _CANDIDATES}
    for name, path in bundled.items():
        if path is not None:
            os.environ[f"INTERPHONE_BUNDLED_{name.upper()}"] = path
    original: Callable[[str], str | None] = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        path = bundled.get(name)
        return path if path is not None else original(name)

    find_library.__wrapped__ = original  # type: ignore[attr-defined]
    ctypes.util.find_library = find_library


_install()
