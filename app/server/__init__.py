"""The embedded Interphone server: TCP signaling and a UDP media relay on one port.

    from app.server import InterphoneServer, Directory, ServerSettings

    async with InterphoneServer(Directory.demo(), port=0) as server:
        print(server.port)
"""

from app.server.app import InterphoneServer
from app.server.directory import Directory, DirectoryError, hash_token
from app.server.settings import ServerSettings
from app.server.state import ServerState

__all__ = [
    "Directory",
    "DirectoryError",
    "InterphoneServer",
    "ServerSettings",
    "ServerState",
    "hash_token",
]
