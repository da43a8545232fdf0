"""Rejoining at start ("remember me"): which interphones were joined, kept in the settings,
and joined again at the next start (the talk target last, so that it is the target again)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.client import (
    ClientError,
    ConnectionState,
    InterphoneClient,
    JoinedChanged,
    JoinedSetChanged,
    ModelEvent,
)
from app.protocol import InterphoneId, other_party
from app.ui.settings import Settings

logger = logging.getLogger(__name__)


class JoinedMemory:
    """``settings.rejoin`` follows a client's joined interphones; :meth:`rejoin` joins
    them again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._rejoining = False  # rejoin runs: the partial sets on the way are not kept
        self._unsubscribe: Callable[[], None] | None = None
        self._followed: InterphoneClient | None = None  # the client being followed

    async def rejoin(self, client: InterphoneClient) -> None:
        """Join again every interphone that was joined when the app last ran, in the order
        they were joined; the last one (the talk target then) is the talk target again."""
        wanted = [i for i in self.settings.rejoin.split() if not _call_to_ring(client, i)]
        self._rejoining = True
        try:
            for number, interphone in enumerate(wanted, 1):
                try:
                    await client.join(interphone, target=number == len(wanted))
                except ClientError as exc:
                    logger.info("rejoining %s failed: %s", interphone, exc)
        finally:
            self._rejoining = False
        # a session ended meanwhile (Reconnect, Quit) is no longer followed: its client,
        # closing, had left everything, and that emptied the list to rejoin next time
        if client is self._followed and client.model.connection is ConnectionState.CONNECTED:
            self.remember(client)

    def follow(self, client: InterphoneClient) -> None:
        """Keep ``settings.rejoin`` up to date with ``client``'s joins and leaves."""
        def on_event(event: ModelEvent) -> None:
            if not isinstance(event, JoinedChanged | JoinedSetChanged) or self._rejoining:
                return
            if client.model.connection is not ConnectionState.CONNECTED:
                return  # dropped with the connection (kicked, server gone): not "left"
            self.remember(client)
        self.stop()
        self._followed = client
        self._unsubscribe = client.model.subscribe(on_event)

    def stop(self) -> None:
        """Stop following (leaving at shutdown is not "left the interphone")."""
        self._followed = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def remember(self, client: InterphoneClient) -> None:
        """``settings.rejoin``: every joined interphone in join order, the talk target last."""
        model = client.model
        target = model.talk_target
        ids = [str(i) for i in model.joined_ids if i != target]
        if target is not None:
            ids.append(str(target))
        rejoin = " ".join(ids)
        if rejoin == self.settings.rejoin:
            return  # (a join tells the talk target and the joined set: written once)
        self.settings.rejoin = rejoin
        self.settings.sync()


def _call_to_ring(client: InterphoneClient, interphone: str) -> bool:
    """A one-to-one chat of ours the other party is not in: joining it would ring them
    (a call they did not ask for, from a call that ended with the last run)."""
    try:
        chat = InterphoneId.parse(interphone)
    except ValueError:
        return False
    if not chat.involves(client.uid):  # (a chat of ours)
        return False
    info = client.model.interphone(chat)
    if info is None or info.member_count == 0:
        logger.info("not rejoining %s: nobody is in it, joining would ring %s", chat,
                    other_party(chat, client.uid))
        return True
    return False
