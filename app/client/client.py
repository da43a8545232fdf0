"""InterphoneClient: the facade a UI or the CLI uses (asyncio, no Qt).

One object owns the signaling session (with reconnect), the UDP media endpoint
and the :class:`~app.client.model.ClientModel`. Every coroutine runs on the
loop the client was connected on; ``model`` events and ``on_audio`` are called
on that loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from app.client.events import ConnectionState
from app.client.model import ClientModel
from app.protocol import InterphoneId, InterphoneInfo

logger = logging.getLogger(__name__)

AudioCallback = Callable[[str, int, bytes], None]


class InterphoneClient:
    """A push-to-talk client for one uid.

    >>> client = InterphoneClient("127.0.0.1", 9400, "sung", "secret")
    >>> await client.connect()            # LoginRefused / ServerUnreachable
    >>> await client.join("group_58")
    >>> await client.talk_start()         # FloorBusy if someone else speaks
    >>> client.send_audio(opus_packet)    # one Opus frame, only while granted
    >>> await client.talk_stop()
    >>> await client.close()
    """

    def __init__(self, host: str, port: int, uid: str, token: str, *,
                 reconnect: bool = True, request_timeout: float = 5.0,
                 connect_timeout: float = 5.0,
                 backoff: tuple[float, float] = (0.2, 5.0)) -> None:
        self.model = ClientModel(uid)
        self.on_audio: AudioCallback | None = None
        raise NotImplementedError

    async def connect(self) -> None:
        """Connect, log in, sync the roster's interphones. Raises LoginRefused/ServerUnreachable."""

    async def sync(self, ids: Iterable[InterphoneId | str] | None = None) -> list[InterphoneInfo]:
        """Which of ``ids`` (default: every roster group and discussion) are live."""
        raise NotImplementedError

    async def members(self, interphone: InterphoneId | str) -> InterphoneInfo:
        raise NotImplementedError

    async def join(self, interphone: InterphoneId | str) -> InterphoneInfo:
        raise NotImplementedError

    async def leave(self) -> None:
        raise NotImplementedError

    async def call(self, uid: str) -> InterphoneInfo:
        raise NotImplementedError

    async def talk_start(self) -> None:
        raise NotImplementedError

    async def talk_stop(self) -> None:
        raise NotImplementedError

    def send_audio(self, payload: bytes) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @property
    def state(self) -> ConnectionState:
        return self.model.connection
