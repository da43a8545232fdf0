"""Re-reading the member list of an interphone after a count-only change notice.

A notification that changes an interphone's member count without listing the
members leaves the model stale (:meth:`ClientModel.apply_body` says which
interphone); :class:`MembersRefresh` asks for the members once things settle,
and again as long as more such changes come in while it asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.client.errors import ClientError, NotAllowed
from app.client.tasks import TaskSet
from app.protocol.ids import InterphoneId
from app.protocol.messages import InterphoneInfo

logger = logging.getLogger(__name__)

MEMBERS_DEBOUNCE = 0.25
"""Seconds to wait for further changes before asking for the members."""


class MembersRefresh:
    """Debounced ``members`` requests for the interphones whose member list went stale.

    ``still_wanted(interphone)`` says, when the time comes, whether to ask at all
    (still joined and connected); ``fetch(interphone)`` asks (and so refreshes the
    model). A failed request ends the round: the next stale notice starts another.
    A refusal with 403 (we may no longer see it: the server removed us, the count-only
    notice of a large interphone could not say so) is handed to ``on_refused``.
    """

    def __init__(self, tasks: TaskSet, still_wanted: Callable[[InterphoneId], bool],
                 fetch: Callable[[InterphoneId], Awaitable[InterphoneInfo]],
                 on_refused: Callable[[InterphoneId], None] | None = None) -> None:
        self._tasks = tasks
        self._still_wanted = still_wanted
        self._fetch = fetch
        self._on_refused = on_refused
        self._wanted: dict[InterphoneId, None] = {}
        self._task: asyncio.Task[Any] | None = None

    def schedule(self, interphone: InterphoneId) -> None:
        self._wanted[interphone] = None
        if self._task is None or self._task.done():
            self._task = self._tasks.spawn(self._run(), "interphone-members-refresh")

    async def _run(self) -> None:
        """Ask for the member list until no change came after the last answer."""
        while self._wanted:
            await asyncio.sleep(MEMBERS_DEBOUNCE)
            # Cleared before asking: a count-only change read after the answer asks again.
            wanted, self._wanted = list(self._wanted), {}
            for interphone in wanted:
                if not self._still_wanted(interphone):
                    continue
                try:
                    info = await self._fetch(interphone)
                except NotAllowed as exc:
                    logger.info("members of %s refused: %s", interphone, exc)
                    if self._on_refused is not None:
                        self._on_refused(interphone)
                    continue
                except ClientError as exc:
                    logger.info("members refresh of %s failed: %s", interphone, exc)
                    return
                logger.debug("members of %s refreshed: %d", interphone, info.member_count)
