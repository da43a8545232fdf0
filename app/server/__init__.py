"""The embedded Interphone server: TCP signaling and a UDP media relay on one port.

    from app.server import InterphoneServer, Directory, ServerSettings

    async with InterphoneServer(Directory.demo(), port=0) as server:
        print(server.port)
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.server.app import InterphoneServer
    from app.server.directory import Directory, DirectoryError, hash_token
    from app.server.settings import ServerSettings
    from app.server.state import ServerState

# Loaded at first use, so that ``python -m app.server`` (and the console script) reach
# their own module, which turns a Ctrl-C during this second of loading into one line.
_HOMES = {"InterphoneServer": "app.server.app", "Directory": "app.server.directory",
          "DirectoryError": "app.server.directory", "hash_token": "app.server.directory",
          "ServerSettings": "app.server.settings", "ServerState": "app.server.state"}

__all__ = [
    "Directory",
    "DirectoryError",
    "InterphoneServer",
    "ServerSettings",
    "ServerState",
    "hash_token",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
